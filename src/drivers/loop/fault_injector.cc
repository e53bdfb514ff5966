#include "drivers/loop/fault_injector.hh"

#include <cmath>

namespace ix::drivers {

namespace {

double clamp_probability(double p) {
  if (std::isnan(p) || p < 0) return 0;
  return p > 1 ? 1 : p;
}

// SplitMix64 finaliser: turns (seed, stream) into well-separated seeds.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

FaultInjector::FaultInjector(const FaultConfig &cfg, uint64_t stream)
    : cfg_(cfg), rng_(mix(cfg.seed ^ mix(stream))) {
  cfg_.drop = clamp_probability(cfg_.drop);
  cfg_.duplicate = clamp_probability(cfg_.duplicate);
  cfg_.reorder = clamp_probability(cfg_.reorder);
  cfg_.corrupt = clamp_probability(cfg_.corrupt);
  cfg_.delay = clamp_probability(cfg_.delay);
  if (cfg_.reorder_gap == 0) cfg_.reorder_gap = 1;
}

// A probability of 0 draws nothing, so enabling one fault does not shift the
// random stream of a configuration that never used it.
bool FaultInjector::roll(double p) {
  if (p <= 0) return false;
  // 53 random bits as a double in [0, 1): identical on every standard library.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  return u < p;
}

FaultDecision FaultInjector::decide(uint16_t frame_len) {
  FaultDecision d;
  // A clean wire (the benchmarks' case) draws no random numbers per frame.
  if (!cfg_.any()) return d;
  if (roll(cfg_.drop)) {
    d.drop = true;
    return d;
  }
  if (roll(cfg_.corrupt) && frame_len > 0)
    d.corrupt_bit = static_cast<int32_t>(rng_() % (uint64_t{frame_len} * 8));
  d.duplicate = roll(cfg_.duplicate);
  d.delay = roll(cfg_.delay);
  d.reorder = roll(cfg_.reorder);
  return d;
}

}  // namespace ix::drivers
