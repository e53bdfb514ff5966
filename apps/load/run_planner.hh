// Which runs to make: one at --rate, one per --scan rate, or a --search for
// the highest rate whose p99 stays under a bound (the decisions are
// SlaSearch's, see sla_search.hh; the upper end is --rate, or with --rate 0
// the throughput of a first closed-loop run).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "load/load_options.hh"
#include "load/run_stats.hh"
#include "load/sla_search.hh"

namespace ix::load {

struct PlannedRun {
  double rate;  // 0 = closed loop
  std::string phase;
};

// The search's view of a run: p99 over every due request, and whether it
// went without errors.
SlaPoint sla_point_of(const RunSummary &s);

class RunPlanner {
 public:
  explicit RunPlanner(const LoadConfig &config);

  // The next run, or nullopt when done. Call record() with its result before
  // asking again.
  std::optional<PlannedRun> next();
  void record(const RunSummary &summary);

  // --search: whether a run met the bound, and the verdict over the runs so
  // far (its best is an index into the recorded runs).
  bool passes(const RunSummary &s) const;
  std::optional<SlaVerdict> verdict() const;

 private:
  std::vector<PlannedRun> fixed_;  // single run or scan
  size_t recorded_ = 0;
  std::optional<SlaSearch> search_;
};

}  // namespace ix::load
