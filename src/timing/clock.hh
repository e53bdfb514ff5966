// Time source for one elastic thread. The dataplane reads time through this
// interface so that tests can drive it by hand (ManualClock) and get exactly
// repeatable timer behaviour.
#pragma once

#include <cstdint>
#include <ctime>

namespace ix::timing {

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

// The time as of the start of the current loop iteration. A batch of frames
// is processed at one instant: protocols read time many times per segment
// (timers, RTT samples, timestamps), and each read of the real clock costs
// tens of nanoseconds in a VM, so the elastic thread reads its source once
// per iteration and the stack reads this copy.
class CachedClock final : public Clock {
 public:
  explicit CachedClock(const Clock &source) : source_(source), now_(source.now_ns()) {}
  uint64_t now_ns() const override { return now_; }
  uint64_t refresh() { return now_ = source_.now_ns(); }

 private:
  const Clock &source_;
  uint64_t now_;
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

}  // namespace ix::timing
