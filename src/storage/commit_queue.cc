#include "commit_queue.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "parley/common/thread_name.h"

namespace parley::storage {

CommitQueue::CommitQueue(std::size_t max_batch_ops, std::chrono::microseconds window,
                         CommitFn commit)
    : max_batch_ops_(max_batch_ops),
      window_(window),
      commit_(std::move(commit)),
      writer_([this] { Run(); }) {}

CommitQueue::~CommitQueue() { Stop(); }

void CommitQueue::Push(WriteOp op) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(op));
      // The writer waits for the first op, or for a full batch; any other wake-up is wasted.
      if (queue_.size() == 1 || queue_.size() >= max_batch_ops_) ready_.notify_one();
      return;
    }
  }
  Fail(op, Status::Unavailable("store is shutting down"));
}

void CommitQueue::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  ready_.notify_one();
  if (writer_.joinable()) writer_.join();
}

void CommitQueue::Run() {
  NameThisThread("parley-writer");
  for (;;) {
    std::vector<WriteOp> batch = TakeBatch();
    if (batch.empty()) return;
    commit_(batch);
  }
}

std::vector<WriteOp> CommitQueue::TakeBatch() {
  std::unique_lock<std::mutex> lock(mu_);
  if (queue_.empty()) quiet_ = true;
  ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
  if (quiet_ && window_.count() > 0) {
    ready_.wait_for(lock, window_, [this] { return stopping_ || queue_.size() >= max_batch_ops_; });
  }
  quiet_ = false;

  const std::size_t count = std::min(queue_.size(), max_batch_ops_);
  std::vector<WriteOp> batch;
  batch.reserve(count);
  const auto end = queue_.begin() + static_cast<std::ptrdiff_t>(count);
  std::move(queue_.begin(), end, std::back_inserter(batch));
  queue_.erase(queue_.begin(), end);
  return batch;
}

}  // namespace parley::storage
