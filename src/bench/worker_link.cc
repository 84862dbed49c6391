#include "bench/worker_link.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace parley::bench {

// --- The worker's end -----------------------------------------------------------------------

bool OrchestratorLink::Reached(std::string_view phase) {
  std::fprintf(stdout, "phase %.*s\n", static_cast<int>(phase.size()), phase.data());
  std::fflush(stdout);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "go";
}

void OrchestratorLink::SendResult(const nlohmann::json& result) {
  const std::string line = "result " + result.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

// --- The orchestrator's end -----------------------------------------------------------------

Result<WorkerProcess> WorkerProcess::Start(const std::vector<std::string>& args) {
  int to_worker[2];
  int from_worker[2];
  if (pipe2(to_worker, O_CLOEXEC) != 0) return Status::IOError("pipe() failed");
  if (pipe2(from_worker, O_CLOEXEC) != 0) {
    close(to_worker[0]);
    close(to_worker[1]);
    return Status::IOError("pipe() failed");
  }

  // /proc/self/exe: the very binary that runs, wherever it was started from.
  std::vector<char*> argv;
  static char kSelf[] = "/proc/self/exe";
  argv.push_back(kSelf);
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec. It dies with the orchestrator, so
    // that a crashed run leaves no worker holding thousands of connections.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(to_worker[0], 0);
    dup2(from_worker[1], 1);
    execv(kSelf, argv.data());
    _exit(127);
  }
  const int error = errno;
  close(to_worker[0]);
  close(from_worker[1]);
  if (pid < 0) {
    close(to_worker[1]);
    close(from_worker[0]);
    return Status::IOError(std::string("cannot start a worker: ") + std::strerror(error));
  }
  return WorkerProcess(pid, to_worker[1], from_worker[0]);
}

WorkerProcess::WorkerProcess(pid_t pid, int to_worker, int from_worker)
    : pid_(pid), to_worker_(to_worker), from_worker_(from_worker) {}

WorkerProcess::WorkerProcess(WorkerProcess&& other) noexcept
    : pid_(other.pid_),
      to_worker_(other.to_worker_),
      from_worker_(other.from_worker_),
      pending_(std::move(other.pending_)) {
  other.pid_ = -1;
  other.to_worker_ = -1;
  other.from_worker_ = -1;
}

WorkerProcess::~WorkerProcess() {
  if (to_worker_ >= 0) close(to_worker_);
  if (from_worker_ >= 0) close(from_worker_);
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

std::optional<std::string> WorkerProcess::ReadLine(std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (const auto newline = pending_.find('\n'); newline != std::string::npos) {
      std::string line = pending_.substr(0, newline);
      pending_.erase(0, newline + 1);
      return line;
    }

    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        give_up - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd fd{from_worker_, POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000))) <= 0) continue;

    char buffer[65536];
    const ssize_t n = read(from_worker_, buffer, sizeof buffer);
    if (n <= 0) return std::nullopt;  // The worker is gone.
    pending_.append(buffer, static_cast<std::size_t>(n));
  }
}

void WorkerProcess::Write(std::string_view line) {
  std::string text(line);
  text += '\n';
  // A worker that died has closed its end; SIGPIPE is ignored and the write just fails.
  [[maybe_unused]] const ssize_t written = write(to_worker_, text.data(), text.size());
}

int WorkerProcess::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= give_up) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

}  // namespace parley::bench
