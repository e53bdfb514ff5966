// Retransmission timer value per RFC 6298: smoothed RTT and its variation
// from RTT samples, RTO = SRTT + max(G, 4 * RTTVAR), clamped, doubled on
// each expiry. Which samples are valid (Karn's algorithm: none from
// retransmitted segments unless timestamps disambiguate) is the caller's job.
#pragma once

#include <algorithm>
#include <cstdint>

namespace ix::net::tcp {

struct RttConfig {
  uint64_t initial_rto_ns = 1'000'000'000;  // RFC 6298 2.1: 1 s before any sample
  uint64_t min_rto_ns = 200'000'000;     // RFC 6298 says 1 s; 200 ms is what datacenter stacks use
  uint64_t max_rto_ns = 60'000'000'000;  // RFC 6298 2.5: at least 60 s allowed
  uint64_t clock_granularity_ns = 1'000'000;  // G
};

class RttEstimator {
 public:
  // Not explicit, so that a struct holding an estimator can be value-initialised with {}.
  RttEstimator() : RttEstimator(RttConfig{}) {}
  explicit RttEstimator(const RttConfig &cfg);

  // A new RTT measurement R. First: SRTT = R, RTTVAR = R/2; then
  // RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, SRTT = 7/8 SRTT + 1/8 R.
  void sample(uint64_t rtt_ns);

  // Current timeout including exponential backoff, within [min, max].
  uint64_t rto_ns() const {
    return backoffs_ == 0 ? std::clamp(base_rto_ns_, cfg_.min_rto_ns, cfg_.max_rto_ns)
                          : backed_off_rto_ns();
  }
  // The retransmission timer expired: the next timeout is twice as long.
  void backoff();
  // New data was acknowledged: the backoff no longer applies (RFC 6298 5.7 note).
  void reset_backoff() { backoffs_ = 0; }

  bool has_sample() const { return has_sample_; }
  uint64_t srtt_ns() const { return srtt_ns_; }
  uint64_t rttvar_ns() const { return rttvar_ns_; }
  unsigned backoffs() const { return backoffs_; }
  // RTO without backoff (what the samples alone say), within [min, max].
  uint64_t base_rto_ns() const { return base_rto_ns_; }
  const RttConfig &config() const { return cfg_; }

 private:
  uint64_t backed_off_rto_ns() const;

  RttConfig cfg_;
  uint64_t srtt_ns_ = 0;
  uint64_t rttvar_ns_ = 0;
  uint64_t base_rto_ns_;
  unsigned backoffs_ = 0;
  bool has_sample_ = false;
};

}  // namespace ix::net::tcp
