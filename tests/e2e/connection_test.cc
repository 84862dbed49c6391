// The connection's life around the chat: upgrade, timeouts, flow control, caps, the admin
// endpoints and the config check.

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "server_process.h"
#include "test_client.h"

namespace parley::testing {
namespace {

bool IsCaughtUp(const v1::ServerFrame& frame) { return frame.has_caught_up(); }

TEST(ConnectionTest, UpgradeOnAnotherPathIsNotFound) {
  ServerProcess server;
  server.Start();
  const HttpReply reply = HttpRequest(
      server.port(),
      "GET /v2/other HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(HttpGet(server.port(), "/v1/chat").status, 426);  // Not an upgrade.
}

TEST(ConnectionTest, ASilentConnectionIsClosedWithinTheIdleTimeout) {
  ServerOptions options;
  options.limits_yaml = "  send_rate_per_s: 100\n  idle_timeout_s: 5\n";
  ServerProcess server(options);
  server.Start();

  TestClient silent(server, WireFormat::kJson);
  ASSERT_TRUE(silent.Connect("silent"));
  TestClient lively(server, WireFormat::kJson);
  ASSERT_TRUE(lively.Connect("lively"));
  ASSERT_TRUE(lively.NextMatching(IsCaughtUp));

  // `lively` keeps reading, which answers the server's pings; `silent` reads nothing for
  // longer than the idle timeout, so its pings go unanswered.
  const auto until = std::chrono::steady_clock::now() + 7s;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_TRUE(lively.NothingWithin(100ms)) << lively.last_error();
  }
  EXPECT_TRUE(silent.WaitClosed(1s).has_value()) << "still open after the idle timeout";
  const std::string metrics = HttpGet(server.admin_port(), "/metrics").body;
  EXPECT_EQ(MetricValue(metrics, "parley_connections_closed_total{reason=\"idle_timeout\"}"), 1)
      << metrics;

  v1::ClientFrame ping;
  ping.set_request_id(1);
  ping.mutable_ping();
  ASSERT_TRUE(lively.Send(ping));
  EXPECT_TRUE(lively.NextMatching([](const auto& f) { return f.has_pong(); }));
}

// Bob does not read while 500 messages arrive: the server pushes no more than the window,
// keeps the rest in the mailbox, and hands it all over in order once he reads.
TEST(ConnectionTest, ASlowReaderGetsNoMoreThanTheWindowAndThenEverything) {
  ServerOptions options;
  options.delivery_yaml = "  window: 16\n";
  ServerProcess server(options);
  server.Start();

  TestClient bob(server, WireFormat::kBinary);
  ASSERT_TRUE(bob.Connect("bob"));
  TestClient alice(server, WireFormat::kBinary);
  ASSERT_TRUE(alice.Connect("alice"));
  constexpr int kCount = 500;
  for (int i = 0; i < kCount; ++i) {
    auto ack = alice.SendText("bob", "w" + std::to_string(i), "slow");
    ASSERT_TRUE(ack && ack->has_send_ack()) << Describe(ack);
  }

  const std::string metrics = HttpGet(server.admin_port(), "/metrics").body;
  // Alice got one push (her caught_up is not an item); bob at most the window.
  EXPECT_LE(MetricValue(metrics, "parley_items_pushed_total"), 16) << metrics;

  ASSERT_TRUE(bob.CollectItems(kCount, /*ack=*/true, 30s)) << bob.items().size();
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(bob.items()[i].message().client_msg_id(), "w" + std::to_string(i));
  }
  EXPECT_TRUE(bob.NothingWithin(300ms));
}

TEST(ConnectionTest, UpgradesBeyondTheConnectionCapGet503) {
  ServerOptions options;
  options.limits_yaml = "  send_rate_per_s: 100\n  max_connections: 2\n";
  ServerProcess server(options);
  server.Start();
  TestClient first(server, WireFormat::kJson);
  TestClient second(server, WireFormat::kJson);
  ASSERT_TRUE(first.Connect("a"));
  ASSERT_TRUE(second.Connect("b"));

  const HttpReply refused = HttpRequest(
      server.port(),
      "GET /v1/chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  EXPECT_EQ(refused.status, 503);

  // The sessions already in are untouched.
  v1::ClientFrame ping;
  ping.set_request_id(3);
  ping.mutable_ping();
  ASSERT_TRUE(first.Send(ping));
  EXPECT_TRUE(first.NextMatching([](const auto& f) { return f.has_pong(); }));
}

TEST(ConnectionTest, AdminEndpointsAnswer) {
  ServerProcess server;
  server.Start();
  EXPECT_EQ(HttpGet(server.admin_port(), "/healthz").status, 200);
  EXPECT_EQ(HttpGet(server.admin_port(), "/readyz").status, 200);
  const HttpReply metrics = HttpGet(server.admin_port(), "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(MetricValue(metrics.body, "parley_connections"), 0) << metrics.body;
  EXPECT_EQ(HttpGet(server.admin_port(), "/nope").status, 404);
}

TEST(ConnectionTest, MetricsCountAScriptedExchange) {
  ServerProcess server;
  server.Start();
  TestClient alice(server, WireFormat::kJson);
  TestClient bob(server, WireFormat::kJson);
  ASSERT_TRUE(alice.Connect("alice"));
  ASSERT_TRUE(bob.Connect("bob"));
  ASSERT_TRUE(bob.NextMatching(IsCaughtUp));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(alice.SendText("bob", "x" + std::to_string(i), "hi"));
  ASSERT_TRUE(alice.SendText("bob", "x0", "hi"));  // A duplicate.
  ASSERT_TRUE(bob.CollectItems(3, /*ack=*/true));
  ASSERT_TRUE(alice.CollectItems(3, /*ack=*/true));  // The three DELIVERED receipts.

  // The last acks may still be committing, and a scrape reads the batch counter and the batch
  // histogram one after the other: take the figures once the writer is quiet.
  std::string metrics;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  do {
    metrics = HttpGet(server.admin_port(), "/metrics").body;
  } while (MetricValue(metrics, "parley_store_batch_ops_count") !=
               MetricValue(metrics, "parley_store_batches_total") &&
           std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(MetricValue(metrics, "parley_messages_accepted_total"), 3) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_messages_duplicate_total"), 1) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_sessions"), 2) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_items_pushed_total"), 6) << metrics;
  EXPECT_GE(MetricValue(metrics, "parley_store_fsyncs_total"), 1) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_store_batch_ops_count"),
            MetricValue(metrics, "parley_store_batches_total"))
      << metrics;
}

TEST(ConnectionTest, CheckConfigAcceptsAGoodFileAndNamesTheBadKey) {
  ServerProcess server;  // Only for its config file and folder.
  const auto good =
      RunCommand(ParleydPath() + " --check-config '" + server.config_file().string() + "'");
  EXPECT_EQ(good.status, 0) << good.output;

  const auto bad_path = server.dir() / "bad.yaml";
  std::ofstream(bad_path) << "auth:\n  hmac_secret_file: secret\nlimits:\n  windw: 3\n";
  const auto bad = RunCommand(ParleydPath() + " --check-config '" + bad_path.string() + "'");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("limits.windw"), std::string::npos) << bad.output;
}

TEST(ConnectionTest, AnUnopenableDatabaseIsAClearStartupError) {
  ServerProcess server;
  std::ofstream(server.dir() / "data") << "not a folder";
  const auto result = RunCommand("timeout 20 " + ParleydPath() + " --config '" +
                                 server.config_file().string() + "'");
  EXPECT_EQ(result.status, 1) << result.output;
  EXPECT_NE(result.output.find("data"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace parley::testing
