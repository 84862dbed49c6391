// /readyz follows the storage: unready (503) while the disk is full, ready again once there is
// room, with no restart.

#include <gtest/gtest.h>

#include "ops_support.h"
#include "server_process.h"
#include "test_client.h"

namespace parley::testing {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class ReadinessTest : public ::testing::Test {
 protected:
  // parleyd's own test hook: its write-ahead log fails with a retryable I/O error, as on a
  // full disk, while the named file exists. (The tests run as root, which ignores file
  // modes, so a read-only folder would not do; nor can they mount a small filesystem.)
  ReadinessTest() : fault_("PARLEYD_TEST_WAL_FAULT_FILE", fault_file().string()) {}

  std::filesystem::path fault_file() const { return server_.dir() / "disk-full"; }
  void FillDisk() { WriteFile(fault_file(), "1"); }
  void FreeDisk() { std::filesystem::remove(fault_file()); }

  ServerProcess server_;
  ScopedEnv fault_;
};

TEST_F(ReadinessTest, UnreadyWhileTheDiskIsFullAndReadyAgainAfter) {
  server_.Start();
  TestClient alice(server_, WireFormat::kJson);
  ASSERT_TRUE(alice.Connect("alice"));
  HttpReply ready = HttpGet(server_.admin_port(), "/readyz");
  ASSERT_EQ(ready.status, 200) << ready.body;

  FillDisk();
  const HttpReply unready = HttpGet(server_.admin_port(), "/readyz");
  EXPECT_EQ(unready.status, 503) << unready.body;
  EXPECT_TRUE(Contains(unready.body, "storage: not writable")) << unready.body;
  EXPECT_TRUE(Contains(unready.body, "listener: accepting")) << unready.body;
  EXPECT_EQ(HttpGet(server_.admin_port(), "/healthz").status, 200);  // Alive all the same.

  // A send that cannot be made durable is refused, never acknowledged.
  const auto refused = alice.SendText("alice", "m1", "into the void");
  ASSERT_TRUE(refused && refused->has_error()) << Describe(refused);
  EXPECT_EQ(refused->error().code(), v1::Error::UNAVAILABLE);

  FreeDisk();
  EXPECT_TRUE(WaitFor([&] {
    ready = HttpGet(server_.admin_port(), "/readyz");
    return ready.status == 200;
  })) << ready.body
      << server_.Log();
  const auto stored = alice.SendText("alice", "m2", "back on disk");
  ASSERT_TRUE(stored && stored->has_send_ack()) << Describe(stored);
}

}  // namespace
}  // namespace parley::testing
