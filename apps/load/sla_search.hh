// The decision logic of ix-load --search, apart from the network so that it
// can be tested on synthetic latency curves: which rate to measure next, and
// from the measured points, the highest achieved rate whose p99 met the bound.
//
// The search:
//  1. capacity: with no upper rate given, one closed-loop run; its achieved
//     rate is the upper end (the most client and server manage together);
//  2. sweep: open-loop runs upward from the upper end / 2^sweep_doublings,
//     doubling each time, up to the upper end. Upward, so that no overload
//     run comes before the rates that meet the bound;
//  3. refine: geometric bisection between the highest rate that met the
//     bound and the first that failed above it, refine_steps runs.
// A rate fails only when two measurements of it fail (best of 2): one noisy
// violation (a stolen time slice in the tail) is measured again rather than
// taken as the knee. The answer is the highest achieved rate among all
// measurements that met the bound, so it is never below a measured meeting
// point, whatever the order the points came in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ix::load {

// One measured run as the search sees it.
struct SlaPoint {
  double target_rate = 0;  // offered (the schedule's rate); 0 = closed loop
  double achieved_rate = 0;
  double p50_us = 0;
  // p99 over every request that fell due: a request skipped (every
  // connection at --depth) or never answered counts as beyond any bound,
  // so a client that drops requests cannot flatter the tail.
  double p99_us = 0;
  bool clean = true;  // no error replies, corrupt values or broken connections
};

struct SlaSearchSettings {
  double p99_bound_us = 500;
  double upper_rate = 0;  // 0: measure it with a closed-loop run first
  uint32_t sweep_doublings = 5;
  uint32_t refine_steps = 4;
  // When the figure is too coarse to quote: fewer meeting rates than this at
  // or below the answer, or the first failing rate more than this many times
  // the answer's offered rate.
  uint32_t min_meeting_rates = 3;
  double max_knee_ratio = 1.25;
};

// What bounds the answer.
enum class SlaLimit {
  kNone,      // no rate tried met the bound
  kKnee,      // a rate above the answer failed twice: the latency knee
  kCapacity,  // the upper end itself met the bound: client or server capacity
};
const char *sla_limit_name(SlaLimit limit);

struct SlaVerdict {
  std::optional<size_t> best;  // index into points(): highest achieved rate that met
  SlaLimit limit = SlaLimit::kNone;
  double first_failing_rate = 0;  // offered rate that failed twice above the answer; 0 = none
  uint32_t meeting_rates = 0;     // distinct offered rates that met, at or below the answer
  double knee_ratio = 0;          // first_failing_rate / the answer's offered rate; 0 = none
  bool coarse = false;
  std::string coarse_why;  // "" or why the figure is too coarse to quote
};

struct SlaStep {
  double rate;  // 0 = closed loop
  std::string phase;
};

class SlaSearch {
 public:
  explicit SlaSearch(const SlaSearchSettings &settings);

  // The next run to make, or nullopt when the search is over. Call record()
  // with its result before asking again.
  std::optional<SlaStep> next() const;
  void record(const SlaPoint &point);

  bool meets(const SlaPoint &point) const;
  SlaVerdict verdict() const;
  const std::vector<SlaPoint> &points() const { return points_; }

 private:
  enum class Stage { kCapacity, kSweep, kRefine, kDone };

  // After a measurement at the current rate: met, or failed for the second time.
  void on_met(double rate);
  void on_failed_twice(double rate);
  void start_refining();
  double refine_rate() const;

  SlaSearchSettings settings_;
  Stage stage_;
  double upper_ = 0;
  double rate_ = 0;               // the rate being measured
  bool retrying_ = false;         // the current rate failed once already
  std::optional<double> met_;     // highest offered rate that met (of the bracket)
  std::optional<double> failed_;  // lowest offered rate that failed twice, above met_
  uint32_t refine_left_ = 0;
  std::vector<SlaPoint> points_;
};

}  // namespace ix::load
