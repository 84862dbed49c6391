// IoPool: one io_context per network thread.

#ifndef PARLEY_GATEWAY_IO_POOL_H_
#define PARLEY_GATEWAY_IO_POOL_H_

#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace parley::gateway {

class IoPool {
 public:
  explicit IoPool(std::size_t threads);
  ~IoPool();

  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  // Starts one thread per context. The contexts keep running, idle or not, until Stop().
  void Run();

  // Stops every context and joins the threads; queued handlers are not run.
  void Stop();

  std::size_t size() const { return contexts_.size(); }
  boost::asio::io_context& context(std::size_t i) { return *contexts_[i]; }

 private:
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<WorkGuard> guards_;
  std::vector<std::thread> threads_;
};

}  // namespace parley::gateway

#endif  // PARLEY_GATEWAY_IO_POOL_H_
