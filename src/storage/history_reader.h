// ReadHistoryPage: one page of a user's history, read straight from the database.

#ifndef PARLEY_STORAGE_HISTORY_READER_H_
#define PARLEY_STORAGE_HISTORY_READER_H_

#include <cstdint>

#include "parley/storage/store.h"

#include "database.h"

namespace parley::storage {

// Walks `query.user`'s history backwards from the query's start point (see HistoryQuery),
// through the by-peer index when a peer is given. Skips what has expired, what lies outside
// the user's current window and index entries whose message was purged. Reads one message
// past the page to know whether there is a next one. Thread-safe.
Result<HistoryPage> ReadHistoryPage(const Database& database, const HistoryQuery& query,
                                    std::int64_t now_ms);

// The opaque cursor that resumes after `message_id`, and back. Exposed for tests.
std::string EncodeHistoryCursor(std::string_view message_id);
std::optional<std::string> DecodeHistoryCursor(std::string_view cursor);

}  // namespace parley::storage

#endif  // PARLEY_STORAGE_HISTORY_READER_H_
