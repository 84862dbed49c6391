// Metrics: the daemon's counters and gauges, rendered in the Prometheus text format.

#ifndef PARLEY_ADMIN_METRICS_H_
#define PARLEY_ADMIN_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "parley/v1/parley.pb.h"

namespace parley::storage {
struct StoreStats;
}

namespace parley::admin {

struct ProcessStats;

// A monotonically increasing count. Relaxed atomics: figures for humans, not for logic.
class Counter {
 public:
  void Add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void Add(std::int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void Set(std::int64_t n) { value_.store(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Why the server ended a connection (the client's own closes are not counted here).
enum class CloseReason {
  kNotAuthenticated,   // 4001
  kReplaced,           // 4002
  kProtocolViolation,  // 4003
  kFrameTooBig,        // 1009
  kGoingAway,          // 1001, shutdown
  kInternalError,      // 1011, storage failed while opening a session
  kIdleTimeout,        // no frame and no pong within limits.idle_timeout_s
  kWriteTimeout,       // took no data within limits.write_timeout_s
  kOutputOverflow,     // let its queue of frames to send grow past the cap
  kCount
};

std::string_view CloseReasonName(CloseReason reason);

struct Metrics {
  Gauge connections;            // Open client connections, authenticated or not.
  Counter connections_total;    // Connections accepted since start.
  Counter connections_refused;  // Turned away at the connection cap.
  Gauge sessions;               // Authenticated sessions.
  Counter messages_accepted;    // Sends stored (new, not duplicates).
  Counter messages_duplicate;   // Sends answered as duplicates.
  Counter items_pushed;         // Mailbox items written to a session (live or paged).
  Counter items_acked;          // Items acknowledged by their recipients.
  Counter typing_relayed;
  // Error frames sent, by Error.Code.
  std::array<Counter, v1::Error::Code_ARRAYSIZE> errors;
  Counter protocol_closes;  // Connections closed with 4003.
  std::array<Counter, static_cast<std::size_t>(CloseReason::kCount)> closes;

  void CountClose(CloseReason reason) { closes[static_cast<std::size_t>(reason)].Add(); }

  // Config reloads on SIGHUP, and how many changed keys wait for a restart since then.
  Counter config_reloads;
  Counter config_reload_failures;
  Gauge config_restart_pending;
};

// Renders every metric in the Prometheus text format (version 0.0.4), each name prefixed
// `parley_`, each with its HELP and TYPE lines. docs/operations.md explains what to watch.
std::string RenderPrometheus(const Metrics& metrics, const storage::StoreStats& store,
                             const ProcessStats& process);

}  // namespace parley::admin

#endif  // PARLEY_ADMIN_METRICS_H_
