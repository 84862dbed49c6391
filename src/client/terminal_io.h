// The few pieces of process and terminal plumbing the commands share: stop signals, reading
// typed lines without blocking, and writing output that must not be lost.

#ifndef PARLEY_CLIENT_TERMINAL_IO_H_
#define PARLEY_CLIENT_TERMINAL_IO_H_

#include <optional>
#include <string>
#include <string_view>

#include "parley/common/status.h"

namespace parley::client {

// Makes SIGINT and SIGTERM set a flag instead of ending the process, so that a command stops
// between two steps and never in the middle of one; ignores SIGPIPE, so that a closed output
// shows up as a write error. Call once, before the work starts.
void InstallStopHandlers();

// True once SIGINT or SIGTERM has arrived.
bool StopRequested();

// Writes all of `data` to `fd`, retrying after signals and short writes.
Status WriteAll(int fd, std::string_view data);

// Splits what arrives on a file descriptor (stdin) into lines, without ever blocking, so that
// one thread can look after both the terminal and the connection.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}

  // The next complete line, without its line ending, or nullopt when none is complete yet.
  // After the input has ended, an unterminated last line comes out as a line too.
  std::optional<std::string> Next();

  // True once the input has ended and every line has been taken.
  bool ended() const { return ended_ && buffer_.empty(); }

 private:
  void Fill();

  int fd_;
  std::string buffer_;
  bool ended_ = false;
};

}  // namespace parley::client

#endif  // PARLEY_CLIENT_TERMINAL_IO_H_
