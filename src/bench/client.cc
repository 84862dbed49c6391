// Every Beast and Asio template of parley-bench is instantiated in this translation unit.

#include "bench/client.h"

#include <deque>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "parley/client/chat_connection.h"
#include "parley/gateway/codec.h"

#include <netinet/in.h>

namespace parley::bench {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// TCP connect, TLS and the upgrade each get this long. The server's own connect timeout is
// 10 s; a bench connection slower than that has failed anyway.
constexpr auto kOpenTimeout = std::chrono::seconds(10);

// Items carry at most 1,000 characters of text; this leaves room for any other frame.
constexpr std::size_t kMaxFrameBytes = 1 << 20;

// With this option the kernel picks the source port at connect() time, from the whole
// 4-tuple, instead of at bind() time from the ports free on the source address alone; so
// connections to different server ports can share source ports. Linux 4.2 and later.
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

bool IsIpAddress(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Where every connection goes, and how. Read-only once built, so shared by all threads.
struct Target {
  explicit Target(const NetworkOptions& options);

  tcp::endpoint endpoint;
  std::string host;
  std::string host_header;  // host:port, for the upgrade request
  std::string path;
  std::optional<ssl::context> tls;
};

Target::Target(const NetworkOptions& options) {
  auto url = client::ParseUrl(options.url);
  if (!url.ok()) throw std::runtime_error("--server-url: " + url.status().message());
  host = url->host;
  host_header = url->host + ":" + url->port;
  path = url->path;

  // Resolved once: thousands of connections need not ask the resolver thousands of times.
  asio::io_context io;
  tcp::resolver resolver(io);
  error_code ec;
  const auto results = resolver.resolve(url->host, url->port, ec);
  if (ec || results.empty()) {
    throw std::runtime_error("cannot resolve " + url->host + ": " + ec.message());
  }
  endpoint = results.begin()->endpoint();

  if (url->tls) {
    tls.emplace(ssl::context::tls_client);
    // Like the server: let OpenSSL drop its buffers while a connection is idle, so that many
    // idle client connections stay cheap too.
    SSL_CTX_set_mode(tls->native_handle(), SSL_MODE_RELEASE_BUFFERS);
    if (options.insecure) {
      tls->set_verify_mode(ssl::verify_none);
    } else {
      tls->set_verify_mode(ssl::verify_peer);
      if (options.ca_file.empty()) {
        tls->set_default_verify_paths();
      } else {
        tls->load_verify_file(options.ca_file, ec);
        if (ec) throw std::runtime_error("--ca-file: " + options.ca_file + ": " + ec.message());
      }
    }
  }
}

// --- One connection -------------------------------------------------------------------------

template <class Stream>
class WsConnection final : public Connection,
                           public std::enable_shared_from_this<WsConnection<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  WsConnection(const Target& target, asio::io_context& io, ConnectionHandler* handler,
               const DialRequest& request)
      : target_(target), ws_(MakeStream(target, io)), handler_(handler) {
    v1::ClientFrame connect;
    connect.mutable_connect()->set_token(request.token);
    connect.mutable_connect()->set_ack_seq(request.ack_seq);
    connect.mutable_connect()->set_client("parley-bench");
    queue_.push_back(gateway::EncodeClientFrame(connect, gateway::WireFormat::kBinary));
  }

  void Start(const std::string& source_address) {
    auto& socket = beast::get_lowest_layer(ws_).socket();
    error_code ec;
    socket.open(target_.endpoint.protocol(), ec);
    if (!ec && !source_address.empty()) {
      const int one = 1;
      setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      const auto address = asio::ip::make_address(source_address, ec);
      if (!ec) socket.bind(tcp::endpoint(address, 0), ec);
    }
    if (ec) {
      // Reported from the event loop, never from inside Dial(): the caller has not yet
      // stored the connection it is about to be told has ended.
      asio::post(ws_.get_executor(),
                 [self = this->shared_from_this(), ec] { self->Fail(ec, "bind"); });
      return;
    }

    beast::get_lowest_layer(ws_).expires_after(kOpenTimeout);
    beast::get_lowest_layer(ws_).async_connect(
        target_.endpoint,
        beast::bind_front_handler(&WsConnection::OnConnect, this->shared_from_this()));
  }

  // --- Connection

  void Send(const v1::ClientFrame& frame) override {
    if (finished_ || close_requested_) return;
    queue_.push_back(gateway::EncodeClientFrame(frame, gateway::WireFormat::kBinary));
    if (!writing_) DoWrite();
  }

  void Ack(std::uint64_t seq) override {
    if (finished_ || close_requested_ || seq <= ack_wanted_) return;
    ack_wanted_ = seq;
    if (!writing_) DoWrite();
  }

  void Close() override {
    if (finished_ || close_requested_) return;
    close_requested_ = true;
    if (!open_) {
      // Still opening: dropping the socket makes the pending step fail, and Finish() reports
      // the close as asked for.
      error_code ignored;
      beast::get_lowest_layer(ws_).socket().close(ignored);
      return;
    }
    if (!writing_) DoWrite();
  }

 private:
  static websocket::stream<Stream> MakeStream(const Target& target, asio::io_context& io) {
    if constexpr (kTls) {
      // Asio asks for a non-const context; connections only read it.
      return websocket::stream<Stream>(io, const_cast<ssl::context&>(*target.tls));
    } else {
      return websocket::stream<Stream>(io);
    }
  }

  // --- Opening

  void OnConnect(error_code ec) {
    if (ec) return Fail(ec, "connect");
    error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ignored);

    if constexpr (kTls) {
      auto& tls = ws_.next_layer();
      if (!IsIpAddress(target_.host)) {
        // SNI. SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
        SSL_ctrl(tls.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(target_.host.c_str()));
      }
      tls.set_verify_callback(ssl::host_name_verification(target_.host));
      tls.async_handshake(
          ssl::stream_base::client,
          beast::bind_front_handler(&WsConnection::OnTlsHandshake, this->shared_from_this()));
    } else {
      DoUpgrade();
    }
  }

