// idle: open --connections authenticated connections, hold them, and weigh them.
//
// The server's RSS is read once before any connection (after a second of rest) and once
// after all of them have been connected and idle for --hold seconds; the difference divided
// by the connections held is what one idle connection costs.

#include <chrono>
#include <thread>

#include "bench/fleet.h"
#include "bench/report.h"
#include "bench/worker_link.h"
#include "bench/workload.h"

namespace parley::bench {

namespace {

// Lets the freshly started server finish what it does at start (RocksDB opening its files,
// threads touching their stacks) before the baseline is read.
constexpr auto kSettleBeforeBaseline = std::chrono::seconds(1);

class IdleWorkload final : public Workload {
 public:
  explicit IdleWorkload(const BenchOptions& options) : options_(options) {}

  nlohmann::json RunWorker(OrchestratorLink& link) override {
    const auto count = ShareOf(options_.connections, options_.worker_index, options_.processes);
    Fleet fleet(options_, count,
                FirstOf(options_.connections, options_.worker_index, options_.processes), nullptr);
    fleet.Start();
    nlohmann::json extra = nlohmann::json::object();
    if (!link.Reached("ready")) return fleet.Finish(extra);

    // Connecting: at most --connect-concurrency upgrades at once; a few hundred per second
    // of TLS handshakes is what a 2-core server manages, hence the generous deadline.
    extra["connect_start_ns"] = NowNs();
    fleet.Dial({});
    Progress& progress = fleet.progress();
    Fleet::WaitFor([&] { return progress.caught_up + progress.ended >= count; },
                   60.0 + count / 100.0);
    if (!link.Reached("connected")) return fleet.Finish(extra);

    // The orchestrator measured while we held; whatever ended meanwhile was not held.
    const std::uint32_t held = fleet.Count([](const User& user) { return user.caught_up(); });
    extra["held"] = held;
    const std::uint64_t ended_before = progress.ended;
    fleet.CloseAll();
    Fleet::WaitFor([&] { return progress.ended >= ended_before + held; }, 30);
    return fleet.Finish(extra);
  }

  Status OnPhase(std::string_view phase, ServerProbe& server) override {
    if (phase == "ready") {
      std::this_thread::sleep_for(kSettleBeforeBaseline);
      baseline_ = server.Take();
    } else if (phase == "connected") {
      std::this_thread::sleep_for(std::chrono::duration<double>(options_.hold_s));
      held_ = server.Take();
    }
    return Status::Ok();
  }

  void Summarize(const RunTotals& totals, Report& report) override {
    const Counters& counters = totals.tally.counters;
    const auto held = totals.extra.value("held", std::uint64_t{0});
    report.Add("connections_requested", "connections requested",
               static_cast<double>(options_.connections));
    report.Add("connections_held", "connections held", static_cast<double>(held));
    if (held_.metrics.count("parley_sessions") != 0) {
      report.Add("server_sessions", "server's sessions gauge", held_.metric("parley_sessions"));
    }
    report.Add("connect_failures", "connections that failed",
               static_cast<double>(counters.connect_failures));

    const double connect_s =
        static_cast<double>(totals.tally.last_caught_up_ns -
                            totals.extra.value("connect_start_ns", std::int64_t{0})) /
        1e9;
    report.Add("connect_rate_per_s", "connect rate (upgrade + connect + caught_up)",
               connect_s > 0 ? static_cast<double>(counters.caught_up) / connect_s : NAN, "/s");
    report.Latency("connect", "dial -> caught_up", totals.tally.caught_up_ns);

    if (held_.rss_bytes == 0) {
      report.Row("server RSS", "n/a (no --server-pid)");
    } else {
      ReportMemory(held, report);
    }
    if (counters.connect_failures > 0 || held < static_cast<std::uint64_t>(options_.connections)) {
      report.Problem(FormatNumber(static_cast<double>(options_.connections - held)) +
                     " of the connections could not be opened or held");
    }
    report.detail()["server_baseline"] = baseline_.ToJson();
    report.detail()["server_held"] = held_.ToJson();
  }

 private:
  void ReportMemory(std::uint64_t held, Report& report) const {
    constexpr double kMiB = 1024.0 * 1024.0;
    const double delta =
        static_cast<double>(held_.rss_bytes) - static_cast<double>(baseline_.rss_bytes);
    const double anon_delta =
        static_cast<double>(held_.rss_anon_bytes) - static_cast<double>(baseline_.rss_anon_bytes);
    const double per = held > 0 ? delta / static_cast<double>(held) : NAN;

    report.Add("server_rss_baseline_mib", "server RSS before connecting",
               static_cast<double>(baseline_.rss_bytes) / kMiB, "MiB", 1);
    report.Add("server_rss_held_mib", "server RSS holding them",
               static_cast<double>(held_.rss_bytes) / kMiB, "MiB", 1);
    report.Add("rss_per_connection_bytes", "RSS per idle connection", per, "bytes");
    report.Add("rss_per_connection_kib", "RSS per idle connection", per / 1024.0, "KiB", 2);
    report.Add("rss_anon_per_connection_bytes", "of which anonymous (heap)",
               held > 0 ? anon_delta / static_cast<double>(held) : NAN, "bytes");
  }

  const BenchOptions& options_;
  ServerSnapshot baseline_;
  ServerSnapshot held_;
};

}  // namespace

std::unique_ptr<Workload> MakeIdleWorkload(const BenchOptions& options) {
  return std::make_unique<IdleWorkload>(options);
}

}  // namespace parley::bench
