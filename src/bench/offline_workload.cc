// offline: --users recipients each find --backlog messages waiting when they come back, and
// all of them reconnect at once. Measures how fast the server drains those mailboxes and
// when the last recipient hears caught_up.
//
//   1. the recipients connect once (a user exists once she has connected) and leave;
//   2. one sender per recipient sends her the backlog, --in-flight sends unanswered at a
//      time, then leaves;                                                   phase "filled"
//   3. every recipient reconnects at the same moment and takes her backlog; phase "drained"
//
// With --measure-disk the orchestrator stops the server at "filled", weighs its data folder
// before and after a manual compaction, and starts it again: the drain then also proves that
// every accepted message survived a restart. Recipients are users 0 .. K-1, their senders K ..
// 2K-1.

#include <chrono>
#include <thread>

#include "bench/fleet.h"
#include "bench/report.h"
#include "bench/server_process.h"
#include "bench/worker_link.h"
#include "bench/workload.h"

namespace parley::bench {

namespace {

// After a restart RocksDB may flush and compact in the background for a moment; this lets
// it settle before the files are weighed.
constexpr auto kSettleAfterRestart = std::chrono::seconds(2);

class OfflineWorkload final : public Workload, public UserObserver {
 public:
  explicit OfflineWorkload(const BenchOptions& options) : options_(options) {}

  // --- Worker process

  nlohmann::json RunWorker(OrchestratorLink& link) override {
    recipients_ = ShareOf(options_.users, options_.worker_index, options_.processes);
    fleet_ = std::make_unique<Fleet>(
        options_, 2 * recipients_,
        2 * FirstOf(options_.users, options_.worker_index, options_.processes), this);
    const auto recipients = Fleet::Range(0, recipients_);
    const auto senders = Fleet::Range(recipients_, 2 * recipients_);
    const double connect_s = 60.0 + recipients_ / 50.0;

    fleet_->Start();
    nlohmann::json extra = nlohmann::json::object();
    if (!link.Reached("ready")) return fleet_->Finish(extra);

    fleet_->ConnectAll(recipients, false, connect_s);
    fleet_->DisconnectAll(30);
    fleet_->ConnectAll(senders, false, connect_s);
    FillBacklogs(extra);
    fleet_->DisconnectAll(30);
    if (!link.Reached("filled")) return fleet_->Finish(extra);

    // Everyone at once: the reconnect storm is part of what is measured.
    fleet_->ResetConnectTimes();
    const Progress& p = fleet_->progress();
    const std::uint64_t delivered_before = p.delivered;
    extra["drain_start_ns"] = NowNs();
    fleet_->ConnectAll(recipients, true, options_.drain_timeout_s);
    Fleet::WaitFor([&] { return p.delivered - delivered_before >= extra.value("filled", 0ULL); },
                   10);
    if (!link.Reached("drained")) return fleet_->Finish(extra);
    fleet_->DisconnectAll(30);
    return fleet_->Finish(extra);
  }

  // --- Orchestrator

  Status OnPhase(std::string_view phase, ServerProbe& server) override {
    if (phase == "filled") {
      if (options_.measure_disk && server.spawned() != nullptr) {
        if (Status status = WeighDisk(*server.spawned()); !status.ok()) return status;
      }
      before_ = server.Take();
    } else if (phase == "drained") {
      after_ = server.Take();
    }
    return Status::Ok();
  }

  void Summarize(const RunTotals& totals, Report& report) override {
    const Counters& c = totals.tally.counters;
    const auto& extra = totals.extra;
    const auto filled = extra.value("filled", std::uint64_t{0});

    report.Add("users", "users coming back", static_cast<double>(options_.users));
    report.Add("backlog_per_user", "messages waiting for each",
               static_cast<double>(options_.backlog));
    const double fill_s = static_cast<double>(extra.value("fill_end_ns", std::int64_t{0}) -
                                              extra.value("fill_start_ns", std::int64_t{0})) /
                          1e9;
    report.Add("fill_per_s", "backlog written at (durable sends)",
               fill_s > 0 ? static_cast<double>(filled) / fill_s : NAN, "msg/s");

    const double drain_s = static_cast<double>(totals.tally.last_caught_up_ns -
                                               extra.value("drain_start_ns", std::int64_t{0})) /
                           1e9;
    report.Add("drained_items", "backlog items delivered",
               static_cast<double>(c.delivered_backlog));
    report.Add("drain_s", "time until the last caught_up", drain_s, "s", 2);
    report.Add("drain_items_per_s", "drain rate",
               drain_s > 0 ? static_cast<double>(c.delivered_backlog) / drain_s : NAN, "items/s");
    report.Latency("reconnect", "reconnect -> caught_up per user", totals.tally.caught_up_ns);
    ReportServerUse(before_, after_, c.delivered_backlog, report);
    if (weighed_) ReportDisk(filled, report);

    if (c.delivered_backlog < filled) {
      report.Problem("only " + FormatNumber(static_cast<double>(c.delivered_backlog)) + " of " +
                     FormatNumber(static_cast<double>(filled)) + " backlog items arrived");
    }
    report.detail()["server_before"] = before_.ToJson();
    report.detail()["server_after"] = after_.ToJson();
  }

