// SpawnedServer: a parleyd started by the bench for one run, on free loopback ports, with its
// own config, secret, certificate (for wss) and data folder under a fresh temporary folder.
//
// Also the few blocking HTTP calls the bench makes to any server's admin port.
//
// Threading: used from the orchestrator's main thread only.

#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "parley/common/status.h"

#include <sys/types.h>

namespace parley::bench {

struct SpawnOptions {
  std::string parleyd;  // Path of the binary.
  bool tls = false;
  bool sync = true;
  std::int64_t threads = 0;  // server.threads; 0: one per core.
  bool keep_dir = false;     // Leave the folder behind, for a look at the log and data.
};

class SpawnedServer {
 public:
  // Writes the config and starts the server; returns once /readyz answers 200, or fails with
  // the end of the server's log.
  static Result<std::unique_ptr<SpawnedServer>> Start(SpawnOptions options);

  // Kills the server if it still runs, then removes the folder unless asked to keep it.
  ~SpawnedServer();

  SpawnedServer(const SpawnedServer&) = delete;
  SpawnedServer& operator=(const SpawnedServer&) = delete;

  // SIGTERM, then waits up to a minute for a clean exit (SIGKILL after that). Fails when the
  // server did not exit with status 0.
  Status Stop();

  // Starts it again on the same ports and data, after Stop().
  Status Restart();

  // Runs `parleyd --compact` on the data folder, after Stop(): a full manual compaction.
  // Fails when this parleyd has no such mode, or the compaction fails.
  Status Compact();

  pid_t pid() const { return pid_; }
  std::string url() const;
  std::uint16_t admin_port() const { return admin_port_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::filesystem::path secret_file() const { return dir_ / "secret"; }
  std::filesystem::path ca_file() const { return dir_ / "cert.pem"; }
  std::filesystem::path log_file() const { return dir_ / "parleyd.log"; }
  std::filesystem::path config_file() const { return dir_ / "parleyd.yaml"; }

  // The last `lines` lines of the server's log, for error messages.
  std::string LogTail(std::size_t lines) const;

 private:
  SpawnedServer(SpawnOptions options, std::filesystem::path dir);

  Status WriteFiles();
  Status WriteConfig(bool frame_limit);
  bool ConfigIsValid() const;
  Status Launch();
  Status WaitUntilReady();

  SpawnOptions options_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
  pid_t pid_ = -1;
};

// GET http://127.0.0.1:PORT/TARGET with a short timeout; the body when the status is 200.
Result<std::string> HttpGet(std::uint16_t port, const std::string& target);

// The server's /metrics as name (labels included, as written) -> value.
Result<std::map<std::string, double>> FetchMetrics(std::uint16_t admin_port);

}  // namespace parley::bench
