#include "bench/fleet.h"

#include <chrono>
#include <fstream>
#include <latch>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "parley/auth/token.h"
#include "parley/client/chat_connection.h"

namespace parley::bench {

namespace {

// Tokens outlive any run.
constexpr std::int64_t kTokenTtlS = 2 * 24 * 3600;

std::string ReadSecret(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read --secret-file " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  // As parleyd does: trailing whitespace (an editor's newline) is not part of the secret.
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) {
    secret.pop_back();
  }
  return secret;
}

bool IsLoopback(const std::string& url) {
  auto endpoint = client::ParseUrl(url);
  return endpoint.ok() && (endpoint->host.starts_with("127.") || endpoint->host == "localhost");
}

std::int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::uint32_t ShareOf(std::int64_t total, std::int64_t worker, std::int64_t workers) {
  const std::int64_t base = total / workers;
  return static_cast<std::uint32_t>(base + (worker < total % workers ? 1 : 0));
}

std::uint64_t FirstOf(std::int64_t total, std::int64_t worker, std::int64_t workers) {
  return static_cast<std::uint64_t>(worker * (total / workers) + std::min(worker, total % workers));
}

Fleet::Fleet(const BenchOptions& options, std::uint32_t users, std::uint64_t first_connection,
             UserObserver* observer)
    : options_(options),
      observer_(observer),
      first_connection_(first_connection),
      bind_source_(IsLoopback(options.server_url)),
      dialling_(users, 0),
      network_(std::make_unique<Network>(
          NetworkOptions{options.server_url, options.ca_file, options.insecure,
                         static_cast<std::size_t>(options.threads)})) {
  const std::size_t threads = network_->threads();
  for (std::size_t i = 0; i < threads; ++i) threads_.push_back(std::make_unique<Thread>());

  const std::string secret = ReadSecret(options.secret_file);
  const std::int64_t now_ms = WallClockMs();
  users_.reserve(users);
  for (std::uint32_t i = 0; i < users; ++i) {
    std::string id = UserId(options.run_tag, options.worker_index, i);
    auto token = auth::MintToken(id, secret, now_ms, kTokenTtlS);
    if (!token.ok()) throw std::runtime_error("cannot mint a token: " + token.status().message());
    const std::size_t thread = i % threads;
    users_.push_back(std::make_unique<User>(i, thread, std::move(id), std::move(token).value(),
                                            &threads_[thread]->tally, &progress_, this));
  }
}

Fleet::~Fleet() {
  if (!network_) return;
  network_->Stop();
  for (auto& user : users_) user->DropConnection();
  network_.reset();
}

void Fleet::Start() { network_->Start(); }

std::string Fleet::SourceAddressOf(std::uint32_t user) const {
  if (!bind_source_) return {};
  const std::uint64_t block = (first_connection_ + user) / kConnectionsPerSourceAddress;
  return "127.0." + std::to_string(block / 250) + "." + std::to_string(1 + block % 250);
}

void Fleet::Dial(const std::vector<std::uint32_t>& users, bool all_at_once) {
  std::vector<std::vector<std::uint32_t>> by_thread(threads_.size());
  if (users.empty()) {
    for (std::uint32_t i = 0; i < size(); ++i) by_thread[i % threads_.size()].push_back(i);
  } else {
    for (const std::uint32_t i : users) by_thread[user(i).thread()].push_back(i);
  }

  const auto concurrency = static_cast<std::size_t>(
      std::max<std::int64_t>(1, options_.connect_concurrency) / threads_.size());
  for (std::size_t t = 0; t < threads_.size(); ++t) {
    network_->Post(t, [this, t, all_at_once, concurrency, list = std::move(by_thread[t])] {
      Thread& thread = *threads_[t];
      thread.max_dialling = all_at_once ? SIZE_MAX : std::max<std::size_t>(1, concurrency);
      thread.to_dial.insert(thread.to_dial.end(), list.begin(), list.end());
      DialMore(thread);
    });
  }
}

void Fleet::DialMore(Thread& thread) {
  while (thread.dialling < thread.max_dialling && !thread.to_dial.empty()) {
    const std::uint32_t index = thread.to_dial.front();
    thread.to_dial.pop_front();
    User& u = user(index);
    if (u.online()) continue;
    dialling_[index] = 1;
    ++thread.dialling;
    u.Dial(*network_, SourceAddressOf(index));
  }
}

void Fleet::CloseAll() {
  for (std::size_t t = 0; t < threads_.size(); ++t) {
    network_->Post(t, [this, t] {
      threads_[t]->to_dial.clear();
      for (std::uint32_t i = static_cast<std::uint32_t>(t); i < size();
           i += static_cast<std::uint32_t>(threads_.size())) {
        user(i).Disconnect();
      }
    });
  }
}

bool Fleet::ConnectAll(const std::vector<std::uint32_t>& users, bool all_at_once, double seconds) {
  const std::uint64_t count = users.empty() ? size() : users.size();
  const std::uint64_t caught_up = progress_.caught_up;
  const std::uint64_t ended = progress_.ended;
  Dial(users, all_at_once);
  Fleet::WaitFor(
      [&] { return progress_.caught_up - caught_up + (progress_.ended - ended) >= count; },
      seconds);
  return progress_.caught_up - caught_up >= count && progress_.ended == ended;
}

bool Fleet::DisconnectAll(double seconds) {
  CloseAll();
  return Fleet::WaitFor([&] { return progress_.open <= 0; }, seconds);
}

void Fleet::ResetConnectTimes() {
  OnEveryThread([this](std::size_t t) {
    threads_[t]->tally.connect_ns = Histogram();
    threads_[t]->tally.caught_up_ns = Histogram();
  });
}

std::vector<std::uint32_t> Fleet::Range(std::uint32_t begin, std::uint32_t end) {
  std::vector<std::uint32_t> users;
  for (std::uint32_t i = begin; i < end; ++i) users.push_back(i);
  return users;
}

void Fleet::OnEveryThread(const std::function<void(std::size_t)>& fn) {
  std::latch done(static_cast<std::ptrdiff_t>(threads_.size()));
  for (std::size_t t = 0; t < threads_.size(); ++t) {
    network_->Post(t, [&fn, &done, t] {
      fn(t);
      done.count_down();
    });
  }
  done.wait();
}

std::uint32_t Fleet::Count(const std::function<bool(const User&)>& test) {
  std::atomic<std::uint32_t> count{0};
  OnEveryThread([&](std::size_t t) {
    for (std::uint32_t i = static_cast<std::uint32_t>(t); i < size();
         i += static_cast<std::uint32_t>(threads_.size())) {
      if (test(user(i))) count.fetch_add(1, std::memory_order_relaxed);
    }
  });
  return count.load();
}

bool Fleet::WaitFor(const std::function<bool()>& done, double seconds) {
  const auto give_up = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(seconds));
  while (!done()) {
    if (std::chrono::steady_clock::now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

bool Fleet::WaitUntilSettled(double seconds) {
  const Progress& p = progress_;
  return WaitFor(
      [&] {
        return p.send_acks + p.send_errors >= p.sends && p.delivered >= p.send_acks &&
               p.receipts >= p.delivered;
      },
      seconds);
}

// --- UserObserver ---------------------------------------------------------------------------

void Fleet::EndDial(User& u) {
  if (!dialling_[u.index()]) return;
  dialling_[u.index()] = 0;
  Thread& thread = *threads_[u.thread()];
  --thread.dialling;
  DialMore(thread);
}

void Fleet::OnCaughtUp(User& u) {
  EndDial(u);
  if (observer_) observer_->OnCaughtUp(u);
}

void Fleet::OnSendDone(User& u) {
  if (observer_) observer_->OnSendDone(u);
}

void Fleet::OnEnded(User& u, std::string_view error) {
  EndDial(u);
  if (observer_) observer_->OnEnded(u, error);
}

// --- The end --------------------------------------------------------------------------------

nlohmann::json Fleet::Finish(nlohmann::json extra) {
  network_->Stop();
  for (auto& u : users_) u->DropConnection();
  network_.reset();

  Tally total;
  for (const auto& thread : threads_) total.Merge(thread->tally);

  // Every pair: what the server accepted from the sender against what the recipient got,
  // and what the recipient got against the receipts the sender saw.
  std::uint64_t lost = 0;
  std::uint64_t receipts_missing = 0;
  for (const auto& sender : users_) {
    for (const auto& [recipient_index, sent] : sender->peers()) {
      if (sent.sent == 0 || recipient_index >= size()) continue;
      const auto& received_by = user(recipient_index).peers();
      const auto it = received_by.find(sender->index());
      const std::uint64_t received = it == received_by.end() ? 0 : it->second.received;
      if (sent.accepted > received) lost += sent.accepted - received;
      if (received > sent.next_receipt) receipts_missing += received - sent.next_receipt;
    }
  }

  nlohmann::json result;
  result["tally"] = total.ToJson();
  const Counters& counters = total.counters;
  const std::uint64_t answered = counters.send_acks + counters.send_errors;
  result["check"] = {{"lost", lost},
                     {"receipts_missing", receipts_missing},
                     {"unanswered", counters.sends > answered ? counters.sends - answered : 0}};
  result["extra"] = std::move(extra);
  return result;
}

}  // namespace parley::bench
