#include "load/run_planner.hh"

namespace ix::load {

namespace {

SlaSearchSettings search_settings(const LoadConfig &config) {
  SlaSearchSettings s;
  s.p99_bound_us = *config.search_p99_us;
  s.upper_rate = config.rate;
  s.sweep_doublings = config.search_sweep;
  s.refine_steps = config.search_steps;
  return s;
}

}  // namespace

SlaPoint sla_point_of(const RunSummary &s) {
  return SlaPoint{s.target_rate, s.achieved_rate, s.p50, s.p99_due, s.counters.errors() == 0};
}

RunPlanner::RunPlanner(const LoadConfig &config) {
  if (config.search_p99_us) {
    search_.emplace(search_settings(config));
  } else if (!config.scan_rates.empty()) {
    for (double r : config.scan_rates) fixed_.push_back({r, "scan"});
  } else if (!config.step_rates.empty()) {
    for (double r : config.step_rates)
      for (uint32_t i = 0; i < config.runs_per_step; ++i) fixed_.push_back({r, "step"});
  } else {
    fixed_.push_back({config.rate, "run"});
  }
}

bool RunPlanner::passes(const RunSummary &s) const {
  return search_ && search_->meets(sla_point_of(s));
}

std::optional<SlaVerdict> RunPlanner::verdict() const {
  if (!search_) return std::nullopt;
  return search_->verdict();
}

std::optional<PlannedRun> RunPlanner::next() {
  if (search_) {
    if (auto step = search_->next()) return PlannedRun{step->rate, step->phase};
    return std::nullopt;
  }
  if (recorded_ < fixed_.size()) return fixed_[recorded_];
  return std::nullopt;
}

void RunPlanner::record(const RunSummary &s) {
  ++recorded_;
  if (search_) search_->record(sla_point_of(s));
}

}  // namespace ix::load
