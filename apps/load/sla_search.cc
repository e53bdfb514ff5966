#include "load/sla_search.hh"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace ix::load {

namespace {

// A run must deliver this share of its offered rate to count: a good p99
// over a fraction of the requests says nothing about the rate.
constexpr double kMinDelivered = 0.9;
// Refining stops once the bracket is this narrow; closer rates are the same
// rate within one run's noise.
constexpr double kNarrowestBracket = 1.01;

std::string rate_text(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", r);
  return buf;
}

}  // namespace

const char *sla_limit_name(SlaLimit limit) {
  switch (limit) {
    case SlaLimit::kNone:
      return "none";
    case SlaLimit::kKnee:
      return "knee";
    case SlaLimit::kCapacity:
      return "capacity";
  }
  return "none";
}

SlaSearch::SlaSearch(const SlaSearchSettings &settings) : settings_(settings) {
  if (settings_.upper_rate > 0) {
    upper_ = settings_.upper_rate;
    stage_ = Stage::kSweep;
    rate_ = std::max(1.0, std::ldexp(upper_, -static_cast<int>(settings_.sweep_doublings)));
  } else {
    stage_ = Stage::kCapacity;
  }
}

bool SlaSearch::meets(const SlaPoint &p) const {
  return p.target_rate > 0 && p.clean && p.p99_us <= settings_.p99_bound_us &&
         p.achieved_rate >= kMinDelivered * p.target_rate;
}

std::optional<SlaStep> SlaSearch::next() const {
  switch (stage_) {
    case Stage::kCapacity:
      return SlaStep{0, "search-max"};
    case Stage::kSweep:
      return SlaStep{rate_, retrying_ ? "search-retry" : "search-sweep"};
    case Stage::kRefine:
      return SlaStep{rate_, retrying_ ? "search-retry" : "search-refine"};
    case Stage::kDone:
      return std::nullopt;
  }
  return std::nullopt;
}

void SlaSearch::record(const SlaPoint &point) {
  points_.push_back(point);
  if (stage_ == Stage::kDone) return;
  if (stage_ == Stage::kCapacity) {
    upper_ = point.achieved_rate;
    if (upper_ < 1) {  // nothing came back: nothing to search
      stage_ = Stage::kDone;
      return;
    }
    stage_ = Stage::kSweep;
    rate_ = std::max(1.0, std::ldexp(upper_, -static_cast<int>(settings_.sweep_doublings)));
    return;
  }
  if (meets(point)) {
    retrying_ = false;
    on_met(rate_);
  } else if (!retrying_) {
    retrying_ = true;  // measure the same rate once more before believing it
  } else {
    retrying_ = false;
    on_failed_twice(rate_);
  }
}

void SlaSearch::on_met(double rate) {
  met_ = std::max(met_.value_or(0), rate);
  if (stage_ == Stage::kSweep) {
    if (rate >= upper_) {
      stage_ = Stage::kDone;  // met at the upper end: capacity, not the SLA, bounds it
    } else {
      rate_ = std::min(upper_, rate * 2);
    }
    return;
  }
  if (--refine_left_ == 0 || *failed_ / *met_ < kNarrowestBracket) {
    stage_ = Stage::kDone;
  } else {
    rate_ = refine_rate();
  }
}

void SlaSearch::on_failed_twice(double rate) {
  failed_ = std::min(failed_.value_or(rate), rate);
  if (stage_ == Stage::kSweep) {
    if (met_)
      start_refining();
    else
      stage_ = Stage::kDone;  // even the lowest rate of the sweep failed
    return;
  }
  if (--refine_left_ == 0 || *failed_ / *met_ < kNarrowestBracket) {
    stage_ = Stage::kDone;
  } else {
    rate_ = refine_rate();
  }
}

void SlaSearch::start_refining() {
  refine_left_ = settings_.refine_steps;
  if (refine_left_ == 0 || *failed_ / *met_ < kNarrowestBracket) {
    stage_ = Stage::kDone;
    return;
  }
  stage_ = Stage::kRefine;
  rate_ = refine_rate();
}

// Geometric midpoint: latency knees are found on a ratio scale, and the
// bracket's ratio halves in log space with every step.
double SlaSearch::refine_rate() const { return std::sqrt(*met_ * *failed_); }

SlaVerdict SlaSearch::verdict() const {
  SlaVerdict v;
  for (size_t i = 0; i < points_.size(); ++i)
    if (meets(points_[i]) && (!v.best || points_[i].achieved_rate > points_[*v.best].achieved_rate))
      v.best = i;
  if (!v.best) return v;
  const double best_offered = points_[*v.best].target_rate;
  std::set<double> meeting;
  for (const SlaPoint &p : points_)
    if (meets(p) && p.target_rate <= best_offered) meeting.insert(p.target_rate);
  v.meeting_rates = static_cast<uint32_t>(meeting.size());
  if (failed_ && *failed_ > best_offered) {
    v.limit = SlaLimit::kKnee;
    v.first_failing_rate = *failed_;
    v.knee_ratio = *failed_ / best_offered;
  } else {
    v.limit = SlaLimit::kCapacity;
  }
  if (v.limit == SlaLimit::kKnee && v.knee_ratio > settings_.max_knee_ratio) {
    v.coarse = true;
    v.coarse_why = "the knee lies between " + rate_text(best_offered) + " and " +
                   rate_text(v.first_failing_rate) + " requests/s offered";
  } else if (v.meeting_rates < settings_.min_meeting_rates) {
    v.coarse = true;
    v.coarse_why = "only " + std::to_string(v.meeting_rates) + " offered rate" +
                   (v.meeting_rates == 1 ? "" : "s") + " met the bound at or below it";
  }
  return v;
}

}  // namespace ix::load
