#include "parley/chat/session_registry.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "parley/chat/session.h"

namespace parley::chat {
namespace {

// Sessions are only stored and compared here; none of their methods is called.
std::shared_ptr<Session> MakeSession(const ChatContext& context) {
  return std::make_shared<Session>(
      context, SessionLimits{}, nullptr, [](std::function<void()>) {}, 1);
}

TEST(SessionRegistryTest, RegisterReturnsTheSessionItReplaces) {
  ChatContext context;
  SessionRegistry registry;
  auto first = MakeSession(context);
  auto second = MakeSession(context);

  EXPECT_EQ(registry.Register("alice", first), nullptr);
  EXPECT_EQ(registry.Find("alice"), first);
  EXPECT_EQ(registry.Register("alice", second), first);
  EXPECT_EQ(registry.Find("alice"), second);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(SessionRegistryTest, UnregisterOfAReplacedSessionKeepsTheNewerOne) {
  ChatContext context;
  SessionRegistry registry;
  auto first = MakeSession(context);
  auto second = MakeSession(context);
  registry.Register("alice", first);
  registry.Register("alice", second);

  registry.Unregister("alice", first.get());
  EXPECT_EQ(registry.Find("alice"), second);
  registry.Unregister("alice", second.get());
  EXPECT_EQ(registry.Find("alice"), nullptr);
  EXPECT_EQ(registry.size(), 0u);
}

TEST(SessionRegistryTest, ASessionThatDiedIsNotFound) {
  ChatContext context;
  SessionRegistry registry;
  registry.Register("alice", MakeSession(context));
  EXPECT_EQ(registry.Find("alice"), nullptr);
}

TEST(SessionRegistryTest, ManyThreadsRegisteringAndLeaving) {
  ChatContext context;
  SessionRegistry registry;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string user = "u" + std::to_string(t) + "-" + std::to_string(i % 50);
        auto session = MakeSession(context);
        registry.Register(user, session);
        registry.Unregister(user, session.get());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(registry.size(), 0u);
}

}  // namespace
}  // namespace parley::chat
