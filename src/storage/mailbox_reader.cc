#include "mailbox_reader.h"

#include <limits>
#include <memory>
#include <string_view>
#include <utility>

#include <rocksdb/iterator.h>
#include <rocksdb/options.h>

#include "keys.h"

namespace parley::storage {

Result<MailboxPage> ReadMailboxPage(const Database& database, const std::string& user,
                                    std::uint64_t after_seq, std::size_t limit,
                                    std::int64_t now_ms) {
  if (!IsStorableUserId(user)) {
    return Status::InvalidArgument("user id is empty or contains NUL");
  }
  MailboxPage page;
  if (after_seq == std::numeric_limits<std::uint64_t>::max()) {
    page.reached_end = true;  // No seq lies above it.
    return page;
  }

  const std::string end = MailboxEnd(user);
  const rocksdb::Slice upper_bound(end);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(
      database.db()->NewIterator(read_options, database.mailbox()));

  for (it->Seek(MailboxKey(user, after_seq + 1)); it->Valid(); it->Next()) {
    const rocksdb::Slice value = it->value();
    std::int64_t expiry_ms = 0;
    v1::Item item;
    if (!DecodeValue(std::string_view(value.data(), value.size()), &expiry_ms, &item)) {
      return Status::Corruption("unparsable mailbox item of " + user);
    }
    if (IsExpired(expiry_ms, now_ms)) continue;
    if (page.items.size() == limit) break;  // One more visible item: the page is not the end.
    page.items.push_back(std::move(item));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read mailbox");

  page.reached_end = !it->Valid();
  return page;
}

}  // namespace parley::storage
