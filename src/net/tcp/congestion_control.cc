#include "net/tcp/congestion_control.hh"

#include <algorithm>
#include <cmath>

namespace ix::net::tcp {

const char *cc_algorithm_name(CcAlgorithm alg) {
  switch (alg) {
    case CcAlgorithm::kNewReno:
      return "newreno";
    case CcAlgorithm::kCubic:
      return "cubic";
  }
  return "unknown";
}

namespace cubic {

double k_seconds(double w_max_segments, double cwnd_epoch_segments) {
  if (cwnd_epoch_segments >= w_max_segments) return 0.0;
  return std::cbrt((w_max_segments - cwnd_epoch_segments) / kC);
}

double w_cubic(double t_seconds, double k_seconds, double w_max_segments) {
  const double d = t_seconds - k_seconds;
  return kC * d * d * d + w_max_segments;
}

}  // namespace cubic

uint32_t CongestionControl::initial_window() const {
  const uint64_t iw = std::min<uint64_t>(10ull * mss_, std::max<uint64_t>(2ull * mss_, 14600));
  return static_cast<uint32_t>(std::min<uint64_t>(iw, kMaxCwnd));
}

void CongestionControl::init(CcAlgorithm alg, uint32_t mss, uint64_t now_ns) {
  (void)now_ns;  // CUBIC's clock starts with its first congestion avoidance ACK
  alg_ = alg;
  mss_ = std::clamp<uint32_t>(mss, 1, kMaxCwnd / 16);
  cwnd_ = initial_window();
  ssthresh_ = kMaxCwnd;
  ca_bytes_acked_ = 0;
  epoch_started_ = false;
  epoch_start_ns_ = 0;
  w_max_ = cwnd_prior_ = k_ = w_est_ = 0;
  cubic_carry_ = 0;
}

void CongestionControl::add_cwnd(uint64_t bytes) {
  cwnd_ = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{cwnd_} + bytes, kMaxCwnd));
}

void CongestionControl::on_ack(uint32_t bytes_acked, uint32_t flight_size, uint64_t rtt_ns,
                               uint64_t now_ns) {
  if (bytes_acked == 0) return;
  // An application-limited sender has not tested the window it has; growing
  // it anyway would let a later burst exceed what the path was shown to carry.
  if (uint64_t{flight_size} * 2 < cwnd_) return;
  if (in_slow_start()) {
    grow_slow_start(bytes_acked);
    if (bytes_acked == 0) return;
  }
  if (alg_ == CcAlgorithm::kCubic) {
    grow_cubic(bytes_acked, rtt_ns, now_ns);
  } else {
    grow_newreno(bytes_acked);
  }
}

void CongestionControl::grow_slow_start(uint32_t &bytes_acked) {
  const uint32_t room = ssthresh_ - cwnd_;
  const uint32_t inc = std::min(bytes_acked, 2 * mss_);
  if (inc < room) {
    add_cwnd(inc);
    bytes_acked = 0;
    return;
  }
  // Slow start ends at ssthresh; what is left of this ACK counts toward avoidance.
  add_cwnd(room);
  bytes_acked = bytes_acked > room ? bytes_acked - room : 0;
}

void CongestionControl::grow_newreno(uint32_t bytes_acked) {
  // RFC 5681 3.1 byte counting: one MSS per window's worth of acknowledged bytes.
  ca_bytes_acked_ += bytes_acked;
  if (ca_bytes_acked_ >= cwnd_) {
    ca_bytes_acked_ -= cwnd_;
    add_cwnd(mss_);
  }
}

void CongestionControl::start_cubic_epoch(uint64_t now_ns) {
  epoch_started_ = true;
  epoch_start_ns_ = now_ns;
  const double cwnd_seg = static_cast<double>(cwnd_) / mss_;
  if (w_max_ <= cwnd_seg) {
    // Above the last maximum (or none yet): the plateau is here (RFC 9438 4.2, 4.10).
    w_max_ = cwnd_seg;
    k_ = 0.0;
  } else {
    k_ = cubic::k_seconds(w_max_, cwnd_seg);
  }
  w_est_ = cwnd_seg;
  cubic_carry_ = 0;
}

