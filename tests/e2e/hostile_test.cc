// Hostile clients, exhausted resources and failing storage: each answered as the protocol
// says, with nothing acknowledged lost and other users' sessions undisturbed.

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "raw_socket.h"
#include "server_process.h"
#include "test_client.h"

namespace parley::testing {
namespace {

bool IsCaughtUp(const v1::ServerFrame& frame) { return frame.has_caught_up(); }

std::string ConnectJson(const ServerProcess& server, const std::string& user) {
  return R"({"connect":{"token":")" + server.Token(user) + R"("}})";
}

// Two users who exchange a message on demand, to show they were not disturbed.
class Bystanders {
 public:
  explicit Bystanders(const ServerProcess& server)
      : carol_(server, WireFormat::kJson), dave_(server, WireFormat::kBinary) {
    EXPECT_TRUE(carol_.Connect("carol")) << carol_.last_error();
    EXPECT_TRUE(dave_.Connect("dave")) << dave_.last_error();
  }

  void ExpectUndisturbed() {
    const std::string id = "b" + std::to_string(++count_);
    auto ack = carol_.SendText("dave", id, "still here");
    ASSERT_TRUE(ack && ack->has_send_ack()) << Describe(ack);
    auto item = dave_.NextMatching(
        [&](const auto& f) { return f.has_item() && f.item().message().client_msg_id() == id; });
    ASSERT_TRUE(item) << dave_.last_error();
    ASSERT_TRUE(dave_.Ack(item->item().seq()));
  }

