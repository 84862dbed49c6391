// BatchWriter: what each write operation means, applied a batch at a time.

#ifndef PARLEY_STORAGE_BATCH_WRITER_H_
#define PARLEY_STORAGE_BATCH_WRITER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "parley/common/clock.h"
#include "parley/common/status.h"
#include "parley/storage/store.h"

#include "batch.h"
#include "database.h"
#include "user_cache.h"
#include "write_op.h"

namespace parley::storage {

// Turns a batch of ops into one synced RocksDB write. Each op is applied in queue order to
// the Batch and to the user cache, reading the database only for what neither holds yet.
// Then the batch is written; only if that succeeds are the new items handed to the sink and
// the ops completed with their results. If it fails, every op fails, the sink hears nothing
// and the user cache is dropped: it may hold changes that never reached the disk.
//
// An op that fails on its own (a read error, an unparsable record) changes nothing: each
// op does all of its reads before its first change to the batch.
//
// Writer thread only (CommitQueue's).
class BatchWriter {
 public:
  BatchWriter(const Database* database, const StoreOptions& options, const Clock* clock,
              ItemSink sink, StoreStats* stats);

  // Applies, writes and completes every op.
  void Commit(std::vector<WriteOp>& ops);

 private:
  // An item found in an acknowledged range.
  struct AckedItem {
    std::string key;
    bool expired = false;  // Invisible to the client, so no receipt.
    bool is_message = false;
    std::string sender;
    std::string client_msg_id;
  };

  void Apply(WriteOp& op, Batch& batch);
  void ApplyOpenSession(OpenSessionOp& op, Batch& batch);
  void ApplySend(SendOp& op, Batch& batch);
  void ApplyAck(AckOp& op, Batch& batch);
  void ApplyMarkRead(MarkReadOp& op, Batch& batch);
  void ApplySetRetention(SetRetentionOp& op, Batch& batch);

  // Keeps `message` in `owner`'s history, if she keeps one, indexed under `peer`.
  void AddToHistory(const std::string& owner, const UserState& state, const std::string& peer,
                    const v1::Message& message, Batch& batch);

  // Acks `user`'s items up to `seq`, clamped to what was committed before this batch.
  // `pushed` (may be null) is what the session knows of them; see Store::Ack. It is consumed.
  Status AckUpTo(const std::string& user, UserState* state, std::uint64_t seq, Batch& batch,
                 std::vector<PushedItem>* pushed = nullptr);

  // Reads `user`'s items with seq in (after, up_to].
  Result<std::vector<AckedItem>> CollectAcked(const std::string& user, std::uint64_t after,
                                              std::uint64_t up_to, std::int64_t now_ms) const;

  // The same items from what the session pushed, or nullopt unless `pushed` names every seq
  // in (after, up_to]. Moves the names out of `pushed`, also when it gives up.
  std::optional<std::vector<AckedItem>> AckedFromPushed(const std::string& user,
                                                        std::vector<PushedItem>& pushed,
                                                        std::uint64_t after, std::uint64_t up_to,
                                                        std::int64_t now_ms) const;

  // An unexpired dedup record for `key`, from this batch or the database.
  Result<std::optional<DedupRecord>> FindDedup(const std::string& key, const Batch& batch,
                                               std::int64_t now_ms) const;

  // Puts a receipt for `client_msg_id` into `owner`'s mailbox, naming `peer`.
  void AppendReceipt(const std::string& owner, UserState* state, const std::string& peer,
                     const std::string& client_msg_id, v1::Receipt::Status status,
                     std::int64_t now_ms, Batch& batch);

  Status Write(Batch& batch);
  void OnCommitted(std::vector<WriteOp>& ops, Batch& batch);
  void OnWriteFailed(std::vector<WriteOp>& ops, const Status& written);

  const Database* const database_;
  const Clock* const clock_;
  const bool sync_;
  const std::uint64_t mailbox_max_items_;
  const std::int64_t undelivered_ttl_ms_;
  const std::int64_t dedup_ttl_ms_;
  const std::size_t user_cache_max_entries_;
  const ItemSink sink_;
  StoreStats* const stats_;
  UserCache users_;
};

}  // namespace parley::storage

#endif  // PARLEY_STORAGE_BATCH_WRITER_H_
