// AdminServer: the operators' HTTP listener (/metrics, /healthz, /readyz).
// Loopback by default; it carries no user data and needs no authentication there. It runs on a
// thread of its own, so a slow readiness probe never holds up client traffic.

#ifndef PARLEY_ADMIN_ADMIN_SERVER_H_
#define PARLEY_ADMIN_ADMIN_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace parley::admin {

// What /readyz checks. Ready only when both hold; the body names what does not.
struct Readiness {
  bool storage_writable = false;  // A synced write succeeds right now.
  bool listening = false;         // The client listener accepts (false once draining).

  bool ready() const { return storage_writable && listening; }
};

// Called on the admin thread, one request at a time.
struct AdminHandlers {
  std::function<std::string()> metrics;  // Prometheus text.
  std::function<Readiness()> readiness;
};

class AdminServer {
 public:
  // Binds at once; throws std::runtime_error naming admin.address/admin.port on failure.
  AdminServer(const std::string& address, std::uint16_t port, AdminHandlers handlers);
  ~AdminServer();

  std::uint16_t port() const;
  // Serves on its own thread until Stop() or destruction.
  void Start();
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::admin

#endif  // PARLEY_ADMIN_ADMIN_SERVER_H_
