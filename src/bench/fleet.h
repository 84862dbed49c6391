// Fleet: the users of one worker process, their network threads and what they counted.
//
// User i lives on network thread i % threads. The worker's main thread drives phases: it
// posts work to the threads, then polls the shared Progress counters until the phase is
// over or its deadline has passed. Every wait is bounded, so a broken server ends a run with
// a report rather than a hang.

#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bench/client.h"
#include "bench/options.h"
#include "bench/user.h"

namespace parley::bench {

// Sources of connections: a loopback server is reached from 127.0.0.1, 127.0.0.2, ... in
// turn, this many connections each. One source address offers about 28,000 ephemeral ports
// to one server port; 10,000 leaves room for the ports that closed connections still hold.
constexpr std::uint32_t kConnectionsPerSourceAddress = 10000;

// Worker `worker` of `workers` takes this share of `total` (the first ones take the rest).
std::uint32_t ShareOf(std::int64_t total, std::int64_t worker, std::int64_t workers);

// The number, among all workers' users, of worker `worker`'s first user.
std::uint64_t FirstOf(std::int64_t total, std::int64_t worker, std::int64_t workers);

class Fleet final : public UserObserver {
 public:
  // Mints a token per user and sets up the network; starts nothing yet. `observer` hears of
  // every user event after the fleet has dealt with it; it may be null.
  // `first_connection` numbers this worker's first user among all workers' connections, so
  // that source addresses are shared out across processes.
  Fleet(const BenchOptions& options, std::uint32_t users, std::uint64_t first_connection,
        UserObserver* observer);
  ~Fleet() override;

  Network& network() { return *network_; }
  Progress& progress() { return progress_; }
  std::uint32_t size() const { return static_cast<std::uint32_t>(users_.size()); }
  User& user(std::uint32_t index) { return *users_[index]; }
  std::size_t threads() const { return threads_.size(); }

  // Starts the network threads.
  void Start();

  // Dials `users` (all of them when empty), at most --connect-concurrency at a time across
  // the process, or all at once with `all_at_once`. Returns at once; watch progress().
  void Dial(const std::vector<std::uint32_t>& users, bool all_at_once = false);

  // Closes every open connection. Returns at once.
  void CloseAll();

  // Dials `users` (all when empty) and waits until each has caught up or failed, for at most
  // `seconds`. True when every one of them caught up.
  bool ConnectAll(const std::vector<std::uint32_t>& users, bool all_at_once, double seconds);

  // Closes every connection and waits until all have ended, for at most `seconds`.
  bool DisconnectAll(double seconds);

  // Empties the connect and caught_up histograms, so that they describe the next phase only.
  void ResetConnectTimes();

  // The users [begin, end), for Dial() and ConnectAll().
  static std::vector<std::uint32_t> Range(std::uint32_t begin, std::uint32_t end);

  // Runs fn(thread) on every network thread and waits until all have run it.
  void OnEveryThread(const std::function<void(std::size_t thread)>& fn);

  // How many users satisfy `test`, each asked on her own thread.
  std::uint32_t Count(const std::function<bool(const User&)>& test);

  // Polls `done` every 5 ms until it holds (true) or `seconds` have passed (false).
  static bool WaitFor(const std::function<bool()>& done, double seconds);

  // Waits until every send is answered, every accepted message delivered and every delivery
  // receipted, for at most `seconds`. True when all of it came.
  bool WaitUntilSettled(double seconds);

  // Stops the network, then checks every pair for lost and duplicated messages and returns
  // the worker's result: merged tallies, the check, and `extra`.
  nlohmann::json Finish(nlohmann::json extra);

  // --- UserObserver
  void OnCaughtUp(User& user) override;
  void OnSendDone(User& user) override;
  void OnEnded(User& user, std::string_view error) override;

 private:
  struct Thread {
    Tally tally;
    std::deque<std::uint32_t> to_dial;
    std::size_t dialling = 0;  // Dialled, neither caught up nor ended yet.
    std::size_t max_dialling = 0;
  };

  void DialMore(Thread& thread);
  // `u`'s dial has come to an end, caught up or not: her place goes to the next one waiting.
  void EndDial(User& u);
  std::string SourceAddressOf(std::uint32_t user) const;

  const BenchOptions& options_;
  UserObserver* observer_;
  std::uint64_t first_connection_;
  bool bind_source_ = false;
  Progress progress_;
  std::vector<std::unique_ptr<Thread>> threads_;
  std::vector<std::unique_ptr<User>> users_;
  // Per user: counted in her thread's `dialling`. Bytes, not vector<bool>: users of
  // different threads must not share a word.
  std::vector<char> dialling_;
  // Last: destroyed first, so no callback reaches a user or a thread that is gone.
  std::unique_ptr<Network> network_;
};

}  // namespace parley::bench
