// Logging: where parleyd's log lines go, and at which level.
//
// One line per event. By default lines go to stderr, which systemd hands to journald; there
// each line starts with its syslog priority (`<6>`), so `journalctl -p warning` works and the
// timestamp is journald's own. With log.file set they go to that file instead, rotated by
// size, each line with its own timestamp.

#ifndef PARLEY_SERVER_LOGGING_H_
#define PARLEY_SERVER_LOGGING_H_

#include <string>

#include "parley/config/config.h"

namespace parley::server {

// Makes the default logger from log.level, log.file, log.max_size_mb and log.max_files.
// Call once, before any thread starts. Throws std::runtime_error naming log.file when the
// file cannot be opened.
void SetUpLogging(const config::LogConfig& log);

// Changes the lowest level written, at once. `level` is one of config's log.level values.
// Thread-safe.
void SetLogLevel(const std::string& level);

}  // namespace parley::server

#endif  // PARLEY_SERVER_LOGGING_H_
