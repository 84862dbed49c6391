#include "rocks_store.h"

#include <utility>

#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <spdlog/spdlog.h>

#include "history_reader.h"
#include "mailbox_reader.h"

namespace parley::storage {

namespace {

// Lives in the default family, which holds nothing else of ours.
constexpr char kProbeKey[] = "parley.writability_probe";

}  // namespace

Result<std::unique_ptr<Store>> RocksStore::Open(const StoreOptions& options, const Clock* clock,
                                                ItemSink sink) {
  Result<std::unique_ptr<Database>> database = Database::Open(options, clock);
  if (!database.ok()) return database.status();
  return std::unique_ptr<Store>(
      new RocksStore(options, clock, std::move(database).value(), std::move(sink)));
}

RocksStore::RocksStore(const StoreOptions& options, const Clock* clock,
                       std::unique_ptr<Database> database, ItemSink sink)
    : clock_(clock),
      database_(std::move(database)),
      writer_(database_.get(), options, clock, std::move(sink), &stats_),
      queue_(options.max_batch_ops, options.commit_window,
             [this](std::vector<WriteOp>& ops) { writer_.Commit(ops); }),
      readers_(options.reader_threads) {}

RocksStore::~RocksStore() {
  queue_.Stop();
  readers_.Stop();
  spdlog::info("[storage] closed after {} batches of {} ops", stats_.batches.load(),
               stats_.batched_ops.load());
}

void RocksStore::OpenSession(std::string user, std::uint64_t ack_seq,
                             std::function<void(Result<SessionInfo>)> done) {
  queue_.Push(OpenSessionOp{std::move(user), ack_seq, std::move(done)});
}

void RocksStore::Send(SendRequest request, std::function<void(SendResult)> done) {
  queue_.Push(SendOp{std::move(request), std::move(done), SendResult{}});
}

void RocksStore::Ack(std::string user, std::uint64_t seq, std::vector<PushedItem> pushed,
                     std::function<void(Status)> done) {
  queue_.Push(AckOp{std::move(user), seq, std::move(pushed), std::move(done), Status::Ok()});
}

void RocksStore::MarkRead(std::string reader, std::string peer, std::vector<std::string> ids,
                          std::function<void(MarkReadOutcome)> done) {
  queue_.Push(MarkReadOp{std::move(reader), std::move(peer), std::move(ids), std::move(done),
                         MarkReadOutcome::kUnavailable});
}

template <typename T>
void RocksStore::PostRead(std::function<Result<T>()> read, std::function<void(Result<T>)> done) {
  // `done` is shared between the task and this frame, so that a refused task can still be
  // answered here.
  auto callback = std::make_shared<std::function<void(Result<T>)>>(std::move(done));
  std::function<void()> task = [read = std::move(read), callback] {
    Result<T> result = read();
    if (*callback) (*callback)(std::move(result));
  };
  if (!readers_.Post(task) && *callback) {
    (*callback)(Status::Unavailable("store is shutting down"));
  }
}

void RocksStore::ReadMailbox(std::string user, std::uint64_t after_seq, std::size_t limit,
                             std::function<void(Result<MailboxPage>)> done) {
  PostRead<MailboxPage>(
      [this, user = std::move(user), after_seq, limit] {
        return ReadMailboxPage(*database_, user, after_seq, limit, clock_->NowMs());
      },
      std::move(done));
}

void RocksStore::SetRetention(std::string user, std::uint32_t history_days,
                              std::function<void(Status)> done) {
  queue_.Push(SetRetentionOp{std::move(user), history_days, std::move(done), Status::Ok()});
}

void RocksStore::ReadHistory(HistoryQuery query, std::function<void(Result<HistoryPage>)> done) {
  PostRead<HistoryPage>(
      [this, query = std::move(query)] {
        return ReadHistoryPage(*database_, query, clock_->NowMs());
      },
      std::move(done));
}

Status RocksStore::CompactAll() {
  rocksdb::CompactRangeOptions options;
  // Rewrite the bottommost files too: that is where old, expired data sits.
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (rocksdb::ColumnFamilyHandle* family : database_->families()) {
    Status compacted =
        FromRocks(database_->db()->CompactRange(options, family, nullptr, nullptr), "compact");
    if (!compacted.ok()) return compacted;
  }
  return Status::Ok();
}

Result<std::uint64_t> RocksStore::CountKeys(std::string_view family) {
  for (rocksdb::ColumnFamilyHandle* handle : database_->families()) {
    if (handle->GetName() != family) continue;
    std::unique_ptr<rocksdb::Iterator> it(
        database_->db()->NewIterator(rocksdb::ReadOptions(), handle));
    std::uint64_t count = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
    if (!it->status().ok()) return FromRocks(it->status(), "count keys");
    return count;
  }
  return Status::InvalidArgument("no column family named " + std::string(family));
}

bool RocksStore::IsWritable() {
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  rocksdb::DB* db = database_->db();
  Status status =
      FromRocks(db->Put(write_options, database_->default_family(), kProbeKey, "1"), "probe write");
  if (status.ok()) {
    status = FromRocks(db->Delete(write_options, database_->default_family(), kProbeKey),
                       "probe delete");
  }
  // Probes come every few seconds: say so when writability changes, not on every probe.
  const bool writable = status.ok();
  if (writable_.exchange(writable) != writable) {
    if (writable) {
      spdlog::info("[storage] writable again");
    } else {
      spdlog::warn("[storage] not writable: {}", status.ToString());
    }
  }
  return writable;
}

}  // namespace parley::storage
