// The .deb made by cpack from this build: its files, its control fields, its conffiles, and
// what its maintainer scripts do to a system (an unpacked root folder standing in for one).

#include <gtest/gtest.h>

#include "ops_support.h"
#include "server_process.h"
#include <sys/stat.h>

namespace parley::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kSystemPath[] = "/usr/sbin:/usr/bin:/sbin:/bin";

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class PackageTest : public ::testing::Test {
 protected:
  // cpack reuses the build: it installs into a staging folder under dir_ and packs that.
  void SetUp() override {
    if (!HaveProgram("dpkg-deb")) GTEST_SKIP() << "dpkg-deb is not installed";
    const CommandResult built =
        RunCommand(Quote(CPackCommand()) + " -G DEB -B " + Quote(dir_.path().string()) +
                   " --config " + Quote(BuildDir() + "/CPackConfig.cmake"));
    ASSERT_EQ(built.status, 0) << built.output;
    for (const auto& entry : fs::directory_iterator(dir_.path())) {
      if (entry.path().extension() == ".deb") deb_ = entry.path().string();
    }
    ASSERT_FALSE(deb_.empty()) << built.output;

    const CommandResult extracted =
        RunCommand("dpkg-deb -e " + Quote(deb_) + " " + Quote(control().string()));
    ASSERT_EQ(extracted.status, 0) << extracted.output;
  }

  fs::path control() const { return dir_.path() / "control"; }
  fs::path root() const { return dir_.path() / "root"; }

  // The package's files into root(), with the account files every system has.
  void Unpack() {
    CommandResult result = RunCommand("dpkg-deb -x " + Quote(deb_) + " " + Quote(root().string()));
    ASSERT_EQ(result.status, 0) << result.output;
    WriteFile(root() / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    WriteFile(root() / "etc/group", "root:x:0:\n");
  }

  // Runs `script args` from control() with $DPKG_ROOT at root() and only `path` to search.
  CommandResult RunScript(const std::string& script_and_args, const std::string& path) {
    return RunCommand("env -i PATH=" + Quote(path) + " DPKG_ROOT=" + Quote(root().string()) +
                      " /bin/sh " + Quote(control().string()) + "/" + script_and_args);
  }

  // What postinst must have left in root(): the account, its folder, the secret.
  void ExpectSetUp() {
    const std::string passwd = ReadFile(root() / "etc/passwd");
    const auto entry = passwd.find("\nparley:");
    ASSERT_NE(entry, std::string::npos) << passwd;
    const std::string fields = passwd.substr(entry + 1, passwd.find('\n', entry + 1) - entry - 1);
    EXPECT_TRUE(Contains(fields, ":/var/lib/parley:/usr/sbin/nologin")) << fields;
    const std::string group = ReadFile(root() / "etc/group");
    ASSERT_TRUE(Contains(group, "\nparley:x:")) << group;
    const auto gid = static_cast<gid_t>(std::stoul(group.substr(group.find("\nparley:x:") + 10)));

    struct stat state {};
    ASSERT_EQ(::stat((root() / "var/lib/parley").c_str(), &state), 0);
    EXPECT_EQ(state.st_mode & 07777, 0750u);
    EXPECT_EQ(state.st_gid, gid);

    struct stat secret {};
    ASSERT_EQ(::stat((root() / "etc/parley/hmac-secret").c_str(), &secret), 0);
    EXPECT_EQ(secret.st_mode & 07777, 0640u);
    EXPECT_EQ(secret.st_uid, 0u);
    EXPECT_EQ(secret.st_gid, gid);
    const std::string text = ReadFile(root() / "etc/parley/hmac-secret");
    EXPECT_EQ(text.size(), 65u) << text;
    EXPECT_EQ(text.find_first_not_of("0123456789abcdef"), 64u) << text;
  }

  std::string Field(const std::string& name) {
    const CommandResult result = RunCommand("dpkg-deb -f " + Quote(deb_) + " " + name);
    EXPECT_EQ(result.status, 0) << result.output;
    return result.output;
  }

  TempDir dir_;
  std::string deb_;
};

TEST_F(PackageTest, CarriesTheProgramsTheUnitAndTheConfig) {
  const CommandResult listing = RunCommand("dpkg-deb -c " + Quote(deb_));
  ASSERT_EQ(listing.status, 0) << listing.output;
  for (const char* file :
       {" ./usr/bin/parleyd\n", " ./usr/bin/parley\n",
        " ./usr/lib/systemd/system/parleyd.service\n", " ./usr/lib/sysusers.d/parley.conf\n",
        " ./usr/lib/tmpfiles.d/parley.conf\n", " ./etc/parley/parleyd.yaml\n"}) {
    EXPECT_TRUE(Contains(listing.output, file)) << file << " missing in\n" << listing.output;
  }
  // The secret is made on the host by postinst, never shipped.
  EXPECT_FALSE(Contains(listing.output, "hmac-secret")) << listing.output;

  ASSERT_NO_FATAL_FAILURE(Unpack());
  const std::string unit = ReadFile(root() / "usr/lib/systemd/system/parleyd.service");
  EXPECT_TRUE(Contains(unit, "\nExecStart=/usr/bin/parleyd --config /etc/parley/parleyd.yaml\n"))
      << unit;
  const std::string config = ReadFile(root() / "etc/parley/parleyd.yaml");
  EXPECT_TRUE(Contains(config, "hmac_secret_file: /etc/parley/hmac-secret\n")) << config;
}

TEST_F(PackageTest, ControlFieldsNameThePackageAndItsDependencies) {
  EXPECT_EQ(Field("Package"), "parley\n");
  EXPECT_FALSE(Field("Version").empty());
  EXPECT_FALSE(Field("Maintainer").empty());
  const std::string depends = Field("Depends");
  // Ours, and what dpkg-shlibdeps found the binaries linked with.
  EXPECT_TRUE(Contains(depends, "openssl")) << depends;
  EXPECT_TRUE(Contains(depends, "libc6")) << depends;
  EXPECT_TRUE(Contains(depends, "libsystemd0")) << depends;
}

TEST_F(PackageTest, ConfigIsAConffileAndScriptsAreSound) {
  EXPECT_EQ(ReadFile(control() / "conffiles"), "/etc/parley/parleyd.yaml\n");
  for (const char* script : {"postinst", "prerm", "postrm"}) {
    const fs::path path = control() / script;
    struct stat status {};
    ASSERT_EQ(::stat(path.c_str(), &status), 0) << script;
    EXPECT_EQ(status.st_mode & 0777, 0755u) << script;
    const CommandResult syntax = RunCommand("sh -n " + Quote(path.string()));
    EXPECT_EQ(syntax.status, 0) << script << ": " << syntax.output;
  }
}

// The maintainer scripts honour $DPKG_ROOT, so they run here against an unpacked package
// in a folder, as `dpkg --root` would, and this machine is left alone.
TEST_F(PackageTest, PostinstMakesTheAccountTheFolderTheSecretAndEnablesTheUnit) {
  ASSERT_NO_FATAL_FAILURE(Unpack());
  CommandResult result = RunScript("postinst configure ''", kSystemPath);
  ASSERT_EQ(result.status, 0) << result.output;
  ExpectSetUp();
  if (HaveProgram("systemctl")) {
    EXPECT_TRUE(
        fs::is_symlink(root() / "etc/systemd/system/multi-user.target.wants/parleyd.service"));
  }

  // Again (dpkg-reconfigure, an upgrade): nothing changes, above all not the secret.
  const std::string secret = ReadFile(root() / "etc/parley/hmac-secret");
  result = RunScript("postinst configure 0.0.9", kSystemPath);
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_EQ(ReadFile(root() / "etc/parley/hmac-secret"), secret);
  const std::string passwd = ReadFile(root() / "etc/passwd");
  EXPECT_EQ(passwd.find("\nparley:"), passwd.rfind("\nparley:")) << passwd;
}

// In a container without systemd: shadow's tools and install(1) do the same.
TEST_F(PackageTest, PostinstWorksWithoutSystemd) {
  ASSERT_NO_FATAL_FAILURE(Unpack());
  const fs::path tools = dir_.path() / "tools";
  fs::create_directories(tools);
  for (const char* tool : {"grep", "cut", "groupadd", "useradd", "install", "mktemp", "openssl",
                           "chown", "chmod", "mv", "mkdir"}) {
    const CommandResult found = RunCommand(std::string("command -v ") + tool);
    ASSERT_EQ(found.status, 0) << tool;
    fs::create_symlink(found.output.substr(0, found.output.find('\n')), tools / tool);
  }
  const CommandResult result = RunScript("postinst configure ''", tools.string());
  ASSERT_EQ(result.status, 0) << result.output;
  ExpectSetUp();
}

TEST_F(PackageTest, PurgeRemovesTheSecretButNeverTheMessages) {
  ASSERT_NO_FATAL_FAILURE(Unpack());
  ASSERT_EQ(RunScript("postinst configure ''", kSystemPath).status, 0);
  fs::create_directories(root() / "var/lib/parley/data");
  WriteFile(root() / "var/lib/parley/data/CURRENT", "MANIFEST-000001\n");

  const CommandResult result = RunScript("postrm purge", kSystemPath);
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_FALSE(fs::exists(root() / "etc/parley/hmac-secret"));
  EXPECT_TRUE(fs::exists(root() / "var/lib/parley/data/CURRENT"));
}

}  // namespace
}  // namespace parley::testing