 private:
  TestClient carol_;
  TestClient dave_;
  int count_ = 0;
};

ServerOptions WithLimits(std::string limits) {
  ServerOptions options;
  options.limits_yaml = std::move(limits);
  return options;
}

TEST(HostileTest, AnUpgradeSentAByteAtATimeIsCutOffAtTheConnectDeadline) {
  ServerProcess server(WithLimits("  connect_timeout_s: 1\n"));
  server.Start();
  Bystanders bystanders(server);

  RawSocket slow(server.port());
  ASSERT_TRUE(slow.connected());
  const std::string request = "GET /v1/chat HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  bool closed = false;
  for (char c : request) {
    if (!slow.Write(std::string(1, c)) || slow.ClosedWithin(std::chrono::milliseconds(100))) {
      closed = true;
      break;
    }
  }
  EXPECT_TRUE(closed || slow.ClosedWithin(2s)) << "still open well past the deadline";
  bystanders.ExpectUndisturbed();
}

TEST(HostileTest, ASocketThatSaysNothingIsClosed) {
  ServerProcess server(WithLimits("  connect_timeout_s: 1\n"));
  server.Start();
  RawSocket silent(server.port());
  ASSERT_TRUE(silent.connected());
  EXPECT_TRUE(silent.ClosedWithin(3s));
}

TEST(HostileTest, FloodingPastTheRateLimitIsRateLimitedThenClosed4003) {
  ServerProcess server(
      WithLimits("  send_rate_per_s: 20\n  frames_per_s: 10000\n  violations_before_close: 10\n"));
  server.Start();
  Bystanders bystanders(server);

  TestClient flooder(server, WireFormat::kJson);
  ASSERT_TRUE(flooder.Connect("mallory"));
  for (int i = 0; i < 200; ++i) {
    v1::ClientFrame frame;
    frame.mutable_send()->set_to("carol");
    frame.mutable_send()->set_client_msg_id("f" + std::to_string(i));
    frame.mutable_send()->set_text("spam");
    if (!flooder.Send(frame)) break;
  }
  int rate_limited = 0;
  while (auto frame = flooder.Next(3s)) {
    if (frame->has_error() && frame->error().code() == v1::Error::RATE_LIMITED) ++rate_limited;
  }
  EXPECT_GE(rate_limited, 1);
  EXPECT_EQ(flooder.connection().close_code(), 4003);
  EXPECT_EQ(MetricValue(HttpGet(server.admin_port(), "/metrics").body,
                        "parley_connections_closed_total{reason=\"protocol_violation\"}"),
            1);
  bystanders.ExpectUndisturbed();
}

TEST(HostileTest, PingsBeyondTheFrameRateAreRateLimited) {
  ServerProcess server(WithLimits("  frames_per_s: 10\n  violations_before_close: 1000\n"));
  server.Start();
  TestClient client(server, WireFormat::kBinary);
  ASSERT_TRUE(client.Connect("pinger"));
  for (int i = 0; i < 100; ++i) {
    v1::ClientFrame ping;
    ping.set_request_id(static_cast<std::uint64_t>(i + 1));
    ping.mutable_ping();
    ASSERT_TRUE(client.Send(ping));
  }
  int pongs = 0;
  int limited = 0;
  while (auto frame = client.Next(1s)) {
    if (frame->has_pong()) ++pongs;
    if (frame->has_error() && frame->error().code() == v1::Error::RATE_LIMITED) ++limited;
  }
  EXPECT_EQ(pongs + limited, 100);
  EXPECT_GE(limited, 1);
  EXPECT_LE(pongs, 30);  // A burst of 20, plus what trickled in meanwhile.
}

// Bob reads nothing, through a tiny receive buffer. The server pushes at most a window, its
// write stalls, and after limits.write_timeout_s it drops him; every message waits in his
// mailbox and reaches him, in order, when he comes back.
TEST(HostileTest, ARecipientWhoNeverReadsIsDroppedAndLosesNothing) {
  ServerProcess server(
      WithLimits("  send_rate_per_s: 5000\n  frames_per_s: 20000\n"
                 "  write_timeout_s: 2\n"));
  server.Start();
  Bystanders bystanders(server);
  {
    TestClient registration(server, WireFormat::kJson);
    ASSERT_TRUE(registration.Connect("bob"));
  }

  RawSocket bob(server.port(), /*receive_buffer=*/4096);
  ASSERT_TRUE(bob.Upgrade());
  ASSERT_TRUE(bob.Write(RawSocket::Frame(1, ConnectJson(server, "bob"))));

  TestClient alice(server, WireFormat::kBinary);
  ASSERT_TRUE(alice.Connect("alice"));
  constexpr int kCount = 600;
  const std::string text(1000, 'x');
  for (int i = 0; i < kCount; ++i) {
    auto ack = alice.SendText("bob", "n" + std::to_string(i), text);
    ASSERT_TRUE(ack && ack->has_send_ack()) << Describe(ack);
  }

  // Reading would take data: wait past the write timeout first, then look.
  std::this_thread::sleep_for(4s);
  EXPECT_TRUE(bob.ClosedWithin(10s)) << "a client that takes no data was never dropped";
  EXPECT_NE(server.Log().find("no data taken"), std::string::npos);
  EXPECT_EQ(MetricValue(HttpGet(server.admin_port(), "/metrics").body,
                        "parley_connections_closed_total{reason=\"write_timeout\"}"),
            1);
  bystanders.ExpectUndisturbed();

  TestClient bob_again(server, WireFormat::kBinary);
  ASSERT_TRUE(bob_again.Connect("bob"));
  ASSERT_TRUE(bob_again.CollectItems(kCount, /*ack=*/true, 60s)) << bob_again.items().size();
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(bob_again.items()[i].message().client_msg_id(), "n" + std::to_string(i));
  }
}

// A million frames of a few bytes each, written in one go: acks, which no rate limit stops.
TEST(HostileTest, AMillionTinyFramesAreHandledAndOthersGoOn) {
  ServerProcess server;
  server.Start();
  Bystanders bystanders(server);

  RawSocket client(server.port());
  ASSERT_TRUE(client.Upgrade());
  ASSERT_TRUE(client.Write(RawSocket::Frame(1, ConnectJson(server, "tiny"))));
  ASSERT_TRUE(client.ReadUntilContains("caughtUp", 5s));

  // ClientFrame{ack{}}: field 4, length 0.
  const std::string one = RawSocket::Frame(2, std::string("\x22\x00", 2));
  std::string flood;
  flood.reserve(one.size() * 1'000'000);
  for (int i = 0; i < 1'000'000; ++i) flood += one;

  std::thread writer([&] { EXPECT_TRUE(client.Write(flood)); });
  bystanders.ExpectUndisturbed();
  writer.join();

  ASSERT_TRUE(client.Write(RawSocket::Frame(1, R"({"requestId":"9","ping":{}})")));
  EXPECT_TRUE(client.ReadUntilContains("pong", 60s)) << "the flooded session died";
  bystanders.ExpectUndisturbed();
}

TEST(HostileTest, HugeRepeatedFieldsAndDeepJsonAreBadRequests) {
  ServerProcess server;
  server.Start();
  Bystanders bystanders(server);
  TestClient client(server, WireFormat::kJson);
  ASSERT_TRUE(client.Connect("erin"));

  v1::ClientFrame read;
  read.mutable_mark_read()->set_peer("carol");
  for (int i = 0; i < 3000; ++i) read.mutable_mark_read()->add_client_msg_ids("x");
  auto too_many = client.Request(read);
  ASSERT_TRUE(too_many && too_many->has_error()) << Describe(too_many);
  EXPECT_EQ(too_many->error().code(), v1::Error::BAD_REQUEST);

  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "{\"send\":";
  ASSERT_TRUE(client.SendRaw(deep, true));
  auto nested = client.NextMatching([](const auto& f) { return f.has_error(); });
  ASSERT_TRUE(nested) << client.last_error();
  EXPECT_EQ(nested->error().code(), v1::Error::BAD_REQUEST);

  v1::ClientFrame ping;
  ping.mutable_ping();
  auto pong = client.Request(ping);
  ASSERT_TRUE(pong && pong->has_pong()) << Describe(pong);
  bystanders.ExpectUndisturbed();
}

// With only a few descriptors, accept fails once they run out; the sessions already open go
// on, and new clients get in again once descriptors are free.
TEST(HostileTest, RunningOutOfDescriptorsSparesExistingSessionsAndRecovers) {
  ServerOptions options = WithLimits("  send_rate_per_s: 100\n  connect_timeout_s: 60\n");
  options.open_files_limit = 96;
  ServerProcess server(options);
  server.Start();
  Bystanders bystanders(server);

  std::vector<std::unique_ptr<RawSocket>> hogs;
  for (int i = 0; i < 150; ++i) hogs.push_back(std::make_unique<RawSocket>(server.port()));
  std::this_thread::sleep_for(500ms);  // Let the server accept what it can.

  TestClient refused(server, WireFormat::kJson);
  EXPECT_FALSE(refused.Connect("late")) << "the descriptor limit was never reached";
  bystanders.ExpectUndisturbed();

  hogs.clear();
  bool admitted = false;
  for (int attempt = 0; attempt < 50 && !admitted; ++attempt) {
    TestClient late(server, WireFormat::kJson);
    admitted = late.Connect("late").has_value();
    if (!admitted) std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(admitted) << "new clients were not admitted after descriptors freed up";
  bystanders.ExpectUndisturbed();
  EXPECT_NE(server.Log().find("accept failed"), std::string::npos);
}

// While the write-ahead log cannot be written, sends are answered UNAVAILABLE and never
// acknowledged, reads go on, and /readyz says so; when the disk comes back, so does the store.
TEST(HostileTest, AFailingDiskAnswersUnavailableAndRecovers) {
  ServerProcess probe;  // Only for a folder to put the trigger in.
  const auto trigger = probe.dir() / "fail-wal";
  ServerOptions options;
  options.environment = {{"PARLEYD_TEST_WAL_FAULT_FILE", trigger.string()}};
  ServerProcess server(options);
  server.Start();

  TestClient alice(server, WireFormat::kJson);
  TestClient bob(server, WireFormat::kJson);
  ASSERT_TRUE(alice.Connect("alice"));
  ASSERT_TRUE(bob.Connect("bob"));
  ASSERT_TRUE(alice.SetRetention(30));
  ASSERT_TRUE(bob.NextMatching(IsCaughtUp));

  std::ofstream(trigger) << "fail";
  auto refused = alice.SendText("bob", "during", "while the disk is failing");
  ASSERT_TRUE(refused && refused->has_error()) << Describe(refused);
  EXPECT_EQ(refused->error().code(), v1::Error::UNAVAILABLE);
  EXPECT_EQ(refused->error().client_msg_id(), "during");
  EXPECT_EQ(HttpGet(server.admin_port(), "/readyz").status, 503);

  auto history = alice.GetHistory("", "", 10);  // Reads still work.
  ASSERT_TRUE(history && history->has_history()) << Describe(history);
  EXPECT_TRUE(bob.NothingWithin(300ms));

  std::filesystem::remove(trigger);
  std::optional<v1::ServerFrame> stored;
  for (int attempt = 0; attempt < 50; ++attempt) {
    stored = alice.SendText("bob", "during", "while the disk is failing");
    if (stored && stored->has_send_ack()) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(stored && stored->has_send_ack()) << Describe(stored);
  EXPECT_FALSE(stored->send_ack().duplicate());
  ASSERT_TRUE(bob.CollectItems(1, /*ack=*/true));
  EXPECT_EQ(bob.items()[0].message().client_msg_id(), "during");
  EXPECT_TRUE(bob.NothingWithin(300ms)) << "delivered twice";
  EXPECT_EQ(HttpGet(server.admin_port(), "/readyz").status, 200);
}

// SIGKILL at random moments under load, again and again. The sender keeps an outbox and
// resends what was not acknowledged, as a real client does; in the end every acknowledged
// message is delivered exactly once.
TEST(HostileTest, RepeatedKillNineUnderLoadLosesAndDuplicatesNothing) {
  ServerProcess server;
  server.Start();
  {
    TestClient registration(server, WireFormat::kBinary);
    ASSERT_TRUE(registration.Connect("bob"));
  }

  constexpr int kCycles = 5;
  std::mt19937 random(std::random_device{}());
  std::set<std::string> acknowledged;
  std::set<std::string> outbox;
  int next_id = 0;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    TestClient alice(server, WireFormat::kBinary);
    ASSERT_TRUE(alice.Connect("alice")) << alice.last_error();
    const auto kill_after = std::chrono::milliseconds(100 + random() % 400);
    std::thread killer([&server, kill_after] {
      std::this_thread::sleep_for(kill_after);
      server.Kill();
    });

    auto send = [&](const std::string& id) {
      v1::ClientFrame frame;
      frame.mutable_send()->set_to("bob");
      frame.mutable_send()->set_client_msg_id(id);
      frame.mutable_send()->set_text("crash loop");
      return alice.Send(frame);
    };
    auto drain_acks = [&](std::chrono::milliseconds wait) {
      while (auto reply = alice.Next(wait)) {
        if (!reply->has_send_ack()) continue;
        acknowledged.insert(reply->send_ack().client_msg_id());
        outbox.erase(reply->send_ack().client_msg_id());
      }
    };

    bool alive = true;
    for (const std::string& id : std::set<std::string>(outbox)) alive = alive && send(id);
    while (alive && next_id < 1'000'000) {
      const std::string id = "c" + std::to_string(next_id++);
      outbox.insert(id);
      alive = send(id);
      drain_acks(0ms);
    }
    drain_acks(200ms);
    killer.join();
    server.Start();
  }

  TestClient alice(server, WireFormat::kBinary);
  ASSERT_TRUE(alice.Connect("alice"));
  for (const std::string& id : std::set<std::string>(outbox)) {
    auto ack = alice.SendText("bob", id, "crash loop");
    ASSERT_TRUE(ack && ack->has_send_ack()) << Describe(ack);
    acknowledged.insert(id);
  }

  TestClient bob(server, WireFormat::kBinary);
  auto connected = bob.Connect("bob");
  ASSERT_TRUE(connected);
  ASSERT_TRUE(bob.CollectItems(connected->pending(), /*ack=*/true, 120s));
  std::set<std::string> delivered;
  for (const auto& item : bob.items()) {
    EXPECT_TRUE(delivered.insert(item.message().client_msg_id()).second)
        << "delivered twice: " << item.message().client_msg_id();
  }
  EXPECT_EQ(delivered, acknowledged);
  std::printf("kill cycles: %d, messages acknowledged: %zu, delivered: %zu\n", kCycles,
              acknowledged.size(), delivered.size());
}

TEST(HostileTest, TlsBelow12IsRefusedAnd12Or13Accepted) {
  ServerOptions options;
  options.tls = true;
  ServerProcess server(options);
  server.Start();
  const std::string target = " -connect 127.0.0.1:" + std::to_string(server.port());
  const std::string common = "echo | timeout 10 openssl s_client -brief" + target;

  const auto old = RunCommand(common + " -tls1_1 -cipher DEFAULT@SECLEVEL=0");
  EXPECT_NE(old.status, 0) << old.output;
  EXPECT_EQ(old.output.find("Protocol version: TLSv1.1"), std::string::npos) << old.output;

  const auto tls12 = RunCommand(common + " -tls1_2");
  EXPECT_NE(tls12.output.find("TLSv1.2"), std::string::npos) << tls12.output;
  const auto tls13 = RunCommand(common + " -tls1_3");
  EXPECT_NE(tls13.output.find("TLSv1.3"), std::string::npos) << tls13.output;
}

TEST(HostileTest, AMissingCertificateIsAClearStartupError) {
  ServerOptions options;
  options.tls = true;
  ServerProcess server(options);
  std::filesystem::remove(server.ca_file());
  const auto result = RunCommand("timeout 20 " + ParleydPath() + " --config '" +
                                 server.config_file().string() + "'");
  EXPECT_NE(result.status, 0);
  EXPECT_NE(result.output.find("listen.tls.cert_file"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace parley::testing
