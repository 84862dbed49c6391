// /metrics: exact counts for a scripted exchange, the format every sample follows, and the
// process figures.

#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string_view>

#include <gtest/gtest.h>

#include "ops_support.h"
#include "server_process.h"
#include "test_client.h"

namespace parley::testing {
namespace {

bool IsCaughtUp(const v1::ServerFrame& frame) { return frame.has_caught_up(); }

std::string Scrape(const ServerProcess& server) {
  return HttpGet(server.admin_port(), "/metrics").body;
}

// Waits until the sample `name` reads `want`; storage counters move once a batch commits,
// a moment after the client has seen its answer.
::testing::AssertionResult Reaches(const ServerProcess& server, const std::string& name,
                                   long long want) {
  std::string metrics;
  const bool reached = WaitFor([&] {
    metrics = Scrape(server);
    return MetricValue(metrics, name) == want;
  });
  if (reached) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << name << " is " << MetricValue(metrics, name) << ", not " << want << "\n"
         << metrics;
}

constexpr char kUnknownRecipient[] = "parley_errors_total{code=\"UNKNOWN_RECIPIENT\"}";

// Alice sends bob three messages, one resend and one to nobody; bob reads them, then acks;
// alice gets three DELIVERED receipts and acks them. Every counter is checked at each step.
TEST(MetricsTest, CountAScriptedExchangeExactly) {
  ServerProcess server;
  server.Start();
  TestClient bob(server, WireFormat::kJson);
  ASSERT_TRUE(bob.Connect("bob"));
  ASSERT_TRUE(bob.NextMatching(IsCaughtUp));
  TestClient alice(server, WireFormat::kBinary);
  ASSERT_TRUE(alice.Connect("alice"));
  ASSERT_TRUE(alice.NextMatching(IsCaughtUp));

  for (int i = 0; i < 3; ++i) {
    const auto ack = alice.SendText("bob", "x" + std::to_string(i), "hi");
    ASSERT_TRUE(ack && ack->has_send_ack()) << Describe(ack);
  }
  const auto resent = alice.SendText("bob", "x0", "hi");
  ASSERT_TRUE(resent && resent->send_ack().duplicate()) << Describe(resent);
  const auto refused = alice.SendText("nobody", "y0", "hello?");
  ASSERT_TRUE(refused && refused->has_error()) << Describe(refused);
  ASSERT_TRUE(bob.CollectItems(3, /*ack=*/false));

  // Three messages wait in bob's mailbox, pushed but not acknowledged.
  std::string metrics = Scrape(server);
  EXPECT_EQ(MetricValue(metrics, "parley_messages_accepted_total"), 3) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_messages_duplicate_total"), 1) << metrics;
  EXPECT_EQ(MetricValue(metrics, kUnknownRecipient), 1) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_errors_total{code=\"RATE_LIMITED\"}"), 0) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_store_messages_total"), 3) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_items_pushed_total"), 3) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_items_acked_total"), 0) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_mailbox_items_waiting"), 3) << metrics;

  // Bob's ack deletes them and puts three receipts into alice's mailbox.
  ASSERT_TRUE(bob.Ack(3));
  ASSERT_TRUE(alice.CollectItems(3, /*ack=*/false));
  EXPECT_TRUE(Reaches(server, "parley_store_items_deleted_total", 3));
  metrics = Scrape(server);
  EXPECT_EQ(MetricValue(metrics, "parley_items_acked_total"), 3) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_store_receipts_total"), 3) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_items_pushed_total"), 6) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_mailbox_items_waiting"), 3) << metrics;

  ASSERT_TRUE(alice.Ack(3));
  EXPECT_TRUE(Reaches(server, "parley_store_items_deleted_total", 6));
  metrics = Scrape(server);
  EXPECT_EQ(MetricValue(metrics, "parley_items_acked_total"), 6) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_mailbox_items_waiting"), 0) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_store_failed_batches_total"), 0) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_protocol_closes_total"), 0) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_sessions"), 2) << metrics;
  EXPECT_EQ(MetricValue(metrics, "parley_connections"), 2) << metrics;
  // Ours, and the probe with which ServerProcess saw the listener up.
  EXPECT_EQ(MetricValue(metrics, "parley_connections_accepted_total"), 3) << metrics;

  bob.connection().Close();
  EXPECT_TRUE(Reaches(server, "parley_sessions", 1));
  EXPECT_TRUE(Reaches(server, "parley_connections", 1));
}

