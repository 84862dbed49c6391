#include "parley/config/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace parley::config {
namespace {

namespace fs = std::filesystem;

constexpr char kSecret[] = "a-development-secret-of-40-bytes-xxxxxxx";
const std::string kSecretYaml = std::string("auth:\n  hmac_secret: ") + kSecret + "\n";

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "parley-config-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }

  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // Writes `contents` to `relative` under the test's folder and returns the full path.
  std::string WriteFile(const std::string& relative, const std::string& contents) {
    const fs::path path = dir_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << contents;
    return path.string();
  }

  // The ConfigError text for `yaml`, or "" when it parses.
  std::string ErrorOf(const std::string& yaml) {
    try {
      ParseConfig(yaml, dir_.string());
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(ConfigTest, OnlyASecretGivesEveryDefault) {
  const Config config = ParseConfig(kSecretYaml, dir_.string());
  const Config defaults;

  EXPECT_EQ(config.listen.address, "127.0.0.1");
  EXPECT_EQ(config.listen.port, 8080);
  EXPECT_FALSE(config.listen.tls.enabled);
  EXPECT_EQ(config.listen.tls.cert_file, "");
  EXPECT_EQ(config.admin.address, "127.0.0.1");
  EXPECT_EQ(config.admin.port, 9090);
  EXPECT_EQ(config.auth.secret, kSecret);
  EXPECT_EQ(config.storage.path, (dir_ / "data").string());
  EXPECT_TRUE(config.storage.sync);
  EXPECT_EQ(config.limits.connect_timeout_s, defaults.limits.connect_timeout_s);
  EXPECT_EQ(config.limits.idle_timeout_s, defaults.limits.idle_timeout_s);
  EXPECT_EQ(config.limits.max_frame_bytes, 65536u);
  EXPECT_EQ(config.limits.send_rate_per_s, defaults.limits.send_rate_per_s);
  EXPECT_EQ(config.limits.typing_rate_per_s, defaults.limits.typing_rate_per_s);
  EXPECT_EQ(config.limits.mailbox_max_items, 100000u);
  EXPECT_EQ(config.limits.max_connections, defaults.limits.max_connections);
  EXPECT_EQ(config.limits.violations_before_close, defaults.limits.violations_before_close);
  EXPECT_EQ(config.delivery.window, 256u);
  EXPECT_EQ(config.retention.undelivered_days, 365u);
  EXPECT_EQ(config.retention.dedup_days, 30u);
  EXPECT_EQ(config.log.level, "info");
  EXPECT_EQ(config.server.threads, 0u);
}

TEST_F(ConfigTest, EmptySectionsKeepDefaults) {
  const Config config = ParseConfig(kSecretYaml + "listen:\nlimits: {}\n", dir_.string());
  EXPECT_EQ(config.listen.port, 8080);
  EXPECT_EQ(config.limits.max_frame_bytes, 65536u);
}

TEST_F(ConfigTest, ReadsEveryKey) {
  WriteFile("tls/cert.pem", "cert");
  WriteFile("tls/key.pem", "key");
  const std::string yaml = kSecretYaml + R"(
listen: {address: 0.0.0.0, port: 0, tls: {enabled: true, cert_file: tls/cert.pem,
         key_file: tls/key.pem}}
admin: {address: "::1", port: 65535}
storage: {path: /srv/parley, sync: false}
limits:
  connect_timeout_s: 1
  idle_timeout_s: 3600
  max_frame_bytes: 1024
  send_rate_per_s: 10000
  typing_rate_per_s: 1
  mailbox_max_items: 100000000
  max_connections: 1
  violations_before_close: 100000
delivery: {window: 16}
retention: {undelivered_days: 3650, dedup_days: 1}
log: {level: critical}
server: {threads: 1024}
)";
  const Config config = ParseConfig(yaml, dir_.string());

  EXPECT_EQ(config.listen.address, "0.0.0.0");
  EXPECT_EQ(config.listen.port, 0);
  EXPECT_TRUE(config.listen.tls.enabled);
  EXPECT_EQ(config.listen.tls.cert_file, (dir_ / "tls/cert.pem").string());
  EXPECT_EQ(config.listen.tls.key_file, (dir_ / "tls/key.pem").string());
  EXPECT_EQ(config.admin.address, "::1");
  EXPECT_EQ(config.admin.port, 65535);
  EXPECT_EQ(config.storage.path, "/srv/parley");
  EXPECT_FALSE(config.storage.sync);
  EXPECT_EQ(config.limits.connect_timeout_s, 1u);
  EXPECT_EQ(config.limits.idle_timeout_s, 3600u);
  EXPECT_EQ(config.limits.max_frame_bytes, 1024u);
  EXPECT_EQ(config.limits.send_rate_per_s, 10000u);
  EXPECT_EQ(config.limits.typing_rate_per_s, 1u);
  EXPECT_EQ(config.limits.mailbox_max_items, 100000000u);
  EXPECT_EQ(config.limits.max_connections, 1u);
  EXPECT_EQ(config.limits.violations_before_close, 100000u);
  EXPECT_EQ(config.delivery.window, 16u);
  EXPECT_EQ(config.retention.undelivered_days, 3650u);
  EXPECT_EQ(config.retention.dedup_days, 1u);
  EXPECT_EQ(config.log.level, "critical");
  EXPECT_EQ(config.server.threads, 1024u);
}

TEST_F(ConfigTest, ShippedSampleMatchesTheDefaults) {
  std::ifstream sample(std::string(PARLEY_SOURCE_DIR) + "/config/parleyd.yaml");
  ASSERT_TRUE(sample.good());
  std::stringstream text;
  text << sample.rdbuf();
  const std::string path = WriteFile("config/parleyd.yaml", text.str());
  WriteFile("var/dev-secret", std::string(kSecret) + "\n");

  const Config config = LoadConfig(path);
  const Config defaults;
  EXPECT_EQ(config.listen.port, defaults.listen.port);
  EXPECT_EQ(config.admin.port, defaults.admin.port);
  EXPECT_EQ(config.auth.secret, kSecret);
  EXPECT_EQ(config.storage.path, (dir_ / "var/data").string());
  EXPECT_EQ(config.storage.sync, defaults.storage.sync);
  EXPECT_EQ(config.limits.max_frame_bytes, defaults.limits.max_frame_bytes);
  EXPECT_EQ(config.limits.mailbox_max_items, defaults.limits.mailbox_max_items);
  EXPECT_EQ(config.limits.violations_before_close, defaults.limits.violations_before_close);
  EXPECT_EQ(config.delivery.window, defaults.delivery.window);
  EXPECT_EQ(config.retention.undelivered_days, defaults.retention.undelivered_days);
  EXPECT_EQ(config.log.level, defaults.log.level);
  EXPECT_EQ(config.server.threads, defaults.server.threads);
}

TEST_F(ConfigTest, UnknownTopLevelKeySuggestsTheSection) {
  const std::string error = ErrorOf(kSecretYaml + "listn:\n  port: 1\n");
  EXPECT_EQ(error, "<config>: listn: unknown key (line 3); did you mean 'listen'?");
}

TEST_F(ConfigTest, UnknownNestedKeySuggestsTheFullKey) {
  const std::string error = ErrorOf(kSecretYaml + "limits:\n  send_rate_per_sec: 5\n");
  EXPECT_EQ(error,
            "<config>: limits.send_rate_per_sec: unknown key (line 4); did you mean "
            "'limits.send_rate_per_s'?");

  const std::string tls_error = ErrorOf(kSecretYaml + "listen:\n  tls:\n    enable: true\n");
  EXPECT_NE(tls_error.find("listen.tls.enable: unknown key"), std::string::npos) << tls_error;
  EXPECT_NE(tls_error.find("'listen.tls.enabled'"), std::string::npos) << tls_error;
}

TEST_F(ConfigTest, UnknownKeyFarFromAnyListsTheKnownOnes) {
  const std::string error = ErrorOf(kSecretYaml + "delivery:\n  colour: blue\n");
  EXPECT_EQ(error,
            "<config>: delivery.colour: unknown key (line 4); known keys in delivery: window");
}

TEST_F(ConfigTest, RepeatedKeyIsAnError) {
  const std::string error = ErrorOf(kSecretYaml + "log:\n  level: info\n  level: debug\n");
  EXPECT_EQ(error, "<config>: log.level: given more than once (line 5)");
}

TEST_F(ConfigTest, WrongTypesNameTheKeyAndTheRange) {
  EXPECT_EQ(ErrorOf(kSecretYaml + "listen:\n  port: eighty\n"),
            "<config>: listen.port: expected an integer in 0..65535, got text (line 4)");
  EXPECT_EQ(ErrorOf(kSecretYaml + "listen:\n  port: '8080'\n"),
            "<config>: listen.port: expected an integer in 0..65535, got a quoted string (line 4)");
  EXPECT_EQ(ErrorOf(kSecretYaml + "listen:\n  port: -1\n"),
            "<config>: listen.port: must be in 0..65535, got -1 (line 4)");
  EXPECT_EQ(ErrorOf(kSecretYaml + "limits:\n  max_frame_bytes: {a: 1}\n"),
            "<config>: limits.max_frame_bytes: expected an integer in 1024..16777216, got a map "
            "(line 4)");
  EXPECT_EQ(ErrorOf(kSecretYaml + "limits:\n  idle_timeout_s: 1.5\n"),
            "<config>: limits.idle_timeout_s: expected an integer in 5..3600, got text (line 4)");
  EXPECT_EQ(ErrorOf(kSecretYaml + "storage:\n  sync: yes\n"),
            "<config>: storage.sync: expected true or false, got text (line 4)");
  EXPECT_EQ(ErrorOf(kSecretYaml + "storage:\n  path: [a, b]\n"),
            "<config>: storage.path: expected text, got a list (line 4)");
  EXPECT_EQ(ErrorOf(kSecretYaml + "admin: 9090\n"),
            "<config>: admin: expected a map of settings, got text (line 3)");
  EXPECT_EQ(ErrorOf("- listen\n- admin\n"),
            "<config>: expected a map of settings, got a list (line 1)");
}

TEST_F(ConfigTest, OutOfRangeNamesTheKeyAndTheRange) {
  EXPECT_EQ(ErrorOf(kSecretYaml + "delivery:\n  window: 8\n"),
            "<config>: delivery.window: must be in 16..65536, got 8 (line 4)");
  EXPECT_EQ(ErrorOf(kSecretYaml + "listen:\n  port: 70000\n"),
            "<config>: listen.port: must be in 0..65535, got 70000 (line 4)");
  EXPECT_EQ(ErrorOf(kSecretYaml + "server:\n  threads: 99999999999999999999999\n"),
            "<config>: server.threads: must be in 0..1024 (line 4)");
}

struct RangeCase {
  const char* section;
  const char* key;
  long long min;
  long long max;
};

class ConfigRangeTest : public ConfigTest, public ::testing::WithParamInterface<RangeCase> {
 protected:
  std::string With(long long value) {
    const RangeCase& c = GetParam();
    return kSecretYaml + c.section + ":\n  " + c.key + ": " + std::to_string(value) + "\n";
  }
};

TEST_P(ConfigRangeTest, AcceptsBothEndsAndRefusesBeyondThem) {
  const RangeCase& c = GetParam();
  const std::string range = std::to_string(c.min) + ".." + std::to_string(c.max);
  const std::string dotted = std::string(c.section) + "." + c.key;

  EXPECT_EQ(ErrorOf(With(c.min)), "");
  EXPECT_EQ(ErrorOf(With(c.max)), "");
  for (long long outside : {c.min - 1, c.max + 1}) {
    const std::string error = ErrorOf(With(outside));
    EXPECT_NE(error.find(dotted + ": must be in " + range), std::string::npos) << error;
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryIntegerKey, ConfigRangeTest,
    ::testing::Values(RangeCase{"listen", "port", 0, 65535}, RangeCase{"admin", "port", 0, 65535},
                      RangeCase{"limits", "connect_timeout_s", 1, 300},
                      RangeCase{"limits", "idle_timeout_s", 5, 3600},
                      RangeCase{"limits", "write_timeout_s", 1, 3600},
                      RangeCase{"limits", "frames_per_s", 1, 100000},
                      RangeCase{"limits", "max_frame_bytes", 1024, 16777216},
                      RangeCase{"limits", "send_rate_per_s", 1, 10000},
                      RangeCase{"limits", "typing_rate_per_s", 1, 1000},
                      RangeCase{"limits", "mailbox_max_items", 1, 100000000},
                      RangeCase{"limits", "max_connections", 1, 10000000},
                      RangeCase{"limits", "violations_before_close", 1, 100000},
                      RangeCase{"delivery", "window", 16, 65536},
                      RangeCase{"retention", "undelivered_days", 1, 3650},
                      RangeCase{"retention", "dedup_days", 1, 3650},
                      RangeCase{"server", "threads", 0, 1024},
                      RangeCase{"log", "max_size_mb", 1, 100000},
                      RangeCase{"log", "max_files", 1, 1000}));

TEST_F(ConfigTest, SecretIsRequired) {
  EXPECT_EQ(ErrorOf(""),
            "<config>: auth.hmac_secret: required (or auth.hmac_secret_file): tokens cannot be "
            "checked");
  EXPECT_NE(ErrorOf("log:\n  level: info\n").find("auth.hmac_secret: required"), std::string::npos);
}

TEST_F(ConfigTest, OnlyOneSecretSourceMayBeSet) {
  WriteFile("secret", std::string(kSecret) + "\n");
  const std::string error = ErrorOf(kSecretYaml + "  hmac_secret_file: secret\n");
  EXPECT_EQ(error,
            "<config>: auth.hmac_secret: set either this or auth.hmac_secret_file, not both");
}

TEST_F(ConfigTest, ShortSecretIsRefusedWithoutQuotingIt) {
  const std::string error = ErrorOf("auth:\n  hmac_secret: too-short-secret\n");
  EXPECT_EQ(error,
            "<config>: auth.hmac_secret: the secret must be at least 32 bytes for HS256, got 16");
  EXPECT_EQ(error.find("too-short"), std::string::npos);
}

TEST_F(ConfigTest, SecretFileIsReadAndTrailingWhitespaceTrimmed) {
  WriteFile("keys/secret", std::string(" ") + kSecret + " \r\n\n\t");
  const Config config = ParseConfig("auth:\n  hmac_secret_file: keys/secret\n", dir_.string());
  EXPECT_EQ(config.auth.secret, std::string(" ") + kSecret);
  EXPECT_EQ(config.auth.hmac_secret_file, (dir_ / "keys/secret").string());
}

TEST_F(ConfigTest, ShortSecretFileIsRefused) {
  WriteFile("secret", "short\n");
  EXPECT_EQ(ErrorOf("auth:\n  hmac_secret_file: secret\n"),
            "<config>: auth.hmac_secret_file: the secret must be at least 32 bytes for HS256, got "
            "5");
}

TEST_F(ConfigTest, UnreadableSecretFileNamesKeyAndPath) {
  const std::string missing = (dir_ / "nowhere/secret").string();
  EXPECT_EQ(
      ErrorOf("auth:\n  hmac_secret_file: nowhere/secret\n"),
      "<config>: auth.hmac_secret_file: cannot read '" + missing + "': No such file or directory");

  fs::create_directories(dir_ / "a-folder");
  const std::string folder_error = ErrorOf("auth:\n  hmac_secret_file: a-folder\n");
  EXPECT_NE(
      folder_error.find("auth.hmac_secret_file: cannot read '" + (dir_ / "a-folder").string()),
      std::string::npos)
      << folder_error;
}

TEST_F(ConfigTest, TlsNeedsBothFilesAndTheyMustBeReadable) {
  EXPECT_EQ(ErrorOf(kSecretYaml + "listen:\n  tls:\n    enabled: true\n"),
            "<config>: listen.tls.cert_file: required when tls is enabled");

  WriteFile("cert.pem", "cert");
  EXPECT_EQ(ErrorOf(kSecretYaml + "listen:\n  tls: {enabled: true, cert_file: cert.pem}\n"),
            "<config>: listen.tls.key_file: required when tls is enabled");

  const std::string error =
      ErrorOf(kSecretYaml + "listen:\n  tls: {enabled: true, cert_file: cert.pem, key_file: k}\n");
  EXPECT_EQ(error, "<config>: listen.tls.key_file: cannot read '" + (dir_ / "k").string() +
                       "': No such file or directory");

  // Disabled, the files are neither required nor opened.
  EXPECT_EQ(ErrorOf(kSecretYaml + "listen:\n  tls: {enabled: false, key_file: missing}\n"), "");
}

TEST_F(ConfigTest, LogLevelMustBeKnown) {
  EXPECT_EQ(ErrorOf(kSecretYaml + "log:\n  level: verbose\n"),
            "<config>: log.level: must be one of trace, debug, info, warn, error, critical, off, "
            "got 'verbose' (line 4)");
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    EXPECT_EQ(ErrorOf(kSecretYaml + "log:\n  level: " + level + "\n"), "") << level;
  }
}

TEST_F(ConfigTest, YamlSyntaxErrorNamesFileAndLine) {
  const std::string path = WriteFile("broken.yaml", kSecretYaml + "listen:\n  port: [8080\n");
  try {
    LoadConfig(path);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string error = e.what();
    EXPECT_EQ(error.rfind(path + ": line ", 0), 0u) << error;
    EXPECT_NE(error.find("YAML syntax error"), std::string::npos) << error;
  }

  EXPECT_EQ(ErrorOf("listen:\n  port: 1\n    address: x\n").rfind("<config>: line 3: ", 0), 0u);
}

TEST_F(ConfigTest, LoadConfigNamesTheFileInErrors) {
  const std::string path = WriteFile("parleyd.yaml", kSecretYaml + "listen:\n  port: 1e3\n");
  try {
    LoadConfig(path);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              path + ": listen.port: expected an integer in 0..65535, got text (line 4)");
  }

  const std::string missing = (dir_ / "absent.yaml").string();
  try {
    LoadConfig(missing);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), missing + ": cannot read: No such file or directory");
  }
}

TEST_F(ConfigTest, RelativePathsResolveAgainstTheConfigFolder) {
  WriteFile("var/secret", kSecret);
  const std::string path = WriteFile("config/parleyd.yaml",
                                     "auth: {hmac_secret_file: ../var/secret}\n"
                                     "storage: {path: ../var/data}\n");
  const Config config = LoadConfig(path);
  EXPECT_EQ(config.auth.secret, kSecret);
  EXPECT_EQ(config.auth.hmac_secret_file, (dir_ / "var/secret").string());
  EXPECT_EQ(config.storage.path, (dir_ / "var/data").string());
}

TEST_F(ConfigTest, RelativeBaseFolderIsNormalisedLexically) {
  const Config config = ParseConfig(kSecretYaml + "storage:\n  path: ../var/./data\n", "config");
  EXPECT_EQ(config.storage.path, "var/data");

  const Config absolute =
      ParseConfig(kSecretYaml + "storage:\n  path: /srv//x/../data\n", "config");
  EXPECT_EQ(absolute.storage.path, "/srv/data");
}

}  // namespace
}  // namespace parley::config
