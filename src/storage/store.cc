#include "parley/storage/store.h"

#include <utility>

#include "rocks_store.h"

namespace parley::storage {

namespace {

Status Validate(const StoreOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("storage path is empty");
  if (options.max_batch_ops < 1) return Status::InvalidArgument("max_batch_ops must be >= 1");
  if (options.reader_threads < 1) return Status::InvalidArgument("reader_threads must be >= 1");
  if (options.commit_window.count() < 0) {
    return Status::InvalidArgument("commit_window must not be negative");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, ItemSink sink) {
  if (Status valid = Validate(options); !valid.ok()) return valid;

  // The real clock unless told otherwise; static so that it outlives every Store.
  static const SystemClock system_clock;
  const Clock* clock = options.clock != nullptr ? options.clock : &system_clock;
  return RocksStore::Open(options, clock, std::move(sink));
}

}  // namespace parley::storage
