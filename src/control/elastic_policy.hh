// How many elastic threads a dataplane should run on, decided from each
// thread's load (the control plane's policy; ElasticController applies it).
//
// Signals, per window and per running thread: the busy share of its loop
// (the time after polls that found frames, over the window: see
// CoreStats::busy_ns) and the share of its polls that came back with a full
// batch (frames were waiting beyond one batch: the queue is building up,
// the queueing-delay signal a poll loop has without timestamps).
//
// Rules:
//  - grow by one thread when some running thread was overloaded (busy share
//    at or above grow_busy, or full batches at or above grow_full_batches)
//    for grow_after windows in a row;
//  - shrink by one when the running threads' total load would keep one
//    fewer at or below shrink_target each, for shrink_after windows in a row;
//  - hysteresis: the two counts reset each other, shrinking waits longer
//    than growing (an overload costs latency; a spare core only energy), and
//    no decision follows another within `cooldown` windows (moves and the
//    caches of the new thread settle first).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ix::control {

struct ElasticPolicyConfig {
  uint64_t window_ns = 10'000'000;
  double grow_busy = 0.85;
  double grow_full_batches = 0.5;
  unsigned grow_after = 2;
  double shrink_target = 0.6;
  unsigned shrink_after = 20;
  unsigned cooldown = 5;
  unsigned min_threads = 1;
  unsigned max_threads = 1;  // the threads the runtime started
};

// One running thread's load over the last window.
struct ThreadLoad {
  double busy = 0;          // 0..1
  double full_batches = 0;  // 0..1 of its polls
};

class ElasticPolicy {
 public:
  explicit ElasticPolicy(const ElasticPolicyConfig &cfg) : cfg_(cfg) {}

  struct Decision {
    unsigned threads = 0;  // what to run on now (unchanged: no decision)
    std::string why;       // the signals behind a change, for the log
  };
  // One window: `loads` has one entry per running thread.
  Decision observe(const std::vector<ThreadLoad> &loads);
  const ElasticPolicyConfig &config() const { return cfg_; }

 private:
  ElasticPolicyConfig cfg_;
  unsigned over_ = 0;   // consecutive windows with an overloaded thread
  unsigned under_ = 0;  // consecutive windows that would fit on one fewer
  unsigned quiet_ = 0;  // windows left in the cooldown
};

}  // namespace ix::control