  void OnTlsHandshake(error_code ec) {
    if (ec) return Fail(ec, "tls handshake");
    DoUpgrade();
  }

  void DoUpgrade() {
    // From here on the WebSocket keeps its own time; the TCP-level deadline would cut off
    // idle connections.
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = kOpenTimeout;  // Also bounds the close handshake.
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;  // The server pings; Beast answers while reading.
    ws_.set_option(timeouts);
    ws_.read_message_max(kMaxFrameBytes);
    ws_.auto_fragment(false);
    ws_.binary(true);

    ws_.async_handshake(
        target_.host_header, target_.path,
        beast::bind_front_handler(&WsConnection::OnUpgrade, this->shared_from_this()));
  }

  void OnUpgrade(error_code ec) {
    if (ec) return Fail(ec, "upgrade");
    open_ = true;
    DoWrite();  // The connect frame is first in the queue.
    DoRead();
  }

  // --- Reading

  void DoRead() {
    ws_.async_read(buffer_,
                   beast::bind_front_handler(&WsConnection::OnRead, this->shared_from_this()));
  }

  void OnRead(error_code ec, std::size_t bytes) {
    if (ec) return Fail(ec, "read");
    if (finished_) return;

    const auto data = buffer_.cdata();
    const std::string_view payload(static_cast<const char*>(data.data()), bytes);
    const Status status =
        gateway::DecodeServerFrame(payload, gateway::WireFormat::kBinary, &frame_);
    buffer_.consume(bytes);
    if (!status.ok()) return Finish("undecodable frame: " + status.message());

    handler_->OnFrame(frame_);
    if (!finished_) DoRead();
  }

  // --- Writing: acks first, then frames in order, then the close.

  void DoWrite() {
    if (!open_ || finished_ || writing_) return;
    if (ack_wanted_ > ack_sent_) {
      v1::ClientFrame ack;
      ack.mutable_ack()->set_seq(ack_wanted_);
      ack_sent_ = ack_wanted_;
      writing_frame_ = gateway::EncodeClientFrame(ack, gateway::WireFormat::kBinary);
    } else if (!queue_.empty()) {
      writing_frame_ = std::move(queue_.front());
      queue_.pop_front();
    } else {
      if (close_requested_) DoClose();
      return;
    }
    writing_ = true;
    ws_.async_write(asio::buffer(writing_frame_),
                    beast::bind_front_handler(&WsConnection::OnWrite, this->shared_from_this()));
  }

