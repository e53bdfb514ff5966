// Time source for one elastic thread. The dataplane reads time through this
// interface so that tests can drive it by hand (ManualClock) and get exactly
// repeatable timer behaviour.
#pragma once

#include <cstdint>
#include <ctime>

namespace ix::core {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t now_ns() const = 0;
};

// CLOCK_MONOTONIC through the vDSO: no system call on the fast path.
class MonotonicClock final : public Clock {
 public:
  uint64_t now_ns() const override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(uint64_t start_ns = 1'000'000'000ull) : now_(start_ns) {}
  uint64_t now_ns() const override { return now_; }
  void advance(uint64_t ns) { now_ += ns; }
  void set(uint64_t ns) { now_ = ns; }

 private:
  uint64_t now_;
};

}  // namespace ix::core
