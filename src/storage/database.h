// Database: the open RocksDB instance and its column families.

#ifndef PARLEY_STORAGE_DATABASE_H_
#define PARLEY_STORAGE_DATABASE_H_

#include <memory>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/status.h>

#include "parley/common/clock.h"
#include "parley/common/status.h"
#include "parley/storage/store.h"

#include "expiry_filter.h"

namespace parley::storage {

// The one place where a rocksdb::Status becomes a parley::Status. `context` says what was
// being done ("open /var/lib/parley", "write batch") and leads the message.
Status FromRocks(const rocksdb::Status& status, std::string_view context);

// Owns the DB handle, the column family handles and the compaction filter they use, and
// tears them down in the order RocksDB requires: handles, then the DB, then the filter.
// Thread-safe as rocksdb::DB is; the handles stay valid until destruction.
class Database {
 public:
  // Opens or creates the database at options.path with the "mailbox", "dedup", "users" and
  // "history" column families. Fails with a Status naming the path and RocksDB's reason.
  static Result<std::unique_ptr<Database>> Open(const StoreOptions& options, const Clock* clock);

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* mailbox() const { return handles_[kMailbox]; }
  rocksdb::ColumnFamilyHandle* dedup() const { return handles_[kDedup]; }
  rocksdb::ColumnFamilyHandle* users() const { return handles_[kUsers]; }
  rocksdb::ColumnFamilyHandle* history() const { return handles_[kHistory]; }

  // Every family, for whole-database chores (compaction, counting keys).
  const std::vector<rocksdb::ColumnFamilyHandle*>& families() const { return handles_; }
  // Holds nothing of ours but the writability probe.
  rocksdb::ColumnFamilyHandle* default_family() const { return handles_[kDefault]; }

 private:
  // Indexes into handles_, in the order the descriptors are passed to rocksdb::DB::Open.
  enum Family { kDefault = 0, kMailbox = 1, kDedup = 2, kUsers = 3, kHistory = 4 };

  explicit Database(const Clock* clock);

  std::unique_ptr<ExpiryFilter> filter_;  // Outlives db_: compactions may still use it.
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace parley::storage

#endif  // PARLEY_STORAGE_DATABASE_H_
