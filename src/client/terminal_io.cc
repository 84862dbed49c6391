#include "terminal_io.h"

#include <cerrno>
#include <csignal>
#include <cstring>

#include <poll.h>
#include <unistd.h>

namespace parley::client {

namespace {

volatile std::sig_atomic_t stop_requested = 0;

void OnStopSignal(int) { stop_requested = 1; }

// A line longer than this without a newline is handed out as it is rather than buffered on.
constexpr std::size_t kMaxLine = 64 * 1024;

}  // namespace

void InstallStopHandlers() {
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // Blocking calls carry on; the loops check the flag.
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

bool StopRequested() { return stop_requested != 0; }

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return Status::IOError(std::strerror(errno));
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return Status::Ok();
}

std::optional<std::string> LineReader::Next() {
  auto newline = buffer_.find('\n');
  if (newline == std::string::npos && !ended_) {
    Fill();
    newline = buffer_.find('\n');
  }

  if (newline == std::string::npos) {
    if (buffer_.empty() || (!ended_ && buffer_.size() < kMaxLine)) return std::nullopt;
    newline = buffer_.size();
  }
  std::string line = buffer_.substr(0, newline);
  buffer_.erase(0, newline + 1);
  if (line.ends_with('\r')) line.pop_back();
  return line;
}

void LineReader::Fill() {
  // poll() first: stdin is shared with the shell, so it must not be made non-blocking.
  pollfd ready{fd_, POLLIN, 0};
  if (::poll(&ready, 1, 0) <= 0) return;

  char chunk[4096];
  const ssize_t n = ::read(fd_, chunk, sizeof chunk);
  if (n > 0) {
    buffer_.append(chunk, static_cast<std::size_t>(n));
  } else if (n == 0 || errno != EINTR) {
    ended_ = true;  // End of input, or an input that cannot be read (a closed terminal).
  }
}

}  // namespace parley::client