// The metric family of a sample line: its name without labels, and for a histogram without
// the _bucket, _count or _sum of its series.
std::string Family(const std::string& sample, const std::set<std::string>& histograms) {
  const std::string name = sample.substr(0, sample.find_first_of("{ "));
  for (const std::string_view suffix : {"_bucket", "_count", "_sum"}) {
    if (!name.ends_with(suffix)) continue;
    const std::string base = name.substr(0, name.size() - suffix.size());
    if (histograms.contains(base)) return base;
  }
  return name;
}

TEST(MetricsTest, EverySampleIsPrefixedAndHasHelpAndType) {
  ServerProcess server;
  server.Start();
  const std::string metrics = Scrape(server);

  std::set<std::string> helped, typed, sampled, histograms;
  std::istringstream lines(metrics);
  std::string line;
  while (std::getline(lines, line)) {
    ASSERT_FALSE(line.empty()) << metrics;
    std::istringstream words(line);
    std::string first, kind, name;
    words >> first;
    if (first == "#") {
      words >> kind >> name;
      ASSERT_TRUE(kind == "HELP" || kind == "TYPE") << line;
      ASSERT_TRUE(name.starts_with("parley_")) << line;
      // A family is described before its samples, once.
      ASSERT_FALSE(sampled.contains(name)) << line;
      ASSERT_TRUE((kind == "HELP" ? helped : typed).insert(name).second) << line;
      std::string type;
      if (kind == "TYPE" && words >> type && type == "histogram") histograms.insert(name);
      continue;
    }
    const std::string family = Family(line, histograms);
    EXPECT_TRUE(family.starts_with("parley_")) << line;
    EXPECT_TRUE(helped.contains(family)) << "no HELP before " << line;
    EXPECT_TRUE(typed.contains(family)) << "no TYPE before " << line;
    sampled.insert(family);
  }
  EXPECT_EQ(helped, sampled);
  EXPECT_EQ(typed, sampled);

  for (const char* family :
       {"parley_connections", "parley_sessions", "parley_messages_accepted_total",
        "parley_items_pushed_total", "parley_items_acked_total", "parley_store_receipts_total",
        "parley_mailbox_items_waiting", "parley_store_batches_total", "parley_errors_total",
        "parley_process_resident_memory_bytes", "parley_uptime_seconds",
        "parley_config_reloads_total", "parley_build_info", "parley_store_commit_seconds",
        "parley_store_batch_ops", "parley_store_fsyncs_total"}) {
    EXPECT_TRUE(sampled.contains(family)) << family << " missing";
  }
}

TEST(MetricsTest, ProcessFiguresComeFromTheKernel) {
  ServerProcess server;
  server.Start();
  TestClient client(server, WireFormat::kJson);
  ASSERT_TRUE(client.Connect("carol"));
  const std::string metrics = Scrape(server);
  const auto value = [&](const std::string& name) {
    return MetricNumber(metrics, name).value_or(-1);
  };

  EXPECT_GT(value("parley_process_resident_memory_bytes"), 1 << 20) << metrics;
  EXPECT_GE(value("parley_process_virtual_memory_bytes"),
            value("parley_process_resident_memory_bytes"));
  // Listeners, RocksDB's files and carol's socket at least.
  EXPECT_GT(value("parley_process_open_fds"), 5) << metrics;
  EXPECT_GT(value("parley_process_max_fds"), value("parley_process_open_fds")) << metrics;
  // Two network threads, the storage writer and readers, the admin thread, main.
  EXPECT_GE(value("parley_process_threads"), 5) << metrics;
  EXPECT_GE(value("parley_process_cpu_seconds_total"), 0) << metrics;
  EXPECT_GE(value("parley_uptime_seconds"), 0) << metrics;
  EXPECT_LT(value("parley_uptime_seconds"), 120) << metrics;

  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(value("parley_process_start_time_seconds"), now, 120) << metrics;
}

}  // namespace
}  // namespace parley::testing
