#include "server/systemd_notify.h"

#include <ctime>
#include <string>

#include <spdlog/spdlog.h>

#include <systemd/sd-daemon.h>

namespace parley::server {

namespace {

void Notify(const std::string& state) {
  // The environment is kept (unset_environment 0): every later reload notifies too.
  const int sent = sd_notify(0, state.c_str());
  if (sent < 0) spdlog::warn("sd_notify failed: error {}", -sent);
}

std::string MonotonicMicros() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return std::to_string(static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000);
}

}  // namespace

void NotifyReady(std::string_view status) { Notify("READY=1\nSTATUS=" + std::string(status)); }

// systemd 253 and later want the time of the reload with it (Type=notify-reload); older
// versions ignore the field.
void NotifyReloading() { Notify("RELOADING=1\nMONOTONIC_USEC=" + MonotonicMicros()); }

void NotifyStopping() { Notify("STOPPING=1\nSTATUS=draining connections"); }

}  // namespace parley::server
