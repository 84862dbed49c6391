#include "parley/client/backoff.h"

#include <algorithm>

namespace parley::client {

namespace {

// Far more doublings than any cap needs; only keeps the counter from growing without bound.
constexpr int kMaxAttempts = 64;

}  // namespace

Backoff::Backoff(Duration initial, Duration cap)
    : initial_(initial), cap_(cap), random_(std::random_device()()) {}

Backoff::Duration Backoff::Next() {
  // Doubling stops once the cap is reached, so the shift never overflows.
  Duration ceiling = initial_;
  for (int i = 0; i < attempts_ && ceiling < cap_; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap_);
  attempts_ = std::min(attempts_ + 1, kMaxAttempts);

  const auto half = ceiling.count() / 2;
  std::uniform_int_distribution<Duration::rep> jitter(0, ceiling.count() - half);
  return Duration(half + jitter(random_));
}

}  // namespace parley::client
