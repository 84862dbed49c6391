// parley chat driven through pseudo-terminals, as two people would use it.

#include <gtest/gtest.h>

#include "cli_fixture.h"

namespace parley::testing {
namespace {

using Terminal = ParleyProcess::Terminal;

// Plain text, so that the expectations need no escape sequences.
const Env kNoColor = {{"NO_COLOR", "1"}};

class ChatPtyTest : public CliTest {
 protected:
  std::unique_ptr<ParleyProcess> StartChat(const std::string& user,
                                           const std::vector<std::string>& more = {}) {
    auto chat = std::make_unique<ParleyProcess>(Args("chat", user, more), work_.path(),
                                                Terminal::kPty, kNoColor);
    EXPECT_TRUE(chat->WaitForStdout("[connected as " + user, kPatience)) << chat->Stdout();
    return chat;
  }
};

TEST_F(ChatPtyTest, TypedMessageArrivesAndTheSenderSeesItDeliveredThenRead) {
  auto bob = StartChat("bob", {"--to", "alice"});
  auto alice = StartChat("alice");

  alice->Type("/to bob\n");
  ASSERT_TRUE(alice->WaitForStdout("[talking to bob]", kPatience)) << alice->Stdout();
  alice->Type("hello through a terminal\n");

  EXPECT_TRUE(bob->WaitForStdout("alice → you: hello through a terminal", kPatience))
      << bob->Stdout();
  EXPECT_TRUE(alice->WaitForStdout("you → bob: hello through a terminal  ✓✓", kPatience))
      << alice->Stdout();
  // bob is talking to alice, so his client marked it read as it showed it.
  EXPECT_TRUE(alice->WaitForStdout("you → bob: hello through a terminal  ✓✓ read", kPatience))
      << alice->Stdout();

  bob->Type("hi alice\n");
  EXPECT_TRUE(alice->WaitForStdout("bob → you: hi alice", kPatience)) << alice->Stdout();

  alice->Type("/quit\n");
  bob->Type("\x04");  // Ctrl-D: the end of input.
  EXPECT_EQ(alice->Wait(kPatience), 0) << alice->Stdout();
  EXPECT_EQ(bob->Wait(kPatience), 0) << bob->Stdout();
}

TEST_F(ChatPtyTest, CommandsAnswerInOneLine) {
  auto alice = StartChat("alice");

  alice->Type("nobody hears this\n");
  EXPECT_TRUE(alice->WaitForStdout("[no one to send to yet: /to NAME picks someone]", kPatience))
      << alice->Stdout();

  alice->Type("/frobnicate\n");
  EXPECT_TRUE(alice->WaitForStdout("[unknown command /frobnicate; /help lists them]", kPatience));

  alice->Type("/help\n");
  EXPECT_TRUE(alice->WaitForStdout("[/retention DAYS", kPatience)) << alice->Stdout();

  // Either the server keeps histories or it says why not; both come back as one notice.
  alice->Type("/retention 7\n");
  EXPECT_TRUE(alice->WaitUntil(
      [&] {
        const std::string out = alice->Stdout();
        return out.find("[the server keeps your history for 7 days]") != std::string::npos ||
               out.find("[/retention failed: ") != std::string::npos;
      },
      kPatience))
      << alice->Stdout();

  alice->Type("/history\n");
  EXPECT_TRUE(alice->WaitUntil(
      [&] {
        const std::string out = alice->Stdout();
        return out.find("[no history on the server]") != std::string::npos ||
               out.find("[/history failed: ") != std::string::npos;
      },
      kPatience))
      << alice->Stdout();

  alice->Type("/quit\n");
  EXPECT_EQ(alice->Wait(kPatience), 0) << alice->Stdout();
}

TEST_F(ChatPtyTest, HistoryShowsWhatTheServerKept) {
  Register("bob");
  auto alice = StartChat("alice", {"--to", "bob"});

  alice->Type("/retention 7\n");
  ASSERT_TRUE(alice->WaitForStdout("[the server keeps your history for 7 days]", kPatience))
      << alice->Stdout();
  alice->Type("for the record\n");
  ASSERT_TRUE(alice->WaitForStdout("you → bob: for the record  ✓", kPatience)) << alice->Stdout();

  alice->Type("/history\n");
  EXPECT_TRUE(alice->WaitForStdout("[history with bob, oldest first:]", kPatience))
      << alice->Stdout();
  // History lines carry the date: "[2031-05-04 12:01:05] you → bob: for the record".
  EXPECT_TRUE(alice->WaitForStdout(" you → bob: for the record\r\n", kPatience)) << alice->Stdout();
  alice->Type("/quit\n");
  EXPECT_EQ(alice->Wait(kPatience), 0);
}

TEST_F(ChatPtyTest, AMessageTypedToAnUnknownUserIsMarkedRefused) {
  auto alice = StartChat("alice", {"--to", "nobody"});
  alice->Type("anyone?\n");
  EXPECT_TRUE(alice->WaitForStdout("you → nobody: anyone?  ✗ UNKNOWN_RECIPIENT", kPatience))
      << alice->Stdout();
  alice->Type("/quit\n");
  EXPECT_EQ(alice->Wait(kPatience), 0);
}

}  // namespace
}  // namespace parley::testing
