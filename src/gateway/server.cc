// The WebSocket gateway. Every Beast and Asio template of the server side is instantiated in
// this one translation unit, to keep build times in check.

#include "parley/gateway/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "parley/admin/metrics.h"
#include "parley/gateway/codec.h"
#include "parley/gateway/io_pool.h"

#include "burst_socket.h"
#include "tls_stream.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace parley::gateway {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
// Sockets bound to their io_context's own executor rather than the type-erased default: that
// executor is 8 bytes instead of 56, and every socket, timer and pending operation of every
// connection holds one or more.
using Socket = TlsStream::next_layer_type;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kChatPath = "/v1/chat";
constexpr std::size_t kMaxUpgradeHeaderBytes = 8 * 1024;

// A reader that does not read what it is sent would make us queue without end; past this many
// bytes waiting to be written the connection is dropped. The delivery window already bounds
// items, so only a client that floods requests without reading replies gets here.
constexpr std::size_t kMaxQueuedBytes = 4 * 1024 * 1024;

// The kernel's send buffer per client socket. Left to autotuning it grows to megabytes for a
// client that stops reading, which hides the stall from the write timeout and costs kernel
// memory; 64 KiB still holds a whole delivery window of ordinary messages.
constexpr int kSocketSendBufferBytes = 64 * 1024;

// The accept queue asked for. The kernel caps it at net.core.somaxconn, so the operator's
// sysctl decides; a host with a million clients needs a deep queue for the reconnect burst
// after a restart.
constexpr int kListenBacklog = 65535;

// Granularity of the per-thread deadline queue.
constexpr auto kDeadlineTick = std::chrono::milliseconds(250);

// Seconds ahead that the per-thread ring of silence checks reaches; see Worker::silence.
constexpr std::int64_t kSilenceSlots = 64;

chat::SessionLimits SessionLimitsFrom(const config::Config& config) {
  chat::SessionLimits limits;
  limits.window = config.delivery.window;
  limits.send_rate_per_s = config.limits.send_rate_per_s;
  limits.typing_rate_per_s = config.limits.typing_rate_per_s;
  limits.violations_before_close = config.limits.violations_before_close;
  limits.frames_per_s = config.limits.frames_per_s;
  return limits;
}

admin::CloseReason CloseReasonOf(std::uint16_t code) {
  switch (code) {
    case chat::kCloseNotAuthenticated:
      return admin::CloseReason::kNotAuthenticated;
    case chat::kCloseReplaced:
      return admin::CloseReason::kReplaced;
    case chat::kCloseProtocolViolation:
      return admin::CloseReason::kProtocolViolation;
    case chat::kCloseGoingAway:
      return admin::CloseReason::kGoingAway;
    default:
      return admin::CloseReason::kInternalError;
  }
}

bool IsOrdinaryEnd(const error_code& ec) {
  return ec == asio::error::operation_aborted || ec == websocket::error::closed ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == beast::error::timeout || ec == asio::ssl::error::stream_truncated;
}

// --- Per-thread state ------------------------------------------------------------------------

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;

  // The connect deadline passed: close unless authenticated by now.
  virtual void OnConnectDeadline() = 0;

  // The server is stopping: close with 1001.
  virtual void OnShutdown() = 0;

  // The write under way has not completed within limits.write_timeout_s: the client takes
  // no data. Drop it; its items wait in the mailbox.
  virtual void OnWriteTimeout() = 0;

  // Pings a client silent for half of limits.idle_timeout_s and drops one silent for all of
  // it. Returns when to look again, or nothing once the connection is ending.
  virtual std::optional<Clock::time_point> OnSilenceCheck(Clock::time_point now) = 0;

  // When the write under way began. Read by the thread's tick.
  Clock::time_point write_started;
};