  // --- UserObserver (network threads)

  void OnCaughtUp(User&) override {}
  void OnSendDone(User& user) override { SendNext(user); }
  void OnEnded(User&, std::string_view) override {}

 private:
  void SendNext(User& sender) {
    const std::uint32_t recipient = sender.index() - recipients_;
    if (!filling_.load(std::memory_order_relaxed) || !sender.can_send()) return;
    if (sender.SentTo(recipient) >= static_cast<std::uint64_t>(options_.backlog)) return;
    sender.SendTo(fleet_->user(recipient), static_cast<std::size_t>(options_.message_bytes));
  }

  void FillBacklogs(nlohmann::json& extra) {
    const Progress& p = fleet_->progress();
    const std::uint64_t total =
        static_cast<std::uint64_t>(recipients_) * static_cast<std::uint64_t>(options_.backlog);
    extra["fill_start_ns"] = NowNs();
    filling_ = true;
    fleet_->OnEveryThread([this](std::size_t t) {
      for (std::uint32_t k = recipients_; k < 2 * recipients_; ++k) {
        if (fleet_->user(k).thread() != t) continue;
        for (std::int64_t i = 0; i < options_.in_flight; ++i) SendNext(fleet_->user(k));
      }
    });
    Fleet::WaitFor([&] { return p.send_acks + p.send_errors >= total; },
                   options_.drain_timeout_s + static_cast<double>(total) / 1000.0);
    filling_ = false;
    extra["fill_end_ns"] = NowNs();
    extra["filled"] = p.send_acks.load();
  }

  // Weighs the data folder live, after a clean stop, and after `parleyd --compact` (or, with
  // a parleyd that cannot compact on demand, after the restart has flushed its log into
  // tables); then the server runs again on the same data.
  Status WeighDisk(SpawnedServer& server) {
    live_ = MeasureDisk(server.data_dir());
    if (Status status = server.Stop(); !status.ok()) return status;
    stopped_ = MeasureDisk(server.data_dir());
    compact_status_ = server.Compact();
    if (compact_status_.ok()) compacted_ = MeasureDisk(server.data_dir());
    if (Status status = server.Restart(); !status.ok()) return status;
    std::this_thread::sleep_for(kSettleAfterRestart);
    reopened_ = MeasureDisk(server.data_dir());
    weighed_ = true;
    return Status::Ok();
  }

  void ReportDisk(std::uint64_t messages, Report& report) const {
    const double n = static_cast<double>(messages);
    constexpr double kMiB = 1024.0 * 1024.0;
    auto per_message = [n](std::uint64_t bytes) {
      return n > 0 ? static_cast<double>(bytes) / n : NAN;
    };

    report.Add("disk_stopped_mib", "data folder after a clean stop",
               static_cast<double>(stopped_.total()) / kMiB, "MiB", 1);
    report.Add("disk_stopped_wal_mib", "  of which write-ahead log",
               static_cast<double>(stopped_.wal_bytes) / kMiB, "MiB", 1);
    report.Add("disk_total_bytes_per_message", "data folder per message, after stop",
               per_message(stopped_.total()), "B");
    if (compact_status_.ok()) {
      report.Add("disk_sst_mib", "tables (*.sst) after parleyd --compact",
                 static_cast<double>(compacted_.sst_bytes) / kMiB, "MiB", 1);
      report.Add("disk_bytes_per_message", "tables per message, compacted",
                 per_message(compacted_.sst_bytes), "B");
      report.Note(
          "bytes on disk per message: the *.sst files after parleyd --compact, divided "
          "by the messages stored; they include each message's dedup record");
    } else {
      report.Add("disk_sst_mib", "tables (*.sst) after restart",
                 static_cast<double>(reopened_.sst_bytes) / kMiB, "MiB", 1);
      report.Add("disk_bytes_per_message", "tables per message, after restart",
                 per_message(reopened_.sst_bytes), "B");
      report.Note("parleyd --compact failed (" + compact_status_.message() +
                  "): bytes on disk are the tables RocksDB flushed from its log at restart, "
                  "not compacted; they include each message's dedup record");
    }

    auto usage = [](const DiskUsage& d) {
      return nlohmann::json{{"sst", d.sst_bytes}, {"wal", d.wal_bytes}, {"other", d.other_bytes}};
    };
    report.detail()["disk"] = {{"live", usage(live_)},
                               {"stopped", usage(stopped_)},
                               {"compacted", usage(compacted_)},
                               {"reopened", usage(reopened_)}};
  }

  const BenchOptions& options_;

  // Worker process.
  std::uint32_t recipients_ = 0;
  std::unique_ptr<Fleet> fleet_;
  std::atomic<bool> filling_{false};

  // Orchestrator.
  ServerSnapshot before_;
  ServerSnapshot after_;
  bool weighed_ = false;
  Status compact_status_;
  DiskUsage live_;
  DiskUsage stopped_;
  DiskUsage compacted_;
  DiskUsage reopened_;
};

}  // namespace

std::unique_ptr<Workload> MakeOfflineWorkload(const BenchOptions& options) {
  return std::make_unique<OfflineWorkload>(options);
}

}  // namespace parley::bench
