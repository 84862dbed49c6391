#include "batch_writer.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <spdlog/spdlog.h>

#include "keys.h"

namespace parley::storage {

namespace {

std::string_view View(const rocksdb::Slice& slice) { return {slice.data(), slice.size()}; }

// An op that failed on its own, while the rest of its batch goes on.
void LogOpFailure(std::string_view op, const Status& status) {
  spdlog::error("[storage] {} failed: {}", op, status.ToString());
}

}  // namespace

BatchWriter::BatchWriter(const Database* database, const StoreOptions& options, const Clock* clock,
                         ItemSink sink, StoreStats* stats)
    : database_(database),
      clock_(clock),
      sync_(options.sync),
      mailbox_max_items_(options.mailbox_max_items),
      undelivered_ttl_ms_(options.undelivered_ttl_ms),
      dedup_ttl_ms_(options.dedup_ttl_ms),
      user_cache_max_entries_(options.user_cache_max_entries),
      sink_(std::move(sink)),
      stats_(stats),
      users_(database, clock) {}

void BatchWriter::Commit(std::vector<WriteOp>& ops) {
  Batch batch(database_);
  for (WriteOp& op : ops) Apply(op, batch);
  batch.Seal();

  const Status written = Write(batch);
  stats_->batches.fetch_add(1, std::memory_order_relaxed);
  stats_->batched_ops.fetch_add(ops.size(), std::memory_order_relaxed);
  stats_->batch_ops.Observe(ops.size());
  if (!written.ok()) {
    OnWriteFailed(ops, written);
    return;
  }
  OnCommitted(ops, batch);

  // Safe at any point between batches: every committed change is in the database.
  if (users_.size() > user_cache_max_entries_) {
    spdlog::debug("[storage] user cache reached {} entries; cleared", users_.size());
    users_.Clear();
  }
}

void BatchWriter::Apply(WriteOp& op, Batch& batch) {
  std::visit(
      [&](auto& typed) {
        using T = std::decay_t<decltype(typed)>;
        if constexpr (std::is_same_v<T, OpenSessionOp>) {
          ApplyOpenSession(typed, batch);
        } else if constexpr (std::is_same_v<T, SendOp>) {
          ApplySend(typed, batch);
        } else if constexpr (std::is_same_v<T, AckOp>) {
          ApplyAck(typed, batch);
        } else if constexpr (std::is_same_v<T, MarkReadOp>) {
          ApplyMarkRead(typed, batch);
        } else {
          ApplySetRetention(typed, batch);
        }
      },
      op);
}

void BatchWriter::ApplyOpenSession(OpenSessionOp& op, Batch& batch) {
  if (!IsStorableUserId(op.user)) {
    op.result = Status::InvalidArgument("user id is empty or contains NUL");
    return;
  }
  Result<UserState*> found = users_.Get(op.user);
  if (!found.ok()) {
    LogOpFailure("open_session", found.status());
    op.result = found.status();
    return;
  }
  UserState* state = *found;

  SessionInfo info;
  if (!state->exists) {
    // A new user has nothing to acknowledge yet.
    state->exists = true;
    state->record.Clear();
    state->record.set_created_ms(clock_->NowMs());
    batch.Touch(op.user, state);
    info.created = true;
  } else if (Status acked = AckUpTo(op.user, state, op.ack_seq, batch); !acked.ok()) {
    LogOpFailure("open_session", acked);
    op.result = std::move(acked);
    return;
  }

  info.history_days = state->record.history_days();
  info.last_seq = state->record.last_seq();
  info.acked_seq = state->record.acked_seq();
  info.pending = info.last_seq - info.acked_seq;
  op.result = info;
}

void BatchWriter::ApplySend(SendOp& op, Batch& batch) {
  const SendRequest& request = op.request;
  const std::int64_t now_ms = clock_->NowMs();
  const std::string dedup_key = DedupKey(request.from, request.client_msg_id);

  Result<std::optional<DedupRecord>> original = FindDedup(dedup_key, batch, now_ms);
  if (!original.ok()) {
    LogOpFailure("send", original.status());  // op.result stays kUnavailable.
    return;
  }
  if (original->has_value()) {
    const DedupRecord& record = **original;
    op.result = {SendOutcome::kDuplicate, record.sent_at_ms(), record.seq()};
    return;
  }

  if (!IsStorableUserId(request.to)) {
    op.result.outcome = SendOutcome::kUnknownRecipient;
    return;
  }
  Result<UserState*> found = users_.Get(request.to);
  if (!found.ok()) {
    LogOpFailure("send", found.status());
    return;
  }
  UserState* recipient = *found;
  if (!recipient->exists) {
    op.result.outcome = SendOutcome::kUnknownRecipient;
    return;
  }
  if (recipient->record.last_seq() - recipient->record.acked_seq() >= mailbox_max_items_) {
    op.result.outcome = SendOutcome::kMailboxFull;
    return;
  }
  // The sender's state only matters for her history; a sender unknown to the store (tests
  // and tools may send without connecting) keeps none.
  Result<UserState*> sender = users_.Get(request.from);
  if (!sender.ok()) {
    LogOpFailure("send", sender.status());
    return;
  }

  v1::Item item;
  v1::Message* message = item.mutable_message();
  message->set_from(request.from);
  message->set_to(request.to);
  message->set_client_msg_id(request.client_msg_id);
  message->set_text(request.text);
  message->set_sent_at_ms(now_ms);
  AddToHistory(request.to, *recipient, request.from, *message, batch);
  AddToHistory(request.from, **sender, request.to, *message, batch);
  const std::uint64_t seq = batch.AppendItem(request.to, recipient, std::move(item),
                                             ExpiryAfter(now_ms, undelivered_ttl_ms_));

  DedupRecord record;
  record.set_to(request.to);
  record.set_seq(seq);
  record.set_sent_at_ms(now_ms);
  batch.PutDedup(dedup_key, record, ExpiryAfter(now_ms, dedup_ttl_ms_));
  op.result = {SendOutcome::kStored, now_ms, seq};
}

void BatchWriter::ApplyAck(AckOp& op, Batch& batch) {
  Result<UserState*> state = users_.Get(op.user);
  op.result = state.ok() ? AckUpTo(op.user, *state, op.seq, batch, &op.pushed) : state.status();
  if (!op.result.ok()) LogOpFailure("ack", op.result);
}

void BatchWriter::ApplyMarkRead(MarkReadOp& op, Batch& batch) {
  if (!IsStorableUserId(op.peer)) {
    op.result = MarkReadOutcome::kUnknownRecipient;
    return;
  }
  Result<UserState*> found = users_.Get(op.peer);
  if (!found.ok()) {
    LogOpFailure("mark_read", found.status());  // op.result stays kUnavailable.
    return;
  }
  UserState* peer = *found;
  if (!peer->exists) {
    op.result = MarkReadOutcome::kUnknownRecipient;
    return;
  }

  const std::int64_t now_ms = clock_->NowMs();
  for (const std::string& id : op.ids) {
    AppendReceipt(op.peer, peer, op.reader, id, v1::Receipt::READ, now_ms, batch);
  }
  op.result = MarkReadOutcome::kStored;
}

void BatchWriter::ApplySetRetention(SetRetentionOp& op, Batch& batch) {
  Result<UserState*> found = users_.Get(op.user);
  if (!found.ok()) {
    LogOpFailure("set_retention", found.status());
    op.result = found.status();
    return;
  }
  UserState* state = *found;
  if (!state->exists) {
    op.result = Status::NotFound("no such user");
    return;
  }

  const std::uint32_t before = state->record.history_days();
  state->record.set_history_days(op.history_days);
  batch.Touch(op.user, state);
  if (op.history_days >= before) return;

  // Lowered: what falls outside the new window goes now, as one range. The by-peer index
  // entries of those messages are left to their own expiry stamps; reads skip an index
  // entry whose message is gone.
  if (op.history_days == 0) {
    batch.DeleteHistoryRange(HistoryBegin(op.user), HistoryEnd(op.user));
    return;
  }
  const std::string prefix = HistoryEntryPrefix(op.user);
  const std::int64_t cutoff_ms = clock_->NowMs() - op.history_days * kMsPerDay;
  batch.DeleteHistoryRange(prefix, HistoryTimeBound(prefix, cutoff_ms));
}

void BatchWriter::AddToHistory(const std::string& owner, const UserState& state,
                               const std::string& peer, const v1::Message& message, Batch& batch) {
  const std::uint32_t days = state.record.history_days();
  if (!state.exists || days == 0) return;

  // The window in force when the message is stored sets its expiry; raising history_days
  // later lengthens the life of messages stored from then on.
  const std::int64_t expiry_ms = ExpiryAfter(message.sent_at_ms(), days * kMsPerDay);
  const std::string id =
      HistoryMessageId(message.sent_at_ms(), message.from(), message.client_msg_id());
  batch.PutHistory(HistoryEntryPrefix(owner) + id, EncodeValue(expiry_ms, message));
  batch.PutHistory(HistoryPeerPrefix(owner, peer) + id, EncodeStamp(expiry_ms));
}

Status BatchWriter::AckUpTo(const std::string& user, UserState* state, std::uint64_t seq,
                            Batch& batch, std::vector<PushedItem>* pushed) {
  if (!state->exists) return Status::Ok();  // Nothing was ever sent to her.
  const std::uint64_t up_to = std::min(seq, state->committed_last_seq);
  const std::uint64_t after = state->record.acked_seq();
  if (up_to <= after) return Status::Ok();

  const std::int64_t now_ms = clock_->NowMs();
  // On the live path the session knows every item it acknowledges; the scan is for the rest
  // (connect's ack_seq, or an earlier ack that failed and left a gap).
  std::optional<std::vector<AckedItem>> known;
  if (pushed != nullptr) known = AckedFromPushed(user, *pushed, after, up_to, now_ms);
  Result<std::vector<AckedItem>> acked = known ? Result<std::vector<AckedItem>>(std::move(*known))
                                               : CollectAcked(user, after, up_to, now_ms);
  if (!acked.ok()) return acked.status();

  // Every sender is loaded before the first change, so that a failed read leaves this op
  // without effect on the batch.
  std::vector<UserState*> senders(acked->size(), nullptr);
  for (std::size_t i = 0; i < acked->size(); ++i) {
    const AckedItem& item = (*acked)[i];
    if (!item.is_message || item.expired || !IsStorableUserId(item.sender)) continue;
    Result<UserState*> sender = users_.Get(item.sender);
    if (!sender.ok()) return sender.status();
    senders[i] = *sender;
  }

  for (std::size_t i = 0; i < acked->size(); ++i) {
    const AckedItem& item = (*acked)[i];
    batch.DeleteItem(item.key);
    if (senders[i] != nullptr && senders[i]->exists) {
      AppendReceipt(item.sender, senders[i], user, item.client_msg_id, v1::Receipt::DELIVERED,
                    now_ms, batch);
    }
  }
  state->record.set_acked_seq(up_to);
  batch.Touch(user, state);
  return Status::Ok();
}

Result<std::vector<BatchWriter::AckedItem>> BatchWriter::CollectAcked(const std::string& user,
                                                                      std::uint64_t after,
                                                                      std::uint64_t up_to,
                                                                      std::int64_t now_ms) const {
  const std::string end = MailboxKeyAfter(user, up_to);
  const rocksdb::Slice upper_bound(end);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(
      database_->db()->NewIterator(read_options, database_->mailbox()));

  std::vector<AckedItem> acked;
  for (it->Seek(MailboxKeyAfter(user, after)); it->Valid(); it->Next()) {
    AckedItem item;
    item.key = it->key().ToString();
    std::int64_t expiry_ms = 0;
    v1::Item decoded;
    if (!DecodeValue(View(it->value()), &expiry_ms, &decoded)) {
      // The client acknowledged past it, so it goes; without a receipt, for want of a sender.
      spdlog::error("[storage] [user={}] unparsable mailbox item deleted on ack", user);
    } else if (decoded.has_message()) {
      item.expired = IsExpired(expiry_ms, now_ms);
      item.is_message = true;
      item.sender = decoded.message().from();
      item.client_msg_id = decoded.message().client_msg_id();
    }
    acked.push_back(std::move(item));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan acknowledged items");
  return acked;
}

std::optional<std::vector<BatchWriter::AckedItem>> BatchWriter::AckedFromPushed(
    const std::string& user, std::vector<PushedItem>& pushed, std::uint64_t after,
    std::uint64_t up_to, std::int64_t now_ms) const {
  auto first = std::find_if(pushed.begin(), pushed.end(),
                            [after](const PushedItem& item) { return item.seq > after; });
  if (first == pushed.end() || first->seq != after + 1) return std::nullopt;

  std::vector<AckedItem> acked;
  acked.reserve(up_to - after);
  std::uint64_t expected = after + 1;
  for (auto it = first; it != pushed.end() && expected <= up_to; ++it, ++expected) {
    if (it->seq != expected) return std::nullopt;
    AckedItem item;
    item.key = MailboxKey(user, it->seq);
    item.is_message = it->is_message;
    if (it->is_message) {
      item.expired = IsExpired(ExpiryAfter(it->sent_at_ms, undelivered_ttl_ms_), now_ms);
      item.sender = std::move(it->sender);
      item.client_msg_id = std::move(it->client_msg_id);
    }
    acked.push_back(std::move(item));
  }
  if (expected != up_to + 1) return std::nullopt;
  return acked;
}

Result<std::optional<DedupRecord>> BatchWriter::FindDedup(const std::string& key,
                                                          const Batch& batch,
                                                          std::int64_t now_ms) const {
  if (const DedupRecord* pending = batch.FindDedup(key)) return std::optional(*pending);

  std::string value;
  const rocksdb::Status read =
      database_->db()->Get(rocksdb::ReadOptions(), database_->dedup(), key, &value);
  if (read.IsNotFound()) return std::optional<DedupRecord>();
  if (!read.ok()) return FromRocks(read, "read dedup record");

  DedupRecord record;
  std::int64_t expiry_ms = 0;
  if (!DecodeValue(value, &expiry_ms, &record)) {
    return Status::Corruption("unparsable dedup record");
  }
  if (IsExpired(expiry_ms, now_ms)) return std::optional<DedupRecord>();
  return std::optional(record);
}

void BatchWriter::AppendReceipt(const std::string& owner, UserState* state, const std::string& peer,
                                const std::string& client_msg_id, v1::Receipt::Status status,
                                std::int64_t now_ms, Batch& batch) {
  // Receipts ignore the mailbox cap: refusing one would silently lose a tick, and the sender
  // of a DELIVERED receipt's message is the mailbox owner herself.
  v1::Item item;
  v1::Receipt* receipt = item.mutable_receipt();
  receipt->set_peer(peer);
  receipt->set_client_msg_id(client_msg_id);
  receipt->set_status(status);
  receipt->set_at_ms(now_ms);
  batch.AppendItem(owner, state, std::move(item), ExpiryAfter(now_ms, undelivered_ttl_ms_));
}

Status BatchWriter::Write(Batch& batch) {
  // Nothing to make durable (duplicates, refusals, acks of nothing): spare the fsync. Any
  // record those answers rely on was synced by the batch that wrote it.
  if (batch.write_batch()->Count() == 0) return Status::Ok();

  rocksdb::WriteOptions write_options;
  write_options.sync = sync_;
  const auto start = std::chrono::steady_clock::now();
  Status written =
      FromRocks(database_->db()->Write(write_options, batch.write_batch()), "write batch");
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);

  stats_->commit_micros.Observe(static_cast<std::uint64_t>(micros.count()));
  if (written.ok() && sync_) stats_->fsyncs.fetch_add(1, std::memory_order_relaxed);
  return written;
}

void BatchWriter::OnCommitted(std::vector<WriteOp>& ops, Batch& batch) {
  batch.MarkCommitted();
  stats_->messages_stored.fetch_add(batch.messages(), std::memory_order_relaxed);
  stats_->receipts_stored.fetch_add(batch.receipts(), std::memory_order_relaxed);
  stats_->items_deleted.fetch_add(batch.deleted(), std::memory_order_relaxed);

  // The sink before the callbacks, so that a live item is already on its way to the
  // recipient when the sender hears of her ack, and the order of the two never flips.
  std::vector<NewItem> items = batch.TakeNewItems();
  if (sink_ && !items.empty()) sink_(std::move(items));
  for (WriteOp& op : ops) Complete(op);
}

void BatchWriter::OnWriteFailed(std::vector<WriteOp>& ops, const Status& written) {
  spdlog::error("[storage] batch of {} ops failed: {}", ops.size(), written.ToString());
  stats_->failed_batches.fetch_add(1, std::memory_order_relaxed);

  // The cache holds this batch's seqs and acks, which never reached the disk; the database
  // is the truth, so reload from it.
  users_.Clear();

  // A failed WAL write stops RocksDB from accepting writes. Transient (retryable) errors are
  // recovered by RocksDB in the background, and Resume answers Busy meanwhile; other
  // recoverable ones need this call. Fatal ones (a broken disk) persist until the process
  // restarts: every later batch fails, and IsWritable (so /readyz) says so.
  const Status resumed = FromRocks(database_->db()->Resume(), "resume after failed write");
  if (resumed.code() == Status::Code::kUnavailable) {
    spdlog::debug("[storage] {}", resumed.ToString());
  } else if (!resumed.ok()) {
    spdlog::error("[storage] {}", resumed.ToString());
  }

  const Status failure = Status::Unavailable(written.message());
  for (WriteOp& op : ops) Fail(op, failure);
}

}  // namespace parley::storage
