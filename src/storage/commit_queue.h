// CommitQueue: the queue in front of the single writer thread (group commit).

#ifndef PARLEY_STORAGE_COMMIT_QUEUE_H_
#define PARLEY_STORAGE_COMMIT_QUEUE_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "write_op.h"

namespace parley::storage {

// Callers push operations from any thread; one writer thread takes everything queued (up to
// max_batch_ops) at once and hands it to `commit`, which writes it as one batch. While the
// writer is busy with a batch the next one accumulates, so the batch size adapts to the load
// by itself, up to max_batch_ops under pressure.
//
// Under a light load that alone gives one op per batch, and the sync of each batch, not the
// work in it, becomes the writer's main cost. So the first op after a quiet spell waits up to
// `window` for others to join it (or until max_batch_ops are queued); a writer that is busy
// never waits. There is no busy wait: the writer sleeps on a condition variable.
class CommitQueue {
 public:
  // Receives each batch on the writer thread. It must complete every op it is given.
  using CommitFn = std::function<void(std::vector<WriteOp>& ops)>;

  // Starts the writer thread. REQUIRES: max_batch_ops >= 1. A zero window never waits.
  CommitQueue(std::size_t max_batch_ops, std::chrono::microseconds window, CommitFn commit);

  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Stops (see Stop).
  ~CommitQueue();

  // Queues `op` for the writer. Once Stop has begun, fails the op at once with kUnavailable,
  // on the calling thread.
  void Push(WriteOp op);

  // Refuses new ops, lets the writer commit everything already queued, and joins it.
  // Idempotent. Must not be called from the writer thread (that is, from a callback).
  void Stop();

 private:
  void Run();

  // Waits for work; returns an empty batch once stopping and drained.
  std::vector<WriteOp> TakeBatch();

  const std::size_t max_batch_ops_;
  const std::chrono::microseconds window_;
  const CommitFn commit_;

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<WriteOp> queue_;  // Guarded by mu_.
  bool stopping_ = false;      // Guarded by mu_.
  // The writer found the queue empty after its last batch (or has not taken one yet): the
  // next op opens a window. Guarded by mu_.
  bool quiet_ = true;

  std::thread writer_;  // Last: started once everything above is built.
};

}  // namespace parley::storage

#endif  // PARLEY_STORAGE_COMMIT_QUEUE_H_
