// What parley says when it cannot do its job: one line on stderr and exit status 1, or the
// usage and exit status 2 when the command line itself is wrong.

#include <algorithm>

#include <gtest/gtest.h>

#include "cli_fixture.h"

namespace parley::testing {
namespace {

bool IsOneLine(const std::string& text) {
  return !text.empty() && text.back() == '\n' && std::count(text.begin(), text.end(), '\n') == 1;
}

class ErrorsTest : public CliTest {};

TEST_F(ErrorsTest, BadUrl) {
  for (const std::string command : {"send", "listen", "chat"}) {
    std::vector<std::string> args = Args(command, "alice");
    args[2] = "http://127.0.0.1:8080/v1/chat";  // The value of --server.
    if (command == "send") args.insert(args.end(), {"--to", "bob", "hi"});

    const ParleyResult result = Run(args);
    EXPECT_EQ(result.status, 1) << command;
    EXPECT_TRUE(IsOneLine(result.err)) << result.err;
    EXPECT_NE(result.err.find("URL must start with ws:// or wss://"), std::string::npos)
        << result.err;
  }
}

TEST_F(ErrorsTest, ConnectionRefused) {
  const std::string nowhere = "ws://127.0.0.1:" + std::to_string(FreePort()) + "/v1/chat";
  for (const std::string command : {"send", "listen", "chat"}) {
    std::vector<std::string> args = Args(command, "alice");
    args[2] = nowhere;
    if (command == "send") args.insert(args.end(), {"--to", "bob", "hi"});

    const ParleyResult result = Run(args);
    EXPECT_EQ(result.status, 1) << command;
    EXPECT_TRUE(IsOneLine(result.err)) << result.err;
    EXPECT_NE(result.err.find("Connection refused"), std::string::npos) << result.err;
  }
}

TEST_F(ErrorsTest, BadToken) {
  for (const std::string command : {"send", "listen"}) {
    std::vector<std::string> args = Args(command, "alice");
    args[5] = "--token";  // Instead of --secret-file.
    args[6] = "not-a-token";
    if (command == "send") args.insert(args.end(), {"--to", "bob", "hi"});

    const ParleyResult result = Run(args);
    EXPECT_EQ(result.status, 1) << command;
    EXPECT_TRUE(IsOneLine(result.err)) << result.err;
    EXPECT_NE(result.err.find("the server refused the token for alice"), std::string::npos)
        << result.err;
  }
}

TEST_F(ErrorsTest, TokenOfAnotherUser) {
  std::vector<std::string> args = Args("listen", "alice");
  args[5] = "--token";
  args[6] = server_.Token("mallory");
  const ParleyResult result = Run(args);
  EXPECT_EQ(result.status, 1);
  EXPECT_TRUE(IsOneLine(result.err)) << result.err;
  EXPECT_NE(result.err.find("the token is for mallory, not alice"), std::string::npos)
      << result.err;
}

TEST_F(ErrorsTest, UnknownRecipientLeavesNothingInTheOutbox) {
  const ParleyResult result = Run(Args("send", "alice", {"--to", "nobody", "hello?"}));
  EXPECT_EQ(result.status, 1);
  EXPECT_TRUE(IsOneLine(result.err)) << result.err;
  EXPECT_NE(result.err.find("cannot send to nobody: no such user (UNKNOWN_RECIPIENT)"),
            std::string::npos)
      << result.err;
  EXPECT_TRUE(std::filesystem::is_empty(OutboxOf("alice")));
}

TEST_F(ErrorsTest, TextOverTheLimitIsRefusedBeforeSending) {
  Register("bob");
  const ParleyResult result = Run(Args("send", "alice", {"--to", "bob", std::string(1001, 'x')}));
  EXPECT_EQ(result.status, 1);
  EXPECT_TRUE(IsOneLine(result.err)) << result.err;
  EXPECT_NE(result.err.find("at most 1000"), std::string::npos) << result.err;
}

TEST_F(ErrorsTest, UsageErrorsExitTwoWithTheUsage) {
  const std::vector<std::vector<std::string>> wrong = {
      {},
      {"frobnicate"},
      {"send", "--user", "alice", "--token", "t", "hi"},  // No --to.
      {"send", "--user", "alice", "--to", "bob", "hi"},   // No token from anywhere.
      {"listen", "--token", "t"},                         // No --user.
      {"listen", "--user", "alice", "--token", "t", "--bogus"},
      {"chat", "--user", "alice", "--token", "t", "--format", "xml"},
      {"send", "--user", "alice", "--token", "t", "--flush", "--to", "bob", "hi"},
  };
  for (const auto& args : wrong) {
    const ParleyResult result = Run(args);
    EXPECT_EQ(result.status, 2) << ::testing::PrintToString(args);
    EXPECT_NE(result.err.find("usage: parley"), std::string::npos) << result.err;
  }
}

}  // namespace
}  // namespace parley::testing
