#include "server/config_reloader.h"

#include <algorithm>
#include <exception>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "server/config_diff.h"
#include "server/logging.h"

namespace parley::server {

namespace {

bool Contains(const std::vector<std::string>& keys, const std::string& key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

void AddOnce(std::vector<std::string>& keys, std::string key) {
  if (!Contains(keys, key)) keys.push_back(std::move(key));
}

}  // namespace

ConfigReloader::ConfigReloader(std::string path, config::Config running, ApplyLive apply)
    : path_(std::move(path)),
      started_(running),
      current_(std::move(running)),
      apply_(std::move(apply)) {
  live_keys_.insert("log.level");
}

ReloadResult ConfigReloader::Reload() {
  ReloadResult result;
  config::Config next;
  try {
    next = config::LoadConfig(path_);
  } catch (const std::exception& error) {
    spdlog::error("config reload failed, keeping the running config: {}", error.what());
    return result;
  }

  // The gateway first: it may refuse (say, a certificate that does not load), and then
  // nothing at all may change, the log level included.
  if (apply_) {
    try {
      result.applied = apply_(next);
    } catch (const std::exception& error) {
      spdlog::error("config reload refused, keeping the running config: {}", error.what());
      return result;
    }
  }

  result.changed = ChangedKeys(current_, next);
  if (Contains(result.changed, "log.level")) {
    SetLogLevel(next.log.level);
    AddOnce(result.applied, "log.level");
  }
  live_keys_.insert(result.applied.begin(), result.applied.end());
  current_ = std::move(next);
  result.loaded = true;
  result.restart_pending = RestartPending();

  spdlog::info("config reloaded from {}: changed=[{}] applied=[{}]", path_,
               fmt::join(result.changed, ","), fmt::join(result.applied, ","));
  if (!result.restart_pending.empty()) {
    spdlog::warn("config: [{}] changed but take effect only after a restart",
                 fmt::join(result.restart_pending, ","));
  }
  return result;
}

// "listen.tls" covers "listen.tls.cert_file": an applier may answer with a whole section.
bool ConfigReloader::IsLive(const std::string& key) const {
  for (const std::string& live : live_keys_) {
    if (key == live || (key.starts_with(live) && key[live.size()] == '.')) return true;
  }
  return false;
}

std::vector<std::string> ConfigReloader::RestartPending() const {
  std::vector<std::string> pending;
  for (std::string& key : ChangedKeys(started_, current_)) {
    if (!IsLive(key)) pending.push_back(std::move(key));
  }
  return pending;
}

}  // namespace parley::server
