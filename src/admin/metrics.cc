#include "parley/admin/metrics.h"

#include <fmt/format.h>

#include "parley/storage/store.h"

namespace parley::admin {

namespace {

void Write(std::string& out, std::string_view name, std::string_view type, std::string_view help,
           std::int64_t value) {
  fmt::format_to(std::back_inserter(out),
                 "# HELP parley_{} {}\n# TYPE parley_{} {}\nparley_{} {}\n", name, help, name, type,
                 name, value);
}

void WriteCounter(std::string& out, std::string_view name, std::string_view help,
                  std::uint64_t value) {
  Write(out, name, "counter", help, static_cast<std::int64_t>(value));
}

}  // namespace

std::string RenderPrometheus(const Metrics& m, const storage::StoreStats& store) {
  std::string out;
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
  WriteCounter(out, "items_pushed_total", "Mailbox items written to sessions.",
               m.items_pushed.value());
  WriteCounter(out, "items_acked_total", "Mailbox items acknowledged by recipients.",
               m.items_acked.value());
  WriteCounter(out, "typing_relayed_total", "Typing notices relayed.", m.typing_relayed.value());
  WriteCounter(out, "protocol_closes_total", "Connections closed for protocol violations.",
               m.protocol_closes.value());

  out += "# HELP parley_errors_total Error frames sent, by code.\n";
  out += "# TYPE parley_errors_total counter\n";
  for (int code = v1::Error::Code_MIN + 1; code <= v1::Error::Code_MAX; ++code) {
    fmt::format_to(std::back_inserter(out), "parley_errors_total{{code=\"{}\"}} {}\n",
                   v1::Error::Code_Name(code), m.errors[static_cast<std::size_t>(code)].value());
  }

  WriteCounter(out, "store_batches_total", "Synced write batches (group commits).",
               store.batches.load());
  WriteCounter(out, "store_batched_ops_total", "Operations written in those batches.",
               store.batched_ops.load());
  WriteCounter(out, "store_failed_batches_total", "Write batches that failed.",
               store.failed_batches.load());
  WriteCounter(out, "store_messages_total", "Messages written to mailboxes.",
               store.messages_stored.load());
  WriteCounter(out, "store_receipts_total", "Receipts written to mailboxes.",
               store.receipts_stored.load());
  WriteCounter(out, "store_items_deleted_total", "Mailbox items deleted after acknowledgement.",
               store.items_deleted.load());
  return out;
}

}  // namespace parley::admin
