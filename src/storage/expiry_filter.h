// ExpiryFilter: the compaction filter that physically removes expired values.

#ifndef PARLEY_STORAGE_EXPIRY_FILTER_H_
#define PARLEY_STORAGE_EXPIRY_FILTER_H_

#include <rocksdb/compaction_filter.h>

#include "parley/common/clock.h"

namespace parley::storage {

// Drops every value whose expiry stamp (keys.h) is set and has passed on `clock`. One
// instance serves the mailbox, dedup and users column families: all three share the stamp.
// Values too short to hold a stamp are kept, so that a bug elsewhere cannot turn into silent
// data loss here.
//
// Thread-safe: RocksDB calls it from several compaction threads at once; it holds no state
// besides the clock. The clock must outlive the database.
class ExpiryFilter final : public rocksdb::CompactionFilter {
 public:
  explicit ExpiryFilter(const Clock* clock) : clock_(clock) {}

  bool Filter(int level, const rocksdb::Slice& key, const rocksdb::Slice& existing_value,
              std::string* new_value, bool* value_changed) const override;

  const char* Name() const override { return "parley.ExpiryFilter"; }

 private:
  const Clock* const clock_;
};

}  // namespace parley::storage

#endif  // PARLEY_STORAGE_EXPIRY_FILTER_H_
