// The client side's Beast and Asio templates all live in this translation unit.

#include "parley/client/chat_connection.h"

#include <variant>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace parley::client {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

using PlainStream = websocket::stream<tcp::socket>;
using TlsStream = websocket::stream<beast::ssl_stream<tcp::socket>>;

Status NetworkError(std::string_view what, const error_code& ec) {
  return Status::Unavailable(std::string(what) + ": " + ec.message());
}

}  // namespace

Result<Endpoint> ParseUrl(std::string_view url) {
  Endpoint endpoint;
  if (url.starts_with("ws://")) {
    url.remove_prefix(5);
  } else if (url.starts_with("wss://")) {
    endpoint.tls = true;
    url.remove_prefix(6);
  } else {
    return Status::InvalidArgument("URL must start with ws:// or wss://");
  }

  const auto slash = url.find('/');
  const std::string_view authority = url.substr(0, slash);
  endpoint.path = slash == std::string_view::npos ? "/v1/chat" : std::string(url.substr(slash));

  // [v6]:port, host:port or host.
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("unclosed [ in URL");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      port = authority.substr(close + 2);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return Status::InvalidArgument("URL has no host");
  if (!port.empty() && port.find_first_not_of("0123456789") != std::string_view::npos) {
    return Status::InvalidArgument("URL port is not a number");
  }
  endpoint.host = std::string(host);
  endpoint.port = port.empty() ? (endpoint.tls ? "443" : "80") : std::string(port);
  return endpoint;
}

class ChatConnection::Impl {
 public:
  explicit Impl(ConnectionOptions options) : options_(std::move(options)) {}

  // Calls `f` with the stream Open() made. REQUIRES: Open() made one.
  template <class F>
  decltype(auto) WithStream(F&& f) {
    if (auto* tls = std::get_if<TlsStream>(&stream_)) return f(*tls);
    return f(std::get<PlainStream>(stream_));
  }

  Status Open(std::string_view url) {
    auto endpoint = ParseUrl(url);
    if (!endpoint.ok()) return endpoint.status();

    if (endpoint->tls) {
      if (Status status = MakeTlsContext(); !status.ok()) return status;
      stream_.emplace<TlsStream>(context_, *tls_);
    } else {
      stream_.emplace<PlainStream>(context_);
    }
    return WithStream([&](auto& ws) { return OpenStream(ws, *endpoint); });
  }

  Status Send(const v1::ClientFrame& frame) {
    return SendRaw(gateway::EncodeClientFrame(frame, options_.format),
                   options_.format == WireFormat::kJson);
  }

  Status SendRaw(std::string_view payload, bool text) {
    if (ended_) return Status::NotFound("closed");
    return WithStream([&](auto& ws) -> Status {
      ws.text(text);
      std::optional<error_code> result;
      ws.async_write(asio::buffer(payload.data(), payload.size()),
                     [&](error_code ec, std::size_t) { result = ec; });
      if (!RunUntil([&] { return result.has_value(); }, options_.timeout)) {
        return Status::Unavailable("write timed out");
      }
      if (*result) return NetworkError("write", *result);
      return Status::Ok();
    });
  }

  Result<v1::ServerFrame> Read(std::chrono::milliseconds timeout) {
    if (ended_) return Status::NotFound("closed");

    // A read left pending by a timeout may complete while a later Send() runs the context;
    // its frame then waits in the buffer, and starting another read would append to it.
    if (!read_pending_ && !read_complete_) StartRead();
    if (!RunUntil([&] { return read_complete_; }, timeout)) {
      return Status::Unavailable("timeout");
    }
    read_complete_ = false;

    if (read_error_) {
      ended_ = true;
      if (!close_code_) {
        close_code_ = WithStream([](auto& ws) -> std::uint16_t { return ws.reason().code; });
      }
      return Status::NotFound("closed");
    }

    v1::ServerFrame frame;
    const auto data = read_buffer_.cdata();
    const std::string_view payload(static_cast<const char*>(data.data()), data.size());
    const WireFormat format = read_was_text_ ? WireFormat::kJson : WireFormat::kBinary;
    Status status = gateway::DecodeServerFrame(payload, format, &frame);
    read_buffer_.consume(read_buffer_.size());
    if (!status.ok()) return status;
    return frame;
  }

  std::optional<std::uint16_t> close_code() const { return close_code_; }

  void Close() {
    if (ended_ || std::holds_alternative<std::monostate>(stream_)) return;
    WithStream([&](auto& ws) {
      bool done = false;
      ws.async_close(websocket::close_code::normal, [&](error_code) { done = true; });
      RunUntil([&] { return done; }, std::chrono::milliseconds(1000));
    });
    ended_ = true;
  }

