#include "parley/client/session.h"

#include <algorithm>
#include <thread>

namespace parley::client {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The server answers connect after one storage read; 10 s leaves room for a loaded host.
constexpr milliseconds kConnectAnswerTimeout = seconds(10);

// A send or a ping unanswered this long means the connection is dead even if TCP has not
// noticed (a host that vanished sends no FIN).
constexpr milliseconds kAnswerTimeout = seconds(15);

// Silence after which we ping: well under the server's default idle timeout of 60 s.
constexpr milliseconds kQuietBeforePing = seconds(30);

// A connection that lasted this long was healthy, so the next failure starts the backoff over.
// Resetting on every successful connect instead would let two clients of one user, each
// replacing the other (close 4002), reconnect in a tight loop.
constexpr milliseconds kStableAfter = seconds(10);

// Reconnection delays: the first retry comes quickly, and a long outage costs the server one
// attempt per client every 30 s at most.
constexpr milliseconds kInitialBackoff{250};
constexpr milliseconds kMaxBackoff = seconds(30);

// A send refused as RATE_LIMITED or UNAVAILABLE is tried again after this; the rate limit
// refills within a second.
constexpr milliseconds kSendRetryDelay = seconds(1);

// Items committed with one fsync and one ack at most; matches the server's default window.
constexpr int kMaxBatch = 256;

// client_msg_ids in one mark_read; the server's limit.
constexpr int kMaxReadIds = 256;

// Identifies an item across redeliveries, independently of its seq.
std::string ItemKey(const v1::Item& item) {
  if (item.has_receipt()) {
    const v1::Receipt& receipt = item.receipt();
    return "r/" + receipt.peer() + "/" + std::to_string(receipt.status()) + "/" +
           receipt.client_msg_id();
  }
  return "m/" + item.message().from() + "/" + item.message().client_msg_id();
}

// A close code as a sentence; 4001 (token refused) is the one reason not to reconnect.
Status CloseReason(std::optional<std::uint16_t> code, const std::string& user) {
  switch (code.value_or(0)) {
    case 4001:
      return Status::InvalidArgument("the server refused the token for " + user + " (close 4001)");
    case 4002:
      return Status::Unavailable("replaced by a newer session of " + user + " (close 4002)");
    case 4003:
      return Status::Unavailable("closed for a protocol violation (close 4003)");
    case 1001:
      return Status::Unavailable("the server is going away (close 1001)");
    case 1009:
      return Status::Unavailable("a frame was too large (close 1009)");
    case 0:
      return Status::Unavailable("connection lost");
    default:
      return Status::Unavailable("closed by the server (close " + std::to_string(*code) + ")");
  }
}

bool IsTransient(v1::Error::Code code) {
  return code == v1::Error::RATE_LIMITED || code == v1::Error::UNAVAILABLE;
}

}  // namespace

Session::Session(SessionOptions options, SessionListener* listener)
    : options_(std::move(options)),
      listener_(listener),
      inbox_(options_.state_folder / "inbox"),
      outbox_(options_.state_folder / "outbox"),
      backoff_(kInitialBackoff, kMaxBackoff) {}

Session::~Session() = default;

Status Session::Start() {
  if (Status status = MakeStateFolder(options_.state_folder); !status.ok()) return status;

  if (options_.receive) {
    auto lock = StateLock::Acquire(options_.state_folder);
    if (!lock.ok()) return lock.status();
    lock_.emplace(std::move(lock).value());
    if (Status status = inbox_.Load(); !status.ok()) return status;
  }
  if (Status status = outbox_.Load(); !status.ok()) return status;

  return Connect();
}