void CongestionControl::grow_cubic(uint32_t bytes_acked, uint64_t rtt_ns, uint64_t now_ns) {
  if (!epoch_started_) start_cubic_epoch(now_ns);
  const double mss = mss_;
  const double cwnd_seg = cwnd_ / mss;
  const double t = static_cast<double>(now_ns - epoch_start_ns_) / 1e9;
  const double rtt = static_cast<double>(rtt_ns) / 1e9;

  // Reno-friendly estimate (RFC 9438 4.3): Reno's growth with CUBIC's beta,
  // at full Reno speed once it passed the window of the last reduction.
  const double alpha = w_est_ >= cwnd_prior_ ? 1.0 : cubic::kAlpha;
  w_est_ += alpha * (bytes_acked / mss) / cwnd_seg;

  if (cubic::w_cubic(t, k_, w_max_) < w_est_) {
    const double est_bytes = w_est_ * mss;
    if (est_bytes > cwnd_) add_cwnd(static_cast<uint64_t>(est_bytes) - cwnd_);
    return;
  }

  // Concave and convex regions (RFC 9438 4.4, 4.5): aim for where the curve
  // will be one RTT from now, at most 1.5 cwnd, and close the gap over a cwnd of ACKs.
  const double target_seg =
      std::clamp(cubic::w_cubic(t + rtt, k_, w_max_), cwnd_seg, 1.5 * cwnd_seg);
  const uint64_t target = std::min<uint64_t>(static_cast<uint64_t>(target_seg * mss), kMaxCwnd);
  if (target <= cwnd_) return;
  cubic_carry_ += (target - cwnd_) * uint64_t{bytes_acked};
  const uint64_t inc = cubic_carry_ / cwnd_;
  cubic_carry_ %= cwnd_;
  add_cwnd(inc);
}

void CongestionControl::reduce_on_loss(uint32_t flight_size) {
  const uint32_t floor = 2 * mss_;
  if (alg_ == CcAlgorithm::kCubic) {
    const double cwnd_seg = static_cast<double>(cwnd_) / mss_;
    // Fast convergence (RFC 9438 4.7): a flow losing below its previous
    // maximum releases bandwidth to newer flows by aiming lower.
    w_max_ = cwnd_seg < w_max_ ? cwnd_seg * (1.0 + cubic::kBeta) / 2.0 : cwnd_seg;
    cwnd_prior_ = cwnd_seg;
    ssthresh_ = std::max(static_cast<uint32_t>(flight_size * cubic::kBeta), floor);
    epoch_started_ = false;
  } else {
    ssthresh_ = std::max(flight_size / 2, floor);
  }
  ca_bytes_acked_ = 0;
}

void CongestionControl::on_enter_recovery(uint32_t flight_size, uint64_t now_ns, unsigned dupacks) {
  (void)now_ns;
  reduce_on_loss(flight_size);
  cwnd_ = ssthresh_;
  add_cwnd(uint64_t{dupacks} * mss_);
}

void CongestionControl::on_recovery_dupack() { add_cwnd(mss_); }

void CongestionControl::on_partial_ack(uint32_t bytes_acked) {
  cwnd_ = cwnd_ > bytes_acked ? cwnd_ - bytes_acked : 0;
  if (bytes_acked >= mss_) add_cwnd(mss_);
  cwnd_ = std::max(cwnd_, mss_);
}

void CongestionControl::on_exit_recovery(uint64_t now_ns) {
  (void)now_ns;  // the CUBIC epoch starts with the first avoidance ACK
  cwnd_ = ssthresh_;
  ca_bytes_acked_ = 0;
  epoch_started_ = false;
}

void CongestionControl::on_rto(uint32_t flight_size, uint64_t now_ns, bool repeated) {
  (void)now_ns;
  if (!repeated) reduce_on_loss(flight_size);
  cwnd_ = mss_;
  ca_bytes_acked_ = 0;
  epoch_started_ = false;
}

void CongestionControl::undo(uint32_t prior_cwnd, uint32_t prior_ssthresh) {
  cwnd_ = std::min(std::max(cwnd_, prior_cwnd), kMaxCwnd);
  if (prior_ssthresh > ssthresh_) ssthresh_ = prior_ssthresh;
  ca_bytes_acked_ = 0;
  if (alg_ == CcAlgorithm::kCubic) {
    epoch_started_ = false;
    w_max_ = std::max(w_max_, static_cast<double>(prior_cwnd) / mss_);
  }
}

void CongestionControl::on_idle_restart(uint64_t now_ns) {
  (void)now_ns;
  cwnd_ = std::min(cwnd_, initial_window());
  ca_bytes_acked_ = 0;
  epoch_started_ = false;
}

void CongestionControl::set_mss(uint32_t mss) {
  mss = std::clamp<uint32_t>(mss, 1, kMaxCwnd / 16);
  if (mss == mss_) return;
  const auto rescale = [&](uint32_t v) {
    return static_cast<uint32_t>(std::clamp<uint64_t>(uint64_t{v} / mss_ * mss, mss, kMaxCwnd));
  };
  cwnd_ = rescale(cwnd_);
  if (ssthresh_ != kMaxCwnd) ssthresh_ = std::max(rescale(ssthresh_), 2 * mss);
  mss_ = mss;
  ca_bytes_acked_ = 0;
  cubic_carry_ = 0;
}

}  // namespace ix::net::tcp
