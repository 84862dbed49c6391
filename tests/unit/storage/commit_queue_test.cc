// The writer's batching: what one call of the commit function receives.

#include "commit_queue.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

namespace parley::storage {
namespace {

using namespace std::chrono_literals;

// Records the size of each batch handed to the commit function.
class BatchLog {
 public:
  void Commit(std::vector<WriteOp>& ops) {
    std::lock_guard<std::mutex> lock(mu_);
    sizes_.push_back(ops.size());
    total_ += ops.size();
    changed_.notify_all();
  }

  // The batch sizes once `ops` operations have been committed (or after 10 s).
  std::vector<std::size_t> SizesAfter(std::size_t ops) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait_for(lock, 10s, [&] { return total_ >= ops; });
    return sizes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::size_t> sizes_;
  std::size_t total_ = 0;
};

WriteOp AnOp() { return AckOp{"bob", 1, {}, nullptr, Status::Ok()}; }

TEST(CommitQueueTest, OpsThatFollowAQuietSpellWithinTheWindowShareOneBatch) {
  BatchLog log;
  CommitQueue queue(/*max_batch_ops=*/100, /*window=*/500ms,
                    [&](std::vector<WriteOp>& ops) { log.Commit(ops); });
  queue.Push(AnOp());
  std::this_thread::sleep_for(20ms);  // Well inside the window.
  queue.Push(AnOp());
  queue.Push(AnOp());

  EXPECT_EQ(log.SizesAfter(3), (std::vector<std::size_t>{3}));
}

TEST(CommitQueueTest, AFullBatchDoesNotWaitForTheWindow) {
  BatchLog log;
  CommitQueue queue(/*max_batch_ops=*/4, /*window=*/1h,
                    [&](std::vector<WriteOp>& ops) { log.Commit(ops); });
  for (int i = 0; i < 4; ++i) queue.Push(AnOp());

  // Were the window kept, this would wait an hour and fail after 10 s.
  EXPECT_EQ(log.SizesAfter(4), (std::vector<std::size_t>{4}));
}

TEST(CommitQueueTest, WithoutAWindowAnOpAloneIsCommittedAlone) {
  BatchLog log;
  CommitQueue queue(/*max_batch_ops=*/100, /*window=*/0us,
                    [&](std::vector<WriteOp>& ops) { log.Commit(ops); });
  queue.Push(AnOp());
  ASSERT_EQ(log.SizesAfter(1), (std::vector<std::size_t>{1}));
}

TEST(CommitQueueTest, StopCommitsWhatIsQueuedWithoutWaitingForTheWindow) {
  BatchLog log;
  {
    CommitQueue queue(/*max_batch_ops=*/100, /*window=*/1h,
                      [&](std::vector<WriteOp>& ops) { log.Commit(ops); });
    queue.Push(AnOp());
    queue.Push(AnOp());
  }  // Stops: an hour-long window must not hold up the shutdown.
  EXPECT_EQ(log.SizesAfter(2), (std::vector<std::size_t>{2}));
}

}  // namespace
}  // namespace parley::storage