std::int64_t SecondOf(Clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

// What each network thread keeps for the connections it owns. Touched only on its thread.
struct Worker {
  explicit Worker(asio::io_context& io)
      : context(io), silence_second(SecondOf(Clock::now())), tick(io) {}

  asio::io_context& context;
  std::unordered_set<std::shared_ptr<ConnectionBase>> connections;

  // Connect deadlines in arrival order. The timeout is the same for all, so the queue stays
  // sorted and one timer per thread serves every connection.
  std::deque<std::pair<Clock::time_point, std::weak_ptr<ConnectionBase>>> deadlines;

  // Connections with a write under way, for the write timeout. Healthy clients take their
  // data within milliseconds, so this stays small however many connections there are.
  std::unordered_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> writing;

  // Every open connection, in the slot of the second when its silence is next checked: a
  // ring of one-second slots instead of a timer per connection, which would cost memory
  // while idle and a cancel and re-arm on every frame read. A check further ahead than the
  // ring reaches waits in its farthest slot and is put back from there.
  std::array<std::vector<std::weak_ptr<ConnectionBase>>, kSilenceSlots> silence;
  std::int64_t silence_second;  // The last slot looked at.

  asio::steady_timer tick;
};

void ScheduleSilenceCheck(Worker& worker, std::weak_ptr<ConnectionBase> connection,
                          Clock::time_point when) {
  // The slot after `when`'s second, so that a check never runs early, and one the ring holds.
  const std::int64_t second = std::clamp(SecondOf(when) + 1, worker.silence_second + 1,
                                         worker.silence_second + kSilenceSlots - 1);
  worker.silence[second % kSilenceSlots].push_back(std::move(connection));
}

void RunSilenceChecks(Worker& worker, Clock::time_point now) {
  const std::int64_t current = SecondOf(now);
  // After a stall of the thread, one lap of the ring covers every slot.
  worker.silence_second = std::max(worker.silence_second, current - kSilenceSlots);
  while (worker.silence_second < current) {
    ++worker.silence_second;
    std::vector<std::weak_ptr<ConnectionBase>> due;
    due.swap(worker.silence[worker.silence_second % kSilenceSlots]);
    for (std::weak_ptr<ConnectionBase>& entry : due) {
      const std::shared_ptr<ConnectionBase> connection = entry.lock();
      if (!connection) continue;
      if (const auto next = connection->OnSilenceCheck(now)) {
        ScheduleSilenceCheck(worker, std::move(entry), *next);
      }
    }
  }
}

struct Shared {
  // The config in force; Reload() swaps it. Each connection keeps the one it arrived under.
  std::atomic<std::shared_ptr<const config::Config>> config;
  const chat::ChatContext& chat;
  std::atomic<std::uint64_t> next_connection_id{1};
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> live{0};
};

// --- One client connection ------------------------------------------------------------------

template <class NextLayer>
class WsConnection final : public ConnectionBase,
                           public chat::Connection,
                           public std::enable_shared_from_this<WsConnection<NextLayer>> {
 public:
  WsConnection(Shared& shared, Worker& worker, std::shared_ptr<ssl::context> tls,
               NextLayer next_layer)
      : shared_(shared),
        worker_(worker),
        id_(shared.next_connection_id.fetch_add(1)),
        config_(shared.config.load()),
        tls_(std::move(tls)),
        ws_(std::move(next_layer)) {}

  void Start() {
    shared_.chat.metrics->connections.Add(1);
    shared_.chat.metrics->connections_total.Add();
    shared_.live.fetch_add(1);
    if constexpr (kTls) {
      ws_.next_layer().async_handshake(
          beast::bind_front_handler(&WsConnection::OnTlsHandshake, this->shared_from_this()));
    } else {
      DoReadUpgrade();
    }
  }

  // --- ConnectionBase

  void OnConnectDeadline() override {
    if (session_ && session_->authenticated()) return;
    spdlog::debug("[conn={}] no connect within the deadline", id_);
    if (upgraded_) {
      CloseWith(chat::kCloseNotAuthenticated, "connect timeout");
    } else {
      Finish();
    }
  }

  void OnWriteTimeout() override {
    spdlog::warn("[conn={}] dropping connection: no data taken for {} s", id_,
                 config_->limits.write_timeout_s);
    metrics().CountClose(admin::CloseReason::kWriteTimeout);
    Finish();
  }

  std::optional<Clock::time_point> OnSilenceCheck(Clock::time_point now) override {
    // A close under way has Beast's close timeout.
    if (finished_ || close_requested_) return std::nullopt;

    const auto timeout = std::chrono::seconds(config_->limits.idle_timeout_s);
    const auto silent = now - last_heard_;
    if (silent >= timeout) {
      spdlog::debug("[conn={}] idle timeout", id_);
      metrics().CountClose(admin::CloseReason::kIdleTimeout);
      Finish();
      return std::nullopt;
    }
    if (silent >= timeout / 2 && !pinged_since_heard_ && !ping_in_flight_) {
      pinged_since_heard_ = true;
      ping_in_flight_ = true;
      ws_.async_ping({}, [self = this->shared_from_this()](error_code) {
        // A failed ping shows in the read under way.
        self->ping_in_flight_ = false;
      });
    }
    return last_heard_ + (pinged_since_heard_ ? timeout : timeout / 2);
  }

  void OnShutdown() override {
    if (upgraded_) {
      CloseWith(chat::kCloseGoingAway, "server going away");
    } else {
      Finish();
    }
  }

  // --- chat::Connection

  void SendFrame(const v1::ServerFrame& frame, WireFormat format) override {
    if (finished_ || close_requested_) return;
    Outgoing out{EncodeServerFrame(frame, format), format == WireFormat::kJson};
    queued_bytes_ += out.payload.size();
    if (queued_bytes_ > kMaxQueuedBytes) {
      spdlog::warn("[conn={}] dropping connection: {} bytes unread", id_, queued_bytes_);
      metrics().CountClose(admin::CloseReason::kOutputOverflow);
      Finish();
      return;
    }
    queue_.push_back(std::move(out));
    if (!writing_ && !write_scheduled_) ScheduleWrite();
  }

  void CloseWith(std::uint16_t code, std::string_view reason) override {
    if (finished_ || close_requested_) return;
    metrics().CountClose(CloseReasonOf(code));
    close_requested_ = true;
    close_code_ = code;
    close_text_ = std::string(reason);
    if (!writing_ && !write_scheduled_) DoClose();
  }

  void ResumeReading() override {
    if (read_paused_ && !finished_) {
      read_paused_ = false;
      DoRead();
    }
  }

 private:
  static constexpr bool kTls = std::is_same_v<NextLayer, TlsStream>;

  struct Outgoing {
    std::string payload;
    bool text;
  };

  // --- TLS and the HTTP upgrade

  void OnTlsHandshake(error_code ec) {
    if (ec) return Fail(ec, "tls handshake");
    DoReadUpgrade();
  }

  void DoReadUpgrade() {
    parser_ = std::make_unique<http::request_parser<http::empty_body>>();
    parser_->header_limit(kMaxUpgradeHeaderBytes);
    http::async_read(
        ws_.next_layer(), upgrade_buffer_, *parser_,
        beast::bind_front_handler(&WsConnection::OnReadUpgrade, this->shared_from_this()));
  }

  void OnReadUpgrade(error_code ec, std::size_t) {
    if (ec) return Fail(ec, "upgrade read");
    const auto& request = parser_->get();

    const std::string_view target(request.target().data(), request.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    if (path != kChatPath) return RefuseUpgrade(http::status::not_found, "no such endpoint\n");
    if (!websocket::is_upgrade(request)) {
      return RefuseUpgrade(http::status::upgrade_required, "WebSocket upgrade required\n");
    }
    if (static_cast<std::uint64_t>(shared_.chat.metrics->connections.value()) >
        config_->limits.max_connections) {
      shared_.chat.metrics->connections_refused.Add();
      return RefuseUpgrade(http::status::service_unavailable, "server full, try later\n");
    }

    ConfigureWebSocket();
    ws_.async_accept(request,
                     beast::bind_front_handler(&WsConnection::OnAccept, this->shared_from_this()));
  }

  void RefuseUpgrade(http::status status, std::string body) {
    auto response = std::make_shared<http::response<http::string_body>>(
        status, parser_->get().version(), std::move(body));
    response->set(http::field::server, "parleyd");
    response->set(http::field::content_type, "text/plain");
    response->keep_alive(false);
    response->prepare_payload();
    http::async_write(
        ws_.next_layer(), *response,
        [self = this->shared_from_this(), response](error_code, std::size_t) { self->Finish(); });
  }

  void ConfigureWebSocket() {
    const auto& limits = config_->limits;
    websocket::stream_base::timeout timeouts;
    // Beast's timer covers the upgrade and the close handshake; silence while open is the
    // thread's ring of checks (OnSilenceCheck), which hears pongs through this callback.
    timeouts.handshake_timeout = std::chrono::seconds(limits.connect_timeout_s);
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.control_callback([this](websocket::frame_type, beast::string_view) { Heard(); });
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& response) { response.set(http::field::server, "parleyd"); }));
    ws_.read_message_max(limits.max_frame_bytes);
    ws_.auto_fragment(false);
  }

  void OnAccept(error_code ec) {
    parser_.reset();
    upgrade_buffer_ = beast::flat_buffer();
    if (ec) return Fail(ec, "websocket accept");
    upgraded_ = true;

    auto executor = ws_.get_executor();
    session_ = std::make_shared<chat::Session>(
        shared_.chat, SessionLimitsFrom(*config_), this,
        [executor](std::function<void()> fn) { asio::post(executor, std::move(fn)); }, id_);
    spdlog::debug("[conn={}] websocket open", id_);
    Heard();
    ScheduleSilenceCheck(worker_, this->weak_from_this(),
                         last_heard_ + std::chrono::seconds(config_->limits.idle_timeout_s) / 2);
    DoRead();
  }

  // Something came from the client: a frame, or part of one, or a control frame.
  void Heard() {
    last_heard_ = Clock::now();
    pinged_since_heard_ = false;
  }

  // --- Reading frames

  // Most connections are idle most of the time. A pending read into read_buffer_ would hold a
  // buffer for a frame that may not come for hours, so the wait is a read of one byte into
  // the connection object itself; the rest of the frame then goes into read_buffer_.
  void DoRead() {
    ws_.async_read_some(
        asio::buffer(&first_byte_, 1),
        beast::bind_front_handler(&WsConnection::OnFirstByte, this->shared_from_this()));
  }

  void OnFirstByte(error_code ec, std::size_t bytes) {
    if (ec) return Fail(ec, "read");
    Heard();
    // Once a close is under way Beast's close reads on its own, to the peer's close frame;
    // reading the rest of a message then would trip over the half-read frame.
    if (finished_ || close_requested_) return;
    // Nothing of the message yet (an empty frame that is not its last): wait again.
    if (bytes == 0 && !ws_.is_message_done()) return DoRead();

    if (bytes == 1) {
      read_buffer_.commit(
          asio::buffer_copy(read_buffer_.prepare(1), asio::buffer(&first_byte_, 1)));
    }
    if (ws_.is_message_done()) return OnRead(error_code(), 0);
    ws_.async_read(read_buffer_,
                   beast::bind_front_handler(&WsConnection::OnRead, this->shared_from_this()));
  }

  void OnRead(error_code ec, std::size_t /*bytes*/) {
    if (ec) return Fail(ec, "read");
    Heard();
    if (finished_ || close_requested_) return;

    const WireFormat format = ws_.got_text() ? WireFormat::kJson : WireFormat::kBinary;
    const auto data = read_buffer_.cdata();
    const std::string_view payload(static_cast<const char*>(data.data()), data.size());

    v1::ClientFrame frame;
    if (Status status = DecodeClientFrame(payload, format, &frame); status.ok()) {
      session_->OnFrame(frame, format);
    } else {
      session_->OnUndecodableFrame(format, status.message());
    }
    read_buffer_.consume(read_buffer_.size());
    read_buffer_.shrink_to_fit();

    if (finished_ || close_requested_) return;
    if (session_->wants_frames()) {
      DoRead();
    } else {
      read_paused_ = true;
    }
  }

  // --- Writing frames
  //
  // Frames tend to come in bursts: one storage batch completes many sends and commits many
  // items at once, each reaching the connection as a handler of its own. The first frame of a
  // burst therefore starts the writing one handler later, when the rest has been queued; a
  // burst of several then goes out in as few segments as fit, rather than as one segment
  // (and, on loopback, one pass through the receiver's stack) per frame. Over plain TCP the
  // BurstSocket holds every frame but the last and sends them in one call; TLS records go
  // out one call each, so the socket is corked for the burst instead.

  void ScheduleWrite() {
    write_scheduled_ = true;
    asio::post(ws_.get_executor(), [self = this->shared_from_this()] {
      self->write_scheduled_ = false;
      if (self->writing_ || self->finished_ || self->queue_head_ == self->queue_.size()) return;
      if (kTls && self->queue_.size() - self->queue_head_ > 1) self->Cork(true);
      self->DoWrite();
    });
  }

  void Cork(bool on) {
    if (corked_ == on) return;
    corked_ = on;
    const int value = on ? 1 : 0;
    // A failure only costs the coalescing.
    ::setsockopt(beast::get_lowest_layer(ws_).native_handle(), IPPROTO_TCP, TCP_CORK, &value,
                 sizeof value);
  }

  void DoWrite() {
    // In the thread's table of writers from the first frame of a burst to the last.
    if (queue_head_ == 0) worker_.writing.emplace(this, this->weak_from_this());
    write_started = Clock::now();
    writing_ = true;
    const Outgoing& next = queue_[queue_head_];
    if constexpr (!kTls) ws_.next_layer().HoldWrites(queue_head_ + 1 < queue_.size());
    ws_.text(next.text);
    ws_.async_write(asio::buffer(next.payload),
                    beast::bind_front_handler(&WsConnection::OnWrite, this->shared_from_this()));
  }

  void OnWrite(error_code ec, std::size_t) {
    writing_ = false;
    if (ec) return Fail(ec, "write");  // Finish() leaves the table of writers.
    if (finished_) return;
    queued_bytes_ -= queue_[queue_head_].payload.size();
    if (++queue_head_ < queue_.size()) return DoWrite();

    // Drained: out goes what the cork held back, and an idle connection keeps no queue memory.
    worker_.writing.erase(this);
    Cork(false);
    queue_ = {};
    queue_head_ = 0;
    if (close_requested_) DoClose();
  }

  void DoClose() {
    websocket::close_reason reason;
    reason.code = close_code_;
    reason.reason = close_text_;
    ws_.async_close(reason, [self = this->shared_from_this()](error_code ec) {
      if (ec && !IsOrdinaryEnd(ec)) {
        spdlog::debug("[conn={}] close: {}", self->id_, ec.message());
      }
      self->Finish();
    });
  }

  // --- The end

  void Fail(error_code ec, std::string_view what) {
    if (ec == websocket::error::message_too_big) {
      // Beast has already sent close code 1009.
      spdlog::debug("[conn={}] frame above the size limit", id_);
      metrics().CountClose(admin::CloseReason::kFrameTooBig);
    } else if (!IsOrdinaryEnd(ec)) {
      spdlog::debug("[conn={}] {}: {}", id_, what, ec.message());
    }
    Finish();
  }

  // Runs once, whichever way the connection ends; pending operations then fail and return.
  void Finish() {
    if (finished_) return;
    finished_ = true;
    if (session_) session_->OnConnectionClosed();

    error_code ignored;
    beast::get_lowest_layer(ws_).shutdown(Socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close(ignored);

    worker_.writing.erase(this);
    shared_.chat.metrics->connections.Add(-1);
    shared_.live.fetch_sub(1);
    spdlog::debug("[conn={}] closed", id_);
    // Last: this may release the final reference to this object.
    worker_.connections.erase(this->shared_from_this());
  }

  admin::Metrics& metrics() { return *shared_.chat.metrics; }

  Shared& shared_;
  Worker& worker_;
  const std::uint64_t id_;
  const std::shared_ptr<const config::Config> config_;
  const std::shared_ptr<ssl::context> tls_;  // Null for plain ws; must outlive ws_.
  websocket::stream<NextLayer> ws_;

  beast::flat_buffer upgrade_buffer_;
  // Only while the upgrade is read: most of a connection's life goes without it.
  std::unique_ptr<http::request_parser<http::empty_body>> parser_;
  beast::flat_buffer read_buffer_;
  char first_byte_ = 0;

  std::shared_ptr<chat::Session> session_;
  std::vector<Outgoing> queue_;  // Frames from queue_head_ on are waiting to be written.
  std::size_t queue_head_ = 0;
  std::size_t queued_bytes_ = 0;
  std::uint16_t close_code_ = 0;
  std::string close_text_;
  Clock::time_point last_heard_;

  bool upgraded_ = false;
  bool writing_ = false;
  bool write_scheduled_ = false;
  bool corked_ = false;
  bool read_paused_ = false;
  bool pinged_since_heard_ = false;
  bool ping_in_flight_ = false;
  bool close_requested_ = false;
  bool finished_ = false;
};

