#include "control/elastic_policy.hh"

#include <algorithm>
#include <cstdio>

namespace ix::control {

namespace {
std::string fmt(double v) {
  char b[16];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}
}  // namespace

ElasticPolicy::Decision ElasticPolicy::observe(const std::vector<ThreadLoad> &loads) {
  const unsigned n = static_cast<unsigned>(loads.size());
  Decision d{n, ""};
  if (n == 0) return d;
  double total = 0, max_busy = 0, max_full = 0;
  for (const ThreadLoad &l : loads) {
    total += l.busy;
    max_busy = std::max(max_busy, l.busy);
    max_full = std::max(max_full, l.full_batches);
  }
  const bool overloaded = max_busy >= cfg_.grow_busy || max_full >= cfg_.grow_full_batches;
  const bool fits_fewer = n > 1 && total <= cfg_.shrink_target * (n - 1);
  over_ = overloaded ? over_ + 1 : 0;
  under_ = !overloaded && fits_fewer ? under_ + 1 : 0;
  if (quiet_ > 0) {
    --quiet_;
    return d;
  }
  if (over_ >= cfg_.grow_after && n < cfg_.max_threads) {
    d.threads = n + 1;
    d.why = "busiest thread " + fmt(max_busy) + " busy (grow at " + fmt(cfg_.grow_busy) +
            "), full batches " + fmt(max_full) + " (grow at " + fmt(cfg_.grow_full_batches) +
            ") for " + std::to_string(over_) + " windows";
  } else if (under_ >= cfg_.shrink_after && n > cfg_.min_threads) {
    d.threads = n - 1;
    d.why = "total load " + fmt(total) + " fits " + std::to_string(n - 1) +
            " threads at <= " + fmt(cfg_.shrink_target) + " each, for " + std::to_string(under_) +
            " windows";
  } else {
    return d;
  }
  over_ = under_ = 0;
  quiet_ = cfg_.cooldown;
  return d;
}

}  // namespace ix::control
