// Where parleyd's lines go: journald (stderr with syslog priorities) or a log file.

#include <csignal>

#include <gtest/gtest.h>

#include "ops_support.h"
#include "server_process.h"
#include "test_client.h"
#include <sys/stat.h>

namespace parley::testing {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// systemd names the stream it gave as stderr in $JOURNAL_STREAM ("device:inode"); the test
// gives parleyd a stderr file and names that one.
TEST(LoggingTest, UnderJournaldEachLineCarriesItsPriority) {
  ServerProcess server;
  const auto log = server.dir() / "parleyd.log";  // Where ServerProcess sends stderr.
  WriteFile(log, "");
  struct stat status {};
  ASSERT_EQ(::stat(log.c_str(), &status), 0);
  {
    ScopedEnv journal("JOURNAL_STREAM",
                      std::to_string(status.st_dev) + ":" + std::to_string(status.st_ino));
    server.Start();
  }
  TestClient client(server, WireFormat::kJson);
  ASSERT_TRUE(client.Connect("alice"));
  client.connection().Close();
  ASSERT_EQ(server.Stop(), 0);

  // journald adds its own timestamp; the line starts with the priority instead.
  const std::string text = server.Log();
  EXPECT_TRUE(Contains(text, "\n<6>info listening ")) << text;
  EXPECT_TRUE(Contains(text, "\n<7>debug [conn=")) << text;
  EXPECT_TRUE(text.starts_with("<4>warning ")) << text;  // The test clock's warning.
}

TEST(LoggingTest, WithoutJournaldLinesCarryATimestamp) {
  ServerProcess server;
  server.Start();
  ASSERT_EQ(server.Stop(), 0);
  const std::string text = server.Log();
  EXPECT_FALSE(Contains(text, "<6>")) << text;
  // 2026-12-03T20:08:49.929 info listening ...
  const auto line = text.find(" info listening ");
  ASSERT_NE(line, std::string::npos) << text;
  EXPECT_EQ(text[text.rfind('\n', line) + 11], 'T') << text;
}

TEST(LoggingTest, LogFileTakesTheLinesAndFollowsReloads) {
  ServerProcess server;
  ASSERT_TRUE(ReplaceInFile(server.config_file(), "level: debug\n",
                            "level: info\n  file: logs/parleyd.log\n  max_size_mb: 1\n"));
  server.Start();
  TestClient first(server, WireFormat::kJson);
  ASSERT_TRUE(first.Connect("alice"));

  // The folder is made; lines arrive within the flush interval (a second), warnings at once.
  const auto file = server.dir() / "logs/parleyd.log";
  EXPECT_TRUE(WaitFor([&] { return Contains(ReadFile(file), " info listening "); }))
      << ReadFile(file);
  EXPECT_FALSE(Contains(server.Log(), "listening")) << server.Log();
  EXPECT_FALSE(Contains(ReadFile(file), " debug ")) << ReadFile(file);

  ASSERT_TRUE(ReplaceInFile(server.config_file(), "level: info", "level: debug"));
  ::kill(server.pid(), SIGHUP);
  EXPECT_TRUE(WaitFor([&] { return Contains(ReadFile(file), "config reloaded"); }));
  TestClient second(server, WireFormat::kJson);
  ASSERT_TRUE(second.Connect("bob"));
  EXPECT_TRUE(WaitFor([&] { return Contains(ReadFile(file), " debug [conn="); })) << ReadFile(file);

  // Clients that leave first let the drain end at once.
  first.connection().Close();
  second.connection().Close();
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_TRUE(Contains(ReadFile(file), " info stopped")) << ReadFile(file);
}

TEST(LoggingTest, AnUnwritableLogFileStopsTheStartWithTheKey) {
  ServerProcess server;
  // A regular file where the log folder should be: no one, not even root, can create in it.
  WriteFile(server.dir() / "logs", "");
  ASSERT_TRUE(
      ReplaceInFile(server.config_file(), "level: debug\n", "level: info\n  file: logs/x.log\n"));
  const CommandResult result =
      RunCommand(Quote(ParleydPath()) + " --config " + Quote(server.config_file().string()));
  EXPECT_EQ(result.status, 1) << result.output;
  EXPECT_TRUE(Contains(result.output, "log.file")) << result.output;
}

}  // namespace
}  // namespace parley::testing
