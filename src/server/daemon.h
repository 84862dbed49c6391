// Daemon: wires parleyd's parts together and runs them until SIGTERM or SIGINT.

#ifndef PARLEY_SERVER_DAEMON_H_
#define PARLEY_SERVER_DAEMON_H_

#include <string>

#include "parley/config/config.h"

namespace parley::server {

// Opens storage, starts the listeners, tells systemd it is ready and serves until a stop
// signal; then stops accepting, closes sessions with 1001, finishes pending writes and
// returns the process exit code. SIGHUP re-reads `config_path` (which `config` was loaded
// from) and applies what can change live; see ConfigReloader.
// Throws std::runtime_error for start-up failures (storage, ports, TLS files).
// REQUIRES: SIGTERM, SIGINT and SIGHUP are blocked in every thread.
int RunDaemon(const config::Config& config, const std::string& config_path);

// Compacts every column family of the database at storage.path, dropping expired data, and
// returns the exit code. REQUIRES: no daemon is running on that database (RocksDB's lock
// refuses a second opener anyway).
int CompactDatabase(const config::Config& config);

}  // namespace parley::server

#endif  // PARLEY_SERVER_DAEMON_H_
