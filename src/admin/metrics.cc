#include "parley/admin/metrics.h"

#include <fmt/format.h>

#include "parley/admin/process_stats.h"
#include "parley/storage/store.h"

namespace parley::admin {

namespace {

// One metric without labels: its HELP, its TYPE and its value.
template <typename T>
void Write(std::string& out, std::string_view name, std::string_view type, std::string_view help,
           T value) {
  fmt::format_to(std::back_inserter(out),
                 "# HELP parley_{} {}\n# TYPE parley_{} {}\nparley_{} {}\n", name, help, name, type,
                 name, value);
}

void WriteCounter(std::string& out, std::string_view name, std::string_view help,
                  std::uint64_t value) {
  Write(out, name, "counter", help, value);
}

void WriteHeader(std::string& out, std::string_view name, std::string_view type,
                 std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP parley_{} {}\n# TYPE parley_{} {}\n", name, help,
                 name, type);
}

void WriteClientMetrics(std::string& out, const Metrics& m) {
  Write(out, "connections", "gauge", "Open client connections.", m.connections.value());
  WriteCounter(out, "connections_accepted_total", "Client connections accepted.",
               m.connections_total.value());
  WriteCounter(out, "connections_refused_total", "Connections refused at the connection cap.",
               m.connections_refused.value());
  Write(out, "sessions", "gauge", "Authenticated sessions.", m.sessions.value());
  WriteCounter(out, "messages_accepted_total", "Messages stored and acknowledged to senders.",
               m.messages_accepted.value());
  WriteCounter(out, "messages_duplicate_total", "Resent messages acknowledged as duplicates.",
               m.messages_duplicate.value());
  WriteCounter(out, "items_pushed_total",
               "Mailbox items (messages and receipts) written to sessions, live or paged.",
               m.items_pushed.value());
  WriteCounter(out, "items_acked_total", "Mailbox items acknowledged by recipients.",
               m.items_acked.value());
  WriteCounter(out, "typing_relayed_total", "Typing notices relayed.", m.typing_relayed.value());
  WriteCounter(out, "protocol_closes_total", "Connections closed for protocol violations (4003).",
               m.protocol_closes.value());

  WriteHeader(out, "errors_total", "counter", "Error frames sent to clients, by code.");
  for (int code = v1::Error::Code_MIN + 1; code <= v1::Error::Code_MAX; ++code) {
    fmt::format_to(std::back_inserter(out), "parley_errors_total{{code=\"{}\"}} {}\n",
                   v1::Error::Code_Name(code), m.errors[static_cast<std::size_t>(code)].value());
  }
}

// A Prometheus histogram; `scale` divides bounds and sum (1e6 turns microseconds to seconds).
template <std::size_t N>
void WriteHistogram(std::string& out, std::string_view name, std::string_view help,
                    const Histogram<N>& histogram, double scale) {
  fmt::format_to(std::back_inserter(out), "# HELP parley_{} {}\n# TYPE parley_{} histogram\n", name,
                 help, name);
  for (std::size_t i = 0; i < N; ++i) {
    fmt::format_to(std::back_inserter(out), "parley_{}_bucket{{le=\"{}\"}} {}\n", name,
                   static_cast<double>(histogram.bound(i)) / scale, histogram.cumulative(i));
  }
  fmt::format_to(std::back_inserter(out), "parley_{}_bucket{{le=\"+Inf\"}} {}\n", name,
                 histogram.count());
  fmt::format_to(std::back_inserter(out), "parley_{}_sum {}\nparley_{}_count {}\n", name,
                 static_cast<double>(histogram.sum()) / scale, name, histogram.count());
}

void WriteCloseMetrics(std::string& out, const Metrics& m) {
  out += "# HELP parley_connections_closed_total Connections the server ended, by reason.\n";
  out += "# TYPE parley_connections_closed_total counter\n";
  for (std::size_t i = 0; i < m.closes.size(); ++i) {
    fmt::format_to(std::back_inserter(out), "parley_connections_closed_total{{reason=\"{}\"}} {}\n",
                   CloseReasonName(static_cast<CloseReason>(i)), m.closes[i].value());
  }
}

void WriteStoreMetrics(std::string& out, const storage::StoreStats& store) {
  WriteCounter(out, "store_fsyncs_total", "Write batches synced to disk (one fsync each).",
               store.fsyncs.load());
  WriteHistogram(out, "store_batch_ops", "Operations per write batch (group commit size).",
                 store.batch_ops, 1);
  WriteHistogram(out, "store_commit_seconds", "Time to write and sync one batch.",
                 store.commit_micros, 1e6);
  WriteCounter(out, "store_batches_total", "Write batches (group commits), empty ones included.",
               store.batches.load());
  WriteCounter(out, "store_batched_ops_total",
               "Operations written in those batches; divided by batches: the mean batch size.",
               store.batched_ops.load());
  WriteCounter(out, "store_failed_batches_total", "Write batches that failed.",
               store.failed_batches.load());
  WriteCounter(out, "store_messages_total", "Messages written to mailboxes.",
               store.messages_stored.load());
  WriteCounter(out, "store_receipts_total", "Receipts written to mailboxes.",
               store.receipts_stored.load());
  WriteCounter(out, "store_items_deleted_total", "Mailbox items deleted after acknowledgement.",
               store.items_deleted.load());

  // The backlog already on disk at start is not known without a scan, so this is the change
  // since start: exact for a fresh database, otherwise a trend (negative after a restart that
  // found a backlog which then drained). Expired items are not subtracted.
  const auto added =
      static_cast<std::int64_t>(store.messages_stored.load() + store.receipts_stored.load());
  const auto deleted = static_cast<std::int64_t>(store.items_deleted.load());
  Write(out, "mailbox_items_waiting", "gauge",
        "Approximate: mailbox items stored minus items deleted since this process started "
        "(the backlog found at start is not counted).",
        added - deleted);
}

void WriteProcessMetrics(std::string& out, const ProcessStats& p) {
  Write(out, "process_resident_memory_bytes", "gauge", "Resident memory (RSS).", p.resident_bytes);
  Write(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size.", p.virtual_bytes);
  Write(out, "process_open_fds", "gauge", "Open file descriptors (sockets included).", p.open_fds);
  Write(out, "process_max_fds", "gauge", "Limit on open file descriptors (RLIMIT_NOFILE).",
        p.max_fds);
  Write(out, "process_threads", "gauge", "Threads of the process.", p.threads);
  Write(out, "process_cpu_seconds_total", "counter", "User and system CPU time.", p.cpu_seconds);
  Write(out, "process_start_time_seconds", "gauge", "Start time since the Unix epoch.",
        p.start_time_seconds);
  Write(out, "uptime_seconds", "gauge", "Seconds since the process started.", p.uptime_seconds);
}

void WriteDaemonMetrics(std::string& out, const Metrics& m) {
  WriteHeader(out, "config_reloads_total", "counter", "Config reloads (SIGHUP), by outcome.");
  fmt::format_to(std::back_inserter(out), "parley_config_reloads_total{{result=\"ok\"}} {}\n",
                 m.config_reloads.value());
  fmt::format_to(std::back_inserter(out), "parley_config_reloads_total{{result=\"failed\"}} {}\n",
                 m.config_reload_failures.value());
  Write(out, "config_restart_pending_keys", "gauge",
        "Keys changed in the config file that take effect only after a restart.",
        m.config_restart_pending.value());

  WriteHeader(out, "build_info", "gauge", "Always 1; the version is in the label.");
  fmt::format_to(std::back_inserter(out), "parley_build_info{{version=\"{}\"}} 1\n",
                 PARLEY_VERSION);
}

}  // namespace

std::string_view CloseReasonName(CloseReason reason) {
  switch (reason) {
    case CloseReason::kNotAuthenticated:
      return "not_authenticated";
    case CloseReason::kReplaced:
      return "replaced";
    case CloseReason::kProtocolViolation:
      return "protocol_violation";
    case CloseReason::kFrameTooBig:
      return "frame_too_big";
    case CloseReason::kGoingAway:
      return "going_away";
    case CloseReason::kInternalError:
      return "internal_error";
    case CloseReason::kIdleTimeout:
      return "idle_timeout";
    case CloseReason::kWriteTimeout:
      return "write_timeout";
    case CloseReason::kOutputOverflow:
      return "output_overflow";
    case CloseReason::kCount:
      break;
  }
  return "unknown";
}

std::string RenderPrometheus(const Metrics& metrics, const storage::StoreStats& store,
                             const ProcessStats& process) {
  std::string out;
  WriteClientMetrics(out, metrics);
  WriteCloseMetrics(out, metrics);
  WriteStoreMetrics(out, store);
  WriteProcessMetrics(out, process);
  WriteDaemonMetrics(out, metrics);
  return out;
}

}  // namespace parley::admin
