// A token bucket in integer nanoseconds: `rate` tokens per second, at most
// `burst` saved up. Used to rate-limit ICMP errors (RFC 1812 4.3.2.8).
#pragma once

#include <cstdint>

namespace ix::net {

class TokenBucket {
 public:
  TokenBucket(uint32_t rate_per_sec, uint32_t burst, uint64_t now_ns)
      : rate_(rate_per_sec), cap_(uint64_t{burst} * kScale), credit_(cap_), last_ns_(now_ns) {}

  // Takes one token if there is one.
  bool take(uint64_t now_ns) {
    if (now_ns > last_ns_) {
      const uint64_t elapsed = now_ns - last_ns_;
      last_ns_ = now_ns;
      // credit is tokens * 1e9; elapsed_ns * rate adds exactly rate per second.
      // Past the time to fill the bucket the product could overflow: clamp.
      if (rate_ == 0 || elapsed >= (cap_ - credit_) / rate_ + 1) {
        credit_ = rate_ == 0 ? credit_ : cap_;
      } else {
        credit_ += elapsed * rate_;
        if (credit_ > cap_) credit_ = cap_;
      }
    }
    if (credit_ < kScale) return false;
    credit_ -= kScale;
    return true;
  }

 private:
  static constexpr uint64_t kScale = 1'000'000'000ull;
  uint64_t rate_;
  uint64_t cap_;
  uint64_t credit_;
  uint64_t last_ns_;
};

}  // namespace ix::net
