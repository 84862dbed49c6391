// Workload: one kind of load (idle, online, offline, mixed), in both of the processes it runs
// in.
//
// In each worker process RunWorker() drives that worker's share of the users through the
// workload's phases, stopping at each for the orchestrator (OrchestratorLink::Reached). In
// the orchestrator, OnPhase() runs once every worker has reached a phase, to measure or
// handle the server there; Summarize() then turns the merged results of all workers, and
// what OnPhase() measured, into the report.

#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "parley/common/status.h"

#include "bench/options.h"
#include "bench/proc_stats.h"
#include "bench/user.h"
#include <sys/types.h>

namespace parley::bench {

class OrchestratorLink;
class Report;
class SpawnedServer;

// What the orchestrator sees of the server at one moment.
struct ServerSnapshot {
  std::int64_t at_ns = 0;  // NowNs() when taken
  std::uint64_t rss_bytes = 0;
  std::uint64_t rss_anon_bytes = 0;
  std::uint64_t cpu_ns = 0;
  std::map<std::string, std::uint64_t> thread_cpu_ns;  // by thread name
  std::uint64_t workers_cpu_ns = 0;       // The load generator's worker processes, all together.
  HostCpu host;                           // Every process of the host.
  std::map<std::string, double> metrics;  // /metrics, when the admin port is known

  double metric(const std::string& name) const;  // 0 when absent
  nlohmann::json ToJson() const;
};

// The server under test, as far as the orchestrator can see it: its process (when its pid
// is known) and its admin port (when known). A spawned server can also be restarted.
class ServerProbe {
 public:
  ServerProbe(pid_t pid, std::uint16_t admin_port, SpawnedServer* spawned)
      : pid_(pid), admin_port_(admin_port), spawned_(spawned) {}

  bool has_process() const { return pid() > 0; }
  pid_t pid() const;
  SpawnedServer* spawned() const { return spawned_; }

  // The worker processes, whose CPU time is read along with the server's.
  void set_workers(std::vector<pid_t> workers) { workers_ = std::move(workers); }

  ServerSnapshot Take() const;

 private:
  pid_t pid_;
  std::uint16_t admin_port_;
  SpawnedServer* spawned_;
  std::vector<pid_t> workers_;
};

// All workers' results, merged.
struct RunTotals {
  Tally tally;
  std::uint64_t lost = 0;
  std::uint64_t receipts_missing = 0;
  std::uint64_t unanswered = 0;
  // Each workload's own figures: keys ending in _start_ns keep the earliest value, keys
  // ending in _end_ns the latest, every other number is summed.
  nlohmann::json extra = nlohmann::json::object();

  void Add(const nlohmann::json& worker_result);
};

class Workload {
 public:
  virtual ~Workload() = default;

  // Worker process. Returns Fleet::Finish()'s result.
  virtual nlohmann::json RunWorker(OrchestratorLink& link) = 0;

  // Orchestrator: every worker has reached `phase`. A failure ends the run.
  virtual Status OnPhase(std::string_view phase, ServerProbe& server) = 0;

  // Orchestrator: the figures of the run.
  virtual void Summarize(const RunTotals& totals, Report& report) = 0;
};

// Null for an unknown --workload. `options` must outlive the workload.
std::unique_ptr<Workload> MakeWorkload(const BenchOptions& options);

// The four of them.
std::unique_ptr<Workload> MakeIdleWorkload(const BenchOptions& options);
std::unique_ptr<Workload> MakeOnlineWorkload(const BenchOptions& options);
std::unique_ptr<Workload> MakeOfflineWorkload(const BenchOptions& options);
std::unique_ptr<Workload> MakeMixedWorkload(const BenchOptions& options);

// Shared by the workloads' Summarize(): server CPU, memory and store figures between two
// snapshots, per delivered message where that applies; and the CPU the load generator and
// every other process of the host used meanwhile, since they share the cores.
void ReportServerUse(const ServerSnapshot& before, const ServerSnapshot& after,
                     std::uint64_t delivered, Report& report);

}  // namespace parley::bench
