#include "parley/gateway/io_pool.h"

#include <string>

#include "parley/common/thread_name.h"

namespace parley::gateway {

IoPool::IoPool(std::size_t threads) {
  for (std::size_t i = 0; i < threads; ++i) {
    // Concurrency hint 1: each context is run by exactly one thread, so Asio can skip locks.
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.push_back(boost::asio::make_work_guard(*contexts_.back()));
  }
}

IoPool::~IoPool() { Stop(); }

void IoPool::Run() {
  for (auto& context : contexts_) {
    threads_.emplace_back([&context, i = threads_.size()] {
      NameThisThread("parley-io-" + std::to_string(i));
      context->run();
    });
  }
}

void IoPool::Stop() {
  guards_.clear();
  for (auto& context : contexts_) context->stop();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

}  // namespace parley::gateway
