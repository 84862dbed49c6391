// parley send and parley listen as separate processes, through a real parleyd.

#include <csignal>

#include <gtest/gtest.h>

#include "cli_fixture.h"

namespace parley::testing {
namespace {

using namespace std::chrono_literals;

class SendListenTest : public CliTest {};

TEST_F(SendListenTest, ListenPrintsWhatSendSentAsJsonAndTheSenderGetsTheReceipt) {
  ParleyProcess bob(Args("listen", "bob"), work_.path());
  ASSERT_TRUE(bob.WaitForStderr("listening as bob", kPatience)) << bob.Stderr();

  const ParleyResult sent = Run(Args("send", "alice", {"--to", "bob", "hello", "bob"}));
  ASSERT_EQ(sent.status, 0) << sent.err;
  EXPECT_EQ(sent.err, "");
  const std::string id = sent.out.substr(0, sent.out.find('\n'));
  EXPECT_EQ(id.size(), 32u) << "stdout is the message's client_msg_id: " << sent.out;

  ASSERT_TRUE(bob.WaitUntil([&] { return !ParseItems(bob.Stdout()).empty(); }, kPatience));
  const std::vector<v1::Item> items = ParseItems(bob.Stdout());
  ASSERT_EQ(items.size(), 1u) << bob.Stdout();
  EXPECT_EQ(items[0].seq(), 1u);
  EXPECT_EQ(items[0].message().from(), "alice");
  EXPECT_EQ(items[0].message().to(), "bob");
  EXPECT_EQ(items[0].message().text(), "hello bob");
  EXPECT_EQ(items[0].message().client_msg_id(), id);
  EXPECT_GT(items[0].message().sent_at_ms(), 0);

  // bob's listener acknowledged the item, which put a DELIVERED receipt in alice's mailbox.
  ParleyProcess alice(Args("listen", "alice"), work_.path());
  ASSERT_TRUE(alice.WaitUntil([&] { return !ParseItems(alice.Stdout()).empty(); }, kPatience))
      << alice.Stderr();
  const v1::Item receipt = ParseItems(alice.Stdout()).front();
  EXPECT_EQ(receipt.receipt().client_msg_id(), id);
  EXPECT_EQ(receipt.receipt().peer(), "bob");
  EXPECT_EQ(receipt.receipt().status(), v1::Receipt::DELIVERED);

  bob.Signal(SIGTERM);
  alice.Signal(SIGTERM);
  EXPECT_EQ(bob.Wait(kPatience), 0);
  EXPECT_EQ(alice.Wait(kPatience), 0);
}

TEST_F(SendListenTest, ListenExitsZeroOnSigtermAndOnSigint) {
  for (const int signal : {SIGTERM, SIGINT}) {
    ParleyProcess listen(Args("listen", "bob"), work_.path());
    ASSERT_TRUE(listen.WaitForStderr("listening as bob", kPatience)) << listen.Stderr();
    listen.Signal(signal);
    EXPECT_EQ(listen.Wait(kPatience), 0) << "signal " << signal << ": " << listen.Stderr();
  }
}

TEST_F(SendListenTest, ProtobufFramesCarryTheSameMessages) {
  ParleyProcess bob(Args("listen", "bob", {"--format", "protobuf"}), work_.path());
  ASSERT_TRUE(bob.WaitForStderr("listening as bob", kPatience)) << bob.Stderr();

  const ParleyResult sent =
      Run(Args("send", "alice", {"--format", "protobuf", "--to", "bob", "in", "binary"}));
  ASSERT_EQ(sent.status, 0) << sent.err;

  ASSERT_TRUE(bob.WaitUntil([&] { return !ParseItems(bob.Stdout()).empty(); }, kPatience));
  EXPECT_EQ(ParseItems(bob.Stdout()).front().message().text(), "in binary");
  bob.Signal(SIGTERM);
  EXPECT_EQ(bob.Wait(kPatience), 0);
}

TEST_F(SendListenTest, ListenReconnectsAfterTheServerRestarts) {
  ParleyProcess bob(Args("listen", "bob"), work_.path());
  ASSERT_TRUE(bob.WaitForStderr("listening as bob", kPatience)) << bob.Stderr();

  ASSERT_EQ(server_.Stop(), 0);
  ASSERT_TRUE(bob.WaitForStderr("reconnecting in", kPatience)) << bob.Stderr();
  server_.Start();

  // The backoff is capped well below this, and the first attempts come within seconds.
  TestClient alice(server_, WireFormat::kJson);
  ASSERT_TRUE(alice.Connect("alice")) << alice.last_error();
  auto ack = alice.SendText("bob", "after-restart", "still there?");
  ASSERT_TRUE(ack && ack->has_send_ack()) << Describe(ack);

  ASSERT_TRUE(bob.WaitUntil([&] { return !ParseItems(bob.Stdout()).empty(); }, kPatience))
      << bob.Stderr();
  EXPECT_EQ(ParseItems(bob.Stdout()).front().message().client_msg_id(), "after-restart");
  bob.Signal(SIGTERM);
  EXPECT_EQ(bob.Wait(kPatience), 0);
}

ServerOptions WithTls() {
  ServerOptions options;
  options.tls = true;
  return options;
}

class SendListenTlsTest : public CliTest {
 protected:
  SendListenTlsTest() : CliTest(WithTls()) {}
};

TEST_F(SendListenTlsTest, WssWorksWithTheServersCaAndFailsClearlyWithoutIt) {
  const std::string ca = server_.ca_file().string();
  ParleyProcess bob(Args("listen", "bob", {"--ca-file", ca}), work_.path());
  ASSERT_TRUE(bob.WaitForStderr("listening as bob", kPatience)) << bob.Stderr();

  const ParleyResult sent = Run(Args("send", "alice", {"--ca-file", ca, "--to", "bob", "sealed"}));
  ASSERT_EQ(sent.status, 0) << sent.err;
  ASSERT_TRUE(bob.WaitUntil([&] { return !ParseItems(bob.Stdout()).empty(); }, kPatience));
  EXPECT_EQ(ParseItems(bob.Stdout()).front().message().text(), "sealed");

  // The system's CAs do not know the test's self-signed certificate.
  const ParleyResult untrusted = Run(Args("send", "alice", {"--to", "bob", "in the clear?"}));
  EXPECT_EQ(untrusted.status, 1);
  EXPECT_NE(untrusted.err.find("TLS handshake"), std::string::npos) << untrusted.err;

  bob.Signal(SIGTERM);
  EXPECT_EQ(bob.Wait(kPatience), 0);
}

}  // namespace
}  // namespace parley::testing
