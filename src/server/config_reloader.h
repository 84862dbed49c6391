// ConfigReloader: applies a re-read config file to the running daemon, on SIGHUP.
//
// log.level is applied here. What the gateway can take live (the TLS certificate, most
// limits) is applied by a callback, which answers with the dotted keys it applied. Every other
// change waits for a restart: it is logged as such at each reload until a restart applies it.
// A file that does not load changes nothing.
//
// Thread safety: not thread-safe; one thread (the daemon's signal loop) calls Reload.

#ifndef PARLEY_SERVER_CONFIG_RELOADER_H_
#define PARLEY_SERVER_CONFIG_RELOADER_H_

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "parley/config/config.h"

namespace parley::server {

struct ReloadResult {
  bool loaded = false;                       // False: invalid file or refused; nothing changed.
  std::vector<std::string> changed;          // Keys whose value differs from the last load.
  std::vector<std::string> applied;          // Keys applied live by this reload.
  std::vector<std::string> restart_pending;  // Keys changed since start that need a restart.
};

class ConfigReloader {
 public:
  // Applies the live part of a new config elsewhere; returns the dotted keys it applied
  // (a key may name a whole section, as "listen.tls" does). Throws std::exception to refuse
  // the config, having changed nothing.
  using ApplyLive = std::function<std::vector<std::string>(const config::Config&)>;

  // `running` is the config the daemon started with, loaded from `path`. `apply` may be empty.
  ConfigReloader(std::string path, config::Config running, ApplyLive apply);

  // Re-reads the file and applies it; logs one info line (changed and applied keys) and, when
  // some changes wait for a restart, one warning naming them.
  ReloadResult Reload();

 private:
  bool IsLive(const std::string& key) const;
  std::vector<std::string> RestartPending() const;

  const std::string path_;
  const config::Config started_;  // Keys that need a restart still run with these values.
  config::Config current_;        // The last config loaded and applied.
  ApplyLive apply_;
  std::set<std::string> live_keys_;  // Every key applied live by some reload.
};

}  // namespace parley::server

#endif  // PARLEY_SERVER_CONFIG_RELOADER_H_
