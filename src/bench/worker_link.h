// The two ends of the pipe between the orchestrator and each worker process it starts.
//
// A worker runs its share of the users and stops at named phases ("ready", "connected",
// ...). It writes one line per event on its stdout, which is the pipe:
//
//   phase NAME      reached NAME; waits for "go" (or "stop") on stdin
//   result JSON     its tallies, on one line; then it exits
//
// The orchestrator answers a phase once every worker has reached it and it has measured the
// server (RSS baseline, CPU, a restart ...). Workers print nothing else on stdout; their
// complaints go to stderr, which they share with the orchestrator.

#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "parley/common/status.h"

#include <sys/types.h>

namespace parley::bench {

// The worker's end (stdin and stdout).
class OrchestratorLink {
 public:
  // Announces `phase` and blocks until the orchestrator says go. False when it said stop or
  // is gone: the worker should then wind down.
  bool Reached(std::string_view phase);

  void SendResult(const nlohmann::json& result);
};

// The orchestrator's end: one started worker.
class WorkerProcess {
 public:
  // Starts this executable again with `args` (which should include --worker-index).
  static Result<WorkerProcess> Start(const std::vector<std::string>& args);

  WorkerProcess(WorkerProcess&& other) noexcept;
  WorkerProcess& operator=(WorkerProcess&&) = delete;
  ~WorkerProcess();  // Kills it if it still runs.

  // The next line it wrote, without the newline; nullopt when it closed its stdout or
  // `timeout` passed.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);

  void Write(std::string_view line);

  pid_t pid() const { return pid_; }

  // Waits for its exit (at most `timeout`, then kills it); its exit status or -signal.
  int Wait(std::chrono::milliseconds timeout);

 private:
  WorkerProcess(pid_t pid, int to_worker, int from_worker);

  pid_t pid_ = -1;
  int to_worker_ = -1;
  int from_worker_ = -1;
  std::string pending_;  // Read but not yet returned.
};

}  // namespace parley::bench
