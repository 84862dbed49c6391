// Wall-clock time, behind an interface so that tests can move it.

#ifndef PARLEY_COMMON_CLOCK_H_
#define PARLEY_COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace parley {

inline constexpr std::int64_t kMsPerDay = 24LL * 3600 * 1000;

class Clock {
 public:
  virtual ~Clock() = default;

  // Milliseconds since the Unix epoch. Thread-safe.
  virtual std::int64_t NowMs() const = 0;
};

// The system's real-time clock.
class SystemClock final : public Clock {
 public:
  std::int64_t NowMs() const override;
};

// The system clock moved by an offset that can be changed at any time. Tests and the
// daemon's test hooks use it to make days pass without waiting.
class OffsetClock final : public Clock {
 public:
  std::int64_t NowMs() const override { return base_.NowMs() + offset_ms_.load(); }

  void Advance(std::int64_t ms) { offset_ms_ += ms; }
  void SetOffset(std::int64_t ms) { offset_ms_ = ms; }

 private:
  SystemClock base_;
  std::atomic<std::int64_t> offset_ms_{0};
};

}  // namespace parley

#endif  // PARLEY_COMMON_CLOCK_H_
