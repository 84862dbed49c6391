#include "bench/server_process.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace parley::bench {

namespace {

using std::chrono::steady_clock;

// parleyd opens RocksDB and binds two ports; on a loaded 2-core box that is well under this.
constexpr auto kStartTimeout = std::chrono::seconds(30);
// A clean stop closes every session and commits what is queued; 15,000 sessions take a few
// seconds, so a minute means something is stuck.
constexpr auto kStopTimeout = std::chrono::seconds(60);

// Binds 127.0.0.1:0 and returns the port the kernel chose. Another process could take it
// before parleyd binds it; the start then fails with a clear message, which is good enough.
Result<std::uint16_t> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::IOError("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  if (!ok) return Status::IOError("cannot find a free port");
  return ntohs(address.sin_port);
}

std::string RandomHex(std::size_t bytes) {
  std::random_device device;
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  for (std::size_t i = 0; i < bytes; ++i) {
    const auto byte = device() & 0xff;
    text += kDigits[byte >> 4];
    text += kDigits[byte & 0xf];
  }
  return text;
}

// Starts argv[0] (looked up in PATH) with stdout and stderr appended to `log`. The child gets
// SIGKILL if the bench dies first, so that a crashed bench leaves no server behind.
Result<pid_t> Spawn(const std::vector<std::string>& args, const std::filesystem::path& log) {
  const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Status::IOError("cannot open " + log.string());

  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // The bench died before prctl took effect.
    const int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  const int error = errno;
  close(log_fd);
  if (pid < 0) return Status::IOError("cannot start " + args[0] + ": " + std::strerror(error));
  return pid;
}

// Waits for `pid` to exit; its exit status (or -signal), or nullopt after `timeout`.
std::optional<int> WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto give_up = steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    if (done < 0) return -1;
    if (steady_clock::now() >= give_up) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status MakeCertificate(const std::filesystem::path& dir, const std::filesystem::path& log) {
  // P-256: the handshake cost a production wss host would pay with an ECDSA certificate.
  auto pid = Spawn({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", (dir / "key.pem").string(), "-out", (dir / "cert.pem").string()},
                   log);
  if (!pid.ok()) return pid.status();
  const auto status = WaitForExit(*pid, std::chrono::seconds(30));
  if (status != 0)
    return Status::IOError("openssl could not make a certificate; see " + log.string());
  return Status::Ok();
}

}  // namespace

SpawnedServer::SpawnedServer(SpawnOptions options, std::filesystem::path dir)
    : options_(std::move(options)), dir_(std::move(dir)) {}

Result<std::unique_ptr<SpawnedServer>> SpawnedServer::Start(SpawnOptions options) {
  std::string pattern = (std::filesystem::temp_directory_path() / "parley-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return Status::IOError("cannot make a temporary folder");

  std::unique_ptr<SpawnedServer> server(new SpawnedServer(std::move(options), pattern));
  if (Status status = server->WriteFiles(); !status.ok()) return status;
  if (Status status = server->Launch(); !status.ok()) return status;
  return server;
}

SpawnedServer::~SpawnedServer() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    WaitForExit(pid_, kStopTimeout);
  }
  std::error_code ignored;
  if (!options_.keep_dir) std::filesystem::remove_all(dir_, ignored);
}

Status SpawnedServer::WriteFiles() {
  auto port = FreePort();
  auto admin_port = FreePort();
  if (!port.ok()) return port.status();
  if (!admin_port.ok()) return admin_port.status();
  port_ = *port;
  admin_port_ = *admin_port;

  // 32 random bytes as 64 hex digits: the secret is at least as long as HS256 asks.
  std::ofstream(secret_file()) << RandomHex(32) << "\n";
  if (options_.tls) {
    if (Status status = MakeCertificate(dir_, log_file()); !status.ok()) return status;
  }

  // Limits that would throttle a load generator are opened up; everything else stays at the
  // defaults a production host runs with. limits.frames_per_s is newer than the rest: a
  // parleyd that does not know it refuses the file, and gets it without.
  if (Status status = WriteConfig(/*frame_limit=*/true); !status.ok()) return status;
  if (!ConfigIsValid()) {
    if (Status status = WriteConfig(/*frame_limit=*/false); !status.ok()) return status;
  }
  return Status::Ok();
}

