#include "load/arrival.hh"

#include <cmath>

namespace ix::load {

std::optional<ArrivalKind> parse_arrival(std::string_view name) {
  if (name == "exp" || name == "exponential") return ArrivalKind::kExponential;
  if (name == "fixed") return ArrivalKind::kFixed;
  if (name == "fb_ia") return ArrivalKind::kFbIa;
  return std::nullopt;
}

const char *arrival_name(ArrivalKind kind) {
  switch (kind) {
    case ArrivalKind::kExponential:
      return "exp";
    case ArrivalKind::kFixed:
      return "fixed";
    case ArrivalKind::kFbIa:
      return "fb_ia";
  }
  return "?";
}

Distribution arrival_gap_ns(ArrivalKind kind, double rate_per_second) {
  const double mean_ns = 1e9 / rate_per_second;
  switch (kind) {
    case ArrivalKind::kExponential:
      return Distribution::exponential(mean_ns);
    case ArrivalKind::kFixed:
      return Distribution::fixed(mean_ns);
    case ArrivalKind::kFbIa: {
      // Keep fb_ia's shape; its mean loc + scale / (1 - shape) with loc 0
      // becomes mean_ns when scale = (1 - shape) * mean_ns.
      const double shape = 0.154971;
      return Distribution::gpareto(0, (1 - shape) * mean_ns, shape);
    }
  }
  return Distribution::fixed(mean_ns);
}

OpenLoopSchedule::OpenLoopSchedule(ArrivalKind kind, double rate_per_second, uint64_t start_ns,
                                   uint64_t seed)
    : gap_(arrival_gap_ns(kind, rate_per_second)), rng_(seed), start_ns_(start_ns) {
  advance();
}

void OpenLoopSchedule::advance() {
  offset_ += gap_.sample(rng_);
  due_ns_ = start_ns_ + static_cast<uint64_t>(std::llround(offset_));
}

}  // namespace ix::load
