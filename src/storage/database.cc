#include "database.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <spdlog/spdlog.h>

namespace parley::storage {

namespace {

// Every family is revisited by compaction at least this often, so that files nobody writes
// to any more still get their expired values dropped by the ExpiryFilter.
constexpr std::uint64_t kPeriodicCompactionSeconds = 24 * 3600;

// One block cache shared by all families, so that memory is bounded once for the instance.
constexpr std::size_t kBlockCacheBytes = 64 << 20;

// About 1% false positives; dedup and users are read by point lookups on every send.
constexpr double kBloomBitsPerKey = 10;

// Share of a memtable's size given to its bloom filter (RocksDB caps it at a quarter).
constexpr double kMemtableBloomRatio = 0.02;

// The part of a key up to and including its first NUL: the user in mailbox, dedup and history
// keys (see keys.h). Keys of one user arrive in order (mailbox seqs, history times), so the
// memtable keeps one insert position per user and goes on from it instead of searching its
// whole skiplist again; at the rate of a busy host that search was the storage thread's
// largest cost.
class UserPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "parley.UserPrefix"; }

  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), Length(key));
  }

  bool InDomain(const rocksdb::Slice& key) const override { return Length(key) <= key.size(); }

 private:
  // Length of the prefix, or more than the key's size when it has no NUL.
  static std::size_t Length(const rocksdb::Slice& key) {
    const void* nul = std::memchr(key.data(), '\0', key.size());
    if (nul == nullptr) return key.size() + 1;
    return static_cast<std::size_t>(static_cast<const char*>(nul) - key.data()) + 1;
  }
};

// `insert_hints` must stay off for a family that takes range deletes: RocksDB 7.8 keeps one
// table of hints for a memtable's point skiplist and its range-deletion skiplist alike.
rocksdb::ColumnFamilyOptions FamilyOptions(ExpiryFilter* filter,
                                           const std::shared_ptr<rocksdb::Cache>& cache,
                                           bool point_lookups, bool insert_hints) {
  rocksdb::ColumnFamilyOptions options;
  options.compaction_filter = filter;
  options.periodic_compaction_seconds = kPeriodicCompactionSeconds;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  if (point_lookups) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey));
    // The memtable gets a bloom filter of its own too: nearly every dedup lookup misses, and
    // a miss would otherwise walk the memtable's skiplist.
    options.memtable_whole_key_filtering = true;
    options.memtable_prefix_bloom_size_ratio = kMemtableBloomRatio;
  }
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (insert_hints) {
    static const auto user_prefix = std::make_shared<const UserPrefix>();
    options.memtable_insert_with_hint_prefix_extractor = user_prefix;
  }
  return options;
}

}  // namespace

Status FromRocks(const rocksdb::Status& status, std::string_view context) {
  if (status.ok()) return Status::Ok();

  std::string message(context);
  message += ": ";
  message += status.ToString();
  if (status.IsNotFound()) return Status::NotFound(std::move(message));
  if (status.IsCorruption()) return Status::Corruption(std::move(message));
  if (status.IsInvalidArgument()) return Status::InvalidArgument(std::move(message));
  // Conditions that go away by themselves: the caller may retry later.
  if (status.IsBusy() || status.IsTimedOut() || status.IsTryAgain() ||
      status.IsShutdownInProgress() || status.IsIncomplete()) {
    return Status::Unavailable(std::move(message));
  }
  return Status::IOError(std::move(message));
}

Database::Database(const Clock* clock) : filter_(std::make_unique<ExpiryFilter>(clock)) {}

Database::~Database() {
  if (!db_) return;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  const Status closed = FromRocks(db_->Close(), "close rocksdb");
  if (!closed.ok()) spdlog::error("[storage] {}", closed.ToString());
}

Result<std::unique_ptr<Database>> Database::Open(const StoreOptions& options, const Clock* clock) {
  std::unique_ptr<Database> database(new Database(clock));

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  if (options.env != nullptr) db_options.env = options.env;

  const std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  ExpiryFilter* filter = database->filter_.get();
  // Order matches Database::Family.
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {"mailbox", FamilyOptions(filter, cache, /*point_lookups=*/false, /*insert_hints=*/true)},
      {"dedup", FamilyOptions(filter, cache, /*point_lookups=*/true, /*insert_hints=*/true)},
      {"users", FamilyOptions(filter, cache, /*point_lookups=*/true, /*insert_hints=*/false)},
      {"history", FamilyOptions(filter, cache, /*point_lookups=*/true, /*insert_hints=*/false)},
  };

  rocksdb::DB* db = nullptr;
  const rocksdb::Status opened =
      rocksdb::DB::Open(db_options, options.path, families, &database->handles_, &db);
  if (!opened.ok()) return FromRocks(opened, "open rocksdb at " + options.path);
  database->db_.reset(db);

  spdlog::info("[storage] opened rocksdb at {}", options.path);
  return database;
}

}  // namespace parley::storage
