// Bad input, each answered as the protocol says, while another user's session goes on
// undisturbed.

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include "server_process.h"
#include "test_client.h"

namespace parley::testing {
namespace {

std::string Base64Url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : in) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += kAlphabet[(bits >> count) & 0x3F];
    }
  }
  if (count > 0) out += kAlphabet[(bits << (6 - count)) & 0x3F];
  return out;
}

std::string Sign(std::string_view input, std::string_view secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest, &length);
  return Base64Url(std::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string Forge(std::string_view header, std::string_view payload, std::string_view secret) {
  const std::string signing_input = Base64Url(header) + "." + Base64Url(payload);
  return signing_input + "." + Sign(signing_input, secret);
}

class BadInputTest : public ::testing::TestWithParam<WireFormat> {
 protected:
  void SetUp() override {
    server_.Start();
    ASSERT_TRUE(carol_.Connect("carol")) << carol_.last_error();
    ASSERT_TRUE(dave_.Connect("dave")) << dave_.last_error();
  }

  // The bystanders' session still works: a message from carol reaches dave.
  void ExpectBystandersUndisturbed() {
    const std::string id = "b" + std::to_string(++bystander_messages_);
    auto ack = carol_.SendText("dave", id, "still here");
    ASSERT_TRUE(ack && ack->has_send_ack()) << Describe(ack);
    auto item = dave_.NextMatching(
        [&](const auto& f) { return f.has_item() && f.item().message().client_msg_id() == id; });
    ASSERT_TRUE(item) << dave_.last_error();
    ASSERT_TRUE(dave_.Ack(item->item().seq()));  // Keeps dave's small mailbox from filling.
  }

  TestClient NewClient() { return TestClient(server_, GetParam()); }

  std::optional<std::uint16_t> ConnectWithToken(const std::string& token) {
    TestClient client = NewClient();
    if (!client.Open()) return std::nullopt;
    v1::ClientFrame frame;
    frame.mutable_connect()->set_token(token);
    client.Send(frame);
    return client.WaitClosed();
  }

  static ServerOptions Options() {
    ServerOptions options;
    options.limits_yaml =
        "  send_rate_per_s: 50\n  connect_timeout_s: 1\n  mailbox_max_items: 5\n"
        "  max_frame_bytes: 4096\n  violations_before_close: 10\n";
    return options;
  }

  ServerProcess server_{Options()};
  TestClient carol_{server_, WireFormat::kJson};
  TestClient dave_{server_, WireFormat::kBinary};
  int bystander_messages_ = 0;
};

TEST_P(BadInputTest, ForgedAndBrokenTokensClose4001) {
  const std::string secret = server_.secret();
  const std::int64_t exp = std::time(nullptr) + 3600;
  const std::string claims = R"({"sub":"mallory","exp":)" + std::to_string(exp) + "}";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"garbage", "not-a-token"},
      {"wrong secret",
       Forge(R"({"alg":"HS256","typ":"JWT"})", claims, "another-secret-of-sufficient-length-000")},
      {"alg none", Base64Url(R"({"alg":"none"})") + "." + Base64Url(claims) + "."},
      {"HS512 header", Forge(R"({"alg":"HS512"})", claims, secret)},
      {"expired", Forge(R"({"alg":"HS256"})", R"({"sub":"mallory","exp":1000})", secret)},
      {"no exp", Forge(R"({"alg":"HS256"})", R"({"sub":"mallory"})", secret)},
      {"no sub", Forge(R"({"alg":"HS256"})", R"({"exp":)" + std::to_string(exp) + "}", secret)},
      {"bad sub",
       Forge(R"({"alg":"HS256"})", R"({"sub":"a b","exp":)" + std::to_string(exp) + "}", secret)},
  };
  for (const auto& [name, token] : cases) {
    EXPECT_EQ(ConnectWithToken(token), 4001) << name;
  }
  // And the forging itself is right: the same recipe with the real secret gets in.
  TestClient genuine = NewClient();
  ASSERT_TRUE(genuine.Open());
  v1::ClientFrame frame;
  frame.mutable_connect()->set_token(Forge(R"({"alg":"HS256"})", claims, secret));
  ASSERT_TRUE(genuine.Send(frame));
  auto reply = genuine.Next();
  ASSERT_TRUE(reply && reply->has_connected()) << Describe(reply);
  ExpectBystandersUndisturbed();
}

