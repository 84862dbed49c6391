// Exactly-once across crashes: a listener killed mid-stream and a sender killed before its
// answer, each restarted, show and store every message once.

#include <atomic>
#include <csignal>
#include <map>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "cli_fixture.h"

namespace parley::testing {
namespace {

using namespace std::chrono_literals;

class ExactlyOnceTest : public CliTest {
 protected:
  // Entries in `user`'s outbox, leaving out unfinished temporary files.
  int OutboxSize(const std::string& user) const {
    int entries = 0;
    std::error_code error;
    for (const auto& file : std::filesystem::directory_iterator(OutboxOf(user), error)) {
      if (!file.path().filename().string().starts_with('.')) ++entries;
    }
    return entries;
  }
};

bool IsItem(const v1::ServerFrame& frame) { return frame.has_item(); }
bool IsCaughtUp(const v1::ServerFrame& frame) { return frame.has_caught_up(); }

TEST_F(ExactlyOnceTest, ListenerKilledTwiceMidStreamShowsEveryMessageOnce) {
  constexpr int kMessages = 200;
  std::vector<std::unique_ptr<ParleyProcess>> runs;
  auto start_run = [&] {
    runs.push_back(std::make_unique<ParleyProcess>(Args("listen", "bob"), work_.path()));
    return runs.back()->WaitForStderr("listening as bob", kPatience);
  };
  // What every run printed, in the order the runs came.
  auto printed = [&] {
    std::vector<v1::Item> items;
    for (const auto& run : runs) {
      for (v1::Item& item : ParseItems(run->Stdout())) items.push_back(std::move(item));
    }
    return items;
  };
  ASSERT_TRUE(start_run()) << runs.back()->Stderr();

  std::atomic<bool> sender_failed{false};
  std::jthread sender([&] {
    TestClient alice(server_, WireFormat::kBinary);
    if (!alice.Connect("alice")) {
      sender_failed = true;
      return;
    }
    for (int i = 0; i < kMessages; ++i) {
      auto reply = alice.SendText("bob", "m" + std::to_string(i), "message " + std::to_string(i));
      if (!reply || !reply->has_send_ack()) {
        sender_failed = true;
        return;
      }
      std::this_thread::sleep_for(5ms);  // Spreads the stream over the kills.
    }
  });

  for (const std::size_t kill_after : {40u, 110u}) {
    EXPECT_TRUE(runs.back()->WaitUntil([&] { return printed().size() >= kill_after; }, kPatience));
    runs.back()->Signal(SIGKILL);
    EXPECT_EQ(runs.back()->Wait(kPatience), -SIGKILL);
    ASSERT_TRUE(start_run()) << runs.back()->Stderr();
  }
  EXPECT_TRUE(runs.back()->WaitUntil([&] { return printed().size() >= kMessages; }, kPatience));
  sender.join();
  ASSERT_FALSE(sender_failed);

  // A repeat would come with the backlog, right away; give it a moment to show up.
  std::this_thread::sleep_for(500ms);
  runs.back()->Signal(SIGTERM);
  EXPECT_EQ(runs.back()->Wait(kPatience), 0);

  std::map<std::string, int> times_shown;
  std::uint64_t last_seq = 0;
  for (const v1::Item& item : printed()) {
    ++times_shown[item.message().client_msg_id()];
    EXPECT_GT(item.seq(), last_seq) << "out of order or repeated";
    last_seq = item.seq();
  }
  for (const auto& [id, times] : times_shown) EXPECT_EQ(times, 1) << id;
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_TRUE(times_shown.contains("m" + std::to_string(i))) << "m" << i << " never shown";
  }
  if (HasFailure()) {
    for (const auto& run : runs) {
      const auto items = ParseItems(run->Stdout());
      ADD_FAILURE() << "a run printed " << items.size() << " items, seq "
                    << (items.empty() ? 0 : items.front().seq()) << " to "
                    << (items.empty() ? 0 : items.back().seq()) << "; stderr: " << run->Stderr();
    }
  }
}

TEST_F(ExactlyOnceTest, SenderKilledBeforeTheAnswerDeliversOnceAfterARestart) {
  TestClient bob(server_, WireFormat::kJson);
  ASSERT_TRUE(bob.Connect("bob")) << bob.last_error();
  ASSERT_TRUE(bob.NextMatching(IsCaughtUp));

  // The hook ends `parley send` right after the frame is written, before the ack is read.
  const ParleyResult crashed = Run(Args("send", "alice", {"--to", "bob", "exactly", "once"}),
                                   {{"PARLEY_TEST_EXIT_AFTER_SEND", "1"}});
  ASSERT_EQ(crashed.status, 3) << crashed.err;
  EXPECT_EQ(crashed.out, "") << "no answer was read, so no id is reported";
  EXPECT_EQ(OutboxSize("alice"), 1);

  // The server got it before the crash.
  auto first = bob.NextMatching(IsItem, kPatience);
  ASSERT_TRUE(first) << bob.last_error();
  EXPECT_EQ(first->item().message().text(), "exactly once");
  ASSERT_TRUE(bob.Ack(first->item().seq()));

  // The next run resends it with the same client_msg_id; the server stores nothing new.
  const ParleyResult resent = Run(Args("send", "alice", {"--flush", "--verbose"}));
  EXPECT_EQ(resent.status, 0) << resent.err;
  EXPECT_EQ(resent.out, first->item().message().client_msg_id() + "\n");
  EXPECT_NE(resent.err.find("stored before"), std::string::npos) << resent.err;
  EXPECT_EQ(OutboxSize("alice"), 0);
  EXPECT_TRUE(bob.NothingWithin(1500ms)) << "a second copy arrived";

  // Later messages go out normally behind it.
  const ParleyResult next = Run(Args("send", "alice", {"--to", "bob", "and", "then"}));
  EXPECT_EQ(next.status, 0) << next.err;
  auto second = bob.NextMatching(IsItem, kPatience);
  ASSERT_TRUE(second) << bob.last_error();
  EXPECT_EQ(second->item().message().text(), "and then");
}

}  // namespace
}  // namespace parley::testing
