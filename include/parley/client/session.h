// Session: one user's conversation with parleyd, kept going across network failures. It is
// what `parley chat`, `send` and `listen` share.
//
// A session owns the ChatConnection and the user's state on disk (client_state.h) and does
// what every Parley client has to do:
//   - connects with the highest mailbox seq it has processed, so nothing comes twice;
//   - records new items as processed on disk around handing them to its listener, and only
//     then acknowledges them, so nothing is lost or shown twice (see CommitItems() in
//     session.cc for the order, and the one narrow window it leaves);
//   - drops items it has already processed, by seq and by message id;
//   - writes each message to the outbox before sending it and resends the outbox with the same
//     client_msg_ids after a reconnect, so the server's dedup stores each message once;
//   - keeps one send in flight at a time, so that a refusal (rate limit) never lets a later
//     message overtake an earlier one;
//   - reconnects with exponential backoff and jitter, and pings a server that has gone quiet.
//
// Single-threaded: Start(), Poll() and the other calls run on one thread, and the listener's
// callbacks run on that thread from inside them.

#ifndef PARLEY_CLIENT_SESSION_H_
#define PARLEY_CLIENT_SESSION_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parley/client/backoff.h"
#include "parley/client/chat_connection.h"
#include "parley/client/client_state.h"
#include "parley/common/status.h"
#include "parley/v1/parley.pb.h"

namespace parley::client {

// Produces the token for each connection attempt, so that a minted one can be fresh each time.
using TokenSource = std::function<Result<std::string>()>;

struct SessionOptions {
  std::string url;   // ws://... or wss://...
  std::string user;  // Must be the token's subject.
  TokenSource token;
  ConnectionOptions connection;
  std::filesystem::path state_folder;  // See StateFolder().

  // true: items are recorded in the inbox, handed to the listener and acknowledged; only one
  // receiving session may use a state folder at a time. false (parley send): items are left
  // in the mailbox for the user's receiving client, and the inbox is not touched.
  bool receive = true;

  std::string client_name = "parley/0.1";  // Sent in connect.
};

// What a session reports. Every method has a default that ignores the event.
class SessionListener {
 public:
  virtual ~SessionListener() = default;

  virtual void OnConnected(const v1::Connected& /*connected*/) {}

  // The backlog has been delivered; live items follow.
  virtual void OnCaughtUp() {}

  // The connection was lost (or an attempt failed); the next attempt is due in `retry_in`.
  virtual void OnDisconnected(const Status& /*reason*/, std::chrono::milliseconds /*retry_in*/) {}

  // New items in seq order, to be shown at once. Their record as processed is written (but not
  // yet in place) when this is called, put in place when it returns, and then the items are
  // acknowledged. A non-ok return (the output has gone away) drops the record and ends the
  // session, so that the items come again next time.
  virtual Status OnItems(const std::vector<v1::Item>& /*items*/) { return Status::Ok(); }

  // A send frame for `entry` has been written to the server.
  virtual void OnSendWritten(const OutboxEntry& /*entry*/) {}

  // The server stored the message (or had stored it before: ack.duplicate()). It has left the
  // outbox.
  virtual void OnSendAck(const OutboxEntry& /*entry*/, const v1::SendAck& /*ack*/) {}

  // The server refused the message for good (unknown recipient, too long, mailbox full...).
  // It has left the outbox.
  virtual void OnSendRefused(const OutboxEntry& /*entry*/, const v1::Error& /*error*/) {}

  // Answers to Request() and MarkRead(), matched by request_id: retention_set, history, or an
  // error.
  virtual void OnReply(const v1::ServerFrame& /*frame*/) {}
};

class Session {
 public:
  // `listener` is not owned and must outlive the session.
  Session(SessionOptions options, SessionListener* listener);
  ~Session();

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Loads the state and makes the first connection. Any failure is returned as it is and not
  // retried: when the very first attempt fails, a wrong URL, port or token is more likely than
  // a passing outage, and the person who typed it should hear so at once.
  Status Start();

  // Waits up to `timeout` for the server and handles whatever has arrived; sends the next
  // outbox entry when its turn comes; reconnects when an attempt is due. Returns non-ok only
  // when the session cannot go on: the token was refused, the state cannot be written, or the
  // listener's output has gone. REQUIRES: Start() succeeded.
  Status Poll(std::chrono::milliseconds timeout);

  // Writes a message to the outbox (durably) and returns its entry; it is sent when its turn
  // comes, and resent after reconnects until the server answers.
  Result<OutboxEntry> Send(std::string to, std::string text);

  // Tells the server that `client_msg_ids` from `peer` were read: in the next Poll(), after
  // the ack of the items being committed (so that READ never precedes DELIVERED), or after
  // the next connect. Not kept on disk: a crash loses at most the blue ticks.
  void MarkRead(const std::string& peer, const std::vector<std::string>& client_msg_ids);

  // Sends a frame that expects an answer (get_history, set_retention) and returns the
  // request_id its answer will carry to OnReply(). Unavailable while disconnected.
  Result<std::uint64_t> Request(v1::ClientFrame frame);

  // Closes the connection normally. The session is done.
  void Close();

  bool connected() const { return connection_ != nullptr; }
  const Outbox& outbox() const { return outbox_; }

 private:
  using SteadyClock = std::chrono::steady_clock;

  struct InFlight {
    std::string client_msg_id;
    SteadyClock::time_point sent_at;
  };

  Status Connect();
  Status Reconnect(std::chrono::milliseconds timeout);
  void Disconnect(const Status& reason);
  Status OnReadFailed(const Status& status);

  Status Handle(const v1::ServerFrame& frame);
  Status CommitItems();
  Status HandleSendAck(const v1::SendAck& ack);
  Status HandleError(const v1::ServerFrame& frame);

  void SendNext();
  void CheckHealth();
  void SendReads();
  bool SendFrame(const v1::ClientFrame& frame);

  SessionOptions options_;
  SessionListener* listener_;
  Inbox inbox_;
  Outbox outbox_;
  std::optional<StateLock> lock_;
  Backoff backoff_;

  std::unique_ptr<ChatConnection> connection_;  // Null while disconnected.
  SteadyClock::time_point connected_at_;
  SteadyClock::time_point last_heard_;
  std::optional<SteadyClock::time_point> ping_sent_at_;
  SteadyClock::time_point retry_at_;

  std::optional<InFlight> in_flight_;            // The send awaiting its answer.
  SteadyClock::time_point outbox_paused_until_;  // After RATE_LIMITED or UNAVAILABLE.
  std::vector<v1::Item> batch_;                  // Received, not yet committed.
  std::vector<v1::MarkRead> unsent_reads_;       // Waiting for a connection.
  std::uint64_t last_request_id_ = 0;
};

}  // namespace parley::client

#endif  // PARLEY_CLIENT_SESSION_H_
