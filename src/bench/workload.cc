#include "bench/workload.h"

#include <algorithm>
#include <vector>

#include "bench/report.h"
#include "bench/server_process.h"

namespace parley::bench {

// --- ServerSnapshot and ServerProbe ---------------------------------------------------------

double ServerSnapshot::metric(const std::string& name) const {
  const auto it = metrics.find(name);
  return it == metrics.end() ? 0.0 : it->second;
}

nlohmann::json ServerSnapshot::ToJson() const {
  return {{"rss_bytes", rss_bytes},
          {"rss_anon_bytes", rss_anon_bytes},
          {"cpu_ns", cpu_ns},
          {"thread_cpu_ns", thread_cpu_ns},
          {"workers_cpu_ns", workers_cpu_ns},
          {"host_busy_ns", host.busy_ns},
          {"host_idle_ns", host.idle_ns},
          {"metrics", metrics}};
}

pid_t ServerProbe::pid() const { return spawned_ != nullptr ? spawned_->pid() : pid_; }

ServerSnapshot ServerProbe::Take() const {
  ServerSnapshot snapshot;
  snapshot.at_ns = NowNs();
  snapshot.host = ReadHostCpu();
  for (const pid_t worker : workers_) {
    if (auto cpu = ReadCpuNs(worker); cpu.ok()) snapshot.workers_cpu_ns += *cpu;
  }
  if (has_process()) {
    if (auto memory = ReadMemory(pid()); memory.ok()) {
      snapshot.rss_bytes = memory->rss_bytes;
      snapshot.rss_anon_bytes = memory->rss_anon_bytes;
    }
    if (auto cpu = ReadCpuNs(pid()); cpu.ok()) snapshot.cpu_ns = *cpu;
    snapshot.thread_cpu_ns = ReadThreadCpuNs(pid());
  }
  const std::uint16_t admin_port = spawned_ != nullptr ? spawned_->admin_port() : admin_port_;
  if (admin_port != 0) {
    if (auto metrics = FetchMetrics(admin_port); metrics.ok()) snapshot.metrics = *metrics;
  }
  return snapshot;
}

// --- RunTotals ------------------------------------------------------------------------------

void RunTotals::Add(const nlohmann::json& worker_result) {
  tally.Merge(Tally::FromJson(worker_result.at("tally")));
  const auto& check = worker_result.at("check");
  lost += check.value("lost", std::uint64_t{0});
  receipts_missing += check.value("receipts_missing", std::uint64_t{0});
  unanswered += check.value("unanswered", std::uint64_t{0});

  const nlohmann::json worker_extra = worker_result.value("extra", nlohmann::json::object());
  for (const auto& [key, value] : worker_extra.items()) {
    if (!value.is_number()) continue;
    if (!extra.contains(key)) {
      extra[key] = value;
    } else if (key.ends_with("_start_ns")) {
      extra[key] = std::min(extra[key].get<std::int64_t>(), value.get<std::int64_t>());
    } else if (key.ends_with("_end_ns")) {
      extra[key] = std::max(extra[key].get<std::int64_t>(), value.get<std::int64_t>());
    } else if (value.is_number_float()) {
      extra[key] = extra[key].get<double>() + value.get<double>();
    } else {
      extra[key] = extra[key].get<std::int64_t>() + value.get<std::int64_t>();
    }
  }
}

// --- Shared reporting -----------------------------------------------------------------------

// Other processes taking more than this much CPU during a measurement make it worth a note.
constexpr double kBusyHostCores = 0.2;

void ReportServerUse(const ServerSnapshot& before, const ServerSnapshot& after,
                     std::uint64_t delivered, Report& report) {
  if (after.cpu_ns == 0) {
    report.Row("server CPU", "n/a (no --server-pid)");
    return;
  }

  const double cpu_ns = static_cast<double>(after.cpu_ns - std::min(before.cpu_ns, after.cpu_ns));
  const double wall_ns = static_cast<double>(after.at_ns - before.at_ns);
  report.Add("server_cpu_cores", "server CPU in use", cpu_ns / wall_ns, "cores", 2);
  report.Add("server_cpu_us_per_delivered", "server CPU per delivered message",
             delivered > 0 ? cpu_ns / static_cast<double>(delivered) / 1e3 : NAN, "us", 1);

  // Where that time went, by thread name (RocksDB names its threads; the network threads and
  // the storage writer may share the process's name).
  std::vector<std::pair<std::uint64_t, std::string>> threads;
  for (const auto& [name, ns] : after.thread_cpu_ns) {
    const auto it = before.thread_cpu_ns.find(name);
    const std::uint64_t was = it == before.thread_cpu_ns.end() ? 0 : it->second;
    if (ns > was) threads.emplace_back(ns - was, name);
  }
  std::sort(threads.rbegin(), threads.rend());
  std::string breakdown;
  nlohmann::json by_thread = nlohmann::json::object();
  for (const auto& [ns, name] : threads) {
    by_thread[name] = ns;
    if (breakdown.size() > 60) continue;
    if (!breakdown.empty()) breakdown += ", ";
    breakdown += name + " " + FormatNumber(100.0 * static_cast<double>(ns) / cpu_ns) + "%";
  }
  report.Row("server CPU by thread", breakdown);
  report.detail()["server_cpu_by_thread_ns"] = by_thread;

  // Group commit: how many operations each synced batch carried.
  const double batches =
      after.metric("parley_store_batches_total") - before.metric("parley_store_batches_total");
  const double ops = after.metric("parley_store_batched_ops_total") -
                     before.metric("parley_store_batched_ops_total");
  if (batches > 0) {
    report.Add("store_batches_per_s", "storage batches (one sync each)", batches / wall_ns * 1e9,
               "/s", 0);
    report.Add("store_ops_per_batch", "operations per batch", ops / batches, "", 1);
  }
  report.Add("server_rss_mib", "server RSS at the end",
             static_cast<double>(after.rss_bytes) / (1024.0 * 1024.0), "MiB", 1);

  // The rest of the host: what the load generator took, and what anybody else did.
  auto cores = [wall_ns](std::uint64_t from, std::uint64_t to) {
    return static_cast<double>(to - std::min(from, to)) / wall_ns;
  };
  const double workers = cores(before.workers_cpu_ns, after.workers_cpu_ns);
  const double host = cores(before.host.busy_ns, after.host.busy_ns);
  const double others = std::max(0.0, host - cpu_ns / wall_ns - workers);
  report.Add("client_cpu_cores", "load generator CPU in use (same host)", workers, "cores", 2);
  report.Add("other_cpu_cores", "other processes' CPU meanwhile", others, "cores", 2);
  if (others > kBusyHostCores) {
    report.Note("other processes used " + FormatNumber(others, 2) +
                " cores during the measurement: the figures understate this host");
  }
}

std::unique_ptr<Workload> MakeWorkload(const BenchOptions& options) {
  if (options.workload == "idle") return MakeIdleWorkload(options);
  if (options.workload == "online") return MakeOnlineWorkload(options);
  if (options.workload == "offline") return MakeOfflineWorkload(options);
  if (options.workload == "mixed") return MakeMixedWorkload(options);
  return nullptr;
}

}  // namespace parley::bench
