// Histogram: counts of observations in fixed buckets, for Prometheus histograms.

#ifndef PARLEY_COMMON_HISTOGRAM_H_
#define PARLEY_COMMON_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace parley {

// Buckets are cumulative upper bounds, as Prometheus wants them; the last bound is +Inf.
// Observe() is lock-free and may be called from any thread; readers see relaxed figures.
template <std::size_t N>
class Histogram {
 public:
  explicit constexpr Histogram(const std::array<std::uint64_t, N>& bounds) : bounds_(bounds) {}

  void Observe(std::uint64_t value) {
    std::size_t i = 0;
    while (i < N && value > bounds_[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }

  static constexpr std::size_t buckets() { return N; }
  std::uint64_t bound(std::size_t i) const { return bounds_[i]; }

  // Observations up to and including bucket i (i == N: all of them).
  std::uint64_t cumulative(std::size_t i) const {
    std::uint64_t total = 0;
    for (std::size_t k = 0; k <= i; ++k) total += counts_[k].load(std::memory_order_relaxed);
    return total;
  }
  std::uint64_t count() const { return cumulative(N); }
  std::uint64_t sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::array<std::uint64_t, N> bounds_;
  std::array<std::atomic<std::uint64_t>, N + 1> counts_{};
  std::atomic<std::uint64_t> sum_{0};
};

}  // namespace parley

#endif  // PARLEY_COMMON_HISTOGRAM_H_
