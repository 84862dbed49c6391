// TaskPool: a fixed set of threads running posted tasks in FIFO order.

#ifndef PARLEY_STORAGE_TASK_POOL_H_
#define PARLEY_STORAGE_TASK_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace parley::storage {

// Runs mailbox reads off the caller's thread: a read may touch the disk, and callers are
// network threads that must not block. Deliberately tiny, so that the storage library does
// not pull in Asio (which stays confined to the network libraries).
class TaskPool {
 public:
  // Starts `threads` threads. REQUIRES: threads >= 1.
  explicit TaskPool(int threads);

  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Stops (see Stop).
  ~TaskPool();

  // Queues `task`; false (and `task` not run) once Stop has begun.
  bool Post(std::function<void()>& task);

  // Refuses new tasks, runs every task already queued, and joins the threads. Idempotent.
  // Must not be called from a task.
  void Stop();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;  // Guarded by mu_.
  bool stopping_ = false;                    // Guarded by mu_.

  std::vector<std::thread> threads_;  // Last: started once everything above is built.
};

}  // namespace parley::storage

#endif  // PARLEY_STORAGE_TASK_POOL_H_
