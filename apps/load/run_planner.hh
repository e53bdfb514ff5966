// Which runs to make: one at --rate, one per --scan rate, or a --search:
// the highest rate whose p99 stays under a bound, by bisection over runs.
//
// Search: the upper end is --rate, or with --rate 0 the throughput of a
// first closed-loop run. A run at the upper end comes first; if it passes,
// that is the answer. Otherwise bisection between 0 and it, --search-steps
// runs at most. A run passes when its p99 is at most the bound, it achieved
// at least 90% of its target rate, at most 1% of due requests were skipped,
// and it had no errors and no unanswered requests.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "load/load_options.hh"
#include "load/run_stats.hh"

namespace ix::load {

struct PlannedRun {
  double rate;  // 0 = closed loop
  std::string phase;
};

class RunPlanner {
 public:
  explicit RunPlanner(const LoadConfig &config);

  // The next run, or nullopt when done. Call record() with its result before
  // asking again.
  std::optional<PlannedRun> next();
  void record(const RunSummary &summary);

  bool passes(const RunSummary &s) const;
  // --search: the index (into the recorded runs) of the best passing run.
  std::optional<size_t> best() const { return best_; }

 private:
  const LoadConfig &config_;
  std::vector<PlannedRun> fixed_;  // single run or scan
  size_t recorded_ = 0;
  // Search state.
  bool searching_ = false, need_max_ = false, tried_top_ = false, done_ = false;
  double lo_ = 0, hi_ = 0;
  uint32_t steps_left_ = 0;
  std::optional<PlannedRun> pending_;
  std::optional<size_t> best_;
};

}  // namespace ix::load
