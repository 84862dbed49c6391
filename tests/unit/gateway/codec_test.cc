#include "parley/gateway/codec.h"

#include <gtest/gtest.h>

namespace parley::gateway {
namespace {

TEST(CodecTest, JsonUsesLowerCamelCaseStringIntegersAndEnumNames) {
  v1::ServerFrame frame;
  frame.set_request_id(7);
  v1::Item* item = frame.mutable_item();
  item->set_seq(18446744073709551615ull);
  item->mutable_receipt()->set_client_msg_id("m1");
  item->mutable_receipt()->set_status(v1::Receipt::DELIVERED);
  item->mutable_receipt()->set_at_ms(1700000000000);

  const std::string json = EncodeServerFrame(frame, WireFormat::kJson);
  EXPECT_NE(json.find(R"("requestId":"7")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("seq":"18446744073709551615")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("clientMsgId":"m1")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("status":"DELIVERED")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("atMs":"1700000000000")"), std::string::npos) << json;
}

TEST(CodecTest, ClientFramesRoundTripInBothForms) {
  v1::ClientFrame frame;
  frame.set_request_id(42);
  frame.mutable_send()->set_to("bob");
  frame.mutable_send()->set_client_msg_id("c-1");
  frame.mutable_send()->set_text("h\xC3\xA9llo");

  for (WireFormat format : {WireFormat::kJson, WireFormat::kBinary}) {
    v1::ClientFrame decoded;
    ASSERT_TRUE(DecodeClientFrame(EncodeClientFrame(frame, format), format, &decoded).ok());
    EXPECT_EQ(decoded.SerializeAsString(), frame.SerializeAsString());
  }
}

TEST(CodecTest, JsonAcceptsIntegersAsNumbersOrStringsAndIgnoresUnknownFields) {
  v1::ClientFrame frame;
  ASSERT_TRUE(DecodeClientFrame(R"({"requestId": 5, "ack": {"seq": "12"}, "extra": [1]})",
                                WireFormat::kJson, &frame)
                  .ok());
  EXPECT_EQ(frame.request_id(), 5u);
  EXPECT_EQ(frame.ack().seq(), 12u);
}

TEST(CodecTest, JsonAcceptsSnakeCaseFieldNamesToo) {
  v1::ClientFrame frame;
  ASSERT_TRUE(DecodeClientFrame(R"({"mark_read": {"peer": "a", "client_msg_ids": ["x"]}})",
                                WireFormat::kJson, &frame)
                  .ok());
  EXPECT_EQ(frame.mark_read().client_msg_ids(0), "x");
}

TEST(CodecTest, RejectsFramesWithoutABody) {
  v1::ClientFrame frame;
  EXPECT_FALSE(DecodeClientFrame(R"({"requestId": "1"})", WireFormat::kJson, &frame).ok());
  EXPECT_FALSE(DecodeClientFrame("", WireFormat::kBinary, &frame).ok());
}

TEST(CodecTest, RejectsMalformedInput) {
  v1::ClientFrame frame;
  for (const char* json : {"", "{", "[]", "null", "42", R"({"send": 5})",
                           R"({"ack": {"seq": "-1"}})", R"({"send": {"text": "\ud800"}})"}) {
    EXPECT_FALSE(DecodeClientFrame(json, WireFormat::kJson, &frame).ok()) << json;
  }
  EXPECT_FALSE(DecodeClientFrame("\xff\xff\xff", WireFormat::kBinary, &frame).ok());
  // Field 3 (send) declared 100 bytes long with 2 present.
  EXPECT_FALSE(
      DecodeClientFrame(std::string("\x1a\x64\x0a\x00", 4), WireFormat::kBinary, &frame).ok());
}

TEST(CodecTest, RejectsInvalidUtf8InBinaryStrings) {
  // ClientFrame{send{text: "\xC3\x28"}}: field 3 (send) holding field 3 (text).
  const std::string frame_bytes("\x1a\x04\x1a\x02\xc3\x28", 6);
  v1::ClientFrame frame;
  EXPECT_FALSE(DecodeClientFrame(frame_bytes, WireFormat::kBinary, &frame).ok());
}

TEST(CodecTest, DeeplyNestedJsonIsRejectedWithoutCrashing) {
  std::string json;
  for (int i = 0; i < 100000; ++i) json += "{\"send\":";
  v1::ClientFrame frame;
  EXPECT_FALSE(DecodeClientFrame(json, WireFormat::kJson, &frame).ok());
}

}  // namespace
}  // namespace parley::gateway
