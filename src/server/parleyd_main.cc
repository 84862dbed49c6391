// parleyd: the Parley chat server.
//
//   parleyd --config FILE          run the daemon (SIGHUP re-reads FILE)
//   parleyd --check-config FILE    validate a config file and exit
//   parleyd --compact FILE         compact the (stopped) daemon's database and exit

#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "parley/config/config.h"

#include "server/daemon.h"
#include "server/logging.h"

namespace {

constexpr std::string_view kUsage =
    "usage: parleyd --config FILE\n"
    "       parleyd --check-config FILE\n"
    "       parleyd --compact FILE\n"
    "       parleyd --version\n";

// Stop and reload signals are taken by one thread with sigwait; every thread started later
// inherits the mask, so none of them is interrupted.
void BlockSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::signal(SIGPIPE, SIG_IGN);
  // A write past RLIMIT_FSIZE then fails with EFBIG, which storage reports like any full disk,
  // instead of killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
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

  BlockSignals();
  try {
    parley::server::SetUpLogging(config.log);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "parleyd: %s\n", error.what());
    return 1;
  }
  try {
    if (mode == "--compact") return parley::server::CompactDatabase(config);
    // Absolute, so that a reload finds the same file whatever happens to the working folder.
    return parley::server::RunDaemon(config, std::filesystem::absolute(path).string());
  } catch (const std::exception& error) {
    spdlog::critical("cannot start: {}", error.what());
    return 1;
  }
}
