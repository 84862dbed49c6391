#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include <nlohmann/json.hpp>

namespace parley::bench {

namespace {

// 2^8 values are counted exactly; above, 2^7 buckets per power of two.
constexpr int kExactBits = 8;
constexpr int kSubBucketBits = kExactBits - 1;
constexpr std::uint64_t kExactValues = 1ULL << kExactBits;
constexpr std::uint64_t kSubBuckets = 1ULL << kSubBucketBits;

// Powers of two 2^8 .. 2^43 get sub-buckets; 2^44 ns is about 4.9 hours.
constexpr int kHighestExponent = 43;
constexpr std::size_t kBucketCount =
    kExactValues + (kHighestExponent - kExactBits + 1) * kSubBuckets;
constexpr std::uint64_t kLargestValue = (1ULL << (kHighestExponent + 1)) - 1;

}  // namespace

Histogram::Histogram() : buckets_(kBucketCount, 0) {}

std::size_t Histogram::BucketOf(std::uint64_t value) {
  if (value < kExactValues) return static_cast<std::size_t>(value);
  value = std::min(value, kLargestValue);

  // The top kExactBits bits of the value pick the sub-bucket within its power of two.
  const int exponent = std::bit_width(value) - 1;
  const int shift = exponent - kSubBucketBits;
  const std::uint64_t top = value >> shift;  // In [kSubBuckets, 2 * kSubBuckets).
  return static_cast<std::size_t>(kExactValues + (exponent - kExactBits) * kSubBuckets +
                                  (top - kSubBuckets));
}

std::uint64_t Histogram::HighestValueIn(std::size_t bucket) {
  if (bucket < kExactValues) return bucket;
  const std::uint64_t offset = bucket - kExactValues;
  const int exponent = static_cast<int>(offset / kSubBuckets) + kExactBits;
  const int shift = exponent - kSubBucketBits;
  const std::uint64_t top = kSubBuckets + offset % kSubBuckets;
  return ((top + 1) << shift) - 1;
}

void Histogram::Record(std::uint64_t value) {
  ++buckets_[BucketOf(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<long double>(value);
}

void Histogram::Merge(const Histogram& other) {
  for (std::size_t i = 0; i < kBucketCount; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double Histogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t Histogram::ValueAt(double fraction) const {
  if (count_ == 0) return 0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(fraction * static_cast<double>(count_))));

  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(HighestValueIn(i), max_);
  }
  return max_;
}

nlohmann::json Histogram::ToJson() const {
  nlohmann::json buckets = nlohmann::json::array();
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    if (buckets_[i] != 0) buckets.push_back({i, buckets_[i]});
  }
  return {{"count", count_},
          {"min", min()},
          {"max", max_},
          {"sum", static_cast<double>(sum_)},
          {"buckets", std::move(buckets)}};
}

Histogram Histogram::FromJson(const nlohmann::json& json) {
  Histogram histogram;
  histogram.count_ = json.at("count").get<std::uint64_t>();
  if (histogram.count_ > 0) histogram.min_ = json.at("min").get<std::uint64_t>();
  histogram.max_ = json.at("max").get<std::uint64_t>();
  histogram.sum_ = json.at("sum").get<double>();
  for (const auto& pair : json.at("buckets")) {
    const auto index = pair.at(0).get<std::size_t>();
    if (index < kBucketCount) histogram.buckets_[index] += pair.at(1).get<std::uint64_t>();
  }
  return histogram;
}

}  // namespace parley::bench
