#include "parley/chat/rate_limiter.h"

#include <algorithm>

namespace parley::chat {

bool RateLimiter::TryTake(std::int64_t now_ms) {
  if (now_ms > last_ms_) {
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ms - last_ms_) * rate_per_ms_);
    last_ms_ = now_ms;
  }
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

}  // namespace parley::chat
