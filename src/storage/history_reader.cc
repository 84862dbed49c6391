#include "history_reader.h"

#include <memory>

#include <rocksdb/iterator.h>
#include <rocksdb/options.h>

#include "keys.h"

namespace parley::storage {

namespace {

// Cursors carry a version byte so that their format can change without misreading old ones.
constexpr char kCursorVersion = '\x01';

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  std::uint32_t bits = 0;
  int pending = 0;
  for (const char c : in) {
    bits = (bits << 8) | static_cast<unsigned char>(c);
    pending += 8;
    while (pending >= 6) {
      pending -= 6;
      out.push_back(kBase64Url[(bits >> pending) & 0x3F]);
    }
  }
  if (pending > 0) out.push_back(kBase64Url[(bits << (6 - pending)) & 0x3F]);
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view in) {
  std::string out;
  std::uint32_t bits = 0;
  int pending = 0;
  for (const char c : in) {
    const char* found = std::char_traits<char>::find(kBase64Url, 64, c);
    if (found == nullptr) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(found - kBase64Url);
    pending += 6;
    if (pending >= 8) {
      pending -= 8;
      out.push_back(static_cast<char>((bits >> pending) & 0xFF));
    }
  }
  return out;
}

std::string_view View(const rocksdb::Slice& slice) { return {slice.data(), slice.size()}; }

// Where the backward walk starts, and whether a key equal to it is to be skipped.
struct StartPoint {
  std::string key;
  bool exclusive = false;
};

Result<StartPoint> FindStart(const HistoryQuery& query, const std::string& prefix) {
  if (!query.cursor.empty()) {
    std::optional<std::string> id = DecodeHistoryCursor(query.cursor);
    if (!id) return Status::InvalidArgument("bad cursor");
    return StartPoint{prefix + *id, /*exclusive=*/true};
  }
  if (query.before_ms > 0) {
    // No key equals the bound: every message id is longer than a time alone.
    return StartPoint{HistoryTimeBound(prefix, query.before_ms), false};
  }
  return StartPoint{prefix + '\xff', false};  // Above every message id: times fit in 63 bits.
}

// The message a key of the walk stands for, or nullopt when it is hidden (expired, purged).
Result<std::optional<v1::Message>> LoadMessage(const Database& database, const HistoryQuery& query,
                                               std::string_view message_id, std::string_view value,
                                               std::int64_t now_ms) {
  std::string entry;
  if (!query.peer.empty()) {
    // An index entry: the message lives in the user's entry of the same id.
    const std::optional<std::int64_t> stamp = ValueExpiry(value);
    if (!stamp || IsExpired(*stamp, now_ms)) return std::optional<v1::Message>();
    const std::string key = HistoryEntryPrefix(query.user) + std::string(message_id);
    const rocksdb::Status read =
        database.db()->Get(rocksdb::ReadOptions(), database.history(), key, &entry);
    if (read.IsNotFound()) return std::optional<v1::Message>();
    if (!read.ok()) return FromRocks(read, "read history entry");
    value = entry;
  }

  v1::Message message;
  std::int64_t expiry_ms = 0;
  if (!DecodeValue(value, &expiry_ms, &message)) {
    return Status::Corruption("unparsable history entry of " + query.user);
  }
  if (IsExpired(expiry_ms, now_ms)) return std::optional<v1::Message>();
  return std::optional(std::move(message));
}

}  // namespace

std::string EncodeHistoryCursor(std::string_view message_id) {
  std::string raw(1, kCursorVersion);
  raw.append(message_id);
  return Base64UrlEncode(raw);
}

std::optional<std::string> DecodeHistoryCursor(std::string_view cursor) {
  std::optional<std::string> raw = Base64UrlDecode(cursor);
  if (!raw || raw->empty() || (*raw)[0] != kCursorVersion) return std::nullopt;
  std::string id = raw->substr(1);
  if (!HistoryMessageIdTime(id)) return std::nullopt;
  return id;
}

Result<HistoryPage> ReadHistoryPage(const Database& database, const HistoryQuery& query,
                                    std::int64_t now_ms) {
  if (!IsStorableUserId(query.user) || query.peer.find('\0') != std::string::npos) {
    return Status::InvalidArgument("user id is empty or contains NUL");
  }
  HistoryPage page;
  if (query.history_days == 0 || query.limit == 0) return page;

  const std::string prefix = query.peer.empty() ? HistoryEntryPrefix(query.user)
                                                : HistoryPeerPrefix(query.user, query.peer);
  Result<StartPoint> start = FindStart(query, prefix);
  if (!start.ok()) return start.status();

  const std::int64_t window_start_ms = now_ms - query.history_days * kMsPerDay;
  const rocksdb::Slice lower_bound(prefix);
  rocksdb::ReadOptions read_options;
  read_options.iterate_lower_bound = &lower_bound;
  std::unique_ptr<rocksdb::Iterator> it(
      database.db()->NewIterator(read_options, database.history()));

  it->SeekForPrev(start->key);
  if (start->exclusive && it->Valid() && View(it->key()) == start->key) it->Prev();

  std::string last_id;
  for (; it->Valid(); it->Prev()) {
    const std::string_view id = View(it->key()).substr(prefix.size());
    const std::optional<std::int64_t> sent_at_ms = HistoryMessageIdTime(id);
    if (!sent_at_ms) return Status::Corruption("malformed history key of " + query.user);
    if (*sent_at_ms < window_start_ms) break;  // Everything further back is older still.

    Result<std::optional<v1::Message>> message =
        LoadMessage(database, query, id, View(it->value()), now_ms);
    if (!message.ok()) return message.status();
    if (!message->has_value()) continue;

    if (page.messages.size() == query.limit) {
      // One more visible message exists: there is a next page, starting after the last one.
      page.next_cursor = EncodeHistoryCursor(last_id);
      break;
    }
    page.messages.push_back(std::move(**message));
    last_id = std::string(id);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read history");
  return page;
}

}  // namespace parley::storage
