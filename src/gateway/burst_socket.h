// A TCP socket that can send a burst of writes in one system call.
//
// Beast writes one WebSocket message per call to the layer below, so a connection with ten
// frames to send makes ten sendmsg calls, and on loopback each one also runs the receiver's
// side of the stack. While writes are held, BurstSocket copies what it is given into a buffer
// of its own and reports it written at once; the next write that is not held sends the
// buffer and its own bytes together. Everything Beast writes passes through here in Beast's
// own order, its pings, pongs and close frame included, so holding never reorders bytes.
//
// The caller holds a write only when another write is sure to follow at once (the next frame
// of its queue); the last frame of a burst is never held, so nothing waits in the buffer.
//
// It models Asio's AsyncStream and works below beast::websocket::stream and beast::http.

#ifndef PARLEY_GATEWAY_BURST_SOCKET_H_
#define PARLEY_GATEWAY_BURST_SOCKET_H_

#include <cstddef>
#include <string>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_cat.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/system/error_code.hpp>

#include "server_teardown.h"

namespace parley::gateway {

class BurstSocket {
 public:
  using next_layer_type = boost::asio::basic_stream_socket<boost::asio::ip::tcp,
                                                           boost::asio::io_context::executor_type>;
  using executor_type = next_layer_type::executor_type;

  explicit BurstSocket(next_layer_type socket) : socket_(std::move(socket)) {}

  executor_type get_executor() { return socket_.get_executor(); }
  next_layer_type& next_layer() { return socket_; }

  // Whether the writes from now on are held back for the next write that is not.
  void HoldWrites(bool hold) { hold_ = hold; }

  // Sends what is held, then ends the connection as a server does (server_teardown.h).
  // Handler: void(error_code).
  template <class Handler>
  void AsyncTeardown(Handler&& handler) {
    boost::asio::async_compose<Handler, void(boost::system::error_code)>(Teardown{*this}, handler,
                                                                         socket_);
  }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    socket_.async_read_some(buffers, std::forward<Handler>(handler));
  }

  // Handler: void(error_code, std::size_t).
  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    const std::size_t size = boost::asio::buffer_size(buffers);
    if (hold_ && held_.size() + size <= kMaxHeldBytes) {
      const std::size_t offset = held_.size();
      held_.resize(offset + size);
      boost::asio::buffer_copy(boost::asio::buffer(held_.data() + offset, size), buffers);
      return boost::asio::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
          HeldWrite{*this, size}, handler, socket_);
    }
    if (held_.empty()) return socket_.async_write_some(buffers, std::forward<Handler>(handler));
    boost::asio::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
        Flush<ConstBuffers>{*this, buffers, size}, handler, socket_);
  }

 private:
  // A burst larger than this goes out in more than one call; it keeps a client that is slow
  // to read from growing the buffer much beyond what its socket would take anyway.
  static constexpr std::size_t kMaxHeldBytes = 64 * 1024;

  // Completes a held write, one handler later as Asio requires of an asynchronous operation.
  struct HeldWrite {
    BurstSocket& stream;
    std::size_t size;
    bool posted = false;

    template <class Self>
    void operator()(Self& self) {
      if (posted) return self.complete(boost::system::error_code(), size);
      posted = true;
      boost::asio::post(stream.get_executor(), std::move(self));
    }
  };

  // Sends the held bytes and then `buffers`, all of them; reports only the latter written.
  template <class ConstBuffers>
  struct Flush {
    BurstSocket& stream;
    ConstBuffers buffers;
    std::size_t size;
    bool started = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t = 0) {
      if (!started) {
        started = true;
        return boost::asio::async_write(
            stream.socket_,
            boost::beast::buffers_cat(boost::asio::const_buffer(boost::asio::buffer(stream.held_)),
                                      buffers),
            std::move(self));
      }
      // An idle connection keeps no buffer.
      stream.held_ = std::string();
      self.complete(ec, ec ? 0 : size);
    }
  };

  struct Teardown {
    BurstSocket& stream;
    enum class Step { kFlush, kTeardown, kDone } step = Step::kFlush;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t = 0) {
      switch (step) {
        case Step::kFlush:
          step = Step::kTeardown;
          // Beast tears down with its write lock held, so no flush of ours is under way.
          if (!stream.held_.empty()) {
            return boost::asio::async_write(stream.socket_, boost::asio::buffer(stream.held_),
                                            std::move(self));
          }
          [[fallthrough]];
        case Step::kTeardown:
          // A failed flush means the peer is gone; the teardown finds that out too.
          stream.held_ = std::string();
          step = Step::kDone;
          return AsyncServerTeardown(stream.socket_, std::move(self));
        case Step::kDone:
          return self.complete(ec);
      }
    }
  };

  next_layer_type socket_;
  std::string held_;
  bool hold_ = false;
};

// Beast's WebSocket close ends with a teardown of the layer below, found by ADL. What is held
// goes out first: Beast's own close frame may be the last of it.
template <class Handler>
void async_teardown(boost::beast::role_type /*server*/, BurstSocket& stream, Handler&& handler) {
  stream.AsyncTeardown(std::forward<Handler>(handler));
}

}  // namespace parley::gateway

#endif  // PARLEY_GATEWAY_BURST_SOCKET_H_
