// Seeded fault injection for the in-process wire: decides, frame by frame,
// whether the wire drops, duplicates, reorders, corrupts or delays it. Every
// decision comes from one std::mt19937_64 stream per TX queue, so a run with
// a fixed seed and a fixed sequence of frames is exactly repeatable.
#pragma once

#include <cstdint>
#include <random>

namespace ix::drivers {

struct FaultConfig {
  // Probabilities in [0, 1] (values outside are clamped, NaN counts as 0).
  double drop = 0;       // frame is lost
  double duplicate = 0;  // frame is delivered twice
  double reorder = 0;    // frame is held back and delivered after the next `reorder_gap` frames
  double corrupt = 0;    // one random bit of the frame is flipped
  double delay = 0;      // frame is not deliverable until `delay_ns` after it was sent
  uint64_t delay_ns = 0;
  uint32_t reorder_gap = 1;  // frames from the same TX queue that overtake a held frame
  uint64_t seed = 1;

  bool any() const { return drop > 0 || duplicate > 0 || reorder > 0 || corrupt > 0 || delay > 0; }
};

// What the wire does to one frame. Drop excludes everything else.
struct FaultDecision {
  bool drop = false;
  bool duplicate = false;
  bool reorder = false;
  bool delay = false;
  int32_t corrupt_bit = -1;  // bit index into the frame to flip, or -1
};

class FaultInjector {
 public:
  // `stream` separates the random streams of different ports and queues that
  // share one configured seed.
  FaultInjector(const FaultConfig &cfg, uint64_t stream);

  FaultDecision decide(uint16_t frame_len);
  const FaultConfig &config() const { return cfg_; }

 private:
  bool roll(double p);

  FaultConfig cfg_;
  std::mt19937_64 rng_;
};

}  // namespace ix::drivers
