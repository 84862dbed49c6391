// Chat through a real parleyd: delivery, receipts, dedup, redelivery, sessions, typing.
// Every test runs once with JSON text frames and once with protobuf binary frames.

#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "server_process.h"
#include "test_client.h"

namespace parley::testing {
namespace {

class ChatTest : public ::testing::TestWithParam<WireFormat> {
 protected:
  void SetUp() override { server_.Start(); }

  TestClient NewClient() { return TestClient(server_, GetParam()); }

  // Connects `user` once and leaves, so that she exists.
  void Register(const std::string& user) {
    TestClient client = NewClient();
    ASSERT_TRUE(client.Connect(user)) << client.last_error();
    client.connection().Close();
  }

  ServerProcess server_;
};

bool IsItem(const v1::ServerFrame& frame) { return frame.has_item(); }
bool IsCaughtUp(const v1::ServerFrame& frame) { return frame.has_caught_up(); }

TEST_P(ChatTest, ConnectAnswersConnectedAndCaughtUp) {
  TestClient alice = NewClient();
  auto connected = alice.Connect("alice");
  ASSERT_TRUE(connected) << alice.last_error();
  EXPECT_EQ(connected->user(), "alice");
  EXPECT_EQ(connected->pending(), 0u);
  EXPECT_GT(connected->server_time_ms(), 0);

  auto caught_up = alice.NextMatching(IsCaughtUp);
  ASSERT_TRUE(caught_up) << alice.last_error();
  EXPECT_EQ(caught_up->caught_up().seq(), 0u);
}

TEST_P(ChatTest, RealTimeDeliveryWithBothReceipts) {
  TestClient alice = NewClient();
  TestClient bob = NewClient();
  ASSERT_TRUE(alice.Connect("alice")) << alice.last_error();
  ASSERT_TRUE(bob.Connect("bob")) << bob.last_error();
  ASSERT_TRUE(bob.NextMatching(IsCaughtUp));

  auto ack = alice.SendText("bob", "m1", "hello bob");
  ASSERT_TRUE(ack && ack->has_send_ack()) << Describe(ack);
  EXPECT_EQ(ack->send_ack().client_msg_id(), "m1");
  EXPECT_FALSE(ack->send_ack().duplicate());

  auto item = bob.NextMatching(IsItem);
  ASSERT_TRUE(item) << bob.last_error();
  const v1::Message& message = item->item().message();
  EXPECT_EQ(message.from(), "alice");
  EXPECT_EQ(message.to(), "bob");
  EXPECT_EQ(message.text(), "hello bob");
  EXPECT_EQ(message.client_msg_id(), "m1");
  EXPECT_EQ(message.sent_at_ms(), ack->send_ack().sent_at_ms());
  EXPECT_EQ(item->request_id(), 0u);

  ASSERT_TRUE(bob.Ack(item->item().seq()));
  auto delivered = alice.NextMatching(IsItem);
  ASSERT_TRUE(delivered) << alice.last_error();
  EXPECT_EQ(delivered->item().receipt().status(), v1::Receipt::DELIVERED);
  EXPECT_EQ(delivered->item().receipt().peer(), "bob");
  EXPECT_EQ(delivered->item().receipt().client_msg_id(), "m1");

  v1::ClientFrame read;
  read.mutable_mark_read()->set_peer("alice");
  read.mutable_mark_read()->add_client_msg_ids("m1");
  ASSERT_TRUE(bob.Send(read));
  auto read_receipt = alice.NextMatching(IsItem);
  ASSERT_TRUE(read_receipt) << alice.last_error();
  EXPECT_EQ(read_receipt->item().receipt().status(), v1::Receipt::READ);
  EXPECT_EQ(read_receipt->item().receipt().client_msg_id(), "m1");
  EXPECT_GT(read_receipt->item().seq(), delivered->item().seq());
}

TEST_P(ChatTest, MessagesFromOneSenderArriveInOrder) {
  TestClient alice = NewClient();
  TestClient bob = NewClient();
  ASSERT_TRUE(alice.Connect("alice"));
  ASSERT_TRUE(bob.Connect("bob"));

  constexpr int kCount = 300;  // More than one delivery window.
  for (int i = 0; i < kCount; ++i) {
    v1::ClientFrame frame;
    frame.mutable_send()->set_to("bob");
    frame.mutable_send()->set_client_msg_id("m" + std::to_string(i));
    frame.mutable_send()->set_text("text " + std::to_string(i));
    ASSERT_TRUE(alice.Send(frame));
  }
  ASSERT_TRUE(bob.CollectItems(kCount, /*ack=*/true)) << bob.items().size();
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(bob.items()[i].message().client_msg_id(), "m" + std::to_string(i));
    if (i > 0) {
      EXPECT_GT(bob.items()[i].seq(), bob.items()[i - 1].seq());
    }
  }
}

TEST_P(ChatTest, ResendIsDeduplicatedAlsoAcrossReconnects) {
  Register("bob");
  std::int64_t first_sent_at = 0;
  {
    TestClient alice = NewClient();
    ASSERT_TRUE(alice.Connect("alice"));
    auto first = alice.SendText("bob", "same-id", "once");
    ASSERT_TRUE(first && first->has_send_ack()) << Describe(first);
    first_sent_at = first->send_ack().sent_at_ms();

    auto again = alice.SendText("bob", "same-id", "once");
    ASSERT_TRUE(again && again->has_send_ack()) << Describe(again);
    EXPECT_TRUE(again->send_ack().duplicate());
    EXPECT_EQ(again->send_ack().sent_at_ms(), first_sent_at);
  }
  {
    TestClient alice = NewClient();
    ASSERT_TRUE(alice.Connect("alice"));
    auto later = alice.SendText("bob", "same-id", "once");
    ASSERT_TRUE(later && later->has_send_ack()) << Describe(later);
    EXPECT_TRUE(later->send_ack().duplicate());
    EXPECT_EQ(later->send_ack().sent_at_ms(), first_sent_at);
  }

  TestClient bob = NewClient();
  auto connected = bob.Connect("bob");
  ASSERT_TRUE(connected);
  EXPECT_EQ(connected->pending(), 1u);
  ASSERT_TRUE(bob.NextMatching(IsCaughtUp));
  ASSERT_EQ(bob.items().size(), 1u);
  EXPECT_EQ(bob.items()[0].message().text(), "once");
}

TEST_P(ChatTest, UnacknowledgedItemsComeAgainWithTheSameSeq) {
  Register("bob");
  TestClient alice = NewClient();
  ASSERT_TRUE(alice.Connect("alice"));
  for (int i = 0; i < 5; ++i) {
    auto ack = alice.SendText("bob", "u" + std::to_string(i), "hi");
    ASSERT_TRUE(ack && ack->has_send_ack()) << Describe(ack);
  }

  std::vector<std::uint64_t> first_seqs;
  {
    TestClient bob = NewClient();
    ASSERT_TRUE(bob.Connect("bob"));
    ASSERT_TRUE(bob.CollectItems(5, /*ack=*/false));
    for (const auto& item : bob.items()) first_seqs.push_back(item.seq());
    bob.connection().Close();  // Without acknowledging anything.
  }
  {
    TestClient bob = NewClient();
    auto connected = bob.Connect("bob");
    ASSERT_TRUE(connected);
    EXPECT_EQ(connected->pending(), 5u);
    ASSERT_TRUE(bob.CollectItems(5, /*ack=*/false));
    for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(bob.items()[i].seq(), first_seqs[i]);
  }
  {
    // Having processed the first three, the client says so in connect.
    TestClient bob = NewClient();
    auto connected = bob.Connect("bob", first_seqs[2]);
    ASSERT_TRUE(connected);
    EXPECT_EQ(connected->pending(), 2u);
    auto caught_up = bob.NextMatching(IsCaughtUp);
    ASSERT_TRUE(caught_up);
    ASSERT_EQ(bob.items().size(), 2u);
    EXPECT_EQ(bob.items()[0].seq(), first_seqs[3]);
    EXPECT_EQ(caught_up->caught_up().seq(), first_seqs[4]);
  }
}

TEST_P(ChatTest, AcknowledgedItemsAreNotDeliveredAgain) {
  TestClient alice = NewClient();
  TestClient bob = NewClient();
  ASSERT_TRUE(alice.Connect("alice"));
  ASSERT_TRUE(bob.Connect("bob"));
  ASSERT_TRUE(alice.SendText("bob", "a1", "one"));
  ASSERT_TRUE(bob.CollectItems(1, /*ack=*/true));
  bob.connection().Close();

  TestClient bob_again = NewClient();
  auto connected = bob_again.Connect("bob");
  ASSERT_TRUE(connected);
  EXPECT_EQ(connected->pending(), 0u);
  ASSERT_TRUE(bob_again.NextMatching(IsCaughtUp));
  EXPECT_TRUE(bob_again.items().empty());
}

TEST_P(ChatTest, NewSessionClosesTheOlderWith4002) {
  TestClient first = NewClient();
  ASSERT_TRUE(first.Connect("alice"));
  TestClient second = NewClient();
  ASSERT_TRUE(second.Connect("alice"));

  EXPECT_EQ(first.WaitClosed(), 4002);

  // The newer session is the one that gets live items.
  TestClient bob = NewClient();
  ASSERT_TRUE(bob.Connect("bob"));
  ASSERT_TRUE(bob.SendText("alice", "x", "to the newer one"));
  auto item = second.NextMatching(IsItem);
  ASSERT_TRUE(item) << second.last_error();
  EXPECT_EQ(item->item().message().text(), "to the newer one");
}

TEST_P(ChatTest, TypingIsRelayedOnlyToAnOnlinePeerAndNeverStored) {
  Register("bob");
  TestClient alice = NewClient();
  ASSERT_TRUE(alice.Connect("alice"));
  ASSERT_TRUE(alice.NextMatching(IsCaughtUp));

  v1::ClientFrame typing;
  typing.mutable_typing()->set_to("bob");
  ASSERT_TRUE(alice.Send(typing));  // Bob is offline: dropped.

  TestClient bob = NewClient();
  auto connected = bob.Connect("bob");
  ASSERT_TRUE(connected);
  EXPECT_EQ(connected->pending(), 0u);
  ASSERT_TRUE(bob.NextMatching(IsCaughtUp));

  ASSERT_TRUE(alice.Send(typing));
  auto relayed = bob.NextMatching([](const v1::ServerFrame& f) { return f.has_typing(); });
  ASSERT_TRUE(relayed) << bob.last_error();
  EXPECT_EQ(relayed->typing().from(), "alice");
  EXPECT_EQ(relayed->request_id(), 0u);
}

TEST_P(ChatTest, PingIsAnsweredWithPongAndTheRequestId) {
  TestClient alice = NewClient();
  ASSERT_TRUE(alice.Connect("alice"));
  v1::ClientFrame ping;
  ping.set_request_id(77);
  ping.mutable_ping();
  ASSERT_TRUE(alice.Send(ping));
  auto pong = alice.NextMatching([](const v1::ServerFrame& f) { return f.has_pong(); });
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->request_id(), 77u);
}

