// parleyd speaks systemd's notify protocol: READY=1 once clients can connect, RELOADING=1
// and READY=1 around a reload, STOPPING=1 on SIGTERM. The test plays systemd: it owns the
// datagram socket named by $NOTIFY_SOCKET.

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ops_support.h"
#include "server_process.h"
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace parley::testing {
namespace {

// One notification as received, and whether the listener accepted at that moment.
struct Notification {
  std::string state;
  bool accepting = false;
};

// A Unix datagram socket collecting notifications on a thread of its own, so that the
// listener is probed the moment READY=1 arrives, while ServerProcess::Start still waits.
class NotifySocket {
 public:
  NotifySocket(const std::filesystem::path& path, std::function<bool()> accepting)
      : accepting_(std::move(accepting)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.string().copy(address.sun_path, sizeof address.sun_path - 1);
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    timeval timeout{0, 100 * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    thread_ = std::thread([this] { Receive(); });
  }

  ~NotifySocket() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

  bool bound() const { return bound_; }

  // Waits until `count` notifications have arrived; returns all that did.
  std::vector<Notification> WaitFor(std::size_t count) {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, std::chrono::seconds(20), [&] { return received_.size() >= count; });
    return received_;
  }

 private:
  void Receive() {
    char buffer[4096];
    while (!stop_) {
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) continue;
      Notification notification{std::string(buffer, static_cast<std::size_t>(n)), false};
      if (notification.state.find("READY=1") != std::string::npos) {
        notification.accepting = accepting_();
      }
      std::lock_guard lock(mutex_);
      received_.push_back(std::move(notification));
      arrived_.notify_all();
    }
  }

  std::function<bool()> accepting_;
  int fd_ = -1;
  bool bound_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<Notification> received_;
};

bool Has(const Notification& notification, const std::string& line) {
  return notification.state.find(line) != std::string::npos;
}

TEST(NotifyTest, ReadyWhenAcceptingReloadingAroundSighupStoppingOnSigterm) {
  ServerProcess server;
  const auto path = server.dir() / "notify";
  NotifySocket socket(path, [&] { return Accepts(server.port()); });
  ASSERT_TRUE(socket.bound());
  {
    ScopedEnv notify("NOTIFY_SOCKET", path.string());
    server.Start();
  }

  auto got = socket.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(Has(got[0], "READY=1")) << got[0].state;
  EXPECT_TRUE(Has(got[0], "STATUS=serving on port " + std::to_string(server.port())))
      << got[0].state;
  EXPECT_TRUE(got[0].accepting) << "READY=1 came before the listener accepted";

  ::kill(server.pid(), SIGHUP);
  got = socket.WaitFor(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(Has(got[1], "RELOADING=1")) << got[1].state;
  EXPECT_TRUE(Has(got[1], "MONOTONIC_USEC=")) << got[1].state;
  EXPECT_TRUE(Has(got[2], "READY=1")) << got[2].state;

  server.Terminate();
  got = socket.WaitFor(4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_TRUE(Has(got[3], "STOPPING=1")) << got[3].state;
  EXPECT_EQ(server.WaitForExit(), 0) << server.Log();
}

// Without $NOTIFY_SOCKET (not started by systemd) nothing changes.
TEST(NotifyTest, RunsWithoutSystemd) {
  ::unsetenv("NOTIFY_SOCKET");  // In case ctest itself runs under systemd.
  ServerProcess server;
  server.Start();
  EXPECT_EQ(server.Stop(), 0) << server.Log();
  EXPECT_EQ(server.Log().find("sd_notify"), std::string::npos) << server.Log();
}

}  // namespace
}  // namespace parley::testing
