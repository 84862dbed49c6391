// Store: Parley's durable state in one embedded RocksDB instance.
//
// Column families (key layouts in docs/storage.md and src/storage/keys.h):
//   mailbox  per-user queues of items (messages and receipts) waiting for delivery
//   dedup    one record per (sender, client_msg_id), so that a resent message is stored once
//   users    one record per user who has ever connected: retention choice and seq counters
//
// Every mutation goes through one writer thread that drains a queue of operations into one
// WriteBatch and writes it with the WAL synced (group commit): one fsync serves every
// operation of the batch, and no caller ever waits on the disk. Only after the batch is on
// disk are the operations' callbacks run and the new mailbox items handed to the ItemSink.
// Reads of mailbox pages run on a small pool of reader threads.
//
// Thread safety: every public method may be called from any thread. Callbacks run on the
// writer or a reader thread: they must be quick, must not block (post the work to where it
// belongs) and must not throw. A call made while the Store shuts down (say, from a callback of
// the final drain) is refused at once with kUnavailable, its callback run on the calling
// thread.

#ifndef PARLEY_STORAGE_STORE_H_
#define PARLEY_STORAGE_STORE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parley/common/clock.h"
#include "parley/common/histogram.h"
#include "parley/common/status.h"
#include "parley/v1/parley.pb.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace parley::storage {

struct StoreOptions {
  // Folder of the RocksDB instance; created if missing.
  std::string path;

  // Sync the WAL on every batch. False loses the last acknowledged messages on a power cut;
  // only for benchmarks.
  bool sync = true;

  // A send to a mailbox holding this many unacknowledged items answers kMailboxFull.
  std::uint64_t mailbox_max_items = 100'000;

  // Lifetimes, counted from the item's sent_at_ms (or a receipt's at_ms). 0 or less: never
  // expires.
  std::int64_t undelivered_ttl_ms = 365LL * 24 * 3600 * 1000;
  std::int64_t dedup_ttl_ms = 30LL * 24 * 3600 * 1000;

  // Most operations folded into one synced batch; bounds the latency a batch adds.
  std::size_t max_batch_ops = 2048;

  // How long the first operation after a quiet spell waits for others to share its sync.
  // Under a light load it saves most of the syncs (and their CPU) for at most this much
  // latency; a busy writer never waits. Zero: never wait.
  std::chrono::microseconds commit_window{1000};

  // Reader threads for mailbox pages. At least 1.
  int reader_threads = 2;

  // The writer caches user records (about 100 bytes each); past this many it drops them all
  // between two batches and reloads on demand. Bounds memory, costs one read per user after.
  std::size_t user_cache_max_entries = 1'000'000;

  // Source of time for sent_at_ms and expiry. Not owned; must outlive the Store. Null: the
  // system clock.
  const Clock* clock = nullptr;

  // RocksDB's environment, for tests that inject faults. Not owned; must outlive the Store.
  // Null: RocksDB's default.
  rocksdb::Env* env = nullptr;
};

// A mailbox item that a committed batch added, handed to the ItemSink for live delivery.
struct NewItem {
  std::string user;  // Owner of the mailbox.
  std::shared_ptr<const v1::Item> item;
};

// Receives the items of each committed batch, on the writer thread, in seq order per user,
// before the callbacks of that batch run. Not called for a batch that added no item.
using ItemSink = std::function<void(std::vector<NewItem> items)>;

struct SessionInfo {
  std::uint32_t history_days = 0;
  std::uint64_t last_seq = 0;   // Highest seq ever given in the user's mailbox.
  std::uint64_t acked_seq = 0;  // After applying the connect's ack_seq.
  std::uint64_t pending = 0;    // Items still waiting: last_seq - acked_seq.
  bool created = false;         // The user record was made by this call.
};

struct SendRequest {
  std::string from;
  std::string to;
  std::string client_msg_id;
  std::string text;
};

enum class SendOutcome {
  kStored,            // New message; it is on disk.
  kDuplicate,         // Stored before: sent_at_ms and seq are the original's.
  kUnknownRecipient,  // `to` has never connected.
  kMailboxFull,       // `to` has mailbox_max_items unacknowledged items.
  kUnavailable,       // The write failed; nothing was stored.
};

struct SendResult {
  SendOutcome outcome = SendOutcome::kUnavailable;
  std::int64_t sent_at_ms = 0;
  std::uint64_t seq = 0;
};

// What a session knows of an item it pushed to its client: enough for the DELIVERED receipt
// of an acknowledged message, so that the ack needs no read of the mailbox.
struct PushedItem {
  std::uint64_t seq = 0;
  bool is_message = false;  // Otherwise a receipt, which gets no receipt of its own.
  std::string sender;
  std::string client_msg_id;
  std::int64_t sent_at_ms = 0;
};

enum class MarkReadOutcome { kStored, kUnknownRecipient, kUnavailable };

// A page of a user's history, newest first. See Store::ReadHistory.
struct HistoryQuery {
  std::string user;
  std::string peer;            // Empty: every peer.
  std::int64_t before_ms = 0;  // Only messages sent strictly before this; 0: no bound.
  std::string cursor;          // A previous page's next_cursor; overrides before_ms.
  std::uint32_t limit = 50;    // REQUIRES: >= 1.
  // The user's current history_days: nothing older than that many days is shown, whatever
  // it was stored with. 0 shows nothing.
  std::uint32_t history_days = 0;
};

