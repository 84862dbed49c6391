// What the operations tests share beyond tests/support: environment changes for a child
// process, files, polling, and metric values.

#ifndef PARLEY_TESTS_OPS_OPS_SUPPORT_H_
#define PARLEY_TESTS_OPS_OPS_SUPPORT_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace parley::testing {

// Sets an environment variable for the processes started meanwhile (ServerProcess forks with
// the test's environment), and restores it on destruction.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> previous_;
};

std::string ReadFile(const std::filesystem::path& path);
void WriteFile(const std::filesystem::path& path, const std::string& text);

// Replaces the one occurrence of `from` in the file; false when it is not there.
bool ReplaceInFile(const std::filesystem::path& path, const std::string& from,
                   const std::string& to);

// Calls `done` until it answers true or `timeout` passes; returns its last answer.
bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The value of the sample `name` (labels included, e.g. `parley_errors_total{code="X"}`) in
// Prometheus text, or nullopt. Unlike MetricValue, keeps fractions.
std::optional<double> MetricNumber(const std::string& metrics, const std::string& name);

// True when a TCP connection to 127.0.0.1:`port` succeeds.
bool Accepts(std::uint16_t port);

// True when `program` is on the PATH.
bool HaveProgram(const std::string& program);

// The build folder, cmake and cpack of this build.
std::string BuildDir();
std::string CMakeCommand();
std::string CPackCommand();

// `text` between single quotes, for a shell command line.
std::string Quote(const std::string& text);

}  // namespace parley::testing

#endif  // PARLEY_TESTS_OPS_OPS_SUPPORT_H_
