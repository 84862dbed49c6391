// Backoff: the delays between reconnection attempts.
//
// Exponential with "equal jitter": attempt n waits a random time between half and all of
// min(cap, initial * 2^n). The random half spreads clients that lost the same server at the
// same moment; the fixed half keeps any one of them from retrying in a tight loop.
//
// Not thread-safe.

#ifndef PARLEY_CLIENT_BACKOFF_H_
#define PARLEY_CLIENT_BACKOFF_H_

#include <chrono>
#include <random>

namespace parley::client {

class Backoff {
 public:
  using Duration = std::chrono::milliseconds;

  // REQUIRES: 0 < initial <= cap.
  Backoff(Duration initial, Duration cap);

  // The delay before the next attempt; each call doubles the next one's range, up to the cap.
  Duration Next();

  // Back to the initial delay, after a connection that proved healthy.
  void Reset() { attempts_ = 0; }

 private:
  Duration initial_;
  Duration cap_;
  int attempts_ = 0;
  std::mt19937_64 random_;
};

}  // namespace parley::client

#endif  // PARLEY_CLIENT_BACKOFF_H_
