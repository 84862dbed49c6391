// A token bucket: `rate_per_s` tokens a second, holding at most `burst`.

#ifndef PARLEY_CHAT_RATE_LIMITER_H_
#define PARLEY_CHAT_RATE_LIMITER_H_

#include <cstdint>

namespace parley::chat {

class RateLimiter {
 public:
  RateLimiter(double rate_per_s, double burst)
      : rate_per_ms_(rate_per_s / 1000.0), burst_(burst), tokens_(burst) {}

  // Takes one token at monotonic time `now_ms`; false when the bucket is empty.
  bool TryTake(std::int64_t now_ms);

 private:
  double rate_per_ms_;
  double burst_;
  double tokens_;
  std::int64_t last_ms_ = 0;
};

}  // namespace parley::chat

#endif  // PARLEY_CHAT_RATE_LIMITER_H_
