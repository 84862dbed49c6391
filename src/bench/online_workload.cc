// online: --pairs connected pairs; each sender sends to her receiver at a steady total
// --rate (open loop), or flat out (--rate 0: each sender keeps --in-flight sends unanswered),
// for --duration seconds. Then sending stops and the run waits for the last delivery and
// receipt.
//
// Users 0 .. pairs-1 send, users pairs .. 2*pairs-1 receive (sender k to receiver pairs+k),
// so that senders and receivers are spread over every network thread alike.

#include <atomic>
#include <chrono>
#include <thread>

#include "bench/fleet.h"
#include "bench/report.h"
#include "bench/worker_link.h"
#include "bench/workload.h"

namespace parley::bench {

namespace {

// Open loop: sends are due on a 1 ms schedule. A sender with this many sends unanswered is
// passed over until some are answered; the sends stay due, so the offered rate holds as
// long as the server keeps up at all.
constexpr auto kTick = std::chrono::milliseconds(1);
constexpr std::uint32_t kMaxInFlightPerSender = 64;

class OnlineWorkload final : public Workload, public UserObserver {
 public:
  explicit OnlineWorkload(const BenchOptions& options) : options_(options) {}

  // --- Worker process

  nlohmann::json RunWorker(OrchestratorLink& link) override {
    pairs_ = ShareOf(options_.pairs, options_.worker_index, options_.processes);
    fleet_ = std::make_unique<Fleet>(
        options_, 2 * pairs_,
        2 * FirstOf(options_.pairs, options_.worker_index, options_.processes), this);
    threads_.resize(fleet_->threads());
    for (std::uint32_t k = 0; k < pairs_; ++k)
      threads_[fleet_->user(k).thread()].senders.push_back(k);

    fleet_->Start();
    nlohmann::json extra = nlohmann::json::object();
    if (!link.Reached("ready")) return fleet_->Finish(extra);
    fleet_->ConnectAll({}, false, 60.0 + pairs_ / 50.0);
    if (!link.Reached("connected")) return fleet_->Finish(extra);

    Send(extra);
    Drain();
    if (!link.Reached("done")) return fleet_->Finish(extra);
    fleet_->DisconnectAll(30);
    return fleet_->Finish(extra);
  }

  // --- Orchestrator

  Status OnPhase(std::string_view phase, ServerProbe& server) override {
    if (phase == "connected") before_ = server.Take();
    if (phase == "done") after_ = server.Take();
    return Status::Ok();
  }

  void Summarize(const RunTotals& totals, Report& report) override {
    const Counters& c = totals.tally.counters;
    const auto& extra = totals.extra;
    const double seconds = static_cast<double>(extra.value("send_end_ns", std::int64_t{0}) -
                                               extra.value("send_start_ns", std::int64_t{0})) /
                           1e9;
    auto per_second = [&](const char* key) {
      return seconds > 0 ? extra.value(key, 0.0) / seconds : NAN;
    };

    report.Add("pairs", "sender-receiver pairs", static_cast<double>(options_.pairs));
    if (options_.rate > 0) {
      report.Add("target_rate", "offered rate", options_.rate, "msg/s");
    } else {
      report.Add("in_flight_per_sender", "flat out: unanswered sends per sender",
                 static_cast<double>(options_.in_flight));
    }
    report.Add("duration_s", "sending for", seconds, "s", 1);
    report.Add("sent_per_s", "sent", per_second("window_sends"), "msg/s");
    report.Add("accepted_per_s", "accepted (send_ack, durable)", per_second("window_send_acks"),
               "msg/s");
    report.Add("delivered_per_s", "delivered", per_second("window_delivered"), "msg/s");
    report.Add("messages_delivered", "messages delivered in all", static_cast<double>(c.delivered));
    report.Add("receipts", "DELIVERED receipts received", static_cast<double>(c.receipts));
    report.Latency("send_ack", "send -> send_ack", totals.tally.send_ack_ns);
    report.Latency("delivery", "send -> delivery", totals.tally.delivery_ns);
    ReportServerUse(before_, after_, c.delivered, report);

    report.Add("receipts_missing", "DELIVERED receipts missing",
               static_cast<double>(totals.receipts_missing));
    if (totals.receipts_missing > 0) {
      report.Problem(FormatNumber(static_cast<double>(totals.receipts_missing)) +
                     " receipts never arrived");
    }
    report.detail()["server_before"] = before_.ToJson();
    report.detail()["server_after"] = after_.ToJson();
    report.detail()["latency"] = {{"send_ack_ns", totals.tally.send_ack_ns.ToJson()},
                                  {"delivery_ns", totals.tally.delivery_ns.ToJson()}};
  }

