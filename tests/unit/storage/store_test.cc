#include "parley/storage/store.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include "parley/common/clock.h"
#include "parley/common/status.h"
#include "parley/v1/parley.pb.h"

#include <stdlib.h>

namespace parley::storage {
namespace {

namespace fs = std::filesystem;

constexpr auto kTimeout = std::chrono::seconds(60);
constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

// A fresh folder under the system's temp folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "parley-store-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Starts an asynchronous call with a callback that fulfils a promise, and waits for it.
template <typename T, typename Start>
T Await(Start start) {
  auto promise = std::make_shared<std::promise<T>>();
  std::future<T> future = promise->get_future();
  start([promise](T value) { promise->set_value(std::move(value)); });
  if (future.wait_for(kTimeout) != std::future_status::ready) {
    throw std::runtime_error("store callback never ran");
  }
  return future.get();
}

// An injected disk error: transient (retryable), which RocksDB recovers from by itself once it
// passes, or not, which stops the database's writes until it is reopened.
rocksdb::IOStatus Injected(bool retryable) {
  rocksdb::IOStatus status = rocksdb::IOStatus::IOError("injected wal failure");
  status.SetRetryable(retryable);
  return status;
}

// Fails appends and syncs of the write-ahead log while `failing` is set.
class FlakyWal final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FlakyWal(std::unique_ptr<rocksdb::FSWritableFile> file, const std::atomic<bool>* failing,
           bool retryable)
      : FSWritableFileOwnerWrapper(std::move(file)), failing_(failing), retryable_(retryable) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (*failing_) return Injected(retryable_);
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (*failing_) return Injected(retryable_);
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    if (*failing_) return Injected(retryable_);
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (*failing_) return Injected(retryable_);
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }

 private:
  const std::atomic<bool>* failing_;
  const bool retryable_;
};

class FlakyFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit FlakyFileSystem(bool retryable)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), retryable_(retryable) {}

  const char* Name() const override { return "FlakyFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus status = target()->NewWritableFile(name, options, file, dbg);
    if (status.ok() && name.size() > 4 && name.substr(name.size() - 4) == ".log") {
      *file = std::make_unique<FlakyWal>(std::move(*file), &failing, retryable_);
    }
    return status;
  }

  std::atomic<bool> failing{false};

 private:
  const bool retryable_;
};

class StoreTest : public ::testing::Test {
 protected:
  StoreTest() {
    options_.path = (dir_.path() / "db").string();
    options_.clock = &clock_;
  }

  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    Result<std::unique_ptr<Store>> opened =
        Store::Open(options_, [this](std::vector<NewItem> items) { OnItems(std::move(items)); });
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }

  virtual void OnItems(std::vector<NewItem> items) {
    std::lock_guard<std::mutex> lock(sunk_mu_);
    for (NewItem& item : items) sunk_.push_back(std::move(item));
  }

  std::vector<NewItem> Sunk() {
    std::lock_guard<std::mutex> lock(sunk_mu_);
    return sunk_;
  }

  SessionInfo Connect(const std::string& user, std::uint64_t ack_seq = 0) {
    Result<SessionInfo> info = Await<Result<SessionInfo>>(
        [&](auto done) { store_->OpenSession(user, ack_seq, std::move(done)); });
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return info.ok() ? info.value() : SessionInfo{};
  }

  SendResult SendText(const std::string& from, const std::string& to, const std::string& id,
                      const std::string& text = "hello") {
    return Await<SendResult>([&](auto done) {
      store_->Send({from, to, id, text}, std::move(done));
    });
  }

  Status AckUpTo(const std::string& user, std::uint64_t seq, std::vector<PushedItem> pushed = {}) {
    return Await<Status>(
        [&](auto done) { store_->Ack(user, seq, std::move(pushed), std::move(done)); });
  }

  // The client_msg_id of each receipt in `page`, in order.
  static std::vector<std::string> ReceiptIds(const MailboxPage& page) {
    std::vector<std::string> ids;
    for (const v1::Item& item : page.items) ids.push_back(item.receipt().client_msg_id());
    return ids;
  }

  MarkReadOutcome MarkReadIds(const std::string& reader, const std::string& peer,
                              std::vector<std::string> ids) {
    return Await<MarkReadOutcome>(
        [&](auto done) { store_->MarkRead(reader, peer, std::move(ids), std::move(done)); });
  }

  MailboxPage Read(const std::string& user, std::uint64_t after_seq = 0, std::size_t limit = 1000) {
    Result<MailboxPage> page = Await<Result<MailboxPage>>(
        [&](auto done) { store_->ReadMailbox(user, after_seq, limit, std::move(done)); });
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page.value() : MailboxPage{};
  }

  // Sends `count` messages without waiting for each, so that they share batches.
  std::vector<SendResult> SendMany(const std::string& from, const std::string& to, int count,
                                   const std::string& id_prefix = "m") {
    std::vector<std::future<SendResult>> futures;
    for (int i = 0; i < count; ++i) {
      auto promise = std::make_shared<std::promise<SendResult>>();
      futures.push_back(promise->get_future());
      store_->Send({from, to, id_prefix + std::to_string(i), "text"},
                   [promise](SendResult result) { promise->set_value(result); });
    }
    std::vector<SendResult> results;
    for (std::future<SendResult>& future : futures) {
      if (future.wait_for(kTimeout) != std::future_status::ready) {
        throw std::runtime_error("send never completed");
      }
      results.push_back(future.get());
    }
    return results;
  }

  TempDir dir_;
  OffsetClock clock_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;

  std::mutex sunk_mu_;
  std::vector<NewItem> sunk_;  // Guarded by sunk_mu_.
};

