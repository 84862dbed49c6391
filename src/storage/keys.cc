#include "keys.h"

#include <algorithm>
#include <limits>

namespace parley::storage {

namespace {

constexpr char kUserSeparator = '\0';
constexpr char kUserRangeEnd = '\x01';

void AppendBigEndian64(std::string* out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

std::uint64_t ReadBigEndian64(std::string_view bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < kSeqBytes; ++i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return value;
}

void AppendLittleEndian64(std::string* out, std::uint64_t value) {
  for (int shift = 0; shift < 64; shift += 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

std::uint64_t ReadLittleEndian64(std::string_view bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = kStampBytes; i > 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[i - 1]);
  }
  return value;
}

}  // namespace

bool IsStorableUserId(std::string_view user) {
  return !user.empty() && user.find(kUserSeparator) == std::string_view::npos;
}

std::string MailboxKey(std::string_view user, std::uint64_t seq) {
  std::string key;
  key.reserve(user.size() + 1 + kSeqBytes);
  key.append(user);
  key.push_back(kUserSeparator);
  AppendBigEndian64(&key, seq);
  return key;
}

std::string MailboxEnd(std::string_view user) {
  std::string key(user);
  key.push_back(kUserRangeEnd);
  return key;
}

std::string MailboxKeyAfter(std::string_view user, std::uint64_t seq) {
  if (seq == std::numeric_limits<std::uint64_t>::max()) return MailboxEnd(user);
  return MailboxKey(user, seq + 1);
}

std::optional<std::uint64_t> MailboxKeySeq(std::string_view key) {
  // At least one byte of user id, the separator and the seq.
  if (key.size() < 2 + kSeqBytes) return std::nullopt;
  return ReadBigEndian64(key.substr(key.size() - kSeqBytes));
}

std::string DedupKey(std::string_view sender, std::string_view client_msg_id) {
  std::string key;
  key.reserve(sender.size() + 1 + client_msg_id.size());
  key.append(sender);
  key.push_back(kUserSeparator);
  key.append(client_msg_id);
  return key;
}

std::string HistoryMessageId(std::int64_t sent_at_ms, std::string_view sender,
                             std::string_view client_msg_id) {
  std::string id;
  id.reserve(kSeqBytes + sender.size() + 1 + client_msg_id.size());
  // Times before the epoch do not occur; clamping keeps the unsigned order equal to time.
  AppendBigEndian64(&id, static_cast<std::uint64_t>(std::max<std::int64_t>(sent_at_ms, 0)));
  id.append(sender);
  id.push_back(kUserSeparator);
  id.append(client_msg_id);
  return id;
}

std::optional<std::int64_t> HistoryMessageIdTime(std::string_view message_id) {
  // The time, at least one byte of sender, and the separator.
  if (message_id.size() < kSeqBytes + 2) return std::nullopt;
  const std::uint64_t time = ReadBigEndian64(message_id);
  if (time > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(time);
}

std::string HistoryEntryPrefix(std::string_view user) {
  std::string key(user);
  key.push_back(kUserSeparator);
  key.push_back('m');
  return key;
}

std::string HistoryPeerPrefix(std::string_view user, std::string_view peer) {
  std::string key(user);
  key.push_back(kUserSeparator);
  key.push_back('p');
  key.append(peer);
  key.push_back(kUserSeparator);
  return key;
}

std::string HistoryTimeBound(std::string_view prefix, std::int64_t ms) {
  std::string key(prefix);
  AppendBigEndian64(&key, static_cast<std::uint64_t>(std::max<std::int64_t>(ms, 0)));
  return key;
}

std::string HistoryBegin(std::string_view user) {
  std::string key(user);
  key.push_back(kUserSeparator);
  return key;
}

std::string HistoryEnd(std::string_view user) { return MailboxEnd(user); }

std::string UserKey(std::string_view user) { return std::string(user); }

std::string EncodeValue(std::int64_t expiry_ms, const google::protobuf::MessageLite& record) {
  std::string value;
  value.reserve(kStampBytes + record.ByteSizeLong());
  AppendLittleEndian64(&value, static_cast<std::uint64_t>(expiry_ms));
  record.AppendToString(&value);
  return value;
}

std::string EncodeStamp(std::int64_t expiry_ms) {
  std::string value;
  AppendLittleEndian64(&value, static_cast<std::uint64_t>(expiry_ms));
  return value;
}

std::optional<std::int64_t> ValueExpiry(std::string_view value) {
  if (value.size() < kStampBytes) return std::nullopt;
  return static_cast<std::int64_t>(ReadLittleEndian64(value));
}

bool DecodeValue(std::string_view value, std::int64_t* expiry_ms,
                 google::protobuf::MessageLite* record) {
  const std::optional<std::int64_t> expiry = ValueExpiry(value);
  if (!expiry) return false;
  const std::string_view payload = value.substr(kStampBytes);
  if (!record->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return false;
  *expiry_ms = *expiry;
  return true;
}

std::int64_t ExpiryAfter(std::int64_t start_ms, std::int64_t ttl_ms) {
  if (ttl_ms <= 0) return 0;
  if (start_ms > std::numeric_limits<std::int64_t>::max() - ttl_ms) {
    return std::numeric_limits<std::int64_t>::max();
  }
  return start_ms + ttl_ms;
}

}  // namespace parley::storage
