#include "parley/chat/rate_limiter.h"

#include <gtest/gtest.h>

namespace parley::chat {
namespace {

TEST(RateLimiterTest, AllowsABurstThenTheSustainedRate) {
  RateLimiter limiter(/*rate_per_s=*/20, /*burst=*/40);
  int taken = 0;
  while (limiter.TryTake(1000)) ++taken;
  EXPECT_EQ(taken, 40);

  // 50 ms later one more token has come in (20 per second).
  EXPECT_FALSE(limiter.TryTake(1049));
  EXPECT_TRUE(limiter.TryTake(1050));
  EXPECT_FALSE(limiter.TryTake(1050));
}

TEST(RateLimiterTest, NeverHoldsMoreThanTheBurst) {
  RateLimiter limiter(10, 5);
  EXPECT_TRUE(limiter.TryTake(0));
  int taken = 0;
  while (limiter.TryTake(1'000'000)) ++taken;  // After a long quiet spell.
  EXPECT_EQ(taken, 5);
}

TEST(RateLimiterTest, TimeGoingBackwardsGrantsNothing) {
  RateLimiter limiter(1000, 1);
  EXPECT_TRUE(limiter.TryTake(5000));
  EXPECT_FALSE(limiter.TryTake(4000));
}

}  // namespace
}  // namespace parley::chat