std::vector<std::uint64_t> Seqs(const MailboxPage& page) {
  std::vector<std::uint64_t> seqs;
  for (const v1::Item& item : page.items) seqs.push_back(item.seq());
  return seqs;
}

TEST_F(StoreTest, RecipientIsUnknownUntilSheConnects) {
  EXPECT_EQ(SendText("alice", "bob", "m1").outcome, SendOutcome::kUnknownRecipient);

  const SessionInfo info = Connect("bob");
  EXPECT_TRUE(info.created);
  EXPECT_EQ(info.last_seq, 0u);
  EXPECT_EQ(info.pending, 0u);
  EXPECT_FALSE(Connect("bob").created);

  EXPECT_EQ(SendText("alice", "bob", "m1").outcome, SendOutcome::kStored);
  EXPECT_EQ(Read("bob").items.size(), 1u);
}

TEST_F(StoreTest, SeqsStartAtOneAndFollowSendOrder) {
  Connect("bob");
  const std::int64_t before = clock_.NowMs();
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    const SendResult sent = SendText("alice", "bob", "m" + std::to_string(seq), "hi");
    EXPECT_EQ(sent.outcome, SendOutcome::kStored);
    EXPECT_EQ(sent.seq, seq);
    EXPECT_GE(sent.sent_at_ms, before);
  }

  const MailboxPage page = Read("bob");
  EXPECT_EQ(Seqs(page), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_TRUE(page.reached_end);
  const v1::Message& first = page.items[0].message();
  EXPECT_EQ(first.from(), "alice");
  EXPECT_EQ(first.to(), "bob");
  EXPECT_EQ(first.client_msg_id(), "m1");
  EXPECT_EQ(first.text(), "hi");
  EXPECT_EQ(Connect("bob").pending, 3u);
}

TEST_F(StoreTest, SeqKeepsGrowingAfterEmptyMailboxAndReopen) {
  Connect("bob");
  SendText("alice", "bob", "m1");
  SendText("alice", "bob", "m2");
  ASSERT_TRUE(AckUpTo("bob", 2).ok());
  EXPECT_TRUE(Read("bob").items.empty());
  EXPECT_EQ(SendText("alice", "bob", "m3").seq, 3u);

  ASSERT_TRUE(AckUpTo("bob", 3).ok());
  Reopen();
  const SessionInfo info = Connect("bob");
  EXPECT_EQ(info.last_seq, 3u);
  EXPECT_EQ(info.acked_seq, 3u);
  EXPECT_EQ(info.pending, 0u);
  EXPECT_EQ(SendText("alice", "bob", "m4").seq, 4u);
}

TEST_F(StoreTest, ResentMessageIsAcknowledgedAgainAndStoredOnce) {
  Connect("bob");
  const SendResult first = SendText("alice", "bob", "m1");
  clock_.Advance(5000);
  const SendResult again = SendText("alice", "bob", "m1");
  EXPECT_EQ(again.outcome, SendOutcome::kDuplicate);
  EXPECT_EQ(again.sent_at_ms, first.sent_at_ms);
  EXPECT_EQ(again.seq, first.seq);

  Reopen();
  const SendResult after_reopen = SendText("alice", "bob", "m1");
  EXPECT_EQ(after_reopen.outcome, SendOutcome::kDuplicate);
  EXPECT_EQ(after_reopen.sent_at_ms, first.sent_at_ms);
  EXPECT_EQ(Read("bob").items.size(), 1u);

  // The same id from another sender is another message.
  EXPECT_EQ(SendText("carol", "bob", "m1").outcome, SendOutcome::kStored);
}

