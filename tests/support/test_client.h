// TestClient: a ChatConnection with the steps tests repeat, each failing the test (through
// gtest assertions in the caller) by returning what it got instead of what it wanted.

#ifndef PARLEY_TESTS_SUPPORT_TEST_CLIENT_H_
#define PARLEY_TESTS_SUPPORT_TEST_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "parley/client/chat_connection.h"

#include "server_process.h"

namespace parley::testing {

using namespace std::chrono_literals;
using client::WireFormat;

class TestClient {
 public:
  TestClient(const ServerProcess& server, WireFormat format);

  // Opens the WebSocket (no frame sent). False with a message in last_error() on failure.
  bool Open();

  // Opens and authenticates as `user`; returns the `connected` frame, or nullopt.
  std::optional<v1::Connected> Connect(const std::string& user, std::uint64_t ack_seq = 0);

  // Sends `text` to `to`; returns the reply frame (send_ack or error), or nullopt.
  std::optional<v1::ServerFrame> SendText(const std::string& to, const std::string& client_msg_id,
                                          const std::string& text);

  // Sends a request and returns the reply carrying its request_id, or nullopt.
  std::optional<v1::ServerFrame> Request(v1::ClientFrame frame);

  std::optional<v1::ServerFrame> SetRetention(std::uint32_t history_days);
  std::optional<v1::ServerFrame> GetHistory(const std::string& peer, const std::string& cursor,
                                            std::uint32_t limit, std::int64_t before_ms = 0);

  bool Send(v1::ClientFrame frame);
  bool SendRaw(const std::string& payload, bool text) { return conn_.SendRaw(payload, text).ok(); }
  bool Ack(std::uint64_t seq);

  // The next frame within `timeout`, or nullopt (timeout or closed).
  std::optional<v1::ServerFrame> Next(std::chrono::milliseconds timeout = 5s);

  // Reads frames until one satisfies `want`; items met on the way are kept in items().
  std::optional<v1::ServerFrame> NextMatching(
      const std::function<bool(const v1::ServerFrame&)>& want,
      std::chrono::milliseconds timeout = 5s);

  // Reads until `count` items have arrived in total (acknowledging as it goes when `ack`).
  bool CollectItems(std::size_t count, bool ack, std::chrono::milliseconds timeout = 20s);

  // Waits for the server to close the connection; returns the close code (0: no close frame).
  std::optional<std::uint16_t> WaitClosed(std::chrono::milliseconds timeout = 5s);

  // True when nothing arrives for `quiet`.
  bool NothingWithin(std::chrono::milliseconds quiet);

  const std::vector<v1::Item>& items() const { return items_; }
  void ClearItems() { items_.clear(); }
  std::uint64_t next_request_id() { return ++request_id_; }
  client::ChatConnection& connection() { return conn_; }
  std::string last_error() const { return last_error_; }

 private:
  const ServerProcess& server_;
  client::ChatConnection conn_;
  std::vector<v1::Item> items_;
  std::uint64_t request_id_ = 0;
  std::string last_error_;
};

}  // namespace parley::testing

namespace parley::gateway {
// Lets gtest print a WireFormat parameter by name.
void PrintTo(WireFormat format, std::ostream* out);
}  // namespace parley::gateway

namespace parley::testing {

// "Json" or "Protobuf", for naming the instances of tests run in both forms.
std::string FormatName(const ::testing::TestParamInfo<WireFormat>& info);

// The name of a frame's body, for failure messages.
std::string Describe(const std::optional<v1::ServerFrame>& frame);

}  // namespace parley::testing

#endif  // PARLEY_TESTS_SUPPORT_TEST_CLIENT_H_