using PlainConnection = WsConnection<BurstSocket>;
using TlsConnection = WsConnection<TlsStream>;

std::shared_ptr<ssl::context> MakeTlsContext(const config::TlsConfig& tls) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  // Forward secrecy and AEAD only for TLS 1.2; TLS 1.3 suites are all fine as they are.
  SSL_CTX_set_cipher_list(context->native_handle(),
                          "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!SHA1");
  // Keep idle TLS connections lean: release OpenSSL's buffers when they are empty, and keep
  // no session per connection in a server-side cache. Clients still resume with TLS 1.3
  // tickets, which the server does not store.
  SSL_CTX_set_mode(context->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(context->native_handle(), SSL_SESS_CACHE_OFF);

  error_code ec;
  context->use_certificate_chain_file(tls.cert_file, ec);
  if (ec) {
    throw std::runtime_error("listen.tls.cert_file: cannot load " + tls.cert_file + ": " +
                             ec.message());
  }
  context->use_private_key_file(tls.key_file, ssl::context::pem, ec);
  if (ec) {
    throw std::runtime_error("listen.tls.key_file: cannot load " + tls.key_file + ": " +
                             ec.message());
  }
  return context;
}

// The dotted names of the reloadable keys whose values differ.
std::vector<std::string> ChangedLimits(const config::Config& a, const config::Config& b) {
  std::vector<std::string> changed;
  auto note = [&](const char* key, auto left, auto right) {
    if (left != right) changed.emplace_back(key);
  };
  note("limits.connect_timeout_s", a.limits.connect_timeout_s, b.limits.connect_timeout_s);
  note("limits.idle_timeout_s", a.limits.idle_timeout_s, b.limits.idle_timeout_s);
  note("limits.max_frame_bytes", a.limits.max_frame_bytes, b.limits.max_frame_bytes);
  note("limits.send_rate_per_s", a.limits.send_rate_per_s, b.limits.send_rate_per_s);
  note("limits.typing_rate_per_s", a.limits.typing_rate_per_s, b.limits.typing_rate_per_s);
  note("limits.frames_per_s", a.limits.frames_per_s, b.limits.frames_per_s);
  note("limits.write_timeout_s", a.limits.write_timeout_s, b.limits.write_timeout_s);
  note("limits.max_connections", a.limits.max_connections, b.limits.max_connections);
  note("limits.violations_before_close", a.limits.violations_before_close,
       b.limits.violations_before_close);
  note("delivery.window", a.delivery.window, b.delivery.window);
  return changed;
}

}  // namespace