TEST_F(StoreTest, DuplicatesWithinOneBatchAreStoredOnce) {
  Connect("bob");
  std::vector<std::future<SendResult>> futures;
  for (int i = 0; i < 20; ++i) {
    auto promise = std::make_shared<std::promise<SendResult>>();
    futures.push_back(promise->get_future());
    store_->Send({"alice", "bob", "same", "x"},
                 [promise](SendResult result) { promise->set_value(result); });
  }
  int stored = 0;
  for (auto& future : futures) {
    const SendResult result = future.get();
    stored += result.outcome == SendOutcome::kStored;
    EXPECT_EQ(result.seq, 1u);
  }
  EXPECT_EQ(stored, 1);
  EXPECT_EQ(Read("bob").items.size(), 1u);
}

TEST_F(StoreTest, DedupRecordExpiresAfterItsTtl) {
  options_.dedup_ttl_ms = 30 * kDayMs;
  Reopen();
  Connect("bob");
  const SendResult first = SendText("alice", "bob", "m1");
  clock_.Advance(30 * kDayMs + 1);

  const SendResult resent = SendText("alice", "bob", "m1");
  EXPECT_EQ(resent.outcome, SendOutcome::kStored);
  EXPECT_EQ(resent.seq, first.seq + 1);
  EXPECT_GT(resent.sent_at_ms, first.sent_at_ms);
  EXPECT_EQ(Read("bob").items.size(), 2u);
}

TEST_F(StoreTest, MailboxFullAtCapThenRoomAfterAck) {
  options_.mailbox_max_items = 3;
  Reopen();
  Connect("bob");
  for (const SendResult& sent : SendMany("alice", "bob", 3)) {
    EXPECT_EQ(sent.outcome, SendOutcome::kStored);
  }
  EXPECT_EQ(SendText("alice", "bob", "over").outcome, SendOutcome::kMailboxFull);
  EXPECT_EQ(Read("bob").items.size(), 3u);

  ASSERT_TRUE(AckUpTo("bob", 1).ok());
  EXPECT_EQ(SendText("alice", "bob", "over").outcome, SendOutcome::kStored);
  EXPECT_EQ(SendText("alice", "bob", "over2").outcome, SendOutcome::kMailboxFull);
}

TEST_F(StoreTest, AckDeletesItemsAndPutsDeliveredReceiptsInSendersMailbox) {
  Connect("alice");
  Connect("bob");
  SendText("alice", "bob", "a1");
  SendText("carol", "bob", "c1");  // carol never connected: no receipt for her.
  SendText("alice", "bob", "a2");
  SendText("alice", "bob", "a3");

  clock_.Advance(1000);
  const std::int64_t ack_time = clock_.NowMs();
  ASSERT_TRUE(AckUpTo("bob", 3).ok());
  EXPECT_EQ(Seqs(Read("bob")), (std::vector<std::uint64_t>{4}));
  EXPECT_TRUE(Read("bob", 0, 10).items.size() == 1);

  const MailboxPage receipts = Read("alice");
  ASSERT_EQ(receipts.items.size(), 2u);
  EXPECT_EQ(Seqs(receipts), (std::vector<std::uint64_t>{1, 2}));
  const char* ids[] = {"a1", "a2"};
  for (std::size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(receipts.items[i].has_receipt());
    const v1::Receipt& receipt = receipts.items[i].receipt();
    EXPECT_EQ(receipt.peer(), "bob");
    EXPECT_EQ(receipt.client_msg_id(), ids[i]);
    EXPECT_EQ(receipt.status(), v1::Receipt::DELIVERED);
    EXPECT_GE(receipt.at_ms(), ack_time);
  }

  // Acking receipts makes no receipts of receipts.
  ASSERT_TRUE(AckUpTo("alice", 2).ok());
  EXPECT_TRUE(Read("alice").items.empty());
  EXPECT_TRUE(Read("bob", 3).items.size() == 1);
}

// The session's record of what it pushed stands in for a read of the mailbox: it names each
// receipt, and the items still go.
TEST_F(StoreTest, AckWithEveryPushedItemMakesReceiptsFromThem) {
  Connect("alice");
  Connect("bob");
  SendText("alice", "bob", "a1");
  SendText("alice", "bob", "a2");

  const std::vector<PushedItem> pushed = {{1, true, "alice", "told-1", clock_.NowMs()},
                                          {2, true, "alice", "told-2", clock_.NowMs()}};
  ASSERT_TRUE(AckUpTo("bob", 2, pushed).ok());

  EXPECT_TRUE(Read("bob").items.empty());
  EXPECT_EQ(ReceiptIds(Read("alice")), (std::vector<std::string>{"told-1", "told-2"}));
}

