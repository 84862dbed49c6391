// Key and value encodings of the three column families. Internal to the storage library.
//
// clang-format off
//
//   mailbox  key    +------------------+------+------------------------+
//                   | user (1-64 B)    | 0x00 | seq (8 B, big-endian)  |
//                   +------------------+------+------------------------+
//            value  +------------------------------+---------------------------+
//                   | expiry_ms (8 B, LE int64)    | parley.v1.Item (protobuf) |
//                   +------------------------------+---------------------------+
//
//   dedup    key    +------------------+------+------------------------+
//                   | sender           | 0x00 | client_msg_id          |
//                   +------------------+------+------------------------+
//            value  | expiry_ms (8 B)  | parley.storage.DedupRecord      |
//
//   users    key    | user             |
//            value  | expiry_ms (8 B, 0 = never) | parley.storage.UserRecord |
//
//   history  key    +------+------+-----+-------------------------+
//   (entry)         | user | 0x00 | 'm' | message id              |
//                   +------+------+-----+-------------------------+
//            value  | expiry_ms (8 B)  | parley.v1.Message         |
//
//   history  key    +------+------+-----+------+------+-------------------------+
//   (by peer)       | user | 0x00 | 'p' | peer | 0x00 | message id              |
//                   +------+------+-----+------+------+-------------------------+
//            value  | expiry_ms (8 B)  |  (nothing else: the entry holds the message)
//
//   message id      +--------------------------+--------+------+---------------+
//                   | sent_at_ms (8 B, BE)     | sender | 0x00 | client_msg_id |
//                   +--------------------------+--------+------+---------------+
//
// clang-format on
//
// User ids never contain NUL, and NUL sorts before every other byte, so one user's mailbox
// items form one contiguous range [user 0x00, user 0x01) ordered by seq, and no other user's
// range can interleave with it. The big-endian seq makes bytewise order equal numeric order.
//
// A message id orders one user's history by time, and (sender, client_msg_id) is unique, so
// messages that share a millisecond still have distinct, stable positions: paging by key
// never skips or repeats one. Purging everything older than a cut-off is one range delete
// over the entries.
//
// The fixed-width expiry stamp in front of every value lets the compaction filter and the
// read path decide expiry without parsing protobuf. A stamp of 0 means "never expires".

#ifndef PARLEY_STORAGE_KEYS_H_
#define PARLEY_STORAGE_KEYS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <google/protobuf/message_lite.h>

namespace parley::storage {

// Size of the expiry stamp that starts every value, and of the seq that ends a mailbox key.
inline constexpr std::size_t kStampBytes = 8;
inline constexpr std::size_t kSeqBytes = 8;

// True when `user` can be used as a key: not empty and free of NUL (see the layout above).
// The gateway enforces the stricter user-id syntax; storage only protects its key ranges.
bool IsStorableUserId(std::string_view user);

// user 0x00 be64(seq).
std::string MailboxKey(std::string_view user, std::uint64_t seq);

// user 0x01: the exclusive upper bound of every key of `user`'s mailbox.
std::string MailboxEnd(std::string_view user);

// The key just past seq `seq` of `user`: MailboxKey(user, seq + 1), or MailboxEnd(user) when
// seq + 1 would overflow.
std::string MailboxKeyAfter(std::string_view user, std::uint64_t seq);

// The seq at the end of a mailbox key; nullopt if the key is too short to hold one.
std::optional<std::uint64_t> MailboxKeySeq(std::string_view key);

// sender 0x00 client_msg_id.
std::string DedupKey(std::string_view sender, std::string_view client_msg_id);

// A history message id: be64(sent_at_ms) sender 0x00 client_msg_id.
std::string HistoryMessageId(std::int64_t sent_at_ms, std::string_view sender,
                             std::string_view client_msg_id);

// The sent_at_ms at the front of a message id; nullopt if it is too short to be one.
std::optional<std::int64_t> HistoryMessageIdTime(std::string_view message_id);

// user 0x00 'm': the prefix of `user`'s history entries.
std::string HistoryEntryPrefix(std::string_view user);

// user 0x00 'p' peer 0x00: the prefix of `user`'s by-peer index for `peer`.
std::string HistoryPeerPrefix(std::string_view user, std::string_view peer);

// prefix be64(ms): every key under `prefix` (an entry or peer prefix) whose message was sent
// before `ms` sorts below it, every other one above.
std::string HistoryTimeBound(std::string_view prefix, std::int64_t ms);

// user 0x00 and user 0x01: the bounds of everything in `user`'s history.
std::string HistoryBegin(std::string_view user);
std::string HistoryEnd(std::string_view user);

// The user id itself; a function so that every layout is spelled out here.
std::string UserKey(std::string_view user);

// expiry_ms (LE) followed by the serialized record.
std::string EncodeValue(std::int64_t expiry_ms, const google::protobuf::MessageLite& record);

// The expiry stamp of a value; nullopt if the value is shorter than a stamp.
std::optional<std::int64_t> ValueExpiry(std::string_view value);

// Just the expiry stamp: the value of an index entry that points at data held elsewhere.
std::string EncodeStamp(std::int64_t expiry_ms);

// Splits a value into its stamp and record. False if the value is too short or the record
// does not parse.
bool DecodeValue(std::string_view value, std::int64_t* expiry_ms,
                 google::protobuf::MessageLite* record);

// True when a value stamped `expiry_ms` is gone at `now_ms`. One rule for reads, the writer
// and the compaction filter, so that they never disagree about what exists.
inline bool IsExpired(std::int64_t expiry_ms, std::int64_t now_ms) {
  return expiry_ms != 0 && expiry_ms <= now_ms;
}

// The stamp for data made at `start_ms` that lives `ttl_ms`: 0 (never) when ttl_ms <= 0,
// saturating instead of overflowing for huge ttls.
std::int64_t ExpiryAfter(std::int64_t start_ms, std::int64_t ttl_ms);

}  // namespace parley::storage

#endif  // PARLEY_STORAGE_KEYS_H_
