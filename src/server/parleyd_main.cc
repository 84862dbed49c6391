// parleyd: the Parley chat server.
//
//   parleyd --config FILE          run the daemon
//   parleyd --check-config FILE    validate a config file and exit
//   parleyd --compact FILE         compact the (stopped) daemon's database and exit

#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "parley/config/config.h"
#include "parley/gateway/codec.h"

#include "server/daemon.h"

namespace {

constexpr std::string_view kUsage =
    "usage: parleyd --config FILE\n"
    "       parleyd --check-config FILE\n"
    "       parleyd --compact FILE\n"
    "       parleyd --version\n";

void SetUpLogging(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("parleyd");
  // One line per event; journald adds its own timestamp, but a plain run wants one too.
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  parley::gateway::RouteProtobufLogs();
}

// Stop signals are taken by one thread with sigwait; every thread started later inherits the
// mask, so none of them is interrupted.
void BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--version") {
    std::printf("parleyd %s\n", PARLEY_VERSION);
    return 0;
  }
  if (argc != 3) {
    std::fputs(kUsage.data(), stderr);
    return 2;
  }
  const std::string_view mode = argv[1];
  const std::string path = argv[2];
  if (mode != "--config" && mode != "--check-config" && mode != "--compact") {
    std::fputs(kUsage.data(), stderr);
    return 2;
  }

  parley::config::Config config;
  try {
    config = parley::config::LoadConfig(path);
  } catch (const parley::config::ConfigError& error) {
    std::fprintf(stderr, "parleyd: %s\n", error.what());
    return 1;
  }
  if (mode == "--check-config") {
    std::printf("%s: ok\n", path.c_str());
    return 0;
  }

  BlockStopSignals();
  SetUpLogging(config.log.level);
  try {
    if (mode == "--compact") return parley::server::CompactDatabase(config);
    return parley::server::RunDaemon(config);
  } catch (const std::exception& error) {
    spdlog::critical("cannot start: {}", error.what());
    return 1;
  }
}
