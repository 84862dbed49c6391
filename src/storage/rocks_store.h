// RocksStore: the Store, assembled from the database, the writer and the reader pool.

#ifndef PARLEY_STORAGE_ROCKS_STORE_H_
#define PARLEY_STORAGE_ROCKS_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parley/storage/store.h"

#include "batch_writer.h"
#include "commit_queue.h"
#include "database.h"
#include "task_pool.h"

namespace parley::storage {

// Mutations become WriteOps on the CommitQueue, whose thread runs them through the
// BatchWriter; mailbox reads go to the TaskPool. See store.h for the contract.
class RocksStore final : public Store {
 public:
  // REQUIRES: options were validated by Store::Open; `clock` is not null.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options, const Clock* clock,
                                             ItemSink sink);

  // Drains the queued writes and reads (their callbacks run), then closes the database.
  ~RocksStore() override;

  void OpenSession(std::string user, std::uint64_t ack_seq,
                   std::function<void(Result<SessionInfo>)> done) override;
  void Send(SendRequest request, std::function<void(SendResult)> done) override;
  using Store::Ack;
  void Ack(std::string user, std::uint64_t seq, std::vector<PushedItem> pushed,
           std::function<void(Status)> done) override;
  void MarkRead(std::string reader, std::string peer, std::vector<std::string> ids,
                std::function<void(MarkReadOutcome)> done) override;
  void ReadMailbox(std::string user, std::uint64_t after_seq, std::size_t limit,
                   std::function<void(Result<MailboxPage>)> done) override;
  void SetRetention(std::string user, std::uint32_t history_days,
                    std::function<void(Status)> done) override;
  void ReadHistory(HistoryQuery query, std::function<void(Result<HistoryPage>)> done) override;
  Status CompactAll() override;
  Result<std::uint64_t> CountKeys(std::string_view family) override;
  bool IsWritable() override;
  const StoreStats& stats() const override { return stats_; }

 private:
  // Runs `read` on a reader thread and hands its result to `done`; answers Unavailable at
  // once when the pool no longer takes work.
  template <typename T>
  void PostRead(std::function<Result<T>()> read, std::function<void(Result<T>)> done);

  RocksStore(const StoreOptions& options, const Clock* clock, std::unique_ptr<Database> database,
             ItemSink sink);

  const Clock* const clock_;
  const std::unique_ptr<Database> database_;  // First in, last out: everything below uses it.
  StoreStats stats_;
  std::atomic<bool> writable_{true};  // As the last IsWritable() found it.
  BatchWriter writer_;                // Used by queue_'s thread only.
  CommitQueue queue_;
  TaskPool readers_;
};

}  // namespace parley::storage

#endif  // PARLEY_STORAGE_ROCKS_STORE_H_
