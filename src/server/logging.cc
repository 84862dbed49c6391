#include "server/logging.h"

#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string_view>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "parley/gateway/codec.h"

#include <sys/stat.h>
#include <unistd.h>

namespace parley::server {

namespace {

constexpr char kLoggerName[] = "parleyd";

// Lines waiting in the file's buffer are written at least this often; warnings and worse at
// once, so that the last words before a crash are on disk.
constexpr auto kFileFlushInterval = std::chrono::seconds(1);

// `<N>` in front of a line gives journald the line's syslog priority (sd-daemon(3)).
class SyslogPriorityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& message, const std::tm&,
              spdlog::memory_buf_t& out) override {
    // trace, debug, info, warn, err, critical, off: debug(7) ... crit(2).
    static constexpr char kPriority[] = {'7', '7', '6', '4', '3', '2', '6'};
    const auto level = static_cast<std::size_t>(message.level);
    out.push_back('<');
    out.push_back(level < sizeof kPriority ? kPriority[level] : '6');
    out.push_back('>');
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SyslogPriorityFlag>();
  }
};

// systemd sets JOURNAL_STREAM to the device and inode of the stream it connected to stderr;
// if stderr is still that stream (not redirected by a wrapper), journald reads our lines.
bool StderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;

  struct stat status {};
  if (::fstat(STDERR_FILENO, &status) != 0) return false;
  const std::string expected = std::to_string(status.st_dev) + ":" + std::to_string(status.st_ino);
  return expected == stream;
}

std::shared_ptr<spdlog::logger> MakeStderrLogger() {
  auto logger = spdlog::stderr_logger_mt(kLoggerName);
  if (!StderrIsJournal()) {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
    return logger;
  }
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<SyslogPriorityFlag>('*').set_pattern("%*%l %v");
  logger->set_formatter(std::move(formatter));
  return logger;
}

std::shared_ptr<spdlog::logger> MakeFileLogger(const config::LogConfig& log) {
  constexpr std::size_t kMiB = 1024 * 1024;
  std::shared_ptr<spdlog::logger> logger;
  try {
    logger =
        spdlog::rotating_logger_mt(kLoggerName, log.file, log.max_size_mb * kMiB, log.max_files);
  } catch (const spdlog::spdlog_ex& error) {
    throw std::runtime_error("log.file: cannot open " + log.file + ": " + error.what());
  }
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  logger->flush_on(spdlog::level::warn);
  spdlog::flush_every(kFileFlushInterval);
  return logger;
}

}  // namespace

void SetUpLogging(const config::LogConfig& log) {
  auto logger = log.file.empty() ? MakeStderrLogger() : MakeFileLogger(log);
  spdlog::set_default_logger(std::move(logger));
  SetLogLevel(log.level);
  gateway::RouteProtobufLogs();
}

void SetLogLevel(const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); }

}  // namespace parley::server