Status Session::Poll(milliseconds timeout) {
  if (!connection_) return Reconnect(timeout);

  SendReads();
  SendNext();
  CheckHealth();
  if (!connection_) return Status::Ok();

  auto frame = connection_->Read(timeout);
  if (!frame.ok()) return OnReadFailed(frame.status());
  if (Status status = Handle(*frame); !status.ok()) return status;

  // Take what else has arrived already, so that one commit (one fsync, one ack) covers it all.
  for (int i = 1; i < kMaxBatch && connection_; ++i) {
    frame = connection_->Read(milliseconds(0));
    if (!frame.ok()) break;
    if (Status status = Handle(*frame); !status.ok()) return status;
  }
  if (Status status = CommitItems(); !status.ok()) return status;
  if (!frame.ok() && connection_) return OnReadFailed(frame.status());

  // After the ack that CommitItems() sent: a READ receipt never overtakes the DELIVERED one.
  SendReads();
  SendNext();
  return Status::Ok();
}

Result<OutboxEntry> Session::Send(std::string to, std::string text) {
  const auto now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto entry = outbox_.Add(std::move(to), std::move(text), now_ms);
  if (entry.ok()) SendNext();
  return entry;
}

void Session::MarkRead(const std::string& peer, const std::vector<std::string>& client_msg_ids) {
  for (std::size_t i = 0; i < client_msg_ids.size(); i += kMaxReadIds) {
    v1::MarkRead read;
    read.set_peer(peer);
    const std::size_t end = std::min(client_msg_ids.size(), i + kMaxReadIds);
    for (std::size_t j = i; j < end; ++j) read.add_client_msg_ids(client_msg_ids[j]);
    unsent_reads_.push_back(std::move(read));
  }
}

Result<std::uint64_t> Session::Request(v1::ClientFrame frame) {
  if (!connection_) return Status::Unavailable("not connected");
  const std::uint64_t request_id = ++last_request_id_;
  frame.set_request_id(request_id);
  if (!SendFrame(frame)) return Status::Unavailable("not connected");
  return request_id;
}

void Session::Close() {
  if (!connection_) return;
  connection_->Close();
  connection_.reset();
}

// --- Connecting ---------------------------------------------------------------------------------

// Errors that retrying cannot cure (a refused token, a malformed URL) come back with a code
// other than Unavailable; Reconnect() gives up on those.
Status Session::Connect() {
  auto token = options_.token();
  if (!token.ok()) return token.status();

  auto connection = std::make_unique<ChatConnection>(options_.connection);
  if (Status status = connection->Open(options_.url); !status.ok()) return status;

  v1::ClientFrame hello;
  v1::Connect* connect = hello.mutable_connect();
  connect->set_token(*token);
  connect->set_ack_seq(options_.receive ? inbox_.seq() : 0);
  connect->set_client(options_.client_name);
  hello.set_request_id(++last_request_id_);
  if (Status status = connection->Send(hello); !status.ok()) return status;

  const auto deadline = SteadyClock::now() + kConnectAnswerTimeout;
  v1::Connected connected;
  while (true) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
    auto frame = connection->Read(std::max(left, milliseconds(0)));
    if (frame.status().IsNotFound()) return CloseReason(connection->close_code(), options_.user);
    if (!frame.ok() && frame.status().code() == Status::Code::kUnavailable) {
      return Status::Unavailable("the server did not answer connect within 10 s");
    }
    if (!frame.ok()) continue;  // An undecodable frame; the answer may still come.

    if (frame->has_error()) {
      const v1::Error& error = frame->error();
      if (error.code() == v1::Error::UNAUTHENTICATED) {
        return Status::InvalidArgument("the server refused the token for " + options_.user + ": " +
                                       error.message());
      }
      return Status::Unavailable("connect refused: " + error.message());
    }
    if (frame->has_connected()) {
      connected = frame->connected();
      break;
    }
  }
  if (connected.user() != options_.user) {
    return Status::InvalidArgument("the token is for " + connected.user() + ", not " +
                                   options_.user);
  }

  connection_ = std::move(connection);
  connected_at_ = last_heard_ = SteadyClock::now();
  ping_sent_at_.reset();
  in_flight_.reset();
  listener_->OnConnected(connected);
  SendReads();
  SendNext();
  return Status::Ok();
}

