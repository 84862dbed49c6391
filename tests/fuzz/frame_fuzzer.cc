// libFuzzer target: the client-frame decoder in both wire forms.
//
// The first byte picks the form (even: protobuf, odd: JSON); the rest is the frame. Whatever
// decodes must survive a round trip through the encoder unchanged, and every string in it
// must be countable as UTF-8, as the session will do.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "parley/common/utf8.h"
#include "parley/gateway/codec.h"

namespace {

using parley::gateway::WireFormat;

void CheckStrings(const parley::v1::ClientFrame& frame) {
  switch (frame.body_case()) {
    case parley::v1::ClientFrame::kSend:
      parley::CountUtf8Chars(frame.send().text());
      parley::CountUtf8Chars(frame.send().client_msg_id());
      break;
    case parley::v1::ClientFrame::kMarkRead:
      for (const auto& id : frame.mark_read().client_msg_ids()) parley::CountUtf8Chars(id);
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  parley::gateway::RouteProtobufLogs();  // Keep the fuzzer's output readable.
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const WireFormat format = (data[0] & 1) != 0 ? WireFormat::kJson : WireFormat::kBinary;
  const std::string_view payload(reinterpret_cast<const char*>(data + 1), size - 1);

  parley::v1::ClientFrame frame;
  if (!parley::gateway::DecodeClientFrame(payload, format, &frame).ok()) return 0;
  CheckStrings(frame);

  parley::v1::ClientFrame again;
  const std::string encoded = parley::gateway::EncodeClientFrame(frame, format);
  if (!parley::gateway::DecodeClientFrame(encoded, format, &again).ok()) std::abort();
  if (again.SerializeAsString() != frame.SerializeAsString()) std::abort();
  return 0;
}