TEST_P(ChatTest, SendToSomeoneWhoNeverConnectedIsUnknownRecipient) {
  TestClient alice = NewClient();
  ASSERT_TRUE(alice.Connect("alice"));
  auto reply = alice.SendText("nobody", "n1", "hello?");
  ASSERT_TRUE(reply && reply->has_error()) << Describe(reply);
  EXPECT_EQ(reply->error().code(), v1::Error::UNKNOWN_RECIPIENT);
  EXPECT_EQ(reply->error().client_msg_id(), "n1");
}

TEST_P(ChatTest, SigtermClosesSessionsWith1001AndExitsZero) {
  TestClient alice = NewClient();
  ASSERT_TRUE(alice.Connect("alice"));
  ASSERT_TRUE(alice.NextMatching(IsCaughtUp));
  server_.Terminate();
  EXPECT_EQ(alice.WaitClosed(), 1001);
  EXPECT_EQ(server_.WaitForExit(), 0) << server_.Log();
}

INSTANTIATE_TEST_SUITE_P(BothForms, ChatTest,
                         ::testing::Values(WireFormat::kJson, WireFormat::kBinary), FormatName);

// The same chat over wss, with a certificate made for the test.
TEST(TlsChatTest, MessagesFlowOverWss) {
  ServerOptions options;
  options.tls = true;
  ServerProcess server(options);
  server.Start();
  TestClient alice(server, WireFormat::kJson);
  TestClient bob(server, WireFormat::kBinary);
  ASSERT_TRUE(alice.Connect("alice")) << alice.last_error();
  ASSERT_TRUE(bob.Connect("bob")) << bob.last_error();
  auto ack = alice.SendText("bob", "t1", "over TLS");
  ASSERT_TRUE(ack && ack->has_send_ack()) << Describe(ack);
  auto item = bob.NextMatching(IsItem);
  ASSERT_TRUE(item) << bob.last_error();
  EXPECT_EQ(item->item().message().text(), "over TLS");
}