// A record with a gap cannot vouch for the range: the mailbox is read, as without one.
TEST_F(StoreTest, AckWithAGapInThePushedItemsReadsTheMailbox) {
  Connect("alice");
  Connect("bob");
  SendText("alice", "bob", "a1");
  SendText("alice", "bob", "a2");
  SendText("alice", "bob", "a3");

  const std::vector<PushedItem> pushed = {{1, true, "alice", "told-1", clock_.NowMs()},
                                          {3, true, "alice", "told-3", clock_.NowMs()}};
  ASSERT_TRUE(AckUpTo("bob", 3, pushed).ok());

  EXPECT_TRUE(Read("bob").items.empty());
  EXPECT_EQ(ReceiptIds(Read("alice")), (std::vector<std::string>{"a1", "a2", "a3"}));
}

TEST_F(StoreTest, AckBeyondLastSeqIsClampedToIt) {
  Connect("bob");
  SendText("alice", "bob", "m1");
  SendText("alice", "bob", "m2");
  ASSERT_TRUE(AckUpTo("bob", 1000).ok());

  EXPECT_EQ(Connect("bob").acked_seq, 2u);
  EXPECT_EQ(SendText("alice", "bob", "m3").seq, 3u);
  EXPECT_EQ(Seqs(Read("bob")), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(Connect("bob").pending, 1u);
}

// Holds the writer inside the sink until released, so that ops queued meanwhile are sure to
// share the next batch.
class GatedStoreTest : public StoreTest {
 protected:
  void OnItems(std::vector<NewItem> items) override {
    std::unique_lock<std::mutex> lock(gate_mu_);
    ++gate_arrivals_;
    gate_cv_.notify_all();
    gate_cv_.wait(lock, [this] { return !gate_closed_; });
    lock.unlock();
    StoreTest::OnItems(std::move(items));
  }

  void CloseGate() {
    std::lock_guard<std::mutex> lock(gate_mu_);
    gate_closed_ = true;
  }
  void WaitAtGate(int arrivals) {
    std::unique_lock<std::mutex> lock(gate_mu_);
    gate_cv_.wait(lock, [&] { return gate_arrivals_ >= arrivals; });
  }
  void OpenGate() {
    std::lock_guard<std::mutex> lock(gate_mu_);
    gate_closed_ = false;
    gate_cv_.notify_all();
  }

  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool gate_closed_ = false;
  int gate_arrivals_ = 0;
};

TEST_F(GatedStoreTest, AckCannotReachItemsOfItsOwnBatch) {
  Connect("bob");
  CloseGate();
  std::promise<SendResult> first;
  store_->Send({"alice", "bob", "m1", "x"}, [&](SendResult r) { first.set_value(r); });
  WaitAtGate(1);  // m1 is committed; the writer is parked in the sink.

  std::promise<SendResult> second;
  std::promise<Status> acked;
  store_->Send({"alice", "bob", "m2", "x"}, [&](SendResult r) { second.set_value(r); });
  store_->Ack("bob", 2, [&](Status s) { acked.set_value(s); });
  OpenGate();

  EXPECT_EQ(first.get_future().get().seq, 1u);
  EXPECT_EQ(second.get_future().get().seq, 2u);
  EXPECT_TRUE(acked.get_future().get().ok());
  EXPECT_EQ(Seqs(Read("bob")), (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(Connect("bob").acked_seq, 1u);
}

TEST_F(StoreTest, OpenSessionAppliesItsAckSeq) {
  Connect("alice");
  Connect("bob");
  SendMany("alice", "bob", 5);

  const SessionInfo info = Connect("bob", 3);
  EXPECT_FALSE(info.created);
  EXPECT_EQ(info.last_seq, 5u);
  EXPECT_EQ(info.acked_seq, 3u);
  EXPECT_EQ(info.pending, 2u);
  EXPECT_EQ(Seqs(Read("bob")), (std::vector<std::uint64_t>{4, 5}));
  EXPECT_EQ(Read("alice").items.size(), 3u);  // DELIVERED receipts.

  EXPECT_EQ(Connect("bob", 1).acked_seq, 3u);  // An older ack changes nothing.
}

TEST_F(StoreTest, MarkReadPutsReadReceiptsInPeersMailbox) {
  Connect("alice");
  const std::int64_t before = clock_.NowMs();
  EXPECT_EQ(MarkReadIds("bob", "alice", {"a1", "a2"}), MarkReadOutcome::kStored);

  const MailboxPage page = Read("alice");
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.items[0].receipt().client_msg_id(), "a1");
  EXPECT_EQ(page.items[1].receipt().client_msg_id(), "a2");
  for (const v1::Item& item : page.items) {
    EXPECT_EQ(item.receipt().peer(), "bob");
    EXPECT_EQ(item.receipt().status(), v1::Receipt::READ);
    EXPECT_GE(item.receipt().at_ms(), before);
  }
}

TEST_F(StoreTest, MarkReadForPeerWhoNeverConnectedIsRefused) {
  EXPECT_EQ(MarkReadIds("bob", "ghost", {"a1"}), MarkReadOutcome::kUnknownRecipient);
  EXPECT_EQ(MarkReadIds("bob", "", {"a1"}), MarkReadOutcome::kUnknownRecipient);
  EXPECT_TRUE(Read("ghost").items.empty());
}

TEST_F(StoreTest, PagesThroughAThousandItemsInOrder) {
  options_.sync = false;  // Only the paging is under test here.
  Reopen();
  Connect("bob");
  SendMany("alice", "bob", 1000);

  std::uint64_t after = 0;
  std::uint64_t expected = 1;
  for (int page_no = 1; page_no <= 10; ++page_no) {
    const MailboxPage page = Read("bob", after, 100);
    ASSERT_EQ(page.items.size(), 100u);
    for (const v1::Item& item : page.items) EXPECT_EQ(item.seq(), expected++);
    EXPECT_EQ(page.reached_end, page_no == 10) << "page " << page_no;
    after = page.items.back().seq();
  }
  const MailboxPage past_end = Read("bob", after, 100);
  EXPECT_TRUE(past_end.items.empty());
  EXPECT_TRUE(past_end.reached_end);
}

TEST_F(StoreTest, ItemPastUndeliveredTtlIsNotReturned) {
  options_.undelivered_ttl_ms = 365 * kDayMs;
  Reopen();
  Connect("bob");
  SendText("alice", "bob", "old");
  clock_.Advance(200 * kDayMs);
  SendText("alice", "bob", "new");
  EXPECT_EQ(Read("bob").items.size(), 2u);

  clock_.Advance(165 * kDayMs + 1);
  const MailboxPage page = Read("bob");
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].message().client_msg_id(), "new");
  EXPECT_TRUE(page.reached_end);
}

