// `cmake --install` of this build into a fresh prefix: what lands where, the systemd unit
// checked by systemd-analyze, the sysusers.d and tmpfiles.d entries applied to an empty root,
// and the production config checked by parleyd itself.

#include <gtest/gtest.h>

#include "ops_support.h"
#include "server_process.h"
#include <sys/stat.h>

namespace parley::testing {
namespace {

namespace fs = std::filesystem;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class InstallTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(Install()); }

  void Install() {
    const CommandResult result = RunCommand(Quote(CMakeCommand()) + " --install " +
                                            Quote(BuildDir()) + " --prefix " + Quote(prefix()));
    ASSERT_EQ(result.status, 0) << result.output;
  }

  std::string prefix() const { return (dir_.path() / "prefix").string(); }
  fs::path unit() const { return fs::path(prefix()) / "lib/systemd/system/parleyd.service"; }
  fs::path config() const { return fs::path(prefix()) / "etc/parley/parleyd.yaml"; }

  TempDir dir_;
};

TEST_F(InstallTest, PutsEveryFileInItsPlace) {
  const fs::path root = prefix();
  for (const char* program : {"bin/parleyd", "bin/parley"}) {
    EXPECT_EQ(::access((root / program).c_str(), X_OK), 0) << program;
  }
  for (const char* file : {"lib/systemd/system/parleyd.service", "lib/sysusers.d/parley.conf",
                           "lib/tmpfiles.d/parley.conf", "etc/parley/parleyd.yaml"}) {
    EXPECT_TRUE(fs::is_regular_file(root / file)) << file;
  }
}

TEST_F(InstallTest, UnitRunsTheInstalledDaemonHardened) {
  const std::string text = ReadFile(unit());
  EXPECT_TRUE(Contains(
      text, "\nExecStart=" + prefix() + "/bin/parleyd --config " + config().string() + "\n"))
      << text;
  for (const char* line : {"Type=notify",
                           "User=parley",
                           "Group=parley",
                           "Restart=on-failure",
                           "LimitNOFILE=2000000",
                           "ExecReload=/bin/kill -HUP $MAINPID",
                           "NoNewPrivileges=yes",
                           "ProtectSystem=strict",
                           "ProtectHome=yes",
                           "PrivateTmp=yes",
                           "PrivateDevices=yes",
                           "ProtectKernelTunables=yes",
                           "ProtectKernelModules=yes",
                           "ProtectControlGroups=yes",
                           "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                           "RestrictNamespaces=yes",
                           "LockPersonality=yes",
                           "MemoryDenyWriteExecute=yes",
                           "SystemCallArchitectures=native",
                           "ReadWritePaths=/var/lib/parley",
                           "StateDirectory=parley",
                           "TimeoutStopSec=",
                           "WantedBy=multi-user.target"}) {
    EXPECT_TRUE(Contains(text, std::string("\n") + line)) << line << " missing in\n" << text;
  }
}

TEST_F(InstallTest, UnitPassesSystemdAnalyzeVerify) {
  if (!HaveProgram("systemd-analyze")) GTEST_SKIP() << "systemd-analyze is not installed";
  // verify also checks that ExecStart's binary exists: the unit names the installed one.
  const CommandResult result = RunCommand("systemd-analyze verify " + Quote(unit().string()));
  EXPECT_EQ(result.status, 0) << result.output;
  // Unknown or misspelt settings are only warnings to systemd; here they are failures.
  EXPECT_EQ(result.output, "") << result.output;
}

TEST_F(InstallTest, SysusersAndTmpfilesMakeTheAccountAndTheStateFolder) {
  if (!HaveProgram("systemd-sysusers") || !HaveProgram("systemd-tmpfiles")) {
    GTEST_SKIP() << "systemd-sysusers or systemd-tmpfiles is not installed";
  }
  // Applied to an empty root: nothing of this machine changes.
  const fs::path root = dir_.path() / "root";
  fs::create_directories(root / "etc");
  const fs::path sysusers = fs::path(prefix()) / "lib/sysusers.d/parley.conf";
  const fs::path tmpfiles = fs::path(prefix()) / "lib/tmpfiles.d/parley.conf";

  CommandResult result = RunCommand("systemd-sysusers --root=" + Quote(root.string()) + " " +
                                    Quote(sysusers.string()));
  ASSERT_EQ(result.status, 0) << result.output;
  const std::string passwd = ReadFile(root / "etc/passwd");
  EXPECT_TRUE(Contains(passwd, ":Parley chat server:/var/lib/parley:")) << passwd;
  EXPECT_TRUE(Contains(ReadFile(root / "etc/group"), "parley:")) << ReadFile(root / "etc/group");

  result = RunCommand("systemd-tmpfiles --root=" + Quote(root.string()) + " --create " +
                      Quote(tmpfiles.string()));
  ASSERT_EQ(result.status, 0) << result.output;
  struct stat state {};
  ASSERT_EQ(::stat((root / "var/lib/parley").c_str(), &state), 0);
  EXPECT_TRUE(S_ISDIR(state.st_mode));
  EXPECT_EQ(state.st_mode & 07777, 0750u);
  // Owned by the account just made: its uid is in the root's passwd.
  const std::string owner = "parley:x:" + std::to_string(state.st_uid) + ":";
  EXPECT_TRUE(Contains(passwd, owner)) << owner << " not in\n" << passwd;
}

TEST_F(InstallTest, InstalledConfigIsValidAndMadeForProduction) {
  // Where the package's postinst would make it.
  WriteFile(fs::path(prefix()) / "etc/parley/hmac-secret",
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
  const CommandResult result =
      RunCommand(Quote(ParleydPath()) + " --check-config " + Quote(config().string()));
  EXPECT_EQ(result.status, 0) << result.output;

  const std::string text = ReadFile(config());
  EXPECT_TRUE(Contains(text, "hmac_secret_file: " + prefix() + "/etc/parley/hmac-secret\n"));
  EXPECT_TRUE(Contains(text, "path: /var/lib/parley/data ")) << text;
  EXPECT_TRUE(Contains(text, "  sync: true ")) << text;
  EXPECT_TRUE(Contains(text, "admin:")) << text;
  EXPECT_TRUE(Contains(text.substr(text.find("admin:")), "address: 127.0.0.1 ")) << text;
}

TEST_F(InstallTest, ReinstallKeepsAnEditedConfig) {
  Install();  // Unchanged: nothing to keep.
  EXPECT_FALSE(fs::exists(config().string() + ".default"));

  const std::string edited = ReadFile(config()) + "# edited by the operator\n";
  WriteFile(config(), edited);
  Install();
  EXPECT_EQ(ReadFile(config()), edited);
  EXPECT_TRUE(fs::exists(config().string() + ".default"));
}

}  // namespace
}  // namespace parley::testing