 private:
  Status MakeTlsContext() {
    tls_.emplace(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
    error_code ec;
    if (options_.ca_file.empty()) {
      tls_->set_default_verify_paths(ec);
    } else {
      tls_->load_verify_file(options_.ca_file, ec);
    }
    if (ec) return NetworkError("cannot load CA " + options_.ca_file, ec);
    tls_->set_verify_mode(ssl::verify_peer);
    return Status::Ok();
  }

  template <class Stream>
  Status OpenStream(Stream& ws, const Endpoint& endpoint) {
    tcp::resolver resolver(context_);
    std::optional<error_code> result;
    tcp::resolver::results_type addresses;
    resolver.async_resolve(endpoint.host, endpoint.port,
                           [&](error_code ec, tcp::resolver::results_type found) {
                             result = ec;
                             addresses = std::move(found);
                           });
    if (!RunUntil([&] { return result.has_value(); }, options_.timeout)) {
      return Status::Unavailable("cannot resolve " + endpoint.host + ": timed out");
    }
    if (*result) return NetworkError("cannot resolve " + endpoint.host, *result);

    result.reset();
    asio::async_connect(beast::get_lowest_layer(ws), addresses,
                        [&](error_code ec, const tcp::endpoint&) { result = ec; });
    if (!RunUntil([&] { return result.has_value(); }, options_.timeout)) {
      return Status::Unavailable("cannot connect to " + endpoint.host + ":" + endpoint.port +
                                 ": timed out");
    }
    if (*result) {
      return NetworkError("cannot connect to " + endpoint.host + ":" + endpoint.port, *result);
    }
    beast::get_lowest_layer(ws).set_option(tcp::no_delay(true));

    if constexpr (std::is_same_v<Stream, TlsStream>) {
      auto& tls = ws.next_layer();
      // SSL_set_tlsext_host_name() spelled out: the macro hides a C-style cast.
      SSL_ctrl(tls.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(endpoint.host.c_str()));
      tls.set_verify_callback(ssl::host_name_verification(endpoint.host));
      result.reset();
      tls.async_handshake(ssl::stream_base::client, [&](error_code ec) { result = ec; });
      if (!RunUntil([&] { return result.has_value(); }, options_.timeout)) {
        return Status::Unavailable("TLS handshake timed out");
      }
      if (*result) return NetworkError("TLS handshake", *result);
    }

    result.reset();
    ws.async_handshake(endpoint.host, endpoint.path, [&](error_code ec) { result = ec; });
    if (!RunUntil([&] { return result.has_value(); }, options_.timeout)) {
      return Status::Unavailable("WebSocket upgrade timed out");
    }
    if (*result) return NetworkError("WebSocket upgrade", *result);
    return Status::Ok();
  }

  void StartRead() {
    read_pending_ = true;
    WithStream([&](auto& ws) {
      ws.async_read(read_buffer_, [this, &ws](error_code ec, std::size_t) {
        read_pending_ = false;
        read_complete_ = true;
        read_error_ = ec;
        read_was_text_ = ws.got_text();
      });
    });
  }

  // Runs the io_context until `done()` or the timeout; true when done.
  template <class Predicate>
  bool RunUntil(Predicate done, std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    while (!done()) {
      const auto now = SteadyClock::now();
      context_.restart();
      if (now >= deadline) {
        context_.poll();  // A zero timeout still takes what is ready.
        return done();
      }
      context_.run_one_for(deadline - now);
    }
    return true;
  }

  ConnectionOptions options_;
  asio::io_context context_{1};
  std::optional<ssl::context> tls_;
  std::variant<std::monostate, PlainStream, TlsStream> stream_;
  beast::flat_buffer read_buffer_;
  bool read_pending_ = false;
  bool read_complete_ = false;  // A read finished and Read() has not consumed it yet.
  bool read_was_text_ = false;
  error_code read_error_;
  bool ended_ = false;
  std::optional<std::uint16_t> close_code_;
};

ChatConnection::ChatConnection(ConnectionOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

ChatConnection::~ChatConnection() = default;

Status ChatConnection::Open(std::string_view url) { return impl_->Open(url); }
Status ChatConnection::Send(const v1::ClientFrame& frame) { return impl_->Send(frame); }
Status ChatConnection::SendRaw(std::string_view payload, bool text) {
  return impl_->SendRaw(payload, text);
}
Result<v1::ServerFrame> ChatConnection::Read(std::chrono::milliseconds timeout) {
  return impl_->Read(timeout);
}
std::optional<std::uint16_t> ChatConnection::close_code() const { return impl_->close_code(); }
void ChatConnection::Close() { impl_->Close(); }

}  // namespace parley::client
