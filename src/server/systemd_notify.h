// Notifications to systemd for a `Type=notify` service (see sd_notify(3)).
//
// systemd counts the service as started only when it says READY=1, so units ordered after
// parleyd (and `systemctl start`) wait until storage is open and the listener accepts. Every
// call does nothing when $NOTIFY_SOCKET is unset, that is, when systemd did not start us.

#ifndef PARLEY_SERVER_SYSTEMD_NOTIFY_H_
#define PARLEY_SERVER_SYSTEMD_NOTIFY_H_

#include <string_view>

namespace parley::server {

// Startup finished, or a reload did. `status` is shown by `systemctl status`.
void NotifyReady(std::string_view status);

// A reload (SIGHUP) began; NotifyReady ends it.
void NotifyReloading();

// Shutdown began: systemd then waits up to TimeoutStopSec for the exit.
void NotifyStopping();

}  // namespace parley::server

#endif  // PARLEY_SERVER_SYSTEMD_NOTIFY_H_
