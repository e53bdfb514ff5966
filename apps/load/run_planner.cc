#include "load/run_planner.hh"

namespace ix::load {

RunPlanner::RunPlanner(const LoadConfig &config) : config_(config) {
  if (config.search_p99_us) {
    searching_ = true;
    need_max_ = config.rate == 0;
    hi_ = config.rate;
    steps_left_ = config.search_steps;
  } else if (!config.scan_rates.empty()) {
    for (double r : config.scan_rates) fixed_.push_back({r, "scan"});
  } else {
    fixed_.push_back({config.rate, "run"});
  }
}

bool RunPlanner::passes(const RunSummary &s) const {
  const RunCounters &c = s.counters;
  const uint64_t due = c.issued + c.skipped;
  return config_.search_p99_us && c.completed > 0 && s.p99 <= *config_.search_p99_us &&
         s.achieved_rate >= 0.9 * s.target_rate && c.skipped * 100 <= due && c.errors() == 0 &&
         c.unanswered == 0;
}

std::optional<PlannedRun> RunPlanner::next() {
  if (!searching_) {
    if (recorded_ < fixed_.size()) return fixed_[recorded_];
    return std::nullopt;
  }
  if (done_) return std::nullopt;
  if (need_max_) {
    pending_ = PlannedRun{0, "search-max"};
  } else if (!tried_top_) {
    pending_ = PlannedRun{hi_, "search"};
  } else {
    if (steps_left_ == 0) return std::nullopt;
    pending_ = PlannedRun{(lo_ + hi_) / 2, "search"};
  }
  return pending_;
}

void RunPlanner::record(const RunSummary &s) {
  const size_t index = recorded_++;
  if (!searching_ || !pending_) return;
  const PlannedRun run = *pending_;
  pending_.reset();
  if (run.phase == "search-max") {
    need_max_ = false;
    hi_ = s.achieved_rate;
    if (hi_ < 1) done_ = true;  // nothing came back: nothing to search
    return;
  }
  if (!tried_top_) {
    tried_top_ = true;
    if (passes(s)) {
      best_ = index;
      done_ = true;
    }
    return;
  }
  --steps_left_;
  if (passes(s)) {
    lo_ = run.rate;
    best_ = index;
  } else {
    hi_ = run.rate;
  }
}

}  // namespace ix::load
