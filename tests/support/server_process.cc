#include "server_process.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "parley/auth/token.h"
#include "parley/common/clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace parley::testing {

namespace {

std::string RandomHex(std::size_t bytes) {
  std::random_device random;
  std::string out;
  const char* digits = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes; ++i) {
    const auto byte = random() & 0xFF;
    out += digits[byte >> 4];
    out += digits[byte & 0xF];
  }
  return out;
}

bool CanConnect(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "parley-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string ParleydPath() { return PARLEYD_PATH; }

std::uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a free port");
  }
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

ServerProcess::ServerProcess(ServerOptions options)
    : options_(std::move(options)), secret_(RandomHex(32)) {
  port_ = FreePort();
  admin_port_ = FreePort();
  if (options_.tls) MakeCertificate();
  WriteConfig();
}

ServerProcess::~ServerProcess() {
  if (running()) Kill();
}

void ServerProcess::MakeCertificate() {
  const auto dir = dir_.path().string();
  const std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
      " -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
      " -keyout '" +
      dir + "/key.pem' -out '" + dir + "/cert.pem' 2>/dev/null";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("openssl req failed");
}

void ServerProcess::WriteConfig() {
  std::ofstream(dir_.path() / "secret") << secret_ << "\n";

  std::ofstream config(dir_.path() / "parleyd.yaml");
  config << "listen:\n  address: 127.0.0.1\n  port: " << port_ << "\n";
  if (options_.tls) {
    config << "  tls:\n    enabled: true\n    cert_file: cert.pem\n    key_file: key.pem\n";
  }
  config << "admin:\n  address: 127.0.0.1\n  port: " << admin_port_ << "\n"
         << "auth:\n  hmac_secret_file: secret\n"
         << "storage:\n  path: data\n"
         << "log:\n  level: debug\n"
         << "server:\n  threads: 2\n";
  // Tests send faster than people do.
  config << "limits:\n"
         << (options_.limits_yaml.empty() ? "  send_rate_per_s: 5000\n  frames_per_s: 20000\n"
                                          : options_.limits_yaml);
  if (!options_.delivery_yaml.empty()) config << "delivery:\n" << options_.delivery_yaml;
}

void ServerProcess::Start() {
  const std::string binary = ParleydPath();
  const std::string config = (dir_.path() / "parleyd.yaml").string();
  const std::string log = (dir_.path() / "parleyd.log").string();

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Child: stderr to the log file, then become parleyd.
    if (std::freopen(log.c_str(), "a", stderr) == nullptr) ::_exit(127);
    ::setenv("PARLEYD_TEST_CLOCK_OFFSET_MS", std::to_string(clock_offset_ms_).c_str(), 1);
    for (const auto& [name, value] : options_.environment) ::setenv(name.c_str(), value.c_str(), 1);
    if (options_.open_files_limit > 0) {
      const rlimit limit{options_.open_files_limit, options_.open_files_limit};
      if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::_exit(126);
    }
    ::execl(binary.c_str(), binary.c_str(), "--config", config.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (!WaitUntilListening()) {
    Kill();
    throw std::runtime_error("parleyd did not start listening; log:\n" + Log());
  }
}

bool ServerProcess::WaitUntilListening() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (CanConnect(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int ServerProcess::Stop() {
  Terminate();
  return WaitForExit();
}

void ServerProcess::Terminate() {
  if (running()) ::kill(pid_, SIGTERM);
}

int ServerProcess::WaitForExit() {
  if (!running()) return -1;
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

void ServerProcess::Kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string ServerProcess::url() const {
  return std::string(options_.tls ? "wss" : "ws") + "://" +
         (options_.tls ? "localhost" : "127.0.0.1") + ":" + std::to_string(port_) + "/v1/chat";
}

std::string ServerProcess::Token(const std::string& user) const {
  SystemClock clock;
  auto token = auth::MintToken(user, secret_, clock.NowMs() + clock_offset_ms_, 3600);
  if (!token.ok()) throw std::runtime_error("cannot mint a token for " + user);
  return token.value();
}

std::string ServerProcess::Log() const {
  std::ifstream in(dir_.path() / "parleyd.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace parley::testing

namespace parley::testing {

HttpReply HttpRequest(std::uint16_t port, const std::string& request) {
  HttpReply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return reply;
  }

  std::string response;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) response.append(buffer, n);
  ::close(fd);

  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  if (response.size() > 12 && response.starts_with("HTTP/1.")) {
    reply.status = std::atoi(response.c_str() + 9);
  }
  const auto body = response.find("\r\n\r\n");
  if (body != std::string::npos) reply.body = response.substr(body + 4);
  return reply;
}

HttpReply HttpGet(std::uint16_t port, const std::string& target) {
  return HttpRequest(port, "GET " + target +
                               " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Connection: close\r\n\r\n");
}

long long MetricValue(const std::string& metrics, const std::string& name) {
  std::istringstream lines(metrics);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(name + " ")) return std::atoll(line.c_str() + name.size() + 1);
  }
  return -1;
}

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace parley::testing
