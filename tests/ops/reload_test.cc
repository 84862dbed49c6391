// SIGHUP re-reads the config file: the log level applies at once, an invalid file changes
// nothing, and changes that need a restart are named.

#include <csignal>

#include <gtest/gtest.h>

#include "ops_support.h"
#include "server_process.h"
#include "test_client.h"

namespace parley::testing {
namespace {

// The line of the log holding `part`, or "" when there is none.
std::string LineWith(const std::string& log, const std::string& part) {
  const auto at = log.find(part);
  if (at == std::string::npos) return "";
  const auto begin = log.rfind('\n', at) + 1;  // npos + 1 is 0: the first line.
  return log.substr(begin, log.find('\n', at) - begin);
}

std::size_t Count(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

class ReloadTest : public ::testing::Test {
 protected:
  // ServerProcess writes `level: debug`; these tests start at info.
  ReloadTest() { EXPECT_TRUE(Edit("level: debug", "level: info")); }

  bool Edit(const std::string& from, const std::string& to) {
    return ReplaceInFile(server_.config_file(), from, to);
  }

  // Sends SIGHUP and waits for the outcome of the reload number `reloads` to be logged.
  ::testing::AssertionResult Reload(std::size_t reloads) {
    ::kill(server_.pid(), SIGHUP);
    const bool logged = WaitFor([&] {
      const std::string log = server_.Log();
      return Count(log, "config reloaded from") + Count(log, "config reload failed") >= reloads;
    });
    if (logged) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "no reload logged:\n" << server_.Log();
  }

  long long Metric(const std::string& name) {
    return MetricValue(HttpGet(server_.admin_port(), "/metrics").body, name);
  }

  bool Connects(const std::string& user) {
    TestClient client(server_, WireFormat::kJson);
    return client.Connect(user).has_value();
  }

  ServerProcess server_;
};

constexpr char kReloadsOk[] = "parley_config_reloads_total{result=\"ok\"}";
constexpr char kReloadsFailed[] = "parley_config_reloads_total{result=\"failed\"}";
constexpr char kDebugLine[] = " debug ";

TEST_F(ReloadTest, LogLevelFollowsTheFile) {
  server_.Start();
  ASSERT_TRUE(Connects("alice"));
  // Connection events are logged at debug: none so far.
  EXPECT_EQ(server_.Log().find(kDebugLine), std::string::npos) << server_.Log();

  ASSERT_TRUE(Edit("level: info", "level: debug"));
  ASSERT_TRUE(Reload(1));
  const std::string reloaded = LineWith(server_.Log(), "config reloaded from");
  EXPECT_NE(reloaded.find("changed=[log.level]"), std::string::npos) << reloaded;
  const auto applied = reloaded.find("applied=[");
  ASSERT_NE(applied, std::string::npos) << reloaded;
  EXPECT_NE(reloaded.find("log.level", applied), std::string::npos) << reloaded;
  EXPECT_NE(reloaded.find(" info "), std::string::npos) << reloaded;

  ASSERT_TRUE(Connects("bob"));
  EXPECT_TRUE(WaitFor([&] { return server_.Log().find(" debug [conn=") != std::string::npos; }))
      << server_.Log();
  EXPECT_EQ(Metric(kReloadsOk), 1);
  EXPECT_EQ(Metric(kReloadsFailed), 0);
}

TEST_F(ReloadTest, AnInvalidFileChangesNothing) {
  server_.Start();
  ASSERT_TRUE(Edit("level: info", "levle: debug"));
  ASSERT_TRUE(Reload(1));
  const std::string failed = LineWith(server_.Log(), "config reload failed");
  EXPECT_NE(failed.find("log.levle"), std::string::npos) << failed;
  EXPECT_NE(failed.find(" error "), std::string::npos) << failed;
  EXPECT_EQ(Metric(kReloadsFailed), 1);

  // Still serving, still at info.
  ASSERT_TRUE(Connects("alice"));
  EXPECT_EQ(server_.Log().find(kDebugLine), std::string::npos) << server_.Log();

  // A fixed file then applies.
  ASSERT_TRUE(Edit("levle: debug", "level: debug"));
  ASSERT_TRUE(Reload(2));
  ASSERT_TRUE(Connects("bob"));
  EXPECT_TRUE(WaitFor([&] { return server_.Log().find(kDebugLine) != std::string::npos; }));
  EXPECT_EQ(Metric(kReloadsOk), 1);
}

TEST_F(ReloadTest, ChangesThatNeedARestartAreNamed) {
  server_.Start();
  ASSERT_TRUE(Edit("path: data\n", "path: data\n  sync: false\n"));
  ASSERT_TRUE(Edit("threads: 2", "threads: 3"));
  ASSERT_TRUE(Edit("send_rate_per_s: 5000", "send_rate_per_s: 4000"));
  ASSERT_TRUE(Reload(1));

  const std::string log = server_.Log();
  const std::string reloaded = LineWith(log, "config reloaded from");
  EXPECT_NE(reloaded.find("changed=[storage.sync,limits.send_rate_per_s,server.threads]"),
            std::string::npos)
      << reloaded;
  // The gateway takes the new rate limit live; storage and threads wait for a restart.
  const std::string applied = reloaded.substr(reloaded.find("applied=["));
  EXPECT_NE(applied.find("limits.send_rate_per_s"), std::string::npos) << reloaded;
  const std::string pending = LineWith(log, "after a restart");
  EXPECT_NE(pending.find("[storage.sync,server.threads]"), std::string::npos) << pending;
  EXPECT_NE(pending.find(" warning "), std::string::npos) << pending;
  EXPECT_EQ(Metric("parley_config_restart_pending_keys"), 2);

  // Back to what the daemon runs with: nothing is pending any more.
  ASSERT_TRUE(Edit("  sync: false\n", ""));
  ASSERT_TRUE(Edit("threads: 3", "threads: 2"));
  ASSERT_TRUE(Reload(2));
  EXPECT_EQ(Count(server_.Log(), "after a restart"), 1u) << server_.Log();
  EXPECT_EQ(Metric("parley_config_restart_pending_keys"), 0);
}

}  // namespace
}  // namespace parley::testing
