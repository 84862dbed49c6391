#include "test_client.h"

#include <google/protobuf/text_format.h>

namespace parley::testing {

namespace {

client::ConnectionOptions OptionsFor(const ServerProcess& server, WireFormat format) {
  client::ConnectionOptions options;
  options.format = format;
  options.ca_file = server.ca_file().string();
  return options;
}

}  // namespace

TestClient::TestClient(const ServerProcess& server, WireFormat format)
    : server_(server), conn_(OptionsFor(server, format)) {}

bool TestClient::Open() {
  Status status = conn_.Open(server_.url());
  last_error_ = status.ToString();
  return status.ok();
}

std::optional<v1::Connected> TestClient::Connect(const std::string& user, std::uint64_t ack_seq) {
  if (!Open()) return std::nullopt;
  v1::ClientFrame frame;
  frame.set_request_id(next_request_id());
  frame.mutable_connect()->set_token(server_.Token(user));
  frame.mutable_connect()->set_ack_seq(ack_seq);
  frame.mutable_connect()->set_client("parley-tests");
  if (!Send(frame)) return std::nullopt;
  auto reply = Next();
  if (!reply || reply->body_case() != v1::ServerFrame::kConnected) {
    last_error_ = "expected connected, got " + Describe(reply);
    return std::nullopt;
  }
  return reply->connected();
}

std::optional<v1::ServerFrame> TestClient::SendText(const std::string& to,
                                                    const std::string& client_msg_id,
                                                    const std::string& text) {
  v1::ClientFrame frame;
  const std::uint64_t id = next_request_id();
  frame.set_request_id(id);
  frame.mutable_send()->set_to(to);
  frame.mutable_send()->set_client_msg_id(client_msg_id);
  frame.mutable_send()->set_text(text);
  if (!Send(frame)) return std::nullopt;
  return NextMatching([id](const v1::ServerFrame& f) { return f.request_id() == id; });
}

std::optional<v1::ServerFrame> TestClient::Request(v1::ClientFrame frame) {
  const std::uint64_t id = next_request_id();
  frame.set_request_id(id);
  if (!Send(frame)) return std::nullopt;
  return NextMatching([id](const v1::ServerFrame& f) { return f.request_id() == id; });
}

std::optional<v1::ServerFrame> TestClient::SetRetention(std::uint32_t history_days) {
  v1::ClientFrame frame;
  frame.mutable_set_retention()->set_history_days(history_days);
  return Request(frame);
}

std::optional<v1::ServerFrame> TestClient::GetHistory(const std::string& peer,
                                                      const std::string& cursor,
                                                      std::uint32_t limit, std::int64_t before_ms) {
  v1::ClientFrame frame;
  v1::GetHistory* request = frame.mutable_get_history();
  request->set_peer(peer);
  request->set_cursor(cursor);
  request->set_limit(limit);
  request->set_before_ms(before_ms);
  return Request(frame);
}

bool TestClient::Send(v1::ClientFrame frame) {
  Status status = conn_.Send(frame);
  last_error_ = status.ToString();
  return status.ok();
}

bool TestClient::Ack(std::uint64_t seq) {
  v1::ClientFrame frame;
  frame.mutable_ack()->set_seq(seq);
  return Send(frame);
}

std::optional<v1::ServerFrame> TestClient::Next(std::chrono::milliseconds timeout) {
  auto frame = conn_.Read(timeout);
  if (!frame.ok()) {
    last_error_ = frame.status().ToString();
    return std::nullopt;
  }
  return std::move(frame).value();
}

std::optional<v1::ServerFrame> TestClient::NextMatching(
    const std::function<bool(const v1::ServerFrame&)>& want, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto frame = Next(std::max(left, std::chrono::milliseconds(1)));
    if (!frame) return std::nullopt;
    if (want(*frame)) return frame;
    if (frame->has_item()) items_.push_back(frame->item());
  }
  return std::nullopt;
}

bool TestClient::CollectItems(std::size_t count, bool ack, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (items_.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto frame = Next(std::chrono::milliseconds(500));
    if (!frame) {
      if (last_error_.find("timeout") != std::string::npos) continue;
      return false;
    }
    if (!frame->has_item()) continue;
    items_.push_back(frame->item());
    if (ack && !Ack(frame->item().seq())) return false;
  }
  return items_.size() >= count;
}

std::optional<std::uint16_t> TestClient::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto frame = conn_.Read(std::chrono::milliseconds(100));
    if (!frame.ok() && frame.status().IsNotFound()) return conn_.close_code();
  }
  return std::nullopt;
}

bool TestClient::NothingWithin(std::chrono::milliseconds quiet) {
  auto frame = conn_.Read(quiet);
  return !frame.ok() && frame.status().code() == Status::Code::kUnavailable;
}

std::string FormatName(const ::testing::TestParamInfo<WireFormat>& info) {
  return info.param == WireFormat::kJson ? "Json" : "Protobuf";
}

std::string Describe(const std::optional<v1::ServerFrame>& frame) {
  if (!frame) return "nothing";
  std::string text;
  google::protobuf::TextFormat::PrintToString(*frame, &text);
  return text.empty() ? "an empty frame" : text;
}

}  // namespace parley::testing

namespace parley::gateway {

void PrintTo(WireFormat format, std::ostream* out) {
  *out << (format == WireFormat::kJson ? "JSON" : "protobuf");
}

}  // namespace parley::gateway
