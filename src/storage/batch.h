// Batch: one group commit while the writer builds it.

#ifndef PARLEY_STORAGE_BATCH_H_
#define PARLEY_STORAGE_BATCH_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <rocksdb/write_batch.h>

#include "parley/storage/records.pb.h"
#include "parley/storage/store.h"
#include "parley/v1/parley.pb.h"

#include "database.h"
#include "user_cache.h"

namespace parley::storage {

// Collects the puts and deletes of every op of one batch into one rocksdb::WriteBatch, along
// with what must happen once it is on disk: the new items for the ItemSink and the user
// states whose records changed. Nothing here touches the database; the writer writes
// write_batch() itself. Writer thread only.
class Batch {
 public:
  explicit Batch(const Database* database) : database_(database) {}

  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  // Gives `item` the next seq of `user`'s mailbox (last_seq + 1, recorded in `state`), puts it
  // into the batch stamped with `expiry_ms` and keeps it for the sink. Returns the seq.
  std::uint64_t AppendItem(const std::string& user, UserState* state, v1::Item item,
                           std::int64_t expiry_ms);

  void PutDedup(const std::string& key, const DedupRecord& record, std::int64_t expiry_ms);

  // The dedup record an earlier op of this batch put under `key`, or null. The database
  // cannot answer for those yet.
  const DedupRecord* FindDedup(const std::string& key) const;

  void DeleteItem(const std::string& key);

  void PutHistory(const std::string& key, std::string value);

  // Deletes the history keys in [begin, end). A range tombstone, unlike the mailbox's point
  // deletes: a purge is rare and may cover a great many keys.
  void DeleteHistoryRange(const std::string& begin, const std::string& end);

  // Notes that `state`'s record changed. Each changed record is put once, by Seal.
  void Touch(const std::string& user, UserState* state);

  // Puts the changed user records. Call once, after the last op and before the write.
  void Seal();

  // After the write succeeded: the changed states' seqs now count as committed.
  void MarkCommitted();

  rocksdb::WriteBatch* write_batch() { return &write_batch_; }
  std::vector<NewItem> TakeNewItems() { return std::move(new_items_); }

  std::uint64_t messages() const { return messages_; }
  std::uint64_t receipts() const { return receipts_; }
  std::uint64_t deleted() const { return deleted_; }

 private:
  const Database* const database_;
  rocksdb::WriteBatch write_batch_;
  std::vector<NewItem> new_items_;  // In seq order per user: seqs only grow.
  std::unordered_map<std::string, DedupRecord> dedup_;
  std::unordered_map<std::string, UserState*> touched_;  // Keyed by user.
  std::uint64_t messages_ = 0;
  std::uint64_t receipts_ = 0;
  std::uint64_t deleted_ = 0;
};

}  // namespace parley::storage

#endif  // PARLEY_STORAGE_BATCH_H_
