// A server-side TLS stream that holds no buffers of its own while a connection is idle.
//
// asio::ssl::stream runs OpenSSL over a pair of memory BIOs and keeps about 34 KiB of fixed
// buffers per stream to move ciphertext between them and the socket, more than the whole of
// an idle plain connection. TlsStream lets OpenSSL read and write the socket itself, through a
// small BIO over the descriptor; when OpenSSL needs more bytes, or room to write, the stream
// waits for the socket to turn readable or writable through the reactor, which takes no
// buffer either. OpenSSL's record buffers are released whenever they are empty
// (SSL_MODE_RELEASE_BUFFERS, and its read buffer after every read that found nothing), so an
// idle connection keeps only its SSL object.
//
// It models Asio's AsyncStream and works below beast::websocket::stream and beast::http.
//
// REQUIRES: the socket's io_context is run by one thread. A wait is then always queued before
// the reactor next looks for events, so an edge that came after OpenSSL's failed read is seen.

#ifndef PARLEY_GATEWAY_TLS_STREAM_H_
#define PARLEY_GATEWAY_TLS_STREAM_H_

#include <cstddef>
#include <memory>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <boost/system/error_code.hpp>

#include "server_teardown.h"

struct ssl_st;

namespace parley::gateway {

class TlsStream {
 public:
  using next_layer_type = boost::asio::basic_stream_socket<boost::asio::ip::tcp,
                                                           boost::asio::io_context::executor_type>;
  using executor_type = next_layer_type::executor_type;

  // The stream takes over the socket, which must be connected. The context must outlive it.
  TlsStream(next_layer_type socket, boost::asio::ssl::context& context);
  ~TlsStream();

  TlsStream(TlsStream&&) noexcept;
  TlsStream& operator=(TlsStream&&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  next_layer_type& next_layer() { return socket_; }

  // The server's side of the handshake. Handler: void(error_code).
  template <class Handler>
  auto async_handshake(Handler&& handler);

  // Handler: void(error_code, std::size_t). A close_notify from the peer ends the stream
  // with asio::error::eof, an end without one with ssl::error::stream_truncated.
  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler);

  // Handler: void(error_code, std::size_t). Writes up to one TLS record of the buffers.
  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler);

  // Sends close_notify if the socket takes it at once; never waits for the peer's.
  void ShutdownNow();

 private:
  enum class Want { kNothing, kRead, kWrite };

  // The outcome of one call into OpenSSL.
  struct Step {
    Want want = Want::kNothing;
    std::size_t bytes = 0;
    boost::system::error_code ec;
  };

  Step Handshake();
  Step Read(void* data, std::size_t size);
  Step Write(const void* data, std::size_t size);
  Step Classify(int result);
  Step Closed();

  // The most Write() sends in one call: a TLS record's payload.
  static constexpr std::size_t kMaxRecordBytes = 16 * 1024;

  // Where the buffers of a write are gathered for OpenSSL, shared by the thread's streams.
  static boost::asio::mutable_buffer Scratch();

  // Runs `attempt` (Step()) until it no longer waits for the socket, then completes with
  // its error, and its byte count when kWithBytes. A result ready at once is posted, never
  // given inline.
  template <class Attempt, bool kWithBytes>
  class Operation;

  next_layer_type socket_;
  struct SslFree {
    void operator()(ssl_st* ssl) const;
  };
  std::unique_ptr<ssl_st, SslFree> ssl_;
};

template <class Attempt, bool kWithBytes>
class TlsStream::Operation {
 public:
  Operation(TlsStream& stream, Attempt attempt) : stream_(stream), attempt_(std::move(attempt)) {}

  template <class Self>
  void operator()(Self& self, boost::system::error_code wait_error = {}) {
    using Socket = next_layer_type;
    if (state_ == State::kPosted) return Complete(self, step_.ec, step_.bytes);
    if (wait_error) return Complete(self, wait_error, 0);

    step_ = attempt_();
    const bool first = state_ == State::kFirst;
    state_ = State::kWaited;
    switch (step_.want) {
      case Want::kRead:
        return stream_.socket_.async_wait(Socket::wait_read, std::move(self));
      case Want::kWrite:
        return stream_.socket_.async_wait(Socket::wait_write, std::move(self));
      case Want::kNothing:
        break;
    }
    if (!first) return Complete(self, step_.ec, step_.bytes);
    state_ = State::kPosted;
    boost::asio::post(stream_.get_executor(), std::move(self));
  }

 private:
  template <class Self>
  static void Complete(Self& self, boost::system::error_code ec, std::size_t bytes) {
    if constexpr (kWithBytes) {
      self.complete(ec, bytes);
    } else {
      self.complete(ec);
    }
  }

  enum class State { kFirst, kWaited, kPosted };

  TlsStream& stream_;
  Attempt attempt_;
  Step step_;
  State state_ = State::kFirst;
};

// Asio's async_compose takes the handler by reference and moves it into the operation.
template <class Handler>
auto TlsStream::async_handshake(Handler&& handler) {
  auto attempt = [this] { return Handshake(); };
  return boost::asio::async_compose<Handler, void(boost::system::error_code)>(
      Operation<decltype(attempt), false>(*this, attempt), handler, socket_);
}

template <class MutableBuffers, class Handler>
auto TlsStream::async_read_some(const MutableBuffers& buffers, Handler&& handler) {
  // OpenSSL reads into one buffer at a time; the first non-empty one will do.
  boost::asio::mutable_buffer target;
  for (auto it = boost::asio::buffer_sequence_begin(buffers);
       it != boost::asio::buffer_sequence_end(buffers); ++it) {
    target = boost::asio::mutable_buffer(*it);
    if (target.size() > 0) break;
  }
  auto attempt = [this, target] { return Read(target.data(), target.size()); };
  return boost::asio::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
      Operation<decltype(attempt), true>(*this, attempt), handler, socket_);
}

template <class ConstBuffers, class Handler>
auto TlsStream::async_write_some(const ConstBuffers& buffers, Handler&& handler) {
  // A frame header and its payload come as separate buffers; gathered, they go out as one
  // record. The gathering is redone on every attempt because the scratch space is shared,
  // and OpenSSL is content with that: a repeated write must only carry the same bytes.
  auto attempt = [this, buffers] {
    const boost::asio::mutable_buffer scratch = Scratch();
    const std::size_t size = boost::asio::buffer_copy(scratch, buffers);
    return Write(scratch.data(), size);
  };
  return boost::asio::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
      Operation<decltype(attempt), true>(*this, attempt), handler, socket_);
}

// Beast's WebSocket close ends with a teardown of the layer below, found by ADL: close_notify,
// then the server's end of the TCP connection (server_teardown.h).
template <class Handler>
void async_teardown(boost::beast::role_type /*server*/, TlsStream& stream, Handler&& handler) {
  stream.ShutdownNow();
  AsyncServerTeardown(stream.next_layer(), std::forward<Handler>(handler));
}

void teardown(boost::beast::role_type role, TlsStream& stream, boost::system::error_code& ec);

}  // namespace parley::gateway

#endif  // PARLEY_GATEWAY_TLS_STREAM_H_