TEST_F(StoreTest, AckOfExpiredMessageDeletesItWithoutReceipt) {
  options_.undelivered_ttl_ms = kDayMs;
  Reopen();
  Connect("alice");
  Connect("bob");
  SendText("alice", "bob", "m1");
  clock_.Advance(2 * kDayMs);
  ASSERT_TRUE(AckUpTo("bob", 1).ok());
  EXPECT_TRUE(Read("alice").items.empty());
  EXPECT_EQ(Connect("bob").acked_seq, 1u);
}

// Checks, from inside the sink, that each item it hears of is already readable.
class SinkStoreTest : public StoreTest {
 protected:
  void OnItems(std::vector<NewItem> items) override {
    for (const NewItem& item : items) {
      Result<MailboxPage> page = Await<Result<MailboxPage>>([&](auto done) {
        store_->ReadMailbox(item.user, item.item->seq() - 1, 1, std::move(done));
      });
      const bool readable =
          page.ok() && page->items.size() == 1 && page->items[0].seq() == item.item->seq();
      if (!readable) unreadable_.fetch_add(1);
    }
    StoreTest::OnItems(std::move(items));
  }

  std::atomic<int> unreadable_{0};
};

TEST_F(SinkStoreTest, SinkHearsOfCommittedItemsInSeqOrderBeforeCallbacks) {
  Connect("alice");
  Connect("bob");
  std::atomic<std::size_t> sunk_at_callback{0};
  std::promise<void> done;
  store_->Send({"alice", "bob", "first", "x"}, [&](SendResult) {
    sunk_at_callback = Sunk().size();
    done.set_value();
  });
  done.get_future().get();
  EXPECT_EQ(sunk_at_callback.load(), 1u);

  SendMany("alice", "bob", 50);
  SendMany("bob", "alice", 50);
  ASSERT_TRUE(AckUpTo("bob", 10).ok());  // DELIVERED receipts for alice.

  EXPECT_EQ(unreadable_.load(), 0);
  std::map<std::string, std::uint64_t> last_seq;
  std::size_t receipts = 0;
  for (const NewItem& item : Sunk()) {
    EXPECT_GT(item.item->seq(), last_seq[item.user]) << item.user;
    last_seq[item.user] = item.item->seq();
    receipts += item.item->has_receipt();
  }
  EXPECT_EQ(last_seq["bob"], 51u);
  EXPECT_EQ(last_seq["alice"], 60u);
  EXPECT_EQ(receipts, 10u);
}

