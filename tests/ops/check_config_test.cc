// `parleyd --check-config FILE` through the real binary: each kind of bad file is refused
// with a message that names the key.

#include <gtest/gtest.h>

#include "ops_support.h"
#include "server_process.h"

namespace parley::testing {
namespace {

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef0123456789abcdef";
constexpr char kAuth[] = "auth:\n  hmac_secret_file: secret\n";

struct BadFile {
  const char* name;
  std::string yaml;     // The whole file.
  const char* key;      // Must appear in the message.
  const char* problem;  // And this too.
};

// Lets gtest name a failing case by its name rather than by its bytes.
void PrintTo(const BadFile& bad, std::ostream* out) { *out << bad.name; }

// Each file is valid but for one thing.
std::vector<BadFile> BadFiles() {
  const std::string auth = kAuth;
  return {
      {"UnknownKey", auth + "limits:\n  windw: 3\n", "limits.windw", "unknown key"},
      {"MisspeltKey", auth + "limits:\n  send_rate_per_sec: 3\n", "limits.send_rate_per_sec",
       "did you mean 'limits.send_rate_per_s'"},
      {"UnknownSection", auth + "lisen:\n  port: 1\n", "lisen", "unknown key"},
      {"WrongType", auth + "listen:\n  port: eighty\n", "listen.port", "expected an integer"},
      {"NotABoolean", auth + "storage:\n  sync: yes\n", "storage.sync", "expected true or false"},
      {"MapForAValue", auth + "delivery:\n  window:\n    size: 3\n", "delivery.window", "map"},
      {"OutOfRange", auth + "delivery:\n  window: 8\n", "delivery.window", "16..65536"},
      {"PortOutOfRange", auth + "admin:\n  port: 70000\n", "admin.port", "70000"},
      {"LogLevel", auth + "log:\n  level: verbose\n", "log.level", "verbose"},
      {"LogSize", auth + "log:\n  max_size_mb: 0\n", "log.max_size_mb", "0"},
      {"MissingSecret", "storage:\n  path: data\n", "auth.hmac_secret", "required"},
      {"BothSecrets", auth + "  hmac_secret: " + kSecret + "\n", "auth.hmac_secret", "not both"},
      {"SecretFileMissing", "auth:\n  hmac_secret_file: nowhere\n", "auth.hmac_secret_file",
       "cannot read"},
      {"SecretTooShort", "auth:\n  hmac_secret: tooshort\n", "auth.hmac_secret", "32"},
      {"TlsWithoutFiles", auth + "listen:\n  tls:\n    enabled: true\n", "listen.tls.cert_file",
       "required"},
      {"TlsKeyUnreadable",
       auth + "listen:\n  tls:\n    enabled: true\n    cert_file: secret\n    key_file: nokey\n",
       "listen.tls.key_file", "cannot read"},
      {"TwiceTheSameKey", auth + "log:\n  level: info\n  level: debug\n", "log.level",
       "more than once"},
  };
}

class CheckConfigTest : public ::testing::TestWithParam<BadFile> {
 protected:
  CheckConfigTest() { WriteFile(dir_.path() / "secret", std::string(kSecret) + "\n"); }

  CommandResult Check(const std::string& yaml) {
    const auto file = dir_.path() / "parleyd.yaml";
    WriteFile(file, yaml);
    return RunCommand(Quote(ParleydPath()) + " --check-config " + Quote(file.string()));
  }

  TempDir dir_;
};

TEST_F(CheckConfigTest, AcceptsAValidFile) {
  const CommandResult result = Check(std::string(kAuth) + "log:\n  level: debug\n");
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find(": ok"), std::string::npos) << result.output;
}

TEST_P(CheckConfigTest, RefusesTheFileNamingTheKey) {
  const BadFile& bad = GetParam();
  const CommandResult result = Check(bad.yaml);
  EXPECT_NE(result.status, 0) << result.output;
  EXPECT_NE(result.output.find(bad.key), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(bad.problem), std::string::npos) << result.output;
  // One line: what an operator reads in a terminal or in the journal.
  EXPECT_EQ(result.output.find('\n'), result.output.size() - 1) << result.output;
  EXPECT_EQ(result.output.find(kSecret), std::string::npos) << "the secret leaked";
}

TEST_F(CheckConfigTest, NeverShowsATooShortSecret) {
  const CommandResult result = Check("auth:\n  hmac_secret: my-little-secret\n");
  EXPECT_NE(result.status, 0) << result.output;
  EXPECT_EQ(result.output.find("my-little-secret"), std::string::npos) << result.output;
}

TEST_F(CheckConfigTest, RefusesBrokenYaml) {
  const CommandResult result = Check(std::string(kAuth) + "limits: [\n");
  EXPECT_NE(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("YAML syntax error"), std::string::npos) << result.output;
}

std::string BadFileName(const ::testing::TestParamInfo<BadFile>& bad) { return bad.param.name; }

INSTANTIATE_TEST_SUITE_P(BadFiles, CheckConfigTest, ::testing::ValuesIn(BadFiles()), BadFileName);

}  // namespace
}  // namespace parley::testing
