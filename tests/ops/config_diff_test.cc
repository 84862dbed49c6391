// ChangedKeys and ConfigReloader, in-process: which keys a reload reports, applies and
// leaves for a restart.

#include "server/config_diff.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "ops_support.h"
#include "server/config_reloader.h"
#include "server_process.h"

namespace parley::testing {
namespace {

using Keys = std::vector<std::string>;

TEST(ConfigDiffTest, SameConfigNoChange) {
  EXPECT_EQ(server::ChangedKeys(config::Config{}, config::Config{}), Keys{});
}

TEST(ConfigDiffTest, NamesEachChangedKeyInFileOrder) {
  config::Config before;
  config::Config after;
  after.server.threads = 4;
  after.listen.tls.cert_file = "cert.pem";
  after.limits.frames_per_s = 7;
  after.log.max_files = 9;
  EXPECT_EQ(server::ChangedKeys(before, after), (Keys{"listen.tls.cert_file", "limits.frames_per_s",
                                                      "log.max_files", "server.threads"}));
}

TEST(ConfigDiffTest, ANewSecretIsNamedAfterItsKeyNotShown) {
  config::Config before;
  before.auth.hmac_secret_file = "/etc/parley/hmac-secret";
  before.auth.secret = "old-secret-old-secret-old-secret";
  config::Config after = before;
  after.auth.secret = "new-secret-new-secret-new-secret";
  EXPECT_EQ(server::ChangedKeys(before, after), Keys{"auth.hmac_secret_file"});

  after.auth.hmac_secret_file = "/etc/parley/other";
  EXPECT_EQ(server::ChangedKeys(before, after), Keys{"auth.hmac_secret_file"});

  after.auth.hmac_secret_file.clear();
  after.auth.hmac_secret = after.auth.secret;
  EXPECT_EQ(server::ChangedKeys(before, after),
            (Keys{"auth.hmac_secret_file", "auth.hmac_secret"}));
}

class ConfigReloaderTest : public ::testing::Test {
 protected:
  ConfigReloaderTest() {
    WriteFile(dir_.path() / "secret", "0123456789abcdef0123456789abcdef\n");
    Write("info", 20);
    spdlog::set_level(spdlog::level::info);
  }
  ~ConfigReloaderTest() override { spdlog::set_level(spdlog::level::info); }

  void Write(const std::string& level, int send_rate, const std::string& extra = "") {
    WriteFile(file(), "auth:\n  hmac_secret_file: secret\nlog:\n  level: " + level +
                          "\nlimits:\n  send_rate_per_s: " + std::to_string(send_rate) + "\n" +
                          extra);
  }

  std::string file() const { return (dir_.path() / "parleyd.yaml").string(); }

  TempDir dir_;
};

TEST_F(ConfigReloaderTest, AppliesTheLogLevelAndWhatTheGatewayTakes) {
  Keys offered;
  server::ConfigReloader reloader(file(), config::LoadConfig(file()),
                                  [&](const config::Config& next) {
                                    offered.push_back(std::to_string(next.limits.send_rate_per_s));
                                    return Keys{"limits.send_rate_per_s"};
                                  });
  Write("debug", 30);
  const server::ReloadResult result = reloader.Reload();
  EXPECT_TRUE(result.loaded);
  EXPECT_EQ(result.changed, (Keys{"limits.send_rate_per_s", "log.level"}));
  EXPECT_EQ(result.applied, (Keys{"limits.send_rate_per_s", "log.level"}));
  EXPECT_EQ(result.restart_pending, Keys{});
  EXPECT_EQ(offered, Keys{"30"});
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
}

TEST_F(ConfigReloaderTest, AnInvalidFileChangesNothing) {
  server::ConfigReloader reloader(file(), config::LoadConfig(file()),
                                  [](const config::Config&) -> Keys {
                                    ADD_FAILURE() << "the gateway saw an invalid config";
                                    return {};
                                  });
  WriteFile(file(), "log:\n  level: debug\n");  // No secret.
  EXPECT_FALSE(reloader.Reload().loaded);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
}

TEST_F(ConfigReloaderTest, ARefusalFromTheGatewayChangesNothing) {
  server::ConfigReloader reloader(file(), config::LoadConfig(file()),
                                  [](const config::Config&) -> Keys {
                                    throw std::runtime_error("listen.tls: no such certificate");
                                  });
  Write("debug", 20);
  EXPECT_FALSE(reloader.Reload().loaded);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
}

TEST_F(ConfigReloaderTest, RestartPendingUntilTheValueIsBack) {
  server::ConfigReloader reloader(file(), config::LoadConfig(file()),
                                  [](const config::Config&) { return Keys{"listen.tls"}; });
  Write("info", 20, "server:\n  threads: 3\nlisten:\n  tls:\n    key_file: other.pem\n");
  server::ReloadResult result = reloader.Reload();
  EXPECT_EQ(result.changed, (Keys{"listen.tls.key_file", "server.threads"}));
  // "listen.tls" covers the key file; the threads wait for a restart.
  EXPECT_EQ(result.restart_pending, Keys{"server.threads"});

  // Unchanged since the last reload, still pending: the daemon runs with the old value.
  result = reloader.Reload();
  EXPECT_EQ(result.changed, Keys{});
  EXPECT_EQ(result.restart_pending, Keys{"server.threads"});

  Write("info", 20);
  result = reloader.Reload();
  EXPECT_EQ(result.restart_pending, Keys{});
}

}  // namespace
}  // namespace parley::testing
