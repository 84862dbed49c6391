// The server's end of a TCP connection after a WebSocket close.
//
// Closing a socket while bytes from the client are still unread makes the kernel answer with
// a reset instead of a FIN, and a reset throws away whatever the client has not read yet:
// the last frames and the close frame among them. A frame above the size limit is the usual
// case, since the server stops reading it at its header. So the server stops sending (FIN),
// reads and drops what the client still sends until the client closes its side, and only
// then closes the socket. Beast 1.81's own teardown stops after the first read that returns
// any data, which leaves the rest unread.
//
// Bounded: past kMaxDrainBytes the socket is closed anyway. A client that keeps a closing
// connection open without sending is dropped by the idle timeout.

#ifndef PARLEY_GATEWAY_SERVER_TEARDOWN_H_
#define PARLEY_GATEWAY_SERVER_TEARDOWN_H_

#include <cstddef>

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>

namespace parley::gateway {

template <class Socket>
class ServerTeardown {
 public:
  explicit ServerTeardown(Socket& socket) : socket_(socket) {}

  template <class Self>
  void operator()(Self& self, boost::system::error_code ec = {}, std::size_t bytes = 0) {
    if (!started_) {
      started_ = true;
      // A socket that cannot shut down fails the read below too, asynchronously.
      boost::system::error_code ignored;
      socket_.shutdown(Socket::shutdown_send, ignored);
    } else {
      drained_ += bytes;
      // The end of the client's side, or an error: either way nothing more will come.
      if (ec || drained_ > kMaxDrainBytes) return Close(self);
    }
    socket_.async_read_some(boost::asio::buffer(sink_), std::move(self));
  }

 private:
  static constexpr std::size_t kMaxDrainBytes = 1 << 20;

  // What is drained is dropped, so every teardown of a thread reads into the same bytes.
  static inline thread_local char sink_[4096];

  template <class Self>
  void Close(Self& self) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    self.complete(boost::system::error_code());
  }

  Socket& socket_;
  std::size_t drained_ = 0;
  bool started_ = false;
};

// Handler: void(error_code).
template <class Socket, class Handler>
void AsyncServerTeardown(Socket& socket, Handler&& handler) {
  boost::asio::async_compose<Handler, void(boost::system::error_code)>(
      ServerTeardown<Socket>(socket), handler, socket);
}

}  // namespace parley::gateway

#endif  // PARLEY_GATEWAY_SERVER_TEARDOWN_H_