TEST_F(StoreTest, GroupCommitFoldsConcurrentSendsIntoFewerBatches) {
  Connect("bob");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::atomic<int> stored{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string from = "sender" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        if (SendText(from, "bob", std::to_string(i)).outcome == SendOutcome::kStored) ++stored;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(stored.load(), kThreads * kPerThread);

  std::multiset<std::uint64_t> seqs;
  std::uint64_t after = 0;
  for (;;) {
    const MailboxPage page = Read("bob", after, 1000);
    for (const v1::Item& item : page.items) seqs.insert(item.seq());
    if (page.reached_end) break;
    after = page.items.back().seq();
  }
  ASSERT_EQ(seqs.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::uint64_t expected = 1;
  for (std::uint64_t seq : seqs) EXPECT_EQ(seq, expected++);

  const StoreStats& stats = store_->stats();
  EXPECT_GE(stats.batched_ops.load(), static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_LT(stats.batches.load(), stats.batched_ops.load());
  EXPECT_EQ(stats.messages_stored.load(), static_cast<std::uint64_t>(kThreads * kPerThread));
}

TEST_F(StoreTest, OddInputNeverBreaksTheWriter) {
  EXPECT_TRUE(AckUpTo("nobody", 5).ok());
  Connect("bob");
  EXPECT_TRUE(AckUpTo("bob", 0).ok());
  EXPECT_EQ(MarkReadIds("alice", "bob", {}), MarkReadOutcome::kStored);
  EXPECT_EQ(SendText("alice", "", "m1").outcome, SendOutcome::kUnknownRecipient);
  EXPECT_EQ(SendText("alice", std::string("bob\0x", 5), "m1").outcome,
            SendOutcome::kUnknownRecipient);

  Result<SessionInfo> bad = Await<Result<SessionInfo>>(
      [&](auto done) { store_->OpenSession(std::string("a\0b", 3), 0, std::move(done)); });
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument);
  Result<MailboxPage> bad_read = Await<Result<MailboxPage>>(
      [&](auto done) { store_->ReadMailbox("", 0, 10, std::move(done)); });
  EXPECT_EQ(bad_read.status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(Read("bob", UINT64_MAX, 10).reached_end);
  EXPECT_TRUE(Read("bob", 0, 0).items.empty());

  // Writing to oneself, and acking it, gives oneself a receipt.
  EXPECT_EQ(SendText("bob", "bob", "self").seq, 1u);
  ASSERT_TRUE(AckUpTo("bob", 1).ok());
  const MailboxPage page = Read("bob");
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].seq(), 2u);
  EXPECT_EQ(page.items[0].receipt().peer(), "bob");
  EXPECT_EQ(page.items[0].receipt().client_msg_id(), "self");
}

TEST_F(StoreTest, SmallUserCacheGivesTheSameAnswers) {
  options_.user_cache_max_entries = 1;
  Reopen();
  for (const char* user : {"u1", "u2", "u3"}) Connect(user);
  for (int round = 0; round < 3; ++round) {
    for (const std::string user : {"u1", "u2", "u3"}) {
      const SendResult sent = SendText("alice", user, user + std::to_string(round));
      EXPECT_EQ(sent.seq, static_cast<std::uint64_t>(round + 1)) << user;
    }
  }
  ASSERT_TRUE(AckUpTo("u2", 2).ok());
  EXPECT_EQ(Connect("u2").acked_seq, 2u);
}

TEST_F(StoreTest, ShutdownCompletesQueuedWrites) {
  Connect("bob");
  std::atomic<int> completed{0};
  for (int i = 0; i < 200; ++i) {
    store_->Send({"alice", "bob", "m" + std::to_string(i), "x"}, [&](SendResult result) {
      if (result.outcome == SendOutcome::kStored) ++completed;
    });
  }
  store_.reset();
  EXPECT_EQ(completed.load(), 200);
  Reopen();
  EXPECT_EQ(Connect("bob").last_seq, 200u);
}

TEST_F(StoreTest, IsWritableOnAHealthyStore) { EXPECT_TRUE(store_->IsWritable()); }

TEST(StoreOpenTest, FailsOnARegularFileNamingThePath) {
  TempDir dir;
  const fs::path file = dir.path() / "not-a-dir";
  std::ofstream(file) << "x";
  OffsetClock clock;
  StoreOptions options;
  options.path = file.string();
  options.clock = &clock;

  Result<std::unique_ptr<Store>> opened = Store::Open(options, nullptr);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find(file.string()), std::string::npos)
      << opened.status().ToString();
}