Status Session::Reconnect(milliseconds timeout) {
  const auto now = SteadyClock::now();
  if (now < retry_at_) {
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(timeout, retry_at_ - now));
    return Status::Ok();
  }

  Status status = Connect();
  if (status.ok()) return status;
  if (status.code() != Status::Code::kUnavailable) return status;
  Disconnect(status);
  return Status::Ok();
}

void Session::Disconnect(const Status& reason) {
  const auto now = SteadyClock::now();
  if (connection_ && now - connected_at_ >= kStableAfter) backoff_.Reset();
  connection_.reset();
  in_flight_.reset();

  const milliseconds delay = backoff_.Next();
  retry_at_ = now + delay;
  listener_->OnDisconnected(reason, delay);
}

Status Session::OnReadFailed(const Status& status) {
  if (status.IsNotFound()) {
    Status reason = CloseReason(connection_->close_code(), options_.user);
    if (reason.code() != Status::Code::kUnavailable) {
      connection_.reset();
      return reason;
    }
    Disconnect(reason);
    return Status::Ok();
  }

  // A timeout is the normal quiet case; an undecodable frame is skipped, as the server would.
  return Status::Ok();
}

// --- Frames from the server
// -----------------------------------------------------------------------

Status Session::Handle(const v1::ServerFrame& frame) {
  last_heard_ = SteadyClock::now();
  ping_sent_at_.reset();

  if (frame.has_item()) {
    if (options_.receive) batch_.push_back(frame.item());
    return Status::Ok();
  }

  // Everything else is handled in arrival order after the items that came before it.
  if (Status status = CommitItems(); !status.ok()) return status;
  switch (frame.body_case()) {
    case v1::ServerFrame::kCaughtUp:
      if (options_.receive) listener_->OnCaughtUp();
      return Status::Ok();
    case v1::ServerFrame::kSendAck:
      return HandleSendAck(frame.send_ack());
    case v1::ServerFrame::kError:
      return HandleError(frame);
    case v1::ServerFrame::kRetentionSet:
    case v1::ServerFrame::kHistory:
      listener_->OnReply(frame);
      return Status::Ok();
    default:
      return Status::Ok();  // pong, typing, a stray connected.
  }
}

