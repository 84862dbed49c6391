#include "parley_process.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

namespace parley::testing {

namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// How often the waits look again; short, since each look is a cheap file read.
constexpr milliseconds kPollStep{20};

std::string ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// argv and envp for execve(), built before fork(): a test may run other threads, and the child
// of a multi-threaded process may only make async-signal-safe calls until it execs.
class ExecPlan {
 public:
  ExecPlan(const std::vector<std::string>& args, const Env& env) {
    strings_.push_back(PARLEY_PATH);
    strings_.insert(strings_.end(), args.begin(), args.end());
    const std::size_t argc = strings_.size();

    // A developer's own PARLEY_TOKEN must not leak into a test; `env` overrides the rest.
    for (char** entry = environ; *entry != nullptr; ++entry) {
      const std::string_view variable = *entry;
      const std::string_view name = variable.substr(0, variable.find('='));
      bool replaced = name == "PARLEY_TOKEN";
      for (const auto& [override_name, value] : env) replaced |= name == override_name;
      if (!replaced) strings_.emplace_back(variable);
    }
    for (const auto& [name, value] : env) strings_.push_back(name + "=" + value);

    for (std::size_t i = 0; i < strings_.size(); ++i) {
      (i < argc ? argv_ : envp_).push_back(strings_[i].data());
    }
    argv_.push_back(nullptr);
    envp_.push_back(nullptr);
  }

  [[noreturn]] void Exec() {
    ::execve(argv_[0], argv_.data(), envp_.data());
    ::_exit(127);
  }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> argv_;
  std::vector<char*> envp_;
};

}  // namespace

ParleyProcess::ParleyProcess(const std::vector<std::string>& args, const std::filesystem::path& dir,
                             Terminal terminal, const Env& env) {
  static std::atomic<int> runs{0};
  const std::string name = "parley-" + std::to_string(::getpid()) + "-" + std::to_string(++runs);
  ExecPlan plan(args, env);

  if (terminal == Terminal::kPty) {
    pid_ = ::forkpty(&terminal_fd_, nullptr, nullptr, nullptr);
    if (pid_ == 0) plan.Exec();
    if (pid_ < 0) throw std::runtime_error("forkpty failed");
    ::fcntl(terminal_fd_, F_SETFL, ::fcntl(terminal_fd_, F_GETFL) | O_NONBLOCK);
    return;
  }

  stdout_file_ = dir / (name + ".out");
  stderr_file_ = dir / (name + ".err");
  pid_ = ::fork();
  if (pid_ == 0) {
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(stdout_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(stderr_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) ::_exit(127);
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    plan.Exec();
  }
  if (pid_ < 0) throw std::runtime_error("fork failed");
}

ParleyProcess::~ParleyProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (terminal_fd_ >= 0) ::close(terminal_fd_);
}

std::string ParleyProcess::Stdout() {
  if (terminal_fd_ >= 0) {
    DrainTerminal();
    return terminal_output_;
  }
  return ReadWholeFile(stdout_file_);
}

std::string ParleyProcess::Stderr() {
  if (terminal_fd_ >= 0) return {};
  return ReadWholeFile(stderr_file_);
}

bool ParleyProcess::WaitForStdout(std::string_view text, milliseconds timeout) {
  return WaitUntil([&] { return Stdout().find(text) != std::string::npos; }, timeout);
}

bool ParleyProcess::WaitForStderr(std::string_view text, milliseconds timeout) {
  return WaitUntil([&] { return Stderr().find(text) != std::string::npos; }, timeout);
}

bool ParleyProcess::WaitUntil(const std::function<bool()>& done, milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  while (true) {
    if (terminal_fd_ >= 0) DrainTerminal();
    if (done()) return true;
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollStep);
  }
}

void ParleyProcess::Type(std::string_view keys) {
  ASSERT_GE(terminal_fd_, 0) << "Type() needs Terminal::kPty";
  while (!keys.empty()) {
    const ssize_t n = ::write(terminal_fd_, keys.data(), keys.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      DrainTerminal();
      std::this_thread::sleep_for(kPollStep);
      continue;
    }
    ASSERT_GT(n, 0) << "cannot write to the terminal";
    keys.remove_prefix(static_cast<std::size_t>(n));
  }
}

void ParleyProcess::Signal(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

std::optional<int> ParleyProcess::Wait(milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  const bool exited = WaitUntil([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
  if (!exited) return std::nullopt;
  pid_ = -1;
  if (terminal_fd_ >= 0) DrainTerminal();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

void ParleyProcess::DrainTerminal() {
  // Read everything there is, so that the child never blocks on a full terminal buffer.
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(terminal_fd_, buffer, sizeof buffer);
    if (n <= 0) return;  // EAGAIN: nothing now; EIO: the child closed its side.
    terminal_output_.append(buffer, static_cast<std::size_t>(n));
  }
}

ParleyResult RunParley(const std::vector<std::string>& args, const std::filesystem::path& dir,
                       milliseconds timeout, const Env& env) {
  ParleyProcess process(args, dir, ParleyProcess::Terminal::kNone, env);
  ParleyResult result;
  const auto status = process.Wait(timeout);
  if (!status) {
    process.Signal(SIGKILL);
    process.Wait(milliseconds(5000));
  }
  result.status = status.value_or(-1);
  result.out = process.Stdout();
  result.err = process.Stderr();
  return result;
}

std::vector<v1::Item> ParseItems(const std::string& json_lines) {
  std::vector<v1::Item> items;
  std::size_t start = 0;
  for (auto end = json_lines.find('\n'); end != std::string::npos;
       start = end + 1, end = json_lines.find('\n', start)) {
    v1::Item item;
    const std::string line = json_lines.substr(start, end - start);
    const auto status = google::protobuf::util::JsonStringToMessage(line, &item);
    EXPECT_TRUE(status.ok()) << "not an Item: " << line;
    if (status.ok()) items.push_back(std::move(item));
  }
  return items;
}

}  // namespace parley::testing
