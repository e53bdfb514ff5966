// The open-loop schedule: when each request is due, independent of replies.
// Gaps follow an exponential distribution (a Poisson process), a fixed gap,
// or the ETC inter-arrival shape (generalized Pareto, mutilate's fb_ia)
// rescaled so its mean is 1/rate, as mutilate does when given a rate.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "load/distribution.hh"
#include "load/rng.hh"

namespace ix::load {

enum class ArrivalKind { kExponential, kFixed, kFbIa };

std::optional<ArrivalKind> parse_arrival(std::string_view name);
const char *arrival_name(ArrivalKind kind);

// The gap distribution (in ns) for a rate in requests per second (> 0).
Distribution arrival_gap_ns(ArrivalKind kind, double rate_per_second);

class OpenLoopSchedule {
 public:
  // rate_per_second > 0; the first request is due one gap after start_ns.
  OpenLoopSchedule(ArrivalKind kind, double rate_per_second, uint64_t start_ns, uint64_t seed);

  uint64_t next_due_ns() const { return due_ns_; }
  // Moves to the request after the one due at next_due_ns().
  void advance();

 private:
  Distribution gap_;
  Rng rng_;
  uint64_t start_ns_;
  double offset_ = 0;  // unrounded sum of the gaps, so rounding never drifts the rate
  uint64_t due_ns_ = 0;
};

}  // namespace ix::load