  void OnWrite(error_code ec, std::size_t) {
    writing_ = false;
    if (ec) return Fail(ec, "write");
    DoWrite();
  }

  void DoClose() {
    ws_.async_close(websocket::close_code::normal,
                    [self = this->shared_from_this()](error_code) { self->Finish({}); });
  }

  // --- The end

  void Fail(error_code ec, std::string_view what) {
    if (finished_) return;
    if (ec == websocket::error::closed) {
      return Finish("closed by server with " + std::to_string(ws_.reason().code));
    }
    Finish(std::string(what) + ": " + ec.message());
  }

  // Runs once, whichever way the connection ends.
  void Finish(const std::string& error) {
    if (finished_) return;
    finished_ = true;
    error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close();
    handler_->OnClosed(close_requested_ ? std::string() : error);
  }

  const Target& target_;
  websocket::stream<Stream> ws_;
  ConnectionHandler* handler_;

  beast::flat_buffer buffer_;
  v1::ServerFrame frame_;  // Reused: parsing into it keeps its allocations.

  std::deque<std::string> queue_;
  std::string writing_frame_;  // Must live until its write completes.
  std::uint64_t ack_wanted_ = 0;
  std::uint64_t ack_sent_ = 0;

  bool open_ = false;
  bool writing_ = false;
  bool close_requested_ = false;
  bool finished_ = false;
};

using PlainConnection = WsConnection<beast::tcp_stream>;
using TlsConnection = WsConnection<beast::ssl_stream<beast::tcp_stream>>;

// A repeating timer; keeps itself alive through its pending wait.
class Ticker : public std::enable_shared_from_this<Ticker> {
 public:
  Ticker(asio::io_context& io, std::chrono::nanoseconds period, std::function<bool()> fn)
      : timer_(io), period_(period), fn_(std::move(fn)) {}

  void Start() {
    next_ = std::chrono::steady_clock::now();
    Arm();
  }

 private:
  void Arm() {
    next_ += period_;
    timer_.expires_at(next_);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec && self->fn_()) self->Arm();
    });
  }

  asio::steady_timer timer_;
  std::chrono::nanoseconds period_;
  std::function<bool()> fn_;
  std::chrono::steady_clock::time_point next_;
};

}  // namespace

// --- Network --------------------------------------------------------------------------------

class Network::Impl {
 public:
  explicit Impl(const NetworkOptions& options) : target(options) {
    for (std::size_t i = 0; i < std::max<std::size_t>(1, options.threads); ++i) {
      threads.push_back(std::make_unique<Thread>());
    }
  }

  struct Thread {
    Thread() : io(1), work(asio::make_work_guard(io)) {}
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::thread thread;
  };

  Target target;
  std::vector<std::unique_ptr<Thread>> threads;
};

Network::Network(const NetworkOptions& options) : impl_(std::make_unique<Impl>(options)) {}

Network::~Network() { Stop(); }

void Network::Stop() {
  for (auto& thread : impl_->threads) thread->io.stop();
  for (auto& thread : impl_->threads) {
    if (thread->thread.joinable()) thread->thread.join();
  }
}

std::size_t Network::threads() const { return impl_->threads.size(); }

void Network::Start() {
  for (auto& thread : impl_->threads) {
    thread->thread = std::thread([&io = thread->io] { io.run(); });
  }
}

void Network::Post(std::size_t thread, std::function<void()> fn) {
  asio::post(impl_->threads.at(thread)->io, std::move(fn));
}

void Network::Every(std::size_t thread, std::chrono::nanoseconds period, std::function<bool()> fn) {
  auto ticker = std::make_shared<Ticker>(impl_->threads.at(thread)->io, period, std::move(fn));
  ticker->Start();
}

std::shared_ptr<Connection> Network::Dial(std::size_t thread, const DialRequest& request,
                                          ConnectionHandler* handler) {
  asio::io_context& io = impl_->threads.at(thread)->io;
  if (impl_->target.tls) {
    auto connection = std::make_shared<TlsConnection>(impl_->target, io, handler, request);
    connection->Start(request.source_address);
    return connection;
  }
  auto connection = std::make_shared<PlainConnection>(impl_->target, io, handler, request);
  connection->Start(request.source_address);
  return connection;
}

}  // namespace parley::bench
