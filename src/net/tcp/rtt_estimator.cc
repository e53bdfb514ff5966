#include "net/tcp/rtt_estimator.hh"

#include <algorithm>

namespace ix::net::tcp {

RttEstimator::RttEstimator(const RttConfig &cfg)
    : cfg_(cfg), base_rto_ns_(std::clamp(cfg.initial_rto_ns, cfg.min_rto_ns, cfg.max_rto_ns)) {}

void RttEstimator::sample(uint64_t rtt_ns) {
  if (!has_sample_) {
    srtt_ns_ = rtt_ns;
    rttvar_ns_ = rtt_ns / 2;
    has_sample_ = true;
  } else {
    // RTTVAR is updated first, with the SRTT from before this sample (RFC 6298 2.3).
    const uint64_t err = srtt_ns_ > rtt_ns ? srtt_ns_ - rtt_ns : rtt_ns - srtt_ns_;
    rttvar_ns_ = (3 * rttvar_ns_ + err) / 4;
    srtt_ns_ = (7 * srtt_ns_ + rtt_ns) / 8;
  }
  const uint64_t var_term = std::max(cfg_.clock_granularity_ns, 4 * rttvar_ns_);
  base_rto_ns_ = std::clamp(srtt_ns_ + var_term, cfg_.min_rto_ns, cfg_.max_rto_ns);
}

uint64_t RttEstimator::backed_off_rto_ns() const {
  uint64_t rto = base_rto_ns_;
  for (unsigned i = 0; i < backoffs_ && rto < cfg_.max_rto_ns; ++i) rto *= 2;
  return std::clamp(rto, cfg_.min_rto_ns, cfg_.max_rto_ns);
}

void RttEstimator::backoff() {
  // Counted even once the timeout is at its maximum: callers give up after N expiries.
  if (backoffs_ < 0xffff) ++backoffs_;
}

}  // namespace ix::net::tcp
