// Histogram: a latency distribution in fixed memory, in the manner of HdrHistogram.
//
// Values (nanoseconds, or any other non-negative integer) below 256 are counted exactly.
// Above that, every power-of-two range [2^e, 2^(e+1)) is cut into 128 equal buckets, so a
// bucket is never wider than 1/128 of the values it holds: a percentile read from it is within
// 0.8% of the true one. The largest value kept apart is 2^44 - 1 ns (about 4.9 hours); larger
// ones land in the last bucket. Every instance takes the same 38 KiB, whatever it records.
//
// Not thread-safe: each thread records into its own histogram, and they are merged at the end.

#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace parley::bench {

class Histogram {
 public:
  Histogram();

  void Record(std::uint64_t value);

  // Adds every count of `other` to this one.
  void Merge(const Histogram& other);

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  std::uint64_t max() const { return max_; }
  double mean() const;

  // The value at or below which `fraction` (0..1) of the recorded values fall: the highest
  // value of the bucket that holds that rank, but never above the largest value recorded.
  // 0 when nothing has been recorded.
  std::uint64_t ValueAt(double fraction) const;

  // Sparse form for passing between processes: {count, min, max, sum, buckets: [[i, n], ...]}.
  nlohmann::json ToJson() const;
  static Histogram FromJson(const nlohmann::json& json);

 private:
  static std::size_t BucketOf(std::uint64_t value);
  static std::uint64_t HighestValueIn(std::size_t bucket);

  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  // Long double: a sum of nanosecond latencies overflows nothing, and the mean stays exact
  // enough over billions of samples.
  long double sum_ = 0;
};

}  // namespace parley::bench