  // --- UserObserver (network threads)

  void OnCaughtUp(User&) override {}

  void OnSendDone(User& user) override {
    if (options_.rate == 0 && sending_.load(std::memory_order_relaxed)) SendNext(user);
  }

  void OnEnded(User&, std::string_view) override {}

 private:
  struct ThreadState {
    std::vector<std::uint32_t> senders;
    std::size_t next = 0;    // Round robin over `senders`.
    std::uint64_t sent = 0;  // Open loop: sends made so far.
    double rate = 0;         // Open loop: this thread's share, messages per second.
  };

  std::size_t MessageBytes() const { return static_cast<std::size_t>(options_.message_bytes); }

  void SendNext(User& sender) {
    if (sender.index() >= pairs_ || !sender.can_send()) return;  // Receivers never send.
    sender.SendTo(fleet_->user(sender.index() + pairs_), MessageBytes());
  }

  // Sends for --duration, then records what the window saw.
  void Send(nlohmann::json& extra) {
    const std::int64_t start = NowNs();
    extra["send_start_ns"] = start;
    sending_ = true;

    if (options_.rate > 0) {
      const double process_rate = options_.rate * pairs_ / static_cast<double>(options_.pairs);
      for (std::size_t t = 0; t < threads_.size(); ++t) {
        threads_[t].rate = pairs_ == 0 ? 0 : process_rate * threads_[t].senders.size() / pairs_;
        fleet_->network().Every(t, kTick, [this, t, start] { return OpenLoopTick(t, start); });
      }
    } else {
      fleet_->OnEveryThread([this](std::size_t t) {
        for (const std::uint32_t k : threads_[t].senders) {
          for (std::int64_t i = 0; i < options_.in_flight; ++i) SendNext(fleet_->user(k));
        }
      });
    }

    std::this_thread::sleep_until(std::chrono::steady_clock::time_point(
        std::chrono::nanoseconds(start) + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              std::chrono::duration<double>(options_.duration_s))));
    sending_ = false;
    const Progress& progress = fleet_->progress();
    extra["send_end_ns"] = NowNs();
    extra["window_sends"] = progress.sends.load();
    extra["window_send_acks"] = progress.send_acks.load();
    extra["window_delivered"] = progress.delivered.load();
  }

  bool OpenLoopTick(std::size_t t, std::int64_t start) {
    if (!sending_.load(std::memory_order_relaxed)) return false;
    ThreadState& state = threads_[t];
    if (state.senders.empty()) return false;

    const double elapsed_s = static_cast<double>(NowNs() - start) / 1e9;
    const auto due = static_cast<std::uint64_t>(state.rate * elapsed_s);
    // Stops when every sender of the thread has kMaxInFlightPerSender unanswered sends.
    for (std::size_t passed = 0; state.sent < due && passed < state.senders.size();) {
      User& sender = fleet_->user(state.senders[state.next]);
      state.next = (state.next + 1) % state.senders.size();
      if (!sender.can_send() || sender.in_flight() >= kMaxInFlightPerSender) {
        ++passed;
        continue;
      }
      SendNext(sender);
      ++state.sent;
      passed = 0;
    }
    return true;
  }

  // Waits until every send is answered, every accepted message delivered and every
  // delivery receipted.
  void Drain() { fleet_->WaitUntilSettled(options_.drain_timeout_s); }

  const BenchOptions& options_;

  // Worker process.
  std::uint32_t pairs_ = 0;
  std::unique_ptr<Fleet> fleet_;
  std::vector<ThreadState> threads_;  // Each touched by its own network thread only.
  std::atomic<bool> sending_{false};

  // Orchestrator.
  ServerSnapshot before_;
  ServerSnapshot after_;
};

}  // namespace

std::unique_ptr<Workload> MakeOnlineWorkload(const BenchOptions& options) {
  return std::make_unique<OnlineWorkload>(options);
}

}  // namespace parley::bench
