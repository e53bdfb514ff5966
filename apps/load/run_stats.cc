#include "load/run_stats.hh"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ix::load {

void RunCounters::merge(const RunCounters &o) {
  issued += o.issued;
  skipped += o.skipped;
  completed += o.completed;
  gets += o.gets;
  hits += o.hits;
  misses += o.misses;
  sets += o.sets;
  stored += o.stored;
  error_replies += o.error_replies;
  corrupt_values += o.corrupt_values;
  protocol_errors += o.protocol_errors;
  conn_failures += o.conn_failures;
  unanswered += o.unanswered;
  max_lag_ns = std::max(max_lag_ns, o.max_lag_ns);
}

double due_quantile_us(const LatencyHistogram &h, const RunCounters &c, double q) {
  const uint64_t due = c.issued + c.skipped;
  if (due == 0) return 0;
  const auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(due)));
  if (rank > h.count()) return std::numeric_limits<double>::infinity();
  // The rank-th smallest answered latency; half a sample below the rank so
  // that percentile()'s own ceil lands on it despite rounding.
  const double q_answered = (static_cast<double>(rank) - 0.5) / static_cast<double>(h.count());
  return static_cast<double>(h.percentile(q_answered)) / 1000.0;
}

RunSummary summarize(int index, const std::string &phase, double target_rate,
                     const ThreadResult &merged) {
  RunSummary s;
  s.index = index;
  s.phase = phase;
  s.target_rate = target_rate;
  s.seconds = merged.seconds;
  s.counters = merged.counters;
  s.per_server = merged.per_server;
  const RunCounters &c = merged.counters;
  if (s.seconds > 0) {
    s.offered_rate = static_cast<double>(c.issued + c.skipped) / s.seconds;
    s.sent_rate = static_cast<double>(c.issued) / s.seconds;
    s.achieved_rate = static_cast<double>(c.completed) / s.seconds;
  }
  const LatencyHistogram &h = merged.latency;
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  s.p50 = us(h.percentile(0.50));
  s.p90 = us(h.percentile(0.90));
  s.p95 = us(h.percentile(0.95));
  s.p99 = us(h.percentile(0.99));
  s.p999 = us(h.percentile(0.999));
  s.mean = h.mean() / 1000.0;
  s.min = us(h.min());
  s.max = us(h.max());
  s.p99_due = due_quantile_us(h, c, 0.99);
  s.latency_overflow = h.overflow();
  return s;
}

}  // namespace ix::load
