#include "parley/admin/admin_server.h"

#include <stdexcept>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "parley/common/thread_name.h"

namespace parley::admin {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// "ready" or "not ready", then one line per check, for the operator reading it with curl.
std::string DescribeReadiness(const Readiness& readiness) {
  std::string body = readiness.ready() ? "ready\n" : "not ready\n";
  body += readiness.storage_writable ? "storage: writable\n" : "storage: not writable\n";
  body += readiness.listening ? "listener: accepting\n" : "listener: not accepting\n";
  return body;
}

// One request per connection is all a scraper or a probe needs.
class AdminConnection : public std::enable_shared_from_this<AdminConnection> {
 public:
  AdminConnection(tcp::socket socket, const AdminHandlers& handlers)
      : stream_(std::move(socket)), handlers_(handlers) {}

  void Start() {
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, request_,
                     beast::bind_front_handler(&AdminConnection::OnRead, shared_from_this()));
  }

 private:
  void OnRead(error_code ec, std::size_t) {
    if (ec) return;
    response_.version(request_.version());
    response_.keep_alive(false);
    response_.set(http::field::server, "parleyd");
    Route();
    response_.prepare_payload();
    http::async_write(stream_, response_, [self = shared_from_this()](error_code, std::size_t) {
      error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  void Route() {
    const std::string_view target(request_.target().data(), request_.target().size());
    if (request_.method() != http::verb::get) {
      Respond(http::status::method_not_allowed, "text/plain", "GET only\n");
    } else if (target == "/metrics") {
      Respond(http::status::ok, "text/plain; version=0.0.4", handlers_.metrics());
    } else if (target == "/healthz") {
      Respond(http::status::ok, "text/plain", "ok\n");
    } else if (target == "/readyz") {
      const Readiness readiness = handlers_.readiness();
      Respond(readiness.ready() ? http::status::ok : http::status::service_unavailable,
              "text/plain", DescribeReadiness(readiness));
    } else {
      Respond(http::status::not_found, "text/plain", "not found\n");
    }
  }

  void Respond(http::status status, std::string_view type, std::string body) {
    response_.result(status);
    response_.set(http::field::content_type, type);
    response_.body() = std::move(body);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  http::response<http::string_body> response_;
  const AdminHandlers& handlers_;
};

}  // namespace

class AdminServer::Impl {
 public:
  Impl(const std::string& address, std::uint16_t port, AdminHandlers handlers)
      : handlers_(std::move(handlers)), acceptor_(context_) {
    error_code ec;
    const auto ip = asio::ip::make_address(address, ec);
    if (ec) throw std::runtime_error("admin.address: not an IP address: " + address);
    const tcp::endpoint endpoint(ip, port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error("admin: cannot listen on " + address + ":" + std::to_string(port) +
                               ": " + ec.message());
    }
  }

  ~Impl() { Stop(); }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void Start() {
    DoAccept();
    thread_ = std::thread([this] {
      NameThisThread("parley-admin");
      context_.run();
    });
  }

  void Stop() {
    context_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void DoAccept() {
    acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<AdminConnection>(std::move(socket), handlers_)->Start();
      DoAccept();
    });
  }

  AdminHandlers handlers_;
  asio::io_context context_{1};
  tcp::acceptor acceptor_;
  std::thread thread_;
};

AdminServer::AdminServer(const std::string& address, std::uint16_t port, AdminHandlers handlers)
    : impl_(std::make_unique<Impl>(address, port, std::move(handlers))) {}

AdminServer::~AdminServer() = default;

std::uint16_t AdminServer::port() const { return impl_->port(); }
void AdminServer::Start() { impl_->Start(); }
void AdminServer::Stop() { impl_->Stop(); }

}  // namespace parley::admin
