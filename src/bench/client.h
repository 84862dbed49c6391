// Network: the bench's asynchronous WebSocket client, many connections on a few threads.
//
// Each thread runs its own io_context; a connection lives on the thread it was dialled on, and
// so do its handler's callbacks and the timers started there. Nothing here is locked: code
// that runs on one thread's connections touches only that thread's state.
//
// Every Beast and Asio template of the bench is instantiated in client.cc; this header keeps
// them out of sight, so the workloads compile in a blink.

#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "parley/v1/parley.pb.h"

namespace parley::bench {

struct NetworkOptions {
  std::string url;        // ws://host:port/path or wss://...; the host must be an IP address
                          // or a name that resolves to one.
  std::string ca_file;    // wss: trust this CA (PEM); empty: the system's CAs.
  bool insecure = false;  // wss: do not verify the server's certificate at all.
  std::size_t threads = 1;
};

// One connection. Its methods must be called on its own thread.
class Connection {
 public:
  virtual ~Connection() = default;

  // Queues a frame (binary protobuf).
  virtual void Send(const v1::ClientFrame& frame) = 0;

  // Acknowledges every item up to `seq`. Acks queued while a write is under way are merged
  // into one, so a fast stream of items costs one ack per write, not one per item.
  virtual void Ack(std::uint64_t seq) = 0;

  // Starts a normal close (1000) once what is queued has been written.
  virtual void Close() = 0;
};

// What a connection reports, on its thread. The handler must outlive the connection's
// callbacks, that is until OnClosed() or until the Network is destroyed.
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;

  // A frame from the server, decoded. The first is `connected` (or `error`).
  virtual void OnFrame(const v1::ServerFrame& frame) = 0;

  // The connection is gone; nothing follows. `error` is empty after a close this side asked
  // for, otherwise it says what happened ("connect: Connection refused", "closed by server
  // with 4002", ...).
  virtual void OnClosed(std::string_view error) = 0;
};

struct DialRequest {
  std::string source_address;  // Bound before connecting; empty: the kernel's choice.
  std::string token;
  std::uint64_t ack_seq = 0;
};

class Network {
 public:
  // Parses the URL, resolves its host and sets up TLS. Throws std::runtime_error on failure:
  // a bench that cannot reach its target has nothing to do.
  explicit Network(const NetworkOptions& options);

  // Stops the threads (if Stop() has not) and drops every connection without closing it.
  ~Network();

  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  std::size_t threads() const;

  // Starts the threads; they run until Stop() or the destructor.
  void Start();

  // Stops and joins the threads; nothing runs on them afterwards. A caller that holds
  // connections must let go of them after this and before the destructor, which tears down
  // what the connections are built on.
  void Stop();

  // Runs `fn` on `thread`.
  void Post(std::size_t thread, std::function<void()> fn);

  // Runs `fn` on `thread` every `period`, the first time one period from now, until it returns
  // false. Ticks keep to a fixed schedule: a late tick does not push the next ones back.
  void Every(std::size_t thread, std::chrono::nanoseconds period, std::function<bool()> fn);

  // Opens a connection: TCP, TLS for wss, the WebSocket upgrade, then sends `connect` with the
  // request's token and ack_seq. Must be called on `thread`. Frames and the end go to `handler`.
  std::shared_ptr<Connection> Dial(std::size_t thread, const DialRequest& request,
                                   ConnectionHandler* handler);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::bench