TEST_P(BadInputTest, AnythingButConnectFirstCloses4001) {
  TestClient client = NewClient();
  ASSERT_TRUE(client.Open());
  v1::ClientFrame ping;
  ping.mutable_ping();
  ASSERT_TRUE(client.Send(ping));
  EXPECT_EQ(client.WaitClosed(), 4001);
  ExpectBystandersUndisturbed();
}

TEST_P(BadInputTest, NoConnectWithinTheTimeoutCloses4001) {
  TestClient client = NewClient();
  ASSERT_TRUE(client.Open());
  EXPECT_EQ(client.WaitClosed(5s), 4001);
  ExpectBystandersUndisturbed();
}

TEST_P(BadInputTest, FrameAboveTheLimitCloses1009) {
  TestClient client = NewClient();
  ASSERT_TRUE(client.Connect("erin"));
  ASSERT_TRUE(client.SendRaw(std::string(5000, 'x'), GetParam() == WireFormat::kJson));
  EXPECT_EQ(client.WaitClosed(), 1009);
  ExpectBystandersUndisturbed();
}

TEST_P(BadInputTest, UndecodableFrameGetsBadRequestAndTheConnectionStays) {
  TestClient client = NewClient();
  ASSERT_TRUE(client.Connect("erin"));
  const bool text = GetParam() == WireFormat::kJson;
  ASSERT_TRUE(client.SendRaw(text ? "{not json" : "\xff\xff\xff\xff", text));
  auto reply = client.NextMatching([](const auto& f) { return f.has_error(); });
  ASSERT_TRUE(reply) << client.last_error();
  EXPECT_EQ(reply->error().code(), v1::Error::BAD_REQUEST);

  v1::ClientFrame ping;
  ping.set_request_id(5);
  ping.mutable_ping();
  ASSERT_TRUE(client.Send(ping));
  ASSERT_TRUE(client.NextMatching([](const auto& f) { return f.has_pong(); }));
  ExpectBystandersUndisturbed();
}

TEST_P(BadInputTest, GoingOnSendingUndecodableFramesCloses4003) {
  TestClient client = NewClient();
  ASSERT_TRUE(client.Connect("erin"));
  const bool text = GetParam() == WireFormat::kJson;
  for (int i = 0; i < 20; ++i) {
    if (!client.SendRaw(text ? "[1,2" : "\xff\xff", text)) break;
  }
  EXPECT_EQ(client.WaitClosed(), 4003);
  ExpectBystandersUndisturbed();
}

TEST_P(BadInputTest, InvalidUtf8InABinaryFrameIsBadRequest) {
  TestClient client(server_, WireFormat::kBinary);
  ASSERT_TRUE(client.Connect("erin"));
  // A ClientFrame whose send.text (field 3 of Send, field 3 of ClientFrame) is "\xC3\x28".
  const std::string send_body =
      std::string("\x0a\x01z\x12\x04", 5) + "dave" + std::string("\x1a\x02\xc3\x28", 4);
  const std::string frame =
      std::string("\x1a", 1) + static_cast<char>(send_body.size()) + send_body;
  ASSERT_TRUE(client.SendRaw(frame, false));
  auto reply = client.NextMatching([](const auto& f) { return f.has_error(); });
  ASSERT_TRUE(reply) << client.last_error();
  EXPECT_EQ(reply->error().code(), v1::Error::BAD_REQUEST);
  ExpectBystandersUndisturbed();
}

