// A small, fast, seedable random source for the load generator: xoshiro256**
// seeded through splitmix64, so every thread and every run can have its own
// reproducible stream without sharing state (std::mt19937_64 would do too,
// but is 2.5 KB of state per stream and slower to seed).
#pragma once

#include <cstdint>

namespace ix::load {

class Rng {
 public:
  explicit Rng(uint64_t seed = 1) {
    for (uint64_t &s : state_) s = splitmix64(seed);
  }

  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in the open interval (0, 1): never 0 or 1, so log(u) and
  // pow(u, -k) in the inverse CDFs stay finite.
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }

  // Uniform integer in [0, n), n > 0 (multiply-shift; bias below 2^-64 * n).
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

  // The splitmix64 step: also a good 64-bit mixing hash of a counter.
  static uint64_t splitmix64(uint64_t &x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

}  // namespace ix::load
