// Session: the chat protocol of one client connection, from `connect` to close.
//
// The gateway owns the socket and hands every decoded frame to the Session; the Session
// answers through the Connection interface. It authenticates, accepts sends, and runs the
// delivery of the user's mailbox: a paged backlog first, then live items, never more than
// `window` unacknowledged items in flight. Items live in storage, not here: of what it pushed a
// session keeps only the sender and client_msg_id of each unacknowledged item, for the
// receipts, so a slow reader costs the server no memory beyond the window.
//
// Threading: every method runs on the connection's executor (one network thread), except the
// Offer* methods and Replace(), which may be called from any thread and post themselves there.

#ifndef PARLEY_CHAT_SESSION_H_
#define PARLEY_CHAT_SESSION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parley/chat/rate_limiter.h"
#include "parley/common/status.h"
#include "parley/gateway/codec.h"
#include "parley/storage/store.h"
#include "parley/v1/parley.pb.h"

namespace parley {
class Clock;
namespace admin {
struct Metrics;
}
}  // namespace parley

namespace parley::chat {

class Router;
class SessionRegistry;

using gateway::WireFormat;

// WebSocket close codes the chat protocol uses.
enum CloseCode : std::uint16_t {
  kCloseGoingAway = 1001,
  kClosePolicy = 1008,
  kCloseInternalError = 1011,
  kCloseNotAuthenticated = 4001,
  kCloseReplaced = 4002,
  kCloseProtocolViolation = 4003,
};

// What the Session needs of the transport; implemented by the gateway.
class Connection {
 public:
  virtual ~Connection() = default;

  // Queues `frame` for the client in `format`.
  virtual void SendFrame(const v1::ServerFrame& frame, WireFormat format) = 0;

  // Sends a close frame with `code` after what is already queued, then drops the connection.
  virtual void CloseWith(std::uint16_t code, std::string_view reason) = 0;

  // Reading stops while `connect` is being processed; this starts it again.
  virtual void ResumeReading() = 0;
};

// Runs a function on a connection's network thread.
using Executor = std::function<void(std::function<void()>)>;

struct SessionLimits {
  std::uint32_t window = 256;
  double send_rate_per_s = 20;
  double typing_rate_per_s = 5;
  double frames_per_s = 100;  // Every frame but `ack`.
  std::uint32_t violations_before_close = 50;
  std::uint32_t max_read_ids = 256;  // client_msg_ids in one mark_read.
  std::uint32_t max_history_days = 90;
  std::uint32_t default_history_limit = 50;
  std::uint32_t max_history_limit = 200;
};

// What every session of the process shares. Not owned; outlives every session.
struct ChatContext {
  storage::Store* store = nullptr;
  SessionRegistry* registry = nullptr;
  Router* router = nullptr;
  const Clock* clock = nullptr;
  admin::Metrics* metrics = nullptr;
  std::string token_secret;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `limits` are the ones in force when the connection arrived; a reload changes them for
  // later sessions only.
  Session(const ChatContext& context, SessionLimits limits, Connection* connection,
          Executor executor, std::uint64_t connection_id);

  // --- Called by the gateway on the connection's thread.

  void OnFrame(const v1::ClientFrame& frame, WireFormat format);
  void OnUndecodableFrame(WireFormat format, std::string_view reason);

  // The connection is gone: forget it and leave the registry. Nothing is sent afterwards.
  void OnConnectionClosed();

  // False while `connect` is being processed; the gateway then waits for ResumeReading().
  bool wants_frames() const { return !connecting_; }
  bool authenticated() const { return authenticated_; }

  // --- Thread-safe.

  // A committed item of this user's mailbox (from the Router).
  void OfferItem(std::shared_ptr<const v1::Item> item);
  void OfferTyping(std::string from);

  // A newer session of the same user has taken over: close with 4002.
  void Replace();

