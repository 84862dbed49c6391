// ReadMailboxPage: one page of a user's mailbox, read straight from the database.

#ifndef PARLEY_STORAGE_MAILBOX_READER_H_
#define PARLEY_STORAGE_MAILBOX_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "parley/common/status.h"
#include "parley/storage/store.h"

#include "database.h"

namespace parley::storage {

// Up to `limit` items of `user` with seq above `after_seq` that have not expired at `now_ms`,
// in seq order. Expired items are skipped here, so that they vanish at once rather than when
// compaction gets to them. Reads at most one item past the page, to tell whether the page
// reached the end. Fails with Corruption on an unparsable item, InvalidArgument on a user id
// that cannot be a key. Thread-safe.
Result<MailboxPage> ReadMailboxPage(const Database& database, const std::string& user,
                                    std::uint64_t after_seq, std::size_t limit,
                                    std::int64_t now_ms);

}  // namespace parley::storage

#endif  // PARLEY_STORAGE_MAILBOX_READER_H_