TEST_P(BadInputTest, TextLimitsAreEnforcedInCharactersNotBytes) {
  TestClient client = NewClient();
  ASSERT_TRUE(client.Connect("erin"));

  std::string thousand_euros;
  for (int i = 0; i < 1000; ++i) thousand_euros += "\xE2\x82\xAC";  // 3000 bytes, 1000 chars
  auto ok = client.SendText("dave", "t-ok", thousand_euros);
  ASSERT_TRUE(ok && ok->has_send_ack()) << Describe(ok);

  auto too_long = client.SendText("dave", "t-long", std::string(1001, 'a'));
  ASSERT_TRUE(too_long && too_long->has_error()) << Describe(too_long);
  EXPECT_EQ(too_long->error().code(), v1::Error::MESSAGE_TOO_LONG);
  EXPECT_EQ(too_long->error().client_msg_id(), "t-long");

  auto empty = client.SendText("dave", "t-empty", "");
  ASSERT_TRUE(empty && empty->has_error()) << Describe(empty);
  EXPECT_EQ(empty->error().code(), v1::Error::BAD_REQUEST);

  auto no_id = client.SendText("dave", "", "hi");
  ASSERT_TRUE(no_id && no_id->has_error()) << Describe(no_id);
  EXPECT_EQ(no_id->error().code(), v1::Error::BAD_REQUEST);
  ExpectBystandersUndisturbed();
}

TEST_P(BadInputTest, SendingTooFastIsRateLimited) {
  TestClient client = NewClient();
  ASSERT_TRUE(client.Connect("erin"));
  int limited = 0;
  for (int i = 0; i < 300 && limited == 0; ++i) {  // Burst is twice the rate of 50.
    // To someone unknown, so that only the rate limiter can say anything else.
    auto reply = client.SendText("ghost", "r" + std::to_string(i), "hi");
    ASSERT_TRUE(reply) << client.last_error();
    ASSERT_TRUE(reply->has_error()) << Describe(reply);
    if (reply->error().code() == v1::Error::RATE_LIMITED) ++limited;
  }
  EXPECT_EQ(limited, 1);
  ExpectBystandersUndisturbed();
}

TEST_P(BadInputTest, MailboxBeyondItsCapIsFull) {
  TestClient client = NewClient();
  ASSERT_TRUE(client.Connect("erin"));
  TestClient frank = NewClient();
  ASSERT_TRUE(frank.Connect("frank"));
  frank.connection().Close();

  for (int i = 0; i < 5; ++i) {
    auto reply = client.SendText("frank", "f" + std::to_string(i), "hi");
    ASSERT_TRUE(reply && reply->has_send_ack()) << Describe(reply);
  }
  auto full = client.SendText("frank", "f5", "one too many");
  ASSERT_TRUE(full && full->has_error()) << Describe(full);
  EXPECT_EQ(full->error().code(), v1::Error::MAILBOX_FULL);
  ExpectBystandersUndisturbed();
}

TEST_P(BadInputTest, MarkReadForAPeerWhoDoesNotExistIsUnknownRecipient) {
  TestClient client = NewClient();
  ASSERT_TRUE(client.Connect("erin"));
  v1::ClientFrame frame;
  frame.set_request_id(9);
  frame.mutable_mark_read()->set_peer("ghost");
  frame.mutable_mark_read()->add_client_msg_ids("x");
  ASSERT_TRUE(client.Send(frame));
  auto reply = client.NextMatching([](const auto& f) { return f.has_error(); });
  ASSERT_TRUE(reply) << client.last_error();
  EXPECT_EQ(reply->error().code(), v1::Error::UNKNOWN_RECIPIENT);
  EXPECT_EQ(reply->request_id(), 9u);
}

TEST_P(BadInputTest, SenderIsTheAuthenticatedUserNotAFieldOfTheFrame) {
  TestClient client = NewClient();
  ASSERT_TRUE(client.Connect("erin"));
  // A JSON frame that claims to be from carol: unknown fields are ignored.
  const std::string forged =
      R"({"send":{"to":"dave","clientMsgId":"spoof","text":"hi","from":"carol"}})";
  ASSERT_TRUE(client.SendRaw(forged, true));
  auto item = dave_.NextMatching(
      [](const auto& f) { return f.has_item() && f.item().message().client_msg_id() == "spoof"; });
  ASSERT_TRUE(item) << dave_.last_error();
  EXPECT_EQ(item->item().message().from(), "erin");
}

INSTANTIATE_TEST_SUITE_P(BothForms, BadInputTest,
                         ::testing::Values(WireFormat::kJson, WireFormat::kBinary), FormatName);

}  // namespace
}  // namespace parley::testing