TEST(StoreOpenTest, RefusesInvalidOptions) {
  StoreOptions options;
  EXPECT_EQ(Store::Open(options, nullptr).status().code(), Status::Code::kInvalidArgument);
}

// A store on a file system whose WAL writes fail on demand.
class StoreFaultTest : public ::testing::Test {
 protected:
  void Open(bool retryable) {
    flaky_ = std::make_shared<FlakyFileSystem>(retryable);
    env_ = rocksdb::NewCompositeEnv(flaky_);
    StoreOptions options;
    options.path = (dir_.path() / "db").string();
    options.clock = &clock_;
    options.env = env_.get();
    Result<std::unique_ptr<Store>> opened =
        Store::Open(options, [this](std::vector<NewItem> items) { sunk_ += items.size(); });
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
    ASSERT_TRUE(Await<Result<SessionInfo>>([&](auto done) {
                  store_->OpenSession("bob", 0, std::move(done));
                }).ok());
  }

  SendResult SendText(const std::string& id) {
    return Await<SendResult>([&](auto done) {
      store_->Send({"alice", "bob", id, "x"}, std::move(done));
    });
  }

  bool BecomesWritable() {
    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (store_->IsWritable()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  TempDir dir_;
  OffsetClock clock_;
  std::shared_ptr<FlakyFileSystem> flaky_;
  std::unique_ptr<rocksdb::Env> env_;  // Outlives store_: declared before it.
  std::atomic<std::size_t> sunk_{0};
  std::unique_ptr<Store> store_;
};

TEST_F(StoreFaultTest, FailedWriteFailsTheBatchAndTheStoreRecovers) {
  Open(/*retryable=*/true);
  EXPECT_EQ(SendText("m1").seq, 1u);
  const std::size_t sunk_before = sunk_.load();

  flaky_->failing = true;
  EXPECT_EQ(SendText("m2").outcome, SendOutcome::kUnavailable);
  EXPECT_FALSE(store_->IsWritable());
  EXPECT_EQ(sunk_.load(), sunk_before);
  EXPECT_EQ(store_->stats().failed_batches.load(), 1u);

  flaky_->failing = false;
  ASSERT_TRUE(BecomesWritable());
  // The failed batch left nothing behind: m2 is new, and takes seq 2.
  const SendResult retried = SendText("m2");
  EXPECT_EQ(retried.outcome, SendOutcome::kStored);
  EXPECT_EQ(retried.seq, 2u);
  EXPECT_EQ(sunk_.load(), sunk_before + 1);
}

TEST_F(StoreFaultTest, FatalWriteErrorIsReportedNotFatalToTheProcess) {
  Open(/*retryable=*/false);
  flaky_->failing = true;
  EXPECT_EQ(SendText("m1").outcome, SendOutcome::kUnavailable);
  flaky_->failing = false;

  // RocksDB refuses writes until reopened; the store keeps answering, and says so.
  EXPECT_EQ(SendText("m2").outcome, SendOutcome::kUnavailable);
  Status acked = Await<Status>([&](auto done) { store_->Ack("bob", 1, std::move(done)); });
  EXPECT_TRUE(acked.ok());  // Nothing to ack writes nothing, so cannot fail.
  EXPECT_FALSE(store_->IsWritable());
  Result<MailboxPage> page = Await<Result<MailboxPage>>(
      [&](auto done) { store_->ReadMailbox("bob", 0, 10, std::move(done)); });
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
}

// --- History -----------------------------------------------------------------------------------

// Time stands still unless a test moves it: many messages then share one millisecond.
class FrozenClock final : public Clock {
 public:
  std::int64_t NowMs() const override { return now_ms_.load(); }
  void Advance(std::int64_t ms) { now_ms_ += ms; }

 private:
  std::atomic<std::int64_t> now_ms_{1'800'000'000'000};
};

class HistoryTest : public StoreTest {
 protected:
  void SetUp() override {
    options_.clock = &frozen_;
    Reopen();
    Connect("alice");
    Connect("bob");
  }

  Status SetRetention(const std::string& user, std::uint32_t days) {
    return Await<Status>([&](auto done) { store_->SetRetention(user, days, std::move(done)); });
  }

  Result<HistoryPage> History(HistoryQuery query) {
    return Await<Result<HistoryPage>>(
        [&](auto done) { store_->ReadHistory(std::move(query), std::move(done)); });
  }

  HistoryQuery Query(const std::string& user, std::uint32_t limit) {
    HistoryQuery query;
    query.user = user;
    query.limit = limit;
    query.history_days = 30;
    return query;
  }

  FrozenClock frozen_;
};

TEST_F(HistoryTest, PagesThroughMessagesOfOneMillisecondWithoutGapsOrRepeats) {
  ASSERT_TRUE(SetRetention("alice", 30).ok());
  for (int i = 0; i < 10; ++i) SendText("alice", "bob", "same-ms-" + std::to_string(i));

  std::set<std::string> seen;
  HistoryQuery query = Query("alice", 3);
  int pages = 0;
  do {
    Result<HistoryPage> page = History(query);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ++pages;
    for (const v1::Message& message : page->messages) {
      EXPECT_TRUE(seen.insert(message.client_msg_id()).second) << message.client_msg_id();
    }
    query.cursor = page->next_cursor;
  } while (!query.cursor.empty() && pages < 100);
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(pages, 4);
}

TEST_F(HistoryTest, KeepsOnlyTheHistoriesOfUsersWhoOptedIn) {
  ASSERT_TRUE(SetRetention("bob", 30).ok());
  SendText("alice", "bob", "m1");

  Result<HistoryPage> bobs = History(Query("bob", 10));
  ASSERT_TRUE(bobs.ok());
  ASSERT_EQ(bobs->messages.size(), 1u);
  EXPECT_EQ(bobs->messages[0].from(), "alice");

  HistoryQuery alices = Query("alice", 10);
  alices.history_days = 0;
  EXPECT_TRUE(History(alices)->messages.empty());
  EXPECT_EQ(store_->CountKeys("history").value(), 2u);  // Bob's entry and its peer index.
}

TEST_F(HistoryTest, BeforeMsIsAStrictBound) {
  ASSERT_TRUE(SetRetention("alice", 30).ok());
  SendText("alice", "bob", "first");
  frozen_.Advance(1000);
  SendText("alice", "bob", "second");
  const std::int64_t second_ms = frozen_.NowMs();
  frozen_.Advance(1000);
  SendText("alice", "bob", "third");

  HistoryQuery query = Query("alice", 10);
  query.before_ms = second_ms;
  Result<HistoryPage> page = History(query);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->messages.size(), 1u);
  EXPECT_EQ(page->messages[0].client_msg_id(), "first");
}

TEST_F(HistoryTest, PeerFilterFollowsTheIndex) {
  Connect("carol");
  ASSERT_TRUE(SetRetention("alice", 30).ok());
  SendText("alice", "bob", "to-bob");
  SendText("carol", "alice", "from-carol");

  HistoryQuery query = Query("alice", 10);
  query.peer = "carol";
  Result<HistoryPage> page = History(query);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->messages.size(), 1u);
  EXPECT_EQ(page->messages[0].client_msg_id(), "from-carol");
}