// Backlogs of long messages: a whole window goes out at once, far more than one burst of
// writes holds and more than the socket takes at once. Over ws and over wss.
class BacklogTest : public ::testing::TestWithParam<bool> {
 protected:
  static constexpr int kMessages = 600;

  void SetUp() override {
    ServerOptions options;
    options.tls = GetParam();
    options.limits_yaml = "  send_rate_per_s: 10000\n  frames_per_s: 10000\n";
    server_.emplace(options);
    server_->Start();
  }

  static std::string TextOf(int i) {
    std::string text = std::to_string(i) + ":";
    while (text.size() < 1900) text += "\xc3\xa9";  // 'é': two bytes, one character.
    return text;
  }

  // Bob exists and finds kMessages long messages from alice waiting.
  void FillBobsMailbox() {
    {
      TestClient bob(*server_, WireFormat::kBinary);
      ASSERT_TRUE(bob.Connect("bob")) << bob.last_error();
    }
    TestClient alice(*server_, WireFormat::kJson);
    ASSERT_TRUE(alice.Connect("alice")) << alice.last_error();
    for (int i = 0; i < kMessages; ++i) {
      auto ack = alice.SendText("bob", "long" + std::to_string(i), TextOf(i));
      ASSERT_TRUE(ack && ack->has_send_ack()) << i << ": " << Describe(ack);
    }
  }

