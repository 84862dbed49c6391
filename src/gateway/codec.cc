#include "parley/gateway/codec.h"

#include <limits>

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

namespace parley::gateway {

namespace {

namespace pbutil = google::protobuf::util;

Status ParseBinary(std::string_view payload, google::protobuf::Message* message) {
  if (payload.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return Status::InvalidArgument("frame too large");
  }
  if (!message->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Status::InvalidArgument("undecodable protobuf frame");
  }
  return Status::Ok();
}

Status ParseJson(std::string_view payload, google::protobuf::Message* message) {
  pbutil::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  const auto status = pbutil::JsonStringToMessage(
      google::protobuf::StringPiece(payload.data(), payload.size()), message, options);
  if (!status.ok()) return Status::InvalidArgument("undecodable JSON frame");
  return Status::Ok();
}

Status Parse(std::string_view payload, WireFormat format, google::protobuf::Message* message) {
  message->Clear();
  return format == WireFormat::kBinary ? ParseBinary(payload, message)
                                       : ParseJson(payload, message);
}

std::string Serialize(const google::protobuf::Message& message, WireFormat format) {
  std::string out;
  if (format == WireFormat::kBinary) {
    message.SerializeToString(&out);
    return out;
  }
  pbutil::JsonPrintOptions options;
  options.preserve_proto_field_names = false;  // lowerCamelCase, as the mapping prescribes
  const auto status = pbutil::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    // Only possible for messages we built with invalid UTF-8, which validation prevents.
    spdlog::error("codec: cannot print JSON: {}", status.ToString());
    out = "{}";
  }
  return out;
}

void LogProtobufMessage(google::protobuf::LogLevel level, const char* filename, int line,
                        const std::string& message) {
  if (level >= google::protobuf::LOGLEVEL_FATAL) {
    spdlog::critical("protobuf: {}:{}: {}", filename, line, message);
    return;
  }
  spdlog::debug("protobuf: {}", message);
}

}  // namespace

Status DecodeClientFrame(std::string_view payload, WireFormat format, v1::ClientFrame* frame) {
  if (Status status = Parse(payload, format, frame); !status.ok()) return status;
  if (frame->body_case() == v1::ClientFrame::BODY_NOT_SET) {
    return Status::InvalidArgument("frame has no body");
  }
  return Status::Ok();
}

std::string EncodeServerFrame(const v1::ServerFrame& frame, WireFormat format) {
  return Serialize(frame, format);
}

Status DecodeServerFrame(std::string_view payload, WireFormat format, v1::ServerFrame* frame) {
  return Parse(payload, format, frame);
}

std::string EncodeClientFrame(const v1::ClientFrame& frame, WireFormat format) {
  return Serialize(frame, format);
}

void RouteProtobufLogs() { google::protobuf::SetLogHandler(&LogProtobufMessage); }

}  // namespace parley::gateway