TEST_F(HistoryTest, LoweringTheWindowPurgesByRangeAndZeroPurgesEverything) {
  ASSERT_TRUE(SetRetention("alice", 30).ok());
  SendText("alice", "bob", "old");
  frozen_.Advance(10 * kDayMs);
  SendText("alice", "bob", "new");
  ASSERT_EQ(store_->CountKeys("history").value(), 4u);

  ASSERT_TRUE(SetRetention("alice", 5).ok());
  // The old entry is gone; its by-peer index entry waits for its own expiry, unseen.
  EXPECT_EQ(store_->CountKeys("history").value(), 3u);
  HistoryQuery query = Query("alice", 10);
  query.history_days = 5;
  query.peer = "bob";
  ASSERT_EQ(History(query)->messages.size(), 1u);

  ASSERT_TRUE(SetRetention("alice", 0).ok());
  EXPECT_EQ(store_->CountKeys("history").value(), 0u);
}

TEST_F(HistoryTest, ACursorItDidNotMakeIsInvalidArgument) {
  HistoryQuery query = Query("alice", 10);
  query.cursor = "garbage";
  Result<HistoryPage> page = History(query);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), Status::Code::kInvalidArgument);
}

TEST_F(HistoryTest, RetentionOfSomeoneWhoNeverConnectedIsNotFound) {
  EXPECT_TRUE(SetRetention("nobody", 30).IsNotFound());
}

}  // namespace
}  // namespace parley::storage