// The order is what makes delivery exactly-once across crashes:
//   1. write "processed up to seq N" and the items' keys to a temporary file, and fsync it;
//   2. hand the items to the listener, which shows them (one write(2) for `parley listen`);
//   3. rename the file into place, then fsync the folder;
//   4. acknowledge N to the server.
// A crash up to 2 leaves the old state, so the items come again, and they had not been shown.
// A crash after 3 leaves the new state, so they are skipped by seq on restart. Only a crash
// between the write of 2 and the rename of 3, two system calls apart, shows an item twice:
// doing all of the slow part, the fsync, before showing anything is what keeps that window
// that small. (Recording after showing would open it for a whole fsync; recording before
// showing would lose the items instead.)
Status Session::CommitItems() {
  if (batch_.empty()) return Status::Ok();
  std::vector<v1::Item> received = std::move(batch_);
  batch_.clear();

  std::uint64_t last_seq = inbox_.seq();
  std::vector<v1::Item> fresh;
  std::vector<std::string> keys;
  for (v1::Item& item : received) {
    if (item.seq() <= inbox_.seq()) continue;
    last_seq = std::max(last_seq, item.seq());
    std::string key = ItemKey(item);
    if (inbox_.Seen(key) || std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
    keys.push_back(std::move(key));
    fresh.push_back(std::move(item));
  }
  if (last_seq == inbox_.seq()) return Status::Ok();

  if (Status status = inbox_.Stage(last_seq, keys); !status.ok()) return status;
  if (Status status = listener_->OnItems(fresh); !status.ok()) {
    inbox_.Discard();  // Not shown, so not processed: they come again next time.
    return status;
  }
  if (Status status = inbox_.Publish(); !status.ok()) return status;

  if (connection_) {
    v1::ClientFrame ack;
    ack.mutable_ack()->set_seq(last_seq);
    SendFrame(ack);
  }
  return Status::Ok();
}

Status Session::HandleSendAck(const v1::SendAck& ack) {
  if (in_flight_ && in_flight_->client_msg_id == ack.client_msg_id()) in_flight_.reset();

  // Not in the outbox: an answer to a resend whose first answer came already.
  const OutboxEntry* found = outbox_.Find(ack.client_msg_id());
  if (found == nullptr) return Status::Ok();
  const OutboxEntry entry = *found;

  if (Status status = outbox_.Remove(entry.client_msg_id); !status.ok()) return status;
  listener_->OnSendAck(entry, ack);
  return Status::Ok();
}

Status Session::HandleError(const v1::ServerFrame& frame) {
  const v1::Error& error = frame.error();
  const OutboxEntry* found =
      error.client_msg_id().empty() ? nullptr : outbox_.Find(error.client_msg_id());
  if (found == nullptr) {
    listener_->OnReply(frame);
    return Status::Ok();
  }

  if (in_flight_ && in_flight_->client_msg_id == error.client_msg_id()) in_flight_.reset();
  if (IsTransient(error.code())) {
    outbox_paused_until_ = SteadyClock::now() + kSendRetryDelay;
    return Status::Ok();
  }

  const OutboxEntry entry = *found;
  if (Status status = outbox_.Remove(entry.client_msg_id); !status.ok()) return status;
  listener_->OnSendRefused(entry, error);
  return Status::Ok();
}

// --- Frames to the server
// -------------------------------------------------------------------------

void Session::SendNext() {
  if (!connection_ || in_flight_ || outbox_.empty()) return;
  if (SteadyClock::now() < outbox_paused_until_) return;

  // A copy: the listener may act on the outbox while it is told about the write.
  const OutboxEntry entry = outbox_.entries().front();
  v1::ClientFrame frame;
  v1::Send* send = frame.mutable_send();
  send->set_client_msg_id(entry.client_msg_id);
  send->set_to(entry.to);
  send->set_text(entry.text);
  frame.set_request_id(++last_request_id_);
  if (!SendFrame(frame)) return;

  in_flight_ = InFlight{entry.client_msg_id, SteadyClock::now()};
  listener_->OnSendWritten(entry);
}

void Session::CheckHealth() {
  const auto now = SteadyClock::now();
  if (in_flight_ && now - in_flight_->sent_at > kAnswerTimeout) {
    Disconnect(Status::Unavailable("no answer to a send within 15 s"));
    return;
  }
  if (ping_sent_at_ && now - *ping_sent_at_ > kAnswerTimeout) {
    Disconnect(Status::Unavailable("no answer to a ping within 15 s"));
    return;
  }
  if (!ping_sent_at_ && now - last_heard_ > kQuietBeforePing) {
    v1::ClientFrame ping;
    ping.mutable_ping();
    ping.set_request_id(++last_request_id_);
    if (SendFrame(ping)) ping_sent_at_ = now;
  }
}

void Session::SendReads() {
  while (connection_ && !unsent_reads_.empty()) {
    v1::ClientFrame frame;
    *frame.mutable_mark_read() = unsent_reads_.front();
    frame.set_request_id(++last_request_id_);  // So that an error names its request.
    if (!SendFrame(frame)) return;
    unsent_reads_.erase(unsent_reads_.begin());
  }
}

bool Session::SendFrame(const v1::ClientFrame& frame) {
  if (Status status = connection_->Send(frame); !status.ok()) {
    Disconnect(status);
    return false;
  }
  return true;
}

}  // namespace parley::client