Status SpawnedServer::WriteConfig(bool frame_limit) {
  std::ofstream config(config_file());
  config << "listen:\n  address: 127.0.0.1\n  port: " << port_ << "\n";
  if (options_.tls) {
    config << "  tls:\n    enabled: true\n    cert_file: cert.pem\n    key_file: key.pem\n";
  }
  config << "admin:\n  address: 127.0.0.1\n  port: " << admin_port_ << "\n"
         << "auth:\n  hmac_secret_file: secret\n"
         << "storage:\n  path: data\n  sync: " << (options_.sync ? "true" : "false") << "\n"
         << "limits:\n  send_rate_per_s: 10000\n  max_connections: 10000000\n";
  if (frame_limit) config << "  frames_per_s: 100000\n";
  config << "log:\n  level: warn\n"
         << "server:\n  threads: " << options_.threads << "\n";
  if (!config) return Status::IOError("cannot write " + config_file().string());
  return Status::Ok();
}

bool SpawnedServer::ConfigIsValid() const {
  auto pid = Spawn({options_.parleyd, "--check-config", config_file().string()}, log_file());
  return pid.ok() && WaitForExit(*pid, std::chrono::seconds(30)) == 0;
}

Status SpawnedServer::Launch() {
  auto pid = Spawn({options_.parleyd, "--config", config_file().string()}, log_file());
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  return WaitUntilReady();
}

Status SpawnedServer::WaitUntilReady() {
  const auto give_up = steady_clock::now() + kStartTimeout;
  while (steady_clock::now() < give_up) {
    if (auto exited = WaitForExit(pid_, std::chrono::milliseconds(0))) {
      pid_ = -1;
      return Status::Unavailable("parleyd exited with " + std::to_string(*exited) + ":\n" +
                                 LogTail(20));
    }
    if (HttpGet(admin_port_, "/readyz").ok()) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Unavailable("parleyd not ready after 30 s:\n" + LogTail(20));
}

Status SpawnedServer::Stop() {
  if (pid_ <= 0) return Status::Ok();
  kill(pid_, SIGTERM);
  auto status = WaitForExit(pid_, kStopTimeout);
  if (!status) {
    kill(pid_, SIGKILL);
    status = WaitForExit(pid_, kStopTimeout);
    pid_ = -1;
    return Status::Unavailable("parleyd did not stop within a minute; killed");
  }
  pid_ = -1;
  if (*status != 0) {
    return Status::Unavailable("parleyd exited with " + std::to_string(*status) + ":\n" +
                               LogTail(20));
  }
  return Status::Ok();
}

Status SpawnedServer::Restart() {
  if (pid_ > 0) return Status::InvalidArgument("parleyd is still running");
  return Launch();
}

Status SpawnedServer::Compact() {
  if (pid_ > 0) return Status::InvalidArgument("parleyd is still running");
  auto pid = Spawn({options_.parleyd, "--compact", config_file().string()}, log_file());
  if (!pid.ok()) return pid.status();
  // Tens of megabytes; minutes would mean it is stuck.
  const auto status = WaitForExit(*pid, std::chrono::minutes(5));
  if (!status) {
    kill(*pid, SIGKILL);
    WaitForExit(*pid, kStopTimeout);
    return Status::Unavailable("parleyd --compact did not finish within 5 minutes");
  }
  if (*status != 0) {
    return Status::Unavailable("parleyd --compact exited with " + std::to_string(*status) + ":\n" +
                               LogTail(5));
  }
  return Status::Ok();
}

std::string SpawnedServer::url() const {
  return std::string(options_.tls ? "wss" : "ws") + "://127.0.0.1:" + std::to_string(port_) +
         "/v1/chat";
}

std::string SpawnedServer::LogTail(std::size_t lines) const {
  std::ifstream in(log_file());
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string text;
  for (const auto& line : tail) text += line + "\n";
  return text;
}

Result<std::string> HttpGet(std::uint16_t port, const std::string& target) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError("socket() failed");
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);

  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return Status::Unavailable("cannot connect to admin port " + std::to_string(port));
  }

  // HTTP/1.0 with Connection: close, so that the reply ends where the connection does.
  const std::string request =
      "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  std::string reply;
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(request.size())) {
    char buffer[16384];
    for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) reply.append(buffer, n);
  }
  close(fd);

  const auto body = reply.find("\r\n\r\n");
  if (!reply.starts_with("HTTP/1.") || reply.size() < 12 || body == std::string::npos) {
    return Status::Unavailable("no HTTP reply on admin port " + std::to_string(port));
  }
  if (reply.compare(9, 3, "200") != 0) {
    return Status::Unavailable("GET " + target + ": " + reply.substr(9, 3));
  }
  return reply.substr(body + 4);
}

Result<std::map<std::string, double>> FetchMetrics(std::uint16_t admin_port) {
  auto body = HttpGet(admin_port, "/metrics");
  if (!body.ok()) return body.status();

  // Prometheus text: "name{labels} value" lines between "# ..." comments.
  std::map<std::string, double> metrics;
  std::istringstream in(*body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    metrics[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return metrics;
}

}  // namespace parley::bench
