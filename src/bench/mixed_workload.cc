// mixed: the day of a chat host, compressed. --users users connect and stay mostly idle;
// over --duration seconds each sends about --msgs-per-user messages to random other users
// (the design's 20 messages per user per day), and every second a --churn fraction of them
// drop their connection and come straight back, as phones do. Messages to a user who is
// away wait in her mailbox and arrive as backlog when she is back.
//
// The send rate is users x msgs-per-user / duration in total; --rate is not used here.

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "bench/fleet.h"
#include "bench/report.h"
#include "bench/worker_link.h"
#include "bench/workload.h"

namespace parley::bench {

namespace {

constexpr auto kTick = std::chrono::milliseconds(10);
constexpr auto kChurnPeriod = std::chrono::seconds(1);

// A user sends rarely; more than this many unanswered sends means the server is stuck, and
// she waits rather than piling on.
constexpr std::uint32_t kMaxInFlightPerUser = 8;

// Random picks that may each land on a user who cannot send right now (away, or reconnecting)
// before the tick gives up on the rest of its due sends until the next tick.
constexpr int kPicksPerSend = 20;

class MixedWorkload final : public Workload, public UserObserver {
 public:
  explicit MixedWorkload(const BenchOptions& options) : options_(options) {}

  // --- Worker process

  nlohmann::json RunWorker(OrchestratorLink& link) override {
    users_ = ShareOf(options_.users, options_.worker_index, options_.processes);
    fleet_ = std::make_unique<Fleet>(
        options_, users_, FirstOf(options_.users, options_.worker_index, options_.processes), this);
    threads_.resize(fleet_->threads());
    for (std::size_t t = 0; t < threads_.size(); ++t) {
      threads_[t].random.seed(static_cast<std::uint64_t>(options_.worker_index * 1000) + t);
      for (std::uint32_t i = 0; i < users_; ++i) {
        if (fleet_->user(i).thread() == t) threads_[t].users.push_back(i);
      }
    }

    fleet_->Start();
    nlohmann::json extra = nlohmann::json::object();
    if (!link.Reached("ready")) return fleet_->Finish(extra);
    fleet_->ConnectAll({}, false, 60.0 + users_ / 50.0);
    if (!link.Reached("connected")) return fleet_->Finish(extra);

    fleet_->ResetConnectTimes();
    reconnecting_ = true;
    Run(extra);
    Settle();
    if (!link.Reached("done")) return fleet_->Finish(extra);
    reconnecting_ = false;
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
    const double seconds = static_cast<double>(extra.value("run_end_ns", std::int64_t{0}) -
                                               extra.value("run_start_ns", std::int64_t{0})) /
                           1e9;
    auto per_second = [&](const char* key) {
      return seconds > 0 ? extra.value(key, 0.0) / seconds : NAN;
    };

    report.Add("users", "users", static_cast<double>(options_.users));
    report.Add("offered_rate", "offered rate (users x msgs-per-user / duration)",
               options_.users * options_.msgs_per_user / options_.duration_s, "msg/s", 1);
    report.Add("churn_per_s", "reconnects offered", options_.churn * options_.users, "/s", 1);
    report.Add("duration_s", "running for", seconds, "s", 1);
    report.Add("accepted_per_s", "accepted (send_ack, durable)", per_second("window_send_acks"),
               "msg/s", 1);
    report.Add("reconnects", "reconnects done", extra.value("reconnects", 0.0));
    report.Add("delivered_live", "delivered live", static_cast<double>(c.delivered_live));
    report.Add("delivered_backlog", "delivered as backlog after a reconnect",
               static_cast<double>(c.delivered_backlog));
    report.Latency("send_ack", "send -> send_ack", totals.tally.send_ack_ns);
    report.Latency("delivery", "send -> delivery (live)", totals.tally.delivery_ns);
    report.Latency("reconnect", "reconnect -> caught_up", totals.tally.caught_up_ns);
    ReportServerUse(before_, after_, c.delivered, report);

    report.Add("receipts_missing", "DELIVERED receipts missing",
               static_cast<double>(totals.receipts_missing));
    if (totals.receipts_missing > 0) {
      report.Problem(FormatNumber(static_cast<double>(totals.receipts_missing)) +
                     " receipts never arrived");
    }
    report.detail()["server_before"] = before_.ToJson();
    report.detail()["server_after"] = after_.ToJson();
  }

  // --- UserObserver (network threads)

  void OnCaughtUp(User&) override {}
  void OnSendDone(User&) override {}