// --- The listener ----------------------------------------------------------------------------

class Server::Impl {
 public:
  Impl(IoPool& pool, const config::Config& config, const chat::ChatContext& context)
      : shared_{std::make_shared<const config::Config>(config), context},
        acceptor_(pool.context(0)),
        retry_(pool.context(0)) {
    for (std::size_t i = 0; i < pool.size(); ++i) {
      workers_.push_back(std::make_unique<Worker>(pool.context(i)));
    }
    if (config.listen.tls.enabled) tls_ = MakeTlsContext(config.listen.tls);
    Bind(config.listen);
  }

  std::vector<std::string> Reload(const config::Config& next) {
    const std::shared_ptr<const config::Config> current = shared_.config.load();
    std::vector<std::string> applied = ChangedLimits(*current, next);

    // A certificate is reloaded whenever TLS stays on: rotation usually keeps the file names.
    // Loading throws on a bad file, before anything was changed.
    if (current->listen.tls.enabled && next.listen.tls.enabled) {
      tls_.store(MakeTlsContext(next.listen.tls));
      applied.push_back("listen.tls");
    }
    shared_.config.store(std::make_shared<const config::Config>(next));
    return applied;
  }

  std::uint16_t port() const { return port_; }
  bool listening() const { return acceptor_.is_open() && !shared_.stopping; }

