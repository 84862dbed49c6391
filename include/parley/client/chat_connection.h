// ChatConnection: a client's WebSocket connection to parleyd, with blocking calls that take
// timeouts. The reference client, the tests and the tools are built on it.
//
// Not thread-safe: one thread uses a connection at a time.

#ifndef PARLEY_CLIENT_CHAT_CONNECTION_H_
#define PARLEY_CLIENT_CHAT_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "parley/common/status.h"
#include "parley/gateway/codec.h"
#include "parley/v1/parley.pb.h"

namespace parley::client {

using gateway::WireFormat;

// ws://host:port/path or wss://host:port/path; the port defaults to 80 or 443 and the path to
// /v1/chat.
struct Endpoint {
  bool tls = false;
  std::string host;
  std::string port;
  std::string path;
};

Result<Endpoint> ParseUrl(std::string_view url);

struct ConnectionOptions {
  WireFormat format = WireFormat::kJson;
  std::string ca_file;                      // wss: trust this CA (PEM) instead of the system's.
  std::chrono::milliseconds timeout{5000};  // For opening and for each write.
};

class ChatConnection {
 public:
  explicit ChatConnection(ConnectionOptions options = {});
  ~ChatConnection();

  ChatConnection(const ChatConnection&) = delete;
  ChatConnection& operator=(const ChatConnection&) = delete;

  // Resolves, connects, does TLS for wss and the WebSocket upgrade.
  Status Open(std::string_view url);

  // Sends a frame in the connection's format.
  Status Send(const v1::ClientFrame& frame);

  // Sends raw bytes as a text or binary frame (tests of malformed input).
  Status SendRaw(std::string_view payload, bool text);

  // Waits up to `timeout` for the next frame. On timeout returns Unavailable("timeout") and
  // the connection stays usable; once the server has closed, returns NotFound("closed") and
  // close_code() tells the code.
  Result<v1::ServerFrame> Read(std::chrono::milliseconds timeout);

  // Set once the server's close frame (or the end of the connection) has been seen; 0 when the
  // connection ended without a close frame.
  std::optional<std::uint16_t> close_code() const;

  // Sends a normal close (1000) and waits briefly for the server's answer.
  void Close();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::client

#endif  // PARLEY_CLIENT_CHAT_CONNECTION_H_
