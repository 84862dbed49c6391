#include "batch.h"

#include <memory>
#include <utility>

#include "keys.h"

namespace parley::storage {

// WriteBatch::Put and Delete fail only when the batch has a max_bytes limit, and ours has
// none; their statuses are dropped on purpose below.

std::uint64_t Batch::AppendItem(const std::string& user, UserState* state, v1::Item item,
                                std::int64_t expiry_ms) {
  const std::uint64_t seq = state->record.last_seq() + 1;
  state->record.set_last_seq(seq);
  Touch(user, state);

  item.set_seq(seq);
  write_batch_.Put(database_->mailbox(), MailboxKey(user, seq), EncodeValue(expiry_ms, item))
      .PermitUncheckedError();
  if (item.has_message()) {
    ++messages_;
  } else {
    ++receipts_;
  }
  new_items_.push_back(NewItem{user, std::make_shared<const v1::Item>(std::move(item))});
  return seq;
}

void Batch::PutDedup(const std::string& key, const DedupRecord& record, std::int64_t expiry_ms) {
  write_batch_.Put(database_->dedup(), key, EncodeValue(expiry_ms, record)).PermitUncheckedError();
  dedup_[key] = record;
}

const DedupRecord* Batch::FindDedup(const std::string& key) const {
  const auto found = dedup_.find(key);
  return found == dedup_.end() ? nullptr : &found->second;
}

void Batch::DeleteItem(const std::string& key) {
  // A point delete, not DeleteRange: range tombstones accumulate and slow every later read
  // of the mailbox, while point tombstones are dropped cheaply by compaction.
  write_batch_.Delete(database_->mailbox(), key).PermitUncheckedError();
  ++deleted_;
}

void Batch::PutHistory(const std::string& key, std::string value) {
  write_batch_.Put(database_->history(), key, value).PermitUncheckedError();
}

void Batch::DeleteHistoryRange(const std::string& begin, const std::string& end) {
  write_batch_.DeleteRange(database_->history(), begin, end).PermitUncheckedError();
}

void Batch::Touch(const std::string& user, UserState* state) { touched_.emplace(user, state); }

void Batch::Seal() {
  for (const auto& [user, state] : touched_) {
    // Users never expire: their seq counters must survive an empty mailbox for good.
    write_batch_.Put(database_->users(), UserKey(user), EncodeValue(0, state->record))
        .PermitUncheckedError();
  }
}

void Batch::MarkCommitted() {
  for (const auto& [user, state] : touched_) state->committed_last_seq = state->record.last_seq();
}

}  // namespace parley::storage
