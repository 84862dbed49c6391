// Codec: frames on the wire <-> parley.v1 messages.
//
// Binary WebSocket frames carry the protobuf encoding; text frames carry the canonical proto3
// JSON mapping (lowerCamelCase names, 64-bit integers as strings, enums by name, unknown
// fields ignored). Both directions are here so that the server, the reference client and the
// tests share one implementation.

#ifndef PARLEY_GATEWAY_CODEC_H_
#define PARLEY_GATEWAY_CODEC_H_

#include <string>
#include <string_view>

#include "parley/common/status.h"
#include "parley/v1/parley.pb.h"

namespace parley::gateway {

enum class WireFormat { kBinary, kJson };

// Decodes one client frame. Fails (InvalidArgument, with a short reason fit for an Error
// frame) on bytes that are not a ClientFrame or a frame with no body.
Status DecodeClientFrame(std::string_view payload, WireFormat format, v1::ClientFrame* frame);

std::string EncodeServerFrame(const v1::ServerFrame& frame, WireFormat format);

// The client's side of the same mapping.
Status DecodeServerFrame(std::string_view payload, WireFormat format, v1::ServerFrame* frame);
std::string EncodeClientFrame(const v1::ClientFrame& frame, WireFormat format);

// Protobuf logs malformed input (invalid UTF-8 in a string field, for one) on its own; this
// routes those lines to our logger at debug level instead of stderr. Call once at start-up.
void RouteProtobufLogs();

}  // namespace parley::gateway

#endif  // PARLEY_GATEWAY_CODEC_H_
