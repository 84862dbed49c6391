// User: one simulated chat user of a worker process, and Tally: what a thread's users count.
//
// A User outlives her connections: she remembers the highest mailbox seq she has processed
// (sent as ack_seq when she reconnects, as a real client keeps it on the phone) and, per
// peer, how many messages she sent, had accepted and received, so that losses and
// duplicates can be told at the end.
//
// Message identity. Messages only travel between users of the same worker process, and each
// (sender, recipient) pair numbers its messages 0, 1, 2, ... The server keeps their order per
// pair, so a recipient expects exactly the next number from each sender:
//
//   client_msg_id  "<recipient index>.<number>"     unique per sender
//   text           "<steady-clock ns at send> <random letters and spaces>", padded so that
//                  the stored parley.v1.Message is --message-bytes long. The padding is new
//                  for every message: repeated text would let the storage's block
//                  compression flatter the bytes-on-disk figure.
//
// A number below the expected one under a new seq is a duplicate; one above it is a gap
// (a loss, or a reorder). An item whose seq the user has processed already is a legitimate
// redelivery (after a reconnect) and is dropped, as the protocol says a client should.
//
// Threading: a User and the Tally of her thread are touched only on that network thread,
// until the Network is stopped; the final check reads them from the main thread after that.

#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json_fwd.hpp>

#include "bench/client.h"
#include "bench/histogram.h"

namespace parley::bench {

// Per-thread counters; summed over threads and processes.
struct Counters {
  std::uint64_t dials = 0;
  std::uint64_t connected = 0;
  std::uint64_t caught_up = 0;
  std::uint64_t connect_failures = 0;   // Ended before `connected`.
  std::uint64_t unexpected_closes = 0;  // Ended after `connected` without being asked to.
  std::uint64_t sends = 0;
  std::uint64_t send_acks = 0;
  std::uint64_t send_acks_duplicate = 0;  // send_ack with duplicate: true
  std::uint64_t send_errors = 0;
  std::uint64_t delivered = 0;          // Messages received for the first time, in order.
  std::uint64_t delivered_live = 0;     // ... of them after caught_up: latency recorded.
  std::uint64_t delivered_backlog = 0;  // ... of them before caught_up.
  std::uint64_t receipts = 0;
  std::uint64_t redelivered = 0;  // Items with a seq already processed: dropped.
  std::uint64_t duplicates = 0;   // A message received again under a new seq.
  std::uint64_t gaps = 0;         // A message number skipped by the server.
  std::uint64_t seq_gaps = 0;     // A mailbox seq skipped.
  std::uint64_t receipt_duplicates = 0;
  std::uint64_t receipt_gaps = 0;
  std::uint64_t foreign_items = 0;  // Not from this run's users: unparsable.
};

// What one network thread's users record.
struct Tally {
  Counters counters;
  Histogram send_ack_ns;               // send -> send_ack
  Histogram delivery_ns;               // send -> item at the recipient (live items only)
  Histogram connect_ns;                // dial -> connected
  Histogram caught_up_ns;              // dial -> caught_up
  std::int64_t last_caught_up_ns = 0;  // Steady-clock stamp of the latest caught_up.
  std::int64_t last_delivery_ns = 0;   // ... of the latest delivered message.

  void Merge(const Tally& other);
  nlohmann::json ToJson() const;
  static Tally FromJson(const nlohmann::json& json);
};

// Counted across threads for the worker's main thread, which polls them to tell when a
// phase is over. Relaxed: they are progress figures, not synchronisation.
struct Progress {
  std::atomic<std::int64_t> open{0};  // Dialled and not yet ended.
  std::atomic<std::uint64_t> connected{0};
  std::atomic<std::uint64_t> caught_up{0};
  std::atomic<std::uint64_t> ended{0};  // Connections ended, for any reason.
  std::atomic<std::uint64_t> sends{0};
  std::atomic<std::uint64_t> send_acks{0};
  std::atomic<std::uint64_t> send_errors{0};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> receipts{0};
};

class User;

// What the workload wants to hear about a user, on her thread.
class UserObserver {
 public:
  virtual ~UserObserver() = default;
  virtual void OnCaughtUp(User& user) = 0;
  virtual void OnSendDone(User& user) = 0;  // A send_ack or an error for one of her sends.
  virtual void OnEnded(User& user, std::string_view error) = 0;  // Her connection ended.
};

class User final : public ConnectionHandler {
 public:
  struct Peer {
    std::uint64_t sent = 0;
    std::uint64_t accepted = 0;       // send_acks, duplicates included
    std::uint64_t next_receipt = 0;   // Number of the next DELIVERED receipt expected.
    std::uint64_t next_expected = 0;  // As a recipient: number of the next message expected.
    std::uint64_t received = 0;       // As a recipient: distinct messages received.
  };

  User(std::uint32_t index, std::size_t thread, std::string id, std::string token, Tally* tally,
       Progress* progress, UserObserver* observer);

  std::uint32_t index() const { return index_; }
  std::size_t thread() const { return thread_; }
  const std::string& id() const { return id_; }
  bool online() const { return connection_ != nullptr; }
  bool caught_up() const { return caught_up_; }
  std::uint32_t in_flight() const { return in_flight_; }
  const std::unordered_map<std::uint32_t, Peer>& peers() const { return peers_; }

  // Messages she has sent to the user with index `peer`.
  std::uint64_t SentTo(std::uint32_t peer) const;

  // Opens a connection from `source_address` (empty: any). REQUIRES: !online().
  void Dial(Network& network, const std::string& source_address);

  // Closes her connection; OnEnded follows. She sends nothing more on it.
  void Disconnect();

  // Lets go of the connection without a word, once the network has stopped.
  void DropConnection() { connection_.reset(); }

  // Connected, caught up, not closing: ready to send.
  bool can_send() const { return connection_ != nullptr && caught_up_ && !closing_; }

  // Sends the next message to `peer`, `message_bytes` long, stamped now.
  void SendTo(const User& peer, std::size_t message_bytes);

  // --- ConnectionHandler
  void OnFrame(const v1::ServerFrame& frame) override;
  void OnClosed(std::string_view error) override;

 private:
  void OnSendAck(const v1::ServerFrame& frame);
  void OnError(const v1::ServerFrame& frame);
  void OnItem(const v1::Item& item);
  void OnMessage(const v1::Message& message);
  void OnReceipt(const v1::Receipt& receipt);

  const std::uint32_t index_;
  const std::size_t thread_;
  const std::string id_;
  const std::string token_;
  Tally* tally_;
  Progress* progress_;
  UserObserver* observer_;

  std::shared_ptr<Connection> connection_;
  std::int64_t dialled_at_ns_ = 0;
  bool connected_ = false;  // `connected` seen on the current connection
  bool caught_up_ = false;  // `caught_up` seen on the current connection
  bool closing_ = false;    // Disconnect() called on the current connection
  std::uint64_t processed_seq_ = 0;
  std::uint32_t in_flight_ = 0;  // Sends without an answer yet.
  std::uint64_t random_;         // xorshift64 state for the text of her messages
  std::unordered_map<std::uint32_t, Peer> peers_;
};

// "<tag>-<worker>-<index>", the id of a run's user.
std::string UserId(std::string_view run_tag, std::int64_t worker, std::uint32_t index);

}  // namespace parley::bench
