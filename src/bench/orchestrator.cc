#include "bench/orchestrator.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <vector>

#include "bench/proc_stats.h"
#include "bench/report.h"
#include "bench/server_process.h"
#include "bench/worker_link.h"
#include "bench/workload.h"

namespace parley::bench {

namespace {

// One worker process holds at most this many connections by default: well below the
// 20,000 open files a process may have here, with room for what else it opens.
constexpr std::int64_t kConnectionsPerProcess = 8000;

// Descriptors a process needs besides its connections (stdio, pipes, epoll, libraries).
constexpr std::uint64_t kSpareFiles = 64;

std::string RandomTag() {
  std::random_device device;
  char tag[16];
  std::snprintf(tag, sizeof tag, "b%06x", device() & 0xffffff);
  return tag;
}

// Fills in what the user left to us. Fails on flags that cannot work together.
Status Complete(BenchOptions& options) {
  if (options.workload != "idle" && options.workload != "online" && options.workload != "offline" &&
      options.workload != "mixed") {
    return Status::InvalidArgument("--workload must be idle, online, offline or mixed");
  }
  if (options.spawn_server.empty() == options.server_url.empty()) {
    return Status::InvalidArgument(
        "give either --server-url (with --secret-file) or --spawn-server");
  }
  if (!options.server_url.empty() && options.secret_file.empty()) {
    return Status::InvalidArgument("--server-url needs --secret-file to mint tokens");
  }
  if (options.measure_disk && options.spawn_server.empty()) {
    return Status::InvalidArgument("--measure-disk restarts the server: it needs --spawn-server");
  }
  if (options.threads < 1 || options.message_bytes < 64 || options.message_bytes > 1100) {
    return Status::InvalidArgument("--threads must be >= 1, --message-bytes in 64..1100");
  }

  if (options.users == 0) options.users = options.workload == "mixed" ? 10000 : 1000;
  if (options.label.empty()) {
    options.label = options.workload;
    if (options.workload == "idle") options.label += options.tls ? "-wss" : "-ws";
    if (options.workload == "online" && options.rate == 0) options.label += "-flat";
  }

  std::int64_t connections = options.connections;
  if (options.workload == "online") connections = 2 * options.pairs;
  if (options.workload == "offline") connections = 2 * options.users;
  if (options.workload == "mixed") connections = options.users;
  if (options.processes <= 0) {
    options.processes = std::max<std::int64_t>(
        1, (connections + kConnectionsPerProcess - 1) / kConnectionsPerProcess);
  }
  const std::uint64_t per_process =
      static_cast<std::uint64_t>((connections + options.processes - 1) / options.processes);
  if (per_process + kSpareFiles > RaiseFileLimit()) {
    return Status::InvalidArgument(std::to_string(per_process) +
                                   " connections per process exceed the open file limit; "
                                   "raise --processes");
  }
  options.run_tag = RandomTag();
  return Status::Ok();
}

// Lost, duplicated or misordered messages, and connections or sends that failed.
void AddChecks(const RunTotals& totals, Report& report) {
  const Counters& c = totals.tally.counters;
  report.Add("messages_sent", "messages sent", static_cast<double>(c.sends));
  report.Add("messages_lost", "messages lost", static_cast<double>(totals.lost));
  report.Add("messages_duplicated", "messages duplicated", static_cast<double>(c.duplicates));
  report.Add("messages_redelivered", "redelivered after reconnect (dropped by seq)",
             static_cast<double>(c.redelivered));
  report.detail()["counters"] = totals.tally.ToJson()["counters"];

  if (totals.lost > 0)
    report.Problem(FormatNumber(totals.lost) + " accepted messages were never delivered");
  if (c.duplicates > 0)
    report.Problem(FormatNumber(c.duplicates) + " messages were delivered twice");
  if (c.gaps > 0) report.Problem(FormatNumber(c.gaps) + " messages skipped in a sender's order");
  if (c.seq_gaps > 0) report.Problem(FormatNumber(c.seq_gaps) + " mailbox seqs skipped");
  if (c.receipt_duplicates > 0) {
    report.Problem(FormatNumber(c.receipt_duplicates) + " receipts delivered twice");
  }
  if (c.foreign_items > 0)
    report.Problem(FormatNumber(c.foreign_items) + " items not sent by this run");
  if (c.connect_failures > 0) {
    report.Problem(FormatNumber(c.connect_failures) + " connections could not be opened");
  }
  if (c.unexpected_closes > 0) {
    report.Problem(FormatNumber(c.unexpected_closes) + " connections ended unexpectedly");
  }
  if (c.send_errors > 0) report.Problem(FormatNumber(c.send_errors) + " sends were refused");
  if (totals.unanswered > 0)
    report.Problem(FormatNumber(totals.unanswered) + " sends never answered");
}

// Starts the workers and plays the phases through to their results.
Status RunWorkers(const BenchOptions& options, Workload& workload, ServerProbe& probe,
                  RunTotals& totals) {
  // Workers never spawn anything, and never write the result themselves.
  BenchOptions base = options;
  base.spawn_server.clear();
  base.json_file.clear();
  base.measure_disk = false;

  std::vector<WorkerProcess> workers;
  for (std::int64_t i = 0; i < options.processes; ++i) {
    BenchOptions worker = base;
    worker.worker_index = i;
    auto process = WorkerProcess::Start(ToArgs(worker));
    if (!process.ok()) return process.status();
    workers.push_back(std::move(process).value());
  }
  std::vector<pid_t> pids;
  for (const auto& worker : workers) pids.push_back(worker.pid());
  probe.set_workers(std::move(pids));

  // Every phase is bounded inside the workers; this only catches a worker that hangs.
  const auto timeout = std::chrono::seconds(static_cast<std::int64_t>(
      900 + options.duration_s + 2 * options.drain_timeout_s + options.connections / 50));

  std::vector<bool> done(workers.size(), false);
  Status failure;
  while (std::count(done.begin(), done.end(), false) > 0) {
    // One line from every worker still going: all at the same phase, or results.
    std::vector<std::string> phases(workers.size());
    for (std::size_t i = 0; i < workers.size(); ++i) {
      if (done[i]) continue;
      auto line = workers[i].ReadLine(timeout);
      if (!line) {
        done[i] = true;
        failure = Status::Unavailable("worker " + std::to_string(i) + " ended without a result");
      } else if (line->starts_with("result ")) {
        done[i] = true;
        totals.Add(nlohmann::json::parse(line->substr(7)));
      } else if (line->starts_with("phase ")) {
        phases[i] = line->substr(6);
      }
    }

    std::optional<std::string> phase;
    bool agreed = failure.ok();
    for (std::size_t i = 0; i < workers.size(); ++i) {
      if (phases[i].empty()) continue;
      if (phase && *phase != phases[i]) agreed = false;
      phase = phases[i];
    }
    if (!phase) continue;
    // A worker that finished early (it gave up) leaves the others nothing to wait for.
    agreed = agreed && std::count(done.begin(), done.end(), true) == 0;
    if (agreed) {
      if (Status status = workload.OnPhase(*phase, probe); !status.ok()) {
        failure = status;
        agreed = false;
      }
    }
    for (std::size_t i = 0; i < workers.size(); ++i) {
      if (!phases[i].empty()) workers[i].Write(agreed ? "go" : "stop");
    }
  }

  for (auto& worker : workers) {
    if (worker.Wait(std::chrono::seconds(30)) != 0 && failure.ok()) {
      failure = Status::Unavailable("a worker process failed");
    }
  }
  return failure;
}

void WriteJson(const std::string& path, const nlohmann::json& json) {
  std::ofstream out(path);
  out << json.dump(2) << "\n";
  if (!out) std::fprintf(stderr, "parley-bench: cannot write %s\n", path.c_str());
}

}  // namespace

int RunOrchestrator(BenchOptions options) {
  if (Status status = Complete(options); !status.ok()) {
    std::fprintf(stderr, "parley-bench: %s\n%s", status.message().c_str(), Usage().c_str());
    return 2;
  }
  auto workload = MakeWorkload(options);

  std::unique_ptr<SpawnedServer> spawned;
  if (!options.spawn_server.empty()) {
    auto server = SpawnedServer::Start({options.spawn_server, options.tls, !options.no_sync,
                                        options.server_threads, options.keep_server_dir});
    if (!server.ok()) {
      std::fprintf(stderr, "parley-bench: %s\n", server.status().message().c_str());
      return 1;
    }
    spawned = std::move(server).value();
    options.server_url = spawned->url();
    options.secret_file = spawned->secret_file().string();
    if (options.tls && options.ca_file.empty() && !options.insecure) {
      options.ca_file = spawned->ca_file().string();
    }
    if (options.keep_server_dir)
      std::fprintf(stderr, "server folder: %s\n", spawned->dir().c_str());
  }
  ServerProbe probe(static_cast<pid_t>(options.server_pid),
                    static_cast<std::uint16_t>(options.admin_port), spawned.get());

  RunTotals totals;
  const Status run = RunWorkers(options, *workload, probe, totals);

  Report report(options.workload, options.label, options.server_url);
  workload->Summarize(totals, report);
  AddChecks(totals, report);
  if (!run.ok()) report.Problem("the workload could not run to the end: " + run.message());
  if (spawned) {
    if (Status stopped = spawned->Stop(); !stopped.ok()) {
      report.Problem("the server did not stop cleanly: " + stopped.message());
    }
  }

  report.Print();
  if (!options.json_file.empty()) WriteJson(options.json_file, report.ToJson(options));
  return report.ok() ? 0 : 1;
}

int RunWorker(const BenchOptions& options) {
  try {
    auto workload = MakeWorkload(options);
    if (!workload) throw std::runtime_error("unknown workload " + options.workload);
    OrchestratorLink link;
    link.SendResult(workload->RunWorker(link));
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "parley-bench worker %lld: %s\n",
                 static_cast<long long>(options.worker_index), error.what());
    return 1;
  }
}

}  // namespace parley::bench
