// CliTest: a real parleyd plus a scratch folder for the clients' state and output, and the
// flags every `parley` command needs to reach that server as a given user.

#ifndef PARLEY_TESTS_CLI_CLI_FIXTURE_H_
#define PARLEY_TESTS_CLI_CLI_FIXTURE_H_

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "parley_process.h"
#include "server_process.h"
#include "test_client.h"

namespace parley::testing {

// Generous: the suite runs on loaded 2-core machines, and every wait polls, so a healthy run
// never waits this long.
inline constexpr std::chrono::milliseconds kPatience = std::chrono::seconds(15);

class CliTest : public ::testing::Test {
 protected:
  explicit CliTest(ServerOptions options = {}) : server_(std::move(options)) {}

  void SetUp() override { server_.Start(); }

  // `parley command --server ... --user user --secret-file ... --state-dir ... more...`.
  std::vector<std::string> Args(const std::string& command, const std::string& user,
                                const std::vector<std::string>& more = {}) const {
    std::vector<std::string> args = {command,
                                     "--server",
                                     server_.url(),
                                     "--user",
                                     user,
                                     "--secret-file",
                                     (server_.dir() / "secret").string(),
                                     "--state-dir",
                                     state_dir().string()};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  std::filesystem::path state_dir() const { return work_.path() / "state"; }

  // Where `user`'s outbox lives (see StateFolder()).
  std::filesystem::path OutboxOf(const std::string& user) const {
    return state_dir() / (user + "@127.0.0.1_" + std::to_string(server_.port())) / "outbox";
  }

  ParleyResult Run(const std::vector<std::string>& args, const Env& env = {}) const {
    return RunParley(args, work_.path(), kPatience, env);
  }

  // Connects `user` once, so that she exists and may be written to.
  void Register(const std::string& user) {
    TestClient client(server_, WireFormat::kJson);
    ASSERT_TRUE(client.Connect(user)) << client.last_error();
    client.connection().Close();
  }

  ServerProcess server_;
  TempDir work_;
};

}  // namespace parley::testing

#endif  // PARLEY_TESTS_CLI_CLI_FIXTURE_H_
