// Daemon: wires parleyd's parts together and runs them until SIGTERM or SIGINT.

#ifndef PARLEY_SERVER_DAEMON_H_
#define PARLEY_SERVER_DAEMON_H_

#include "parley/config/config.h"

namespace parley::server {

// Opens storage, starts the listeners and serves until a stop signal; then stops accepting,
// closes sessions with 1001, finishes pending writes and returns the process exit code.
// Throws std::runtime_error for start-up failures (storage, ports, TLS files).
// REQUIRES: SIGTERM and SIGINT are blocked in the calling thread.
int RunDaemon(const config::Config& config);

}  // namespace parley::server

#endif  // PARLEY_SERVER_DAEMON_H_
