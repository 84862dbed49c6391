// BenchOptions: everything parley-bench is told on its command line.
//
// The orchestrator (the process the user starts) parses them, fills in what it found out
// (the server's URL and secret when it spawned the server, the worker count) and hands the
// same options to each worker process it starts, through ToArgs(); so one table of flags
// serves both directions and a worker sees exactly what the orchestrator decided.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "parley/common/status.h"

namespace parley::bench {

struct BenchOptions {
  // --- What to run.
  std::string workload;  // idle, online, offline or mixed.
  std::string label;     // Names the result; default: the workload, plus "-tls" for wss.
  std::string json_file;
  std::string summarize_dir;  // Print the summary table of the results in this folder.

  // --- The server: an external one, or one spawned for the run.
  std::string server_url;  // ws://127.0.0.1:PORT/v1/chat or wss://...
  std::int64_t server_pid = 0;
  std::int64_t admin_port = 0;  // For /metrics; 0: not read.
  std::string secret_file;
  std::string spawn_server;  // Path of parleyd.
  bool no_sync = false;      // Spawned server: storage.sync false.
  std::int64_t server_threads = 0;
  bool keep_server_dir = false;

  // --- wss.
  bool tls = false;  // Spawned server serves wss.
  std::string ca_file;
  bool insecure = false;  // Skip certificate verification.

  // --- The load generator.
  std::int64_t processes = 0;  // Worker processes; 0: enough to stay below the file limit.
  std::int64_t threads = 1;    // Network threads per worker process.
  std::int64_t connect_concurrency = 200;  // Upgrades in progress at once, per process.

  // --- Workload sizes.
  std::int64_t connections = 1000;  // idle
  double hold_s = 5;                // idle: seconds held before measuring
  std::int64_t pairs = 1000;        // online
  double rate = 23000;         // online, mixed: messages per second in total; online 0: flat out
  double duration_s = 60;      // online, mixed
  std::int64_t in_flight = 8;  // online flat out: unacknowledged sends per sender
  std::int64_t users = 0;      // offline (default 1,000), mixed (default 10,000)
  std::int64_t backlog = 100;  // offline: messages per user
  bool measure_disk = false;   // offline, spawned server: bytes on disk per message
  double msgs_per_user = 20;   // mixed: messages each user sends during the run
  double churn = 0.01;         // mixed: fraction of users reconnecting every second
  std::int64_t message_bytes = 200;  // Size of each parley.v1.Message, metadata included.
  double drain_timeout_s = 60;       // Waiting for the last delivery after sending stopped.

  // --- Set by the orchestrator for its workers.
  std::string run_tag;             // Prefix of every user id of the run.
  std::int64_t worker_index = -1;  // >= 0 in a worker process.
};

// Parses argv[1..]. Fails with a message naming the flag.
Result<BenchOptions> ParseOptions(int argc, char** argv);

// The flags that reproduce `options` (defaults left out), for a worker's command line.
std::vector<std::string> ToArgs(const BenchOptions& options);

// The help text.
std::string Usage();

}  // namespace parley::bench
