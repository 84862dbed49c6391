// What survives a restart and a crash: mailboxes, seq counters, dedup records, and every
// message that was acknowledged to its sender.

#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "server_process.h"
#include "test_client.h"

namespace parley::testing {
namespace {

void Register(const ServerProcess& server, const std::string& user) {
  TestClient client(server, WireFormat::kBinary);
  ASSERT_TRUE(client.Connect(user)) << client.last_error();
  client.connection().Close();
}

TEST(DurabilityTest, OfflineBacklogOf1200SurvivesARestartInOrder) {
  ServerProcess server;
  server.Start();
  Register(server, "bob");

  constexpr int kCount = 1200;
  {
    TestClient alice(server, WireFormat::kBinary);
    ASSERT_TRUE(alice.Connect("alice"));
    for (int i = 0; i < kCount; ++i) {
      v1::ClientFrame frame;
      frame.set_request_id(static_cast<std::uint64_t>(i + 1));
      frame.mutable_send()->set_to("bob");
      frame.mutable_send()->set_client_msg_id("m" + std::to_string(i));
      frame.mutable_send()->set_text("message " + std::to_string(i));
      ASSERT_TRUE(alice.Send(frame));
    }
    int acked = 0;
    while (acked < kCount) {
      auto reply = alice.NextMatching([](const auto& f) { return f.request_id() != 0; }, 10s);
      ASSERT_TRUE(reply) << alice.last_error();
      ASSERT_TRUE(reply->has_send_ack()) << Describe(reply);
      ++acked;
    }
  }

  ASSERT_EQ(server.Stop(), 0) << server.Log();
  server.Start();

  TestClient bob(server, WireFormat::kJson);
  auto connected = bob.Connect("bob");
  ASSERT_TRUE(connected) << bob.last_error();
  EXPECT_EQ(connected->pending(), static_cast<std::uint32_t>(kCount));
  ASSERT_TRUE(bob.CollectItems(kCount, /*ack=*/true, 60s)) << bob.items().size();
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(bob.items()[i].message().client_msg_id(), "m" + std::to_string(i));
  }
  auto caught_up = bob.NextMatching([](const auto& f) { return f.has_caught_up(); });
  ASSERT_TRUE(caught_up);
  EXPECT_EQ(caught_up->caught_up().seq(), bob.items().back().seq());
}

TEST(DurabilityTest, SeqNeverGoesBackAfterTheMailboxEmptiesAndTheServerRestarts) {
  ServerProcess server;
  server.Start();
  Register(server, "bob");
  std::uint64_t last_seq = 0;
  {
    TestClient alice(server, WireFormat::kJson);
    TestClient bob(server, WireFormat::kJson);
    ASSERT_TRUE(alice.Connect("alice"));
    ASSERT_TRUE(bob.Connect("bob"));
    ASSERT_TRUE(alice.SendText("bob", "s1", "one"));
    ASSERT_TRUE(bob.CollectItems(1, /*ack=*/true));
    last_seq = bob.items().back().seq();
    // Wait for the ack to be applied: a second message proves ordering on the writer.
    ASSERT_TRUE(alice.SendText("bob", "s2", "two"));
    ASSERT_TRUE(bob.CollectItems(2, /*ack=*/true));
    last_seq = bob.items().back().seq();
  }
  ASSERT_EQ(server.Stop(), 0);
  server.Start();

  TestClient alice(server, WireFormat::kJson);
  TestClient bob(server, WireFormat::kJson);
  ASSERT_TRUE(alice.Connect("alice"));
  auto connected = bob.Connect("bob", last_seq);
  ASSERT_TRUE(connected);
  ASSERT_TRUE(alice.SendText("bob", "s3", "three"));
  auto item = bob.NextMatching([](const auto& f) { return f.has_item(); });
  ASSERT_TRUE(item);
  EXPECT_GT(item->item().seq(), last_seq);
}

// The sender streams messages while the server is killed with SIGKILL. Every message whose
// send_ack came back must be delivered after the restart, and none twice.
TEST(DurabilityTest, KillNineWhileSendingLosesNoAcknowledgedMessage) {
  ServerProcess server;
  server.Start();
  Register(server, "bob");

  std::set<std::string> acknowledged;
  {
    TestClient alice(server, WireFormat::kBinary);
    ASSERT_TRUE(alice.Connect("alice"));
    std::thread killer([&server] {
      std::this_thread::sleep_for(300ms);
      server.Kill();
    });
    for (int i = 0; i < 100000; ++i) {
      v1::ClientFrame frame;
      frame.mutable_send()->set_to("bob");
      frame.mutable_send()->set_client_msg_id("k" + std::to_string(i));
      frame.mutable_send()->set_text("crash test " + std::to_string(i));
      if (!alice.Send(frame)) break;
      // Drain whatever acks have arrived, without waiting.
      while (auto reply = alice.Next(0ms)) {
        if (reply->has_send_ack()) acknowledged.insert(reply->send_ack().client_msg_id());
      }
      if (alice.last_error().find("closed") != std::string::npos) break;
    }
    while (auto reply = alice.Next(200ms)) {
      if (reply->has_send_ack()) acknowledged.insert(reply->send_ack().client_msg_id());
    }
    killer.join();
  }
  ASSERT_FALSE(acknowledged.empty()) << "the kill came before any acknowledgement";

  server.Start();
  TestClient bob(server, WireFormat::kBinary);
  auto connected = bob.Connect("bob");
  ASSERT_TRUE(connected) << bob.last_error();
  ASSERT_TRUE(bob.CollectItems(connected->pending(), /*ack=*/true, 60s));
  ASSERT_TRUE(bob.NextMatching([](const auto& f) { return f.has_caught_up(); }, 10s));

  std::set<std::string> delivered;
  for (const auto& item : bob.items()) {
    EXPECT_TRUE(delivered.insert(item.message().client_msg_id()).second)
        << "delivered twice: " << item.message().client_msg_id();
  }
  for (const auto& id : acknowledged) {
    EXPECT_TRUE(delivered.contains(id)) << "acknowledged but lost: " << id;
  }
  std::printf("acknowledged before the kill: %zu, delivered after: %zu\n", acknowledged.size(),
              delivered.size());
}

}  // namespace
}  // namespace parley::testing
