// Server: the client-facing WebSocket listener of parleyd.
//
// One io_context per network thread; the listener accepts on the first and hands each socket
// to the next thread in turn, where the connection then lives for good (no strands needed).
// A connection goes through TLS (for wss), the HTTP upgrade on /v1/chat, and the WebSocket
// handshake, and must have sent a valid `connect` within limits.connect_timeout_s of being
// accepted. Deadlines are kept per thread in one coarse queue, not in a timer per connection.

#ifndef PARLEY_GATEWAY_SERVER_H_
#define PARLEY_GATEWAY_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "parley/chat/session.h"
#include "parley/config/config.h"

namespace boost::asio {
class io_context;
}

namespace parley::gateway {

class IoPool;

class Server {
 public:
  // Binds the listener (and loads the TLS certificate); throws std::runtime_error with a clear
  // message when either fails. `pool` and `context` must outlive the server.
  Server(IoPool& pool, const config::Config& config, const chat::ChatContext& context);
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (useful with listen.port 0).
  std::uint16_t port() const;
  bool listening() const;

  // Starts accepting.
  void Start();

  // Applies what can change while running: the TLS certificate and key (re-read from their
  // files whenever TLS stays enabled), limits.* other than mailbox_max_items, and
  // delivery.window. New connections get the new values; existing ones keep theirs. Returns
  // the dotted keys applied ("listen.tls" for a reloaded certificate). Throws
  // std::runtime_error, changing nothing, when the new certificate cannot be loaded.
  // Thread-safe.
  std::vector<std::string> Reload(const config::Config& config);

  // Stops accepting and closes every connection with 1001. Returns at once; Drained() tells
  // when the last connection is gone.
  void Shutdown();
  bool Drained() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::gateway

#endif  // PARLEY_GATEWAY_SERVER_H_