  void OnEnded(User& user, std::string_view error) override {
    // Churn closed her; she comes straight back. (A failure is counted, not retried.)
    if (error.empty() && reconnecting_.load(std::memory_order_relaxed)) {
      fleet_->Dial({user.index()}, true);
    }
  }

 private:
  struct ThreadState {
    std::vector<std::uint32_t> users;
    std::mt19937_64 random;
    std::uint64_t sent = 0;
    double rate = 0;
    std::chrono::steady_clock::time_point next_churn;
    double churn_carry = 0;  // Fractions of a user left over from earlier seconds.
    std::uint64_t reconnects = 0;
  };

  void Run(nlohmann::json& extra) {
    const std::int64_t start = NowNs();
    extra["run_start_ns"] = start;
    sending_ = true;
    const double process_rate = users_ * options_.msgs_per_user / options_.duration_s;
    for (std::size_t t = 0; t < threads_.size(); ++t) {
      threads_[t].rate = users_ == 0 ? 0 : process_rate * threads_[t].users.size() / users_;
      threads_[t].next_churn = std::chrono::steady_clock::now() + kChurnPeriod;
      fleet_->network().Every(t, kTick, [this, t, start] { return Tick(t, start); });
    }

    std::this_thread::sleep_for(std::chrono::duration<double>(options_.duration_s));
    sending_ = false;
    extra["run_end_ns"] = NowNs();
    extra["window_send_acks"] = fleet_->progress().send_acks.load();
    fleet_->OnEveryThread([&](std::size_t t) {
      extra["reconnects"] = extra.value("reconnects", 0ULL) + threads_[t].reconnects;
    });
  }

  bool Tick(std::size_t t, std::int64_t start) {
    if (!sending_.load(std::memory_order_relaxed)) return false;
    ThreadState& state = threads_[t];
    if (state.users.empty()) return false;

    const double elapsed_s = static_cast<double>(NowNs() - start) / 1e9;
    const auto due = static_cast<std::uint64_t>(state.rate * elapsed_s);
    for (int picks = 0; state.sent < due && picks < kPicksPerSend; ++picks) {
      User& sender = fleet_->user(state.users[state.random() % state.users.size()]);
      if (!sender.can_send() || sender.in_flight() >= kMaxInFlightPerUser) continue;
      sender.SendTo(fleet_->user(PeerOf(sender, state)),
                    static_cast<std::size_t>(options_.message_bytes));
      ++state.sent;
      picks = -1;
    }

    if (std::chrono::steady_clock::now() >= state.next_churn) {
      state.next_churn += kChurnPeriod;
      Churn(state);
    }
    return true;
  }

  // Any other user of this process, on any thread: only her id is read.
  std::uint32_t PeerOf(const User& sender, ThreadState& state) const {
    const auto other = static_cast<std::uint32_t>(state.random() % (users_ - 1));
    return other >= sender.index() ? other + 1 : other;
  }

  // Drops this second's share of connections. Only users with nothing unanswered go, so that
  // every send has its answer; what was pushed to them and not yet acknowledged comes again
  // after the reconnect, under the same seq.
  void Churn(ThreadState& state) {
    state.churn_carry += options_.churn * static_cast<double>(state.users.size());
    for (int tries = 0; state.churn_carry >= 1 && tries < 100; ++tries) {
      User& user = fleet_->user(state.users[state.random() % state.users.size()]);
      if (!user.can_send() || user.in_flight() > 0) continue;
      user.Disconnect();
      ++state.reconnects;
      state.churn_carry -= 1;
    }
  }

  // After the run: everyone back, every send answered, delivered and receipted.
  void Settle() {
    Fleet::WaitFor(
        [&] { return fleet_->Count([](const User& user) { return user.caught_up(); }) == users_; },
        options_.drain_timeout_s);
    fleet_->WaitUntilSettled(options_.drain_timeout_s);
  }

  const BenchOptions& options_;

  // Worker process.
  std::uint32_t users_ = 0;
  std::unique_ptr<Fleet> fleet_;
  std::vector<ThreadState> threads_;  // Each touched by its own network thread only.
  std::atomic<bool> sending_{false};
  std::atomic<bool> reconnecting_{false};

  // Orchestrator.
  ServerSnapshot before_;
  ServerSnapshot after_;
};

}  // namespace

std::unique_ptr<Workload> MakeMixedWorkload(const BenchOptions& options) {
  return std::make_unique<MixedWorkload>(options);
}

}  // namespace parley::bench
