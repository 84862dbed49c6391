#include "parley/chat/session.h"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "parley/admin/metrics.h"
#include "parley/auth/token.h"
#include "parley/chat/router.h"
#include "parley/chat/session_registry.h"
#include "parley/common/clock.h"
#include "parley/common/utf8.h"
#include "parley/storage/store.h"

namespace parley::chat {

namespace {

constexpr std::size_t kMaxTextChars = 1000;
constexpr std::size_t kMaxClientMsgIdChars = 64;

bool IsValidClientMsgId(std::string_view id) {
  const auto chars = CountUtf8Chars(id);
  return chars && *chars >= 1 && *chars <= kMaxClientMsgIdChars;
}

}  // namespace

Session::Session(const ChatContext& context, SessionLimits limits, Connection* connection,
                 Executor executor, std::uint64_t connection_id)
    : context_(context),
      limits_(limits),
      connection_(connection),
      executor_(std::move(executor)),
      connection_id_(connection_id),
      send_limiter_(limits.send_rate_per_s, 2 * limits.send_rate_per_s),
      typing_limiter_(limits.typing_rate_per_s, 2 * limits.typing_rate_per_s),
      frame_limiter_(limits.frames_per_s, 2 * limits.frames_per_s) {}

// --- Frames ----------------------------------------------------------------------------------

void Session::OnFrame(const v1::ClientFrame& frame, WireFormat format) {
  if (closing_) return;

  if (!authenticated_) {
    if (frame.body_case() != v1::ClientFrame::kConnect || connecting_) {
      Close(kCloseNotAuthenticated, "connect first");
      return;
    }
    HandleConnect(frame, format);
    return;
  }

  // Acks are exempt: a client draining a backlog acks as fast as it reads, and an ack that
  // moves nothing costs nothing.
  if (frame.body_case() != v1::ClientFrame::kAck && !frame_limiter_.TryTake(MonotonicMs())) {
    ReplyError(v1::Error::RATE_LIMITED, "too many frames", frame.request_id(), format);
    CountViolation();
    return;
  }

  switch (frame.body_case()) {
    case v1::ClientFrame::kSend:
      HandleSend(frame, format);
      break;
    case v1::ClientFrame::kAck:
      HandleAck(frame.ack());
      break;
    case v1::ClientFrame::kMarkRead:
      HandleMarkRead(frame, format);
      break;
    case v1::ClientFrame::kTyping:
      HandleTyping(frame.typing());
      break;
    case v1::ClientFrame::kSetRetention:
      HandleSetRetention(frame, format);
      break;
    case v1::ClientFrame::kGetHistory:
      HandleGetHistory(frame, format);
      break;
    case v1::ClientFrame::kPing: {
      v1::ServerFrame reply;
      reply.mutable_pong();
      Reply(reply, frame.request_id(), format);
      break;
    }
    case v1::ClientFrame::kConnect:
      ReplyError(v1::Error::BAD_REQUEST, "already connected", frame.request_id(), format);
      CountViolation();
      break;
    case v1::ClientFrame::BODY_NOT_SET:
      // The codec refuses frames without a body; nothing to do if one got here anyway.
      break;
  }
}

void Session::OnUndecodableFrame(WireFormat format, std::string_view reason) {
  if (closing_) return;
  if (!authenticated_) {
    Close(kCloseNotAuthenticated, "connect first");
    return;
  }
  ReplyError(v1::Error::BAD_REQUEST, reason, 0, format);
  CountViolation();
}

void Session::HandleConnect(const v1::ClientFrame& frame, WireFormat format) {
  const v1::Connect& connect = frame.connect();
  auto user = auth::VerifyToken(connect.token(), context_.token_secret, context_.clock->NowMs());
  if (!user.ok()) {
    spdlog::debug("[conn={}] connect refused: {}", connection_id_, user.status().message());
    ReplyError(v1::Error::UNAUTHENTICATED, user.status().message(), frame.request_id(), format);
    Close(kCloseNotAuthenticated, "not authenticated");
    return;
  }

  user_ = std::move(user).value();
  format_ = format;
  connecting_ = true;

  const std::uint64_t request_id = frame.request_id();
  context_.store->OpenSession(
      user_, connect.ack_seq(), [self = shared_from_this(), request_id](auto result) {
        self->Post([result = std::move(result), request_id](Session& s) {
          if (!result.ok()) {
            spdlog::error("[conn={} user={}] open session failed: {}", s.connection_id_, s.user_,
                          result.status().ToString());
            s.Close(kCloseInternalError, "storage unavailable");
            return;
          }
          s.OnSessionOpened(result.value(), request_id);
        });
      });
}

void Session::OnSessionOpened(const storage::SessionInfo& info, std::uint64_t request_id) {
  connecting_ = false;
  if (closing_ || connection_ == nullptr) return;

  authenticated_ = true;
  history_days_ = info.history_days;
  acked_seq_ = info.acked_seq;
  sent_seq_ = info.acked_seq;
  context_.metrics->sessions.Add(1);

  if (auto previous = context_.registry->Register(user_, shared_from_this())) {
    previous->Replace();
  }
  spdlog::debug("[conn={} user={}] session open, pending={}", connection_id_, user_, info.pending);

  v1::ServerFrame reply;
  v1::Connected* connected = reply.mutable_connected();
  connected->set_user(user_);
  connected->set_server_time_ms(context_.clock->NowMs());
  connected->set_history_days(info.history_days);
  connected->set_pending(
      static_cast<std::uint32_t>(std::min<std::uint64_t>(info.pending, UINT32_MAX)));
  Reply(reply, request_id, format_);

  connection_->ResumeReading();
  Pump();
}

void Session::HandleSend(const v1::ClientFrame& frame, WireFormat format) {
  const v1::Send& send = frame.send();
  const std::uint64_t request_id = frame.request_id();

  if (!IsValidClientMsgId(send.client_msg_id())) {
    ReplyError(v1::Error::BAD_REQUEST, "client_msg_id must be 1 to 64 characters", request_id,
               format, send.client_msg_id());
    CountViolation();
    return;
  }
  const auto chars = CountUtf8Chars(send.text());
  if (!chars || *chars == 0) {
    ReplyError(v1::Error::BAD_REQUEST, "text must be 1 to 1000 characters of UTF-8", request_id,
               format, send.client_msg_id());
    CountViolation();
    return;
  }
  if (*chars > kMaxTextChars) {
    ReplyError(v1::Error::MESSAGE_TOO_LONG, "text is longer than 1000 characters", request_id,
               format, send.client_msg_id());
    return;
  }
  if (!auth::IsValidUserId(send.to())) {
    ReplyError(v1::Error::UNKNOWN_RECIPIENT, "no such user", request_id, format,
               send.client_msg_id());
    return;
  }
  if (!TakeSendToken(request_id, format, send.client_msg_id())) return;
  violations_ = 0;

  storage::SendRequest request{user_, send.to(), send.client_msg_id(), send.text()};
  context_.store->Send(std::move(request), [self = shared_from_this(), request_id, format,
                                            id = send.client_msg_id()](auto result) {
    self->Post([result, request_id, format, id = std::move(id)](Session& s) {
      s.OnSendDone(result, request_id, id, format);
    });
  });
}

void Session::OnSendDone(const storage::SendResult& result, std::uint64_t request_id,
                         const std::string& client_msg_id, WireFormat format) {
  using storage::SendOutcome;
  switch (result.outcome) {
    case SendOutcome::kStored:
    case SendOutcome::kDuplicate: {
      const bool duplicate = result.outcome == SendOutcome::kDuplicate;
      (duplicate ? context_.metrics->messages_duplicate : context_.metrics->messages_accepted)
          .Add();
      v1::ServerFrame reply;
      v1::SendAck* ack = reply.mutable_send_ack();
      ack->set_client_msg_id(client_msg_id);
      ack->set_sent_at_ms(result.sent_at_ms);
      ack->set_duplicate(duplicate);
      Reply(reply, request_id, format);
      return;
    }
    case SendOutcome::kUnknownRecipient:
      ReplyError(v1::Error::UNKNOWN_RECIPIENT, "no such user", request_id, format, client_msg_id);
      return;
    case SendOutcome::kMailboxFull:
      ReplyError(v1::Error::MAILBOX_FULL, "recipient's mailbox is full", request_id, format,
                 client_msg_id);
      return;
    case SendOutcome::kUnavailable:
      ReplyError(v1::Error::UNAVAILABLE, "storage unavailable, try again", request_id, format,
                 client_msg_id);
      return;
  }
}

void Session::HandleAck(const v1::Ack& ack) {
  // Items not yet pushed cannot have been processed; acknowledging them would lose them.
  const std::uint64_t seq = std::min(ack.seq(), sent_seq_);
  if (seq <= acked_seq_) return;

  context_.metrics->items_acked.Add(seq - acked_seq_);
  acked_seq_ = seq;

  context_.store->Ack(
      user_, seq, TakePushedUpTo(seq), [user = user_, id = connection_id_](Status status) {
        if (!status.ok()) {
          // The items stay in the mailbox and come again on the next connect: the client
          // drops them by seq.
          spdlog::error("[conn={} user={}] ack not stored: {}", id, user, status.ToString());
        }
      });
  Pump();
}

std::vector<storage::PushedItem> Session::TakePushedUpTo(std::uint64_t seq) {
  const auto first = pushed_.begin() + static_cast<std::ptrdiff_t>(pushed_head_);
  const auto unacked = std::find_if(
      first, pushed_.end(), [seq](const storage::PushedItem& item) { return item.seq > seq; });
  std::vector<storage::PushedItem> taken(std::make_move_iterator(first),
                                         std::make_move_iterator(unacked));
  pushed_head_ = static_cast<std::size_t>(unacked - pushed_.begin());

  if (pushed_head_ == pushed_.size()) {
    // All acknowledged: an idle session keeps no memory for it.
    pushed_ = {};
    pushed_head_ = 0;
  } else if (pushed_head_ >= pushed_.size() / 2) {
    // Dropping the taken front only once it is half the vector keeps an ack's cost in
    // proportion to what it acknowledges, not to the window.
    pushed_.erase(pushed_.begin(), pushed_.begin() + static_cast<std::ptrdiff_t>(pushed_head_));
    pushed_head_ = 0;
  }
  return taken;
}

void Session::HandleMarkRead(const v1::ClientFrame& frame, WireFormat format) {
  const v1::MarkRead& read = frame.mark_read();
  const std::uint64_t request_id = frame.request_id();

  if (static_cast<std::uint32_t>(read.client_msg_ids_size()) > limits_.max_read_ids) {
    ReplyError(v1::Error::BAD_REQUEST, "too many client_msg_ids", request_id, format);
    CountViolation();
    return;
  }
  for (const std::string& id : read.client_msg_ids()) {
    if (!IsValidClientMsgId(id)) {
      ReplyError(v1::Error::BAD_REQUEST, "client_msg_id must be 1 to 64 characters", request_id,
                 format);
      CountViolation();
      return;
    }
  }
  if (!auth::IsValidUserId(read.peer())) {
    ReplyError(v1::Error::UNKNOWN_RECIPIENT, "no such user", request_id, format);
    return;
  }
  if (!TakeSendToken(request_id, format)) return;
  if (read.client_msg_ids().empty()) return;

  std::vector<std::string> ids(read.client_msg_ids().begin(), read.client_msg_ids().end());
  context_.store->MarkRead(user_, read.peer(), std::move(ids),
                           [self = shared_from_this(), request_id, format](auto outcome) {
                             self->Post([outcome, request_id, format](Session& s) {
                               s.OnMarkReadDone(outcome, request_id, format);
                             });
                           });
}

void Session::OnMarkReadDone(storage::MarkReadOutcome outcome, std::uint64_t request_id,
                             WireFormat format) {
  using storage::MarkReadOutcome;
  if (outcome == MarkReadOutcome::kUnknownRecipient) {
    ReplyError(v1::Error::UNKNOWN_RECIPIENT, "no such user", request_id, format);
  } else if (outcome == MarkReadOutcome::kUnavailable) {
    ReplyError(v1::Error::UNAVAILABLE, "storage unavailable, try again", request_id, format);
  }
}

void Session::HandleTyping(const v1::TypingNotice& typing) {
  if (!auth::IsValidUserId(typing.to())) return;
  if (!typing_limiter_.TryTake(MonotonicMs())) return;  // Dropped silently, as specified.
  context_.router->RelayTyping(user_, typing.to());
}

void Session::HandleSetRetention(const v1::ClientFrame& frame, WireFormat format) {
  const std::uint32_t days = frame.set_retention().history_days();
  const std::uint64_t request_id = frame.request_id();
  if (days > limits_.max_history_days) {
    ReplyError(v1::Error::BAD_REQUEST, "history_days must be 0 to 90", request_id, format);
    CountViolation();
    return;
  }
  if (!TakeSendToken(request_id, format)) return;

  context_.store->SetRetention(
      user_, days, [self = shared_from_this(), days, request_id, format](Status status) {
        self->Post([status = std::move(status), days, request_id, format](Session& s) {
          s.OnRetentionSet(status, days, request_id, format);
        });
      });
}

void Session::OnRetentionSet(const Status& status, std::uint32_t history_days,
                             std::uint64_t request_id, WireFormat format) {
  if (!status.ok()) {
    spdlog::error("[conn={} user={}] set_retention failed: {}", connection_id_, user_,
                  status.ToString());
    ReplyError(v1::Error::UNAVAILABLE, "storage unavailable, try again", request_id, format);
    return;
  }
  history_days_ = history_days;
  v1::ServerFrame reply;
  reply.mutable_retention_set()->set_history_days(history_days);
  Reply(reply, request_id, format);
}

void Session::HandleGetHistory(const v1::ClientFrame& frame, WireFormat format) {
  const v1::GetHistory& request = frame.get_history();
  const std::uint64_t request_id = frame.request_id();
  if (!request.peer().empty() && !auth::IsValidUserId(request.peer())) {
    ReplyError(v1::Error::BAD_REQUEST, "peer is not a user id", request_id, format);
    CountViolation();
    return;
  }
  if (request.before_ms() < 0) {
    ReplyError(v1::Error::BAD_REQUEST, "before_ms must not be negative", request_id, format);
    CountViolation();
    return;
  }
  // Reads share the send bucket: a page of history costs the server more than a message.
  if (!TakeSendToken(request_id, format)) return;

  storage::HistoryQuery query;
  query.user = user_;
  query.peer = request.peer();
  query.before_ms = request.before_ms();
  query.cursor = request.cursor();
  query.limit = request.limit() == 0 ? limits_.default_history_limit
                                     : std::min(request.limit(), limits_.max_history_limit);
  query.history_days = history_days_;

  context_.store->ReadHistory(
      std::move(query), [self = shared_from_this(), request_id, format](auto result) {
        self->Post([result = std::move(result), request_id, format](Session& s) {
          s.OnHistoryRead(result, request_id, format);
        });
      });
}

void Session::OnHistoryRead(const Result<storage::HistoryPage>& result, std::uint64_t request_id,
                            WireFormat format) {
  if (!result.ok()) {
    if (result.status().code() == Status::Code::kInvalidArgument) {
      ReplyError(v1::Error::BAD_REQUEST, result.status().message(), request_id, format);
      return;
    }
    spdlog::error("[conn={} user={}] history read failed: {}", connection_id_, user_,
                  result.status().ToString());
    ReplyError(v1::Error::UNAVAILABLE, "storage unavailable, try again", request_id, format);
    return;
  }

  v1::ServerFrame reply;
  v1::History* history = reply.mutable_history();
  for (const v1::Message& message : result.value().messages) *history->add_messages() = message;
  history->set_next_cursor(result.value().next_cursor);
  Reply(reply, request_id, format);
}

// --- Delivery ----------------------------------------------------------------------------------
//
// The mailbox is the truth; the session only tracks how far it has pushed (sent_seq_) and how
// far the client has acknowledged (acked_seq_). While not caught up, items come from storage
// in pages; once a page reaches the end of the mailbox, live items offered by the Router go
// out straight from memory as long as they follow on without a gap and the window has room.
// Anything else (a gap, a full window) drops back to paging: the item is already on disk.

void Session::Pump() {
  if (caught_up_ || page_in_flight_ || connection_ == nullptr || closing_) return;
  if (InFlight() >= limits_.window) return;  // The next ack calls again.
  RequestPage();
}

void Session::RequestPage() {
  page_in_flight_ = true;
  offered_during_read_ = false;
  const std::size_t room = limits_.window - InFlight();
  context_.store->ReadMailbox(user_, sent_seq_, room, [self = shared_from_this()](auto result) {
    self->Post([result = std::move(result)](Session& s) {
      s.page_in_flight_ = false;
      if (!result.ok()) {
        spdlog::error("[conn={} user={}] mailbox read failed: {}", s.connection_id_, s.user_,
                      result.status().ToString());
        s.Close(kCloseInternalError, "storage unavailable");
        return;
      }
      s.OnPage(result.value());
    });
  });
}

void Session::OnPage(const storage::MailboxPage& page) {
  if (connection_ == nullptr || closing_) return;

  for (const v1::Item& item : page.items) {
    if (item.seq() > sent_seq_) Push(item);
  }

  // An item offered while the read was under way may have been committed after the read
  // saw the mailbox: read again. Offers are finite, so this ends.
  const bool offered_beyond = offered_during_read_ && highest_offered_ > sent_seq_;
  if (!page.reached_end || offered_beyond) {
    Pump();
    return;
  }

  caught_up_ = true;
  if (!caught_up_sent_) {
    caught_up_sent_ = true;
    v1::ServerFrame frame;
    frame.mutable_caught_up()->set_seq(sent_seq_);
    Reply(frame, 0, format_);
  }
}

void Session::OnLiveItem(const std::shared_ptr<const v1::Item>& item) {
  if (!authenticated_ || connection_ == nullptr || closing_) return;
  highest_offered_ = std::max(highest_offered_, item->seq());
  if (page_in_flight_) offered_during_read_ = true;
  if (item->seq() <= sent_seq_) return;  // Already pushed from a page.

  if (caught_up_ && item->seq() == sent_seq_ + 1 && InFlight() < limits_.window) {
    Push(*item);
    return;
  }
  caught_up_ = false;
  Pump();
}

void Session::Push(const v1::Item& item) {
  v1::ServerFrame frame;
  *frame.mutable_item() = item;
  Reply(frame, 0, format_);
  sent_seq_ = item.seq();
  context_.metrics->items_pushed.Add();

  storage::PushedItem& pushed = pushed_.emplace_back();
  pushed.seq = item.seq();
  if (item.has_message()) {
    pushed.is_message = true;
    pushed.sender = item.message().from();
    pushed.client_msg_id = item.message().client_msg_id();
    pushed.sent_at_ms = item.message().sent_at_ms();
  }
}

// --- Cross-thread entry points ------------------------------------------------------------------

void Session::OfferItem(std::shared_ptr<const v1::Item> item) {
  Post([item = std::move(item)](Session& s) { s.OnLiveItem(item); });
}

void Session::OfferTyping(std::string from) {
  Post([from = std::move(from)](Session& s) {
    if (!s.authenticated_ || s.connection_ == nullptr || s.closing_) return;
    v1::ServerFrame frame;
    frame.mutable_typing()->set_from(from);
    s.Reply(frame, 0, s.format_);
    s.context_.metrics->typing_relayed.Add();
  });
}

void Session::Replace() {
  Post([](Session& s) {
    spdlog::debug("[conn={} user={}] replaced by a newer session", s.connection_id_, s.user_);
    s.Close(kCloseReplaced, "replaced by a newer session");
  });
}

void Session::OnConnectionClosed() {
  connection_ = nullptr;
  closing_ = true;
  if (authenticated_) {
    context_.registry->Unregister(user_, this);
    context_.metrics->sessions.Add(-1);
    authenticated_ = false;
  }
}

// --- Helpers -------------------------------------------------------------------------------------

void Session::Reply(v1::ServerFrame& frame, std::uint64_t request_id, WireFormat format) {
  if (connection_ == nullptr) return;
  frame.set_request_id(request_id);
  connection_->SendFrame(frame, format);
}

void Session::ReplyError(v1::Error::Code code, std::string_view message, std::uint64_t request_id,
                         WireFormat format, std::string_view client_msg_id) {
  context_.metrics->errors[code].Add();
  v1::ServerFrame frame;
  v1::Error* error = frame.mutable_error();
  error->set_code(code);
  error->set_message(std::string(message));
  if (!client_msg_id.empty()) error->set_client_msg_id(std::string(client_msg_id));
  Reply(frame, request_id, format);
}

bool Session::TakeSendToken(std::uint64_t request_id, WireFormat format,
                            std::string_view client_msg_id) {
  if (send_limiter_.TryTake(MonotonicMs())) return true;
  ReplyError(v1::Error::RATE_LIMITED, "sending too fast", request_id, format, client_msg_id);
  CountViolation();
  return false;
}

void Session::CountViolation() {
  if (++violations_ < limits_.violations_before_close) return;
  spdlog::warn("[conn={} user={}] closing: {} rejected frames in a row", connection_id_, user_,
               violations_);
  context_.metrics->protocol_closes.Add();
  Close(kCloseProtocolViolation, "protocol violation");
}

void Session::Close(std::uint16_t code, std::string_view reason) {
  if (closing_ || connection_ == nullptr) return;
  closing_ = true;
  connection_->CloseWith(code, reason);
}

void Session::Post(std::function<void(Session&)> fn) {
  executor_([self = shared_from_this(), fn = std::move(fn)] { fn(*self); });
}

std::int64_t Session::MonotonicMs() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace parley::chat