struct HistoryPage {
  std::vector<v1::Message> messages;
  std::string next_cursor;  // Opaque; empty when there is nothing older.
};

struct MailboxPage {
  std::vector<v1::Item> items;  // Ascending seq, all above the requested seq.
  bool reached_end = false;     // No item above the last one returned existed at the read.
};

// Counters for the admin endpoint; updated by the writer with relaxed atomics.
struct StoreStats {
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> fsyncs{0};  // Batches written with the WAL synced.
  std::atomic<std::uint64_t> batched_ops{0};
  std::atomic<std::uint64_t> failed_batches{0};
  std::atomic<std::uint64_t> messages_stored{0};
  std::atomic<std::uint64_t> receipts_stored{0};
  std::atomic<std::uint64_t> items_deleted{0};

  // Operations per written batch: how much one fsync is shared.
  Histogram<13> batch_ops{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}};
  // Time to write one batch (and sync it), in microseconds.
  Histogram<12> commit_micros{
      {100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000}};
};

class Store {
 public:
  // Opens (creating if needed) the database and starts the writer and reader threads.
  // Fails with a Status naming the path when RocksDB cannot open it, and with
  // kInvalidArgument for an empty path, max_batch_ops 0 or reader_threads below 1.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options, ItemSink sink);

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Finishes every queued write, then stops the threads and closes the database.
  virtual ~Store() = default;

  // Creates the user's record on her first connect, then treats `ack_seq` (clamped to the
  // highest seq committed before this batch) as an Ack. Completes with her state, or with
  // kInvalidArgument for a user id that is empty or contains NUL, or with the failure.
  virtual void OpenSession(std::string user, std::uint64_t ack_seq,
                           std::function<void(Result<SessionInfo>)> done) = 0;

  // Stores a message in the recipient's mailbox together with its dedup record, giving it the
  // recipient's next seq; see SendOutcome for the answers. Sending to oneself is allowed.
  virtual void Send(SendRequest request, std::function<void(SendResult)> done) = 0;

  // Deletes the user's items up to `seq` (clamped to the highest seq committed before this
  // batch) and puts a DELIVERED receipt into the sender's mailbox for each acknowledged
  // message. `done` may be empty.
  //
  // `pushed` is what the caller knows of the acknowledged items, in seq order. When it names
  // every seq from the last acknowledged one up to `seq`, the receipts are made from it and
  // the mailbox is not read; otherwise it is ignored and the range is scanned.
  virtual void Ack(std::string user, std::uint64_t seq, std::vector<PushedItem> pushed,
                   std::function<void(Status)> done) = 0;

  void Ack(std::string user, std::uint64_t seq, std::function<void(Status)> done) {
    Ack(std::move(user), seq, {}, std::move(done));
  }

  // Puts one READ receipt per id into `peer`'s mailbox, naming `reader` as the peer.
  // kUnknownRecipient when `peer` has never connected; no ids is a successful no-op.
  virtual void MarkRead(std::string reader, std::string peer, std::vector<std::string> ids,
                        std::function<void(MarkReadOutcome)> done) = 0;

  // Reads up to `limit` unexpired items of `user` with seq above `after_seq`, on a reader
  // thread; never loads more than one page. An unparsable item fails the read with
  // kCorruption; a user id that is empty or contains NUL with kInvalidArgument.
  virtual void ReadMailbox(std::string user, std::uint64_t after_seq, std::size_t limit,
                           std::function<void(Result<MailboxPage>)> done) = 0;

  // Sets the user's history_days (0 to 90; REQUIRES: the user exists). From then on every
  // message she sends or receives is kept in her history until sent_at_ms + history_days.
  // Lowering the value deletes at once, by range, the messages outside the new window; 0
  // deletes her whole history. Completes with NotFound for a user who never connected.
  virtual void SetRetention(std::string user, std::uint32_t history_days,
                            std::function<void(Status)> done) = 0;

  // Reads one page of a user's history on a reader thread. Paging by next_cursor visits every
  // message once, also when several share a millisecond. Fails with InvalidArgument on a
  // cursor this store did not make.
  virtual void ReadHistory(HistoryQuery query, std::function<void(Result<HistoryPage>)> done) = 0;

  // Compacts every column family now, so that whatever has expired leaves the disk. Blocks
  // until done; for operators' tools and tests (the daemon relies on periodic compaction).
  virtual Status CompactAll() = 0;

  // The number of keys in column family `family` ("mailbox", "dedup", "users", "history"),
  // expired or not: what compaction has not yet removed (range-deleted keys count as gone).
  // Blocks; for tests and diagnostics.
  virtual Result<std::uint64_t> CountKeys(std::string_view family) = 0;

  // True when the database accepts a synced write right now (for /readyz). Blocks briefly.
  virtual bool IsWritable() = 0;

  virtual const StoreStats& stats() const = 0;

 protected:
  Store() = default;
};

}  // namespace parley::storage

#endif  // PARLEY_STORAGE_STORE_H_