  void Start() {
    for (auto& worker : workers_) StartTicking(*worker);
    asio::post(acceptor_.get_executor(), [this] { DoAccept(); });
  }

  void Shutdown() {
    shared_.stopping = true;
    asio::post(acceptor_.get_executor(), [this] {
      error_code ignored;
      acceptor_.close(ignored);
      retry_.cancel();
    });
    for (auto& worker : workers_) {
      asio::post(worker->context, [&w = *worker] {
        w.tick.cancel();
        // Copy: closing erases from the set.
        auto connections = w.connections;
        for (const auto& connection : connections) connection->OnShutdown();
      });
    }
  }

  bool Drained() const { return shared_.live.load() == 0; }

 private:
  void Bind(const config::ListenConfig& listen) {
    error_code ec;
    const auto address = asio::ip::make_address(listen.address, ec);
    if (ec) throw std::runtime_error("listen.address: not an IP address: " + listen.address);
    const tcp::endpoint endpoint(address, listen.port);

    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(kListenBacklog, ec);
    if (ec) {
      throw std::runtime_error("listen: cannot listen on " + listen.address + ":" +
                               std::to_string(listen.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
  }

  void DoAccept() {
    Worker& worker = *workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % workers_.size();
    acceptor_.async_accept(
        worker.context.get_executor(),
        [this, &worker](error_code ec, Socket socket) { OnAccept(worker, ec, std::move(socket)); });
  }

  void OnAccept(Worker& worker, error_code ec, Socket socket) {
    if (shared_.stopping || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors (or a passing error): keep serving the sessions we have and
      // try again shortly rather than spinning on accept.
      spdlog::warn("accept failed: {}; retrying in 100 ms", ec.message());
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([this](error_code wait_ec) {
        if (!wait_ec) DoAccept();
      });
      return;
    }

    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.set_option(asio::socket_base::send_buffer_size(kSocketSendBufferBytes), ignored);
    asio::post(worker.context, [this, &worker, socket = std::move(socket)]() mutable {
      Adopt(worker, std::move(socket));
    });
    DoAccept();
  }

  // Runs on the worker's thread.
  void Adopt(Worker& worker, Socket socket) {
    if (shared_.stopping) return;
    std::shared_ptr<ConnectionBase> base;
    if (std::shared_ptr<ssl::context> tls = tls_.load()) {
      std::optional<TlsStream> stream;
      try {
        stream.emplace(std::move(socket), *tls);
      } catch (const std::exception& e) {
        // Out of memory, most likely: this client is turned away, the others go on.
        spdlog::warn("tls: cannot set up a connection: {}", e.what());
        return;
      }
      auto connection =
          std::make_shared<TlsConnection>(shared_, worker, std::move(tls), std::move(*stream));
      base = connection;
      worker.connections.insert(base);
      connection->Start();
    } else {
      auto connection = std::make_shared<PlainConnection>(shared_, worker, nullptr,
                                                          BurstSocket(std::move(socket)));
      base = connection;
      worker.connections.insert(base);
      connection->Start();
    }
    // After a reload changed the timeout the queue may be out of order for a while; a
    // deadline then fires late by at most the difference, never early.
    const auto timeout = std::chrono::seconds(shared_.config.load()->limits.connect_timeout_s);
    worker.deadlines.emplace_back(Clock::now() + timeout, base);
  }

  void DropStalledWriters(Worker& worker, Clock::time_point now) {
    const auto timeout = std::chrono::seconds(shared_.config.load()->limits.write_timeout_s);
    std::vector<std::shared_ptr<ConnectionBase>> stalled;
    for (const auto& entry : worker.writing) {
      std::shared_ptr<ConnectionBase> connection = entry.second.lock();
      if (connection && now - connection->write_started >= timeout) {
        stalled.push_back(std::move(connection));
      }
    }
    // Apart from the loop: dropping a connection erases it from `writing`.
    for (const auto& connection : stalled) connection->OnWriteTimeout();
  }

  void StartTicking(Worker& worker) {
    worker.tick.expires_after(kDeadlineTick);
    worker.tick.async_wait([this, &worker](error_code ec) {
      if (ec || shared_.stopping) return;
      const auto now = Clock::now();
      while (!worker.deadlines.empty() && worker.deadlines.front().first <= now) {
        auto connection = worker.deadlines.front().second.lock();
        worker.deadlines.pop_front();
        if (connection) connection->OnConnectDeadline();
      }
      DropStalledWriters(worker, now);
      RunSilenceChecks(worker, now);
      StartTicking(worker);
    });
  }

  Shared shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<std::shared_ptr<ssl::context>> tls_;  // Null: plain ws.
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  std::uint16_t port_ = 0;
  std::size_t next_worker_ = 0;
};

Server::Server(IoPool& pool, const config::Config& config, const chat::ChatContext& context)
    : impl_(std::make_unique<Impl>(pool, config, context)) {}

Server::~Server() = default;

std::uint16_t Server::port() const { return impl_->port(); }
bool Server::listening() const { return impl_->listening(); }
void Server::Start() { impl_->Start(); }
std::vector<std::string> Server::Reload(const config::Config& config) {
  return impl_->Reload(config);
}
void Server::Shutdown() { impl_->Shutdown(); }
bool Server::Drained() const { return impl_->Drained(); }

}  // namespace parley::gateway