 private:
  // Frame handlers.
  void HandleConnect(const v1::ClientFrame& frame, WireFormat format);
  void HandleSend(const v1::ClientFrame& frame, WireFormat format);
  void HandleAck(const v1::Ack& ack);
  // Removes and returns the pushed items with seq up to `seq`, for the store's Ack.
  std::vector<storage::PushedItem> TakePushedUpTo(std::uint64_t seq);
  void HandleMarkRead(const v1::ClientFrame& frame, WireFormat format);
  void HandleTyping(const v1::TypingNotice& typing);
  void HandleSetRetention(const v1::ClientFrame& frame, WireFormat format);
  void HandleGetHistory(const v1::ClientFrame& frame, WireFormat format);

  // Completions, back on the connection's thread.
  void OnSessionOpened(const storage::SessionInfo& info, std::uint64_t request_id);
  void OnSendDone(const storage::SendResult& result, std::uint64_t request_id,
                  const std::string& client_msg_id, WireFormat format);
  void OnMarkReadDone(storage::MarkReadOutcome outcome, std::uint64_t request_id,
                      WireFormat format);
  void OnRetentionSet(const Status& status, std::uint32_t history_days, std::uint64_t request_id,
                      WireFormat format);
  void OnHistoryRead(const Result<storage::HistoryPage>& result, std::uint64_t request_id,
                     WireFormat format);

  // Delivery.
  void Pump();
  void RequestPage();
  void OnPage(const storage::MailboxPage& page);
  void OnLiveItem(const std::shared_ptr<const v1::Item>& item);
  void Push(const v1::Item& item);
  std::uint64_t InFlight() const { return sent_seq_ - acked_seq_; }

  // Answers.
  void Reply(v1::ServerFrame& frame, std::uint64_t request_id, WireFormat format);
  void ReplyError(v1::Error::Code code, std::string_view message, std::uint64_t request_id,
                  WireFormat format, std::string_view client_msg_id = {});
  // Takes a token of the send bucket (sends, receipts, retention and history requests share
  // it); when it is empty, answers RATE_LIMITED and counts a violation.
  bool TakeSendToken(std::uint64_t request_id, WireFormat format,
                     std::string_view client_msg_id = {});
  void CountViolation();
  void Close(std::uint16_t code, std::string_view reason);

  // Runs `fn` on this session's thread, keeping the session alive until then.
  void Post(std::function<void(Session&)> fn);
  std::int64_t MonotonicMs() const;

  const ChatContext& context_;
  const SessionLimits limits_;
  Connection* connection_;  // Null once the connection is gone.
  Executor executor_;
  const std::uint64_t connection_id_;

  std::string user_;
  WireFormat format_ = WireFormat::kJson;  // Of `connect`: used for unsolicited frames.
  bool connecting_ = false;
  bool authenticated_ = false;
  bool closing_ = false;
  std::uint32_t history_days_ = 0;  // As stored; kept current by set_retention.

  // Delivery state. Invariant: acked_seq_ <= sent_seq_.
  std::uint64_t acked_seq_ = 0;  // Highest seq the client acknowledged.
  std::uint64_t sent_seq_ = 0;   // Highest seq pushed to the client.
  // The items pushed and not yet acknowledged, in seq order (at most a window of them): an ack
  // hands them to the store, which then makes the receipts without reading the mailbox.
  std::vector<storage::PushedItem> pushed_;  // Entries from pushed_head_ on are unacknowledged.
  std::size_t pushed_head_ = 0;
  std::uint64_t highest_offered_ = 0;  // Highest seq the Router offered.
  bool caught_up_ = false;             // Backlog drained; live items go out from memory.
  bool caught_up_sent_ = false;
  bool page_in_flight_ = false;
  bool offered_during_read_ = false;

  RateLimiter send_limiter_;
  RateLimiter typing_limiter_;
  RateLimiter frame_limiter_;
  std::uint32_t violations_ = 0;  // Rejected frames in a row.
};

}  // namespace parley::chat

#endif  // PARLEY_CHAT_SESSION_H_
