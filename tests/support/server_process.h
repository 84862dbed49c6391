// ServerProcess: a real parleyd, started from its binary on free loopback ports with its own
// config, secret and data folder under a fresh temporary directory.

#ifndef PARLEY_TESTS_SUPPORT_SERVER_PROCESS_H_
#define PARLEY_TESTS_SUPPORT_SERVER_PROCESS_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <sys/resource.h>
#include <sys/types.h>

namespace parley::testing {

// A directory under the system's temporary folder, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct ServerOptions {
  bool tls = false;
  // Extra YAML appended under the generated config's sections, e.g.
  // "limits:\n  mailbox_max_items: 5\n". Keys given here override the defaults below.
  std::string limits_yaml;
  std::string delivery_yaml;
  // Extra environment for parleyd (test hooks).
  std::vector<std::pair<std::string, std::string>> environment;
  // RLIMIT_NOFILE for parleyd; 0 keeps the inherited one.
  rlim_t open_files_limit = 0;
};

class ServerProcess {
 public:
  explicit ServerProcess(ServerOptions options = {});
  ~ServerProcess();  // Kills the process if it still runs.

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts parleyd and waits until its listener accepts connections. Same ports and data on
  // every start, so a restart finds the previous run's messages.
  void Start();

  // SIGTERM, then waits for the exit; returns the exit status (or -signal).
  int Stop();

  // The two halves of Stop(), for tests that watch the clients meanwhile.
  void Terminate();
  int WaitForExit();

  // SIGKILL, then waits: a crash.
  void Kill();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::string url() const;
  std::uint16_t admin_port() const { return admin_port_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path ca_file() const { return dir_.path() / "cert.pem"; }
  std::filesystem::path config_file() const { return dir_.path() / "parleyd.yaml"; }
  std::uint16_t port() const { return port_; }

  // Moves the clock of the next Start() by `offset_ms` (tokens follow), so that tests make
  // days pass without waiting.
  void set_clock_offset_ms(std::int64_t offset_ms) { clock_offset_ms_ = offset_ms; }

  // A valid token for `user`, signed with this server's secret.
  std::string Token(const std::string& user) const;
  const std::string& secret() const { return secret_; }

  // What the server wrote to stderr so far (for failure messages).
  std::string Log() const;

 private:
  void WriteConfig();
  void MakeCertificate();
  bool WaitUntilListening();

  ServerOptions options_;
  TempDir dir_;
  std::string secret_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
  pid_t pid_ = -1;
  std::int64_t clock_offset_ms_ = 0;
};

// The parleyd binary under test.
std::string ParleydPath();

// A TCP port on 127.0.0.1 that was free a moment ago.
std::uint16_t FreePort();

}  // namespace parley::testing

namespace parley::testing {

struct HttpReply {
  int status = 0;  // 0: no answer.
  std::string body;
};

// One plain HTTP/1.1 request to 127.0.0.1:`port`, read until the server closes.
HttpReply HttpRequest(std::uint16_t port, const std::string& request);
HttpReply HttpGet(std::uint16_t port, const std::string& target);

// The value of a metric line `name value` in Prometheus text, or -1.
long long MetricValue(const std::string& metrics, const std::string& name);

// Runs a command, returning its exit status and what it printed (stdout and stderr).
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult RunCommand(const std::string& command);

}  // namespace parley::testing

#endif  // PARLEY_TESTS_SUPPORT_SERVER_PROCESS_H_