  std::optional<ServerProcess> server_;
};

// Every item arrives intact and in order, and SIGTERM still closes with 1001.
TEST_P(BacklogTest, ABacklogOfLongMessagesDrainsInOrder) {
  ASSERT_NO_FATAL_FAILURE(FillBobsMailbox());

  TestClient bob(*server_, WireFormat::kBinary);
  ASSERT_TRUE(bob.Connect("bob")) << bob.last_error();
  ASSERT_TRUE(bob.CollectItems(kMessages, true, 60s)) << bob.last_error();
  for (int i = 0; i < kMessages; ++i) {
    const v1::Message& message = bob.items()[i].message();
    ASSERT_EQ(message.client_msg_id(), "long" + std::to_string(i));
    ASSERT_EQ(message.text(), TextOf(i));
  }

  EXPECT_EQ(server_->Stop(), 0);
  EXPECT_EQ(bob.WaitClosed(), 1001);
}

// A frame above the size limit while the server is in the middle of writing a window: the
// close frame the server owes still goes out after what was written before it, and nothing
// that was not acknowledged is lost.
TEST_P(BacklogTest, AFrameAboveTheLimitDuringABacklogStillCloses1009) {
  ASSERT_NO_FATAL_FAILURE(FillBobsMailbox());
  {
    TestClient bob(*server_, WireFormat::kBinary);
    ASSERT_TRUE(bob.Connect("bob")) << bob.last_error();
    ASSERT_TRUE(bob.SendRaw(std::string(70 * 1024, 'x'), false));  // The limit is 64 KiB.
    EXPECT_EQ(bob.WaitClosed(30s), 1009) << server_->Log();
  }

  TestClient bob(*server_, WireFormat::kBinary);
  ASSERT_TRUE(bob.Connect("bob")) << bob.last_error();
  ASSERT_TRUE(bob.CollectItems(kMessages, true, 60s)) << bob.last_error();
  EXPECT_EQ(bob.items().back().message().client_msg_id(), "long" + std::to_string(kMessages - 1));
}

INSTANTIATE_TEST_SUITE_P(WsAndWss, BacklogTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? std::string("Wss") : std::string("Ws");
                         });

}  // namespace
}  // namespace parley::testing
