// ParleyProcess: one run of the `parley` binary under test, with its output captured, for
// tests that drive the client from outside as a user or a script would.

#ifndef PARLEY_TESTS_CLI_PARLEY_PROCESS_H_
#define PARLEY_TESTS_CLI_PARLEY_PROCESS_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parley/v1/parley.pb.h"

#include <sys/types.h>

namespace parley::testing {

using Env = std::vector<std::pair<std::string, std::string>>;

class ParleyProcess {
 public:
  enum class Terminal {
    kNone,  // stdout and stderr go to files; stdin is /dev/null.
    kPty,   // stdin, stdout and stderr are one pseudo-terminal; Type() writes to it.
  };

  // Starts `parley args...` with `env` added to (and PARLEY_TOKEN removed from) the test's
  // environment. Output files go to `dir`.
  ParleyProcess(const std::vector<std::string>& args, const std::filesystem::path& dir,
                Terminal terminal = Terminal::kNone, const Env& env = {});
  ~ParleyProcess();  // SIGKILL if it still runs.

  ParleyProcess(const ParleyProcess&) = delete;
  ParleyProcess& operator=(const ParleyProcess&) = delete;

  // Everything written so far (with a pty: everything the terminal showed, echo included).
  std::string Stdout();
  std::string Stderr();

  // Polls the output until `text` shows up; false after `timeout`.
  bool WaitForStdout(std::string_view text, std::chrono::milliseconds timeout);
  bool WaitForStderr(std::string_view text, std::chrono::milliseconds timeout);

  // Polls `done` (draining the terminal meanwhile) until it holds; false after `timeout`.
  bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

  // Writes keystrokes to the pseudo-terminal. REQUIRES: Terminal::kPty.
  void Type(std::string_view keys);

  void Signal(int signal);

  // Waits for the exit: its status, or -signal; nullopt if it still runs after `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  void DrainTerminal();

  pid_t pid_ = -1;
  int terminal_fd_ = -1;
  std::string terminal_output_;
  std::filesystem::path stdout_file_;
  std::filesystem::path stderr_file_;
};

struct ParleyResult {
  int status = -1;  // Exit status, -signal, or -1 if it had to be killed.
  std::string out;
  std::string err;
};

// Runs `parley args...` to its end, killing it after `timeout`.
ParleyResult RunParley(const std::vector<std::string>& args, const std::filesystem::path& dir,
                       std::chrono::milliseconds timeout, const Env& env = {});

// The items in `parley listen` output; an unfinished last line is left out. Fails the test on
// a line that is not an Item.
std::vector<v1::Item> ParseItems(const std::string& json_lines);

}  // namespace parley::testing

#endif  // PARLEY_TESTS_CLI_PARLEY_PROCESS_H_
