// Congestion window for one connection: slow start, congestion avoidance and
// the reactions to loss, with NewReno (RFC 5681, RFC 6582) or CUBIC (RFC 9438)
// growth. One plain object per connection, chosen by an enum rather than a
// virtual interface so that the per-ACK path has no indirect call and the
// connection needs no allocation. Loss detection (dupacks, SACK, RTO) stays
// with the caller; this class only decides how big the window is.
//
// All sizes are bytes. "flight_size" is what the caller had outstanding
// (SND.MAX - SND.UNA) *before* the ACK or event being reported.
#pragma once

#include <cstdint>

namespace ix::net::tcp {

enum class CcAlgorithm : uint8_t { kNewReno, kCubic };

const char *cc_algorithm_name(CcAlgorithm alg);

// CUBIC constants and curve (RFC 9438 4.1-4.2), in segments and seconds.
namespace cubic {
inline constexpr double kC = 0.4;
inline constexpr double kBeta = 0.7;
// Reno-friendly additive increase while W_est < cwnd_prior (RFC 9438 4.3).
inline constexpr double kAlpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);
// Time for the curve to climb from cwnd_epoch back to w_max.
double k_seconds(double w_max_segments, double cwnd_epoch_segments);
// W_cubic(t) = C (t - K)^3 + W_max.
double w_cubic(double t_seconds, double k_seconds, double w_max_segments);
}  // namespace cubic

class CongestionControl {
 public:
  // Largest window kept: the most a 2^14 window scale can advertise.
  static constexpr uint32_t kMaxCwnd = 1u << 30;

  // IW = min(10 MSS, max(2 MSS, 14600)) (RFC 6928); ssthresh starts "infinite".
  void init(CcAlgorithm alg, uint32_t mss, uint64_t now_ns);

  // New data cumulatively acknowledged outside loss recovery. Slow start adds
  // min(bytes_acked, 2 MSS) (RFC 3465 with L = 2); congestion avoidance adds
  // one MSS per cwnd of acknowledged bytes (NewReno) or follows the CUBIC
  // curve (rtt_ns: the current smoothed RTT, 0 if none yet). The window does
  // not grow while the sender is application limited (flight_size < cwnd / 2,
  // RFC 7661 / RFC 9438 4.9 spirit).
  void on_ack(uint32_t bytes_acked, uint32_t flight_size, uint64_t rtt_ns, uint64_t now_ns);

  // Fast retransmit starts loss recovery. ssthresh = max(flight/2, 2 MSS)
  // (NewReno) or max(flight * 0.7, 2 MSS) with W_max bookkeeping and fast
  // convergence (CUBIC). cwnd = ssthresh + dupacks * MSS: pass 3 for
  // RFC 5681/6582 NewReno recovery (window inflation), 0 (default) for
  // SACK-based recovery (RFC 6675), where pipe governs sending.
  void on_enter_recovery(uint32_t flight_size, uint64_t now_ns, unsigned dupacks = 0);
  // NewReno (non-SACK) recovery only: each further duplicate ACK inflates cwnd
  // by one MSS (RFC 5681 3.2 step 4).
  void on_recovery_dupack();
  // RFC 6582 3.2 step 5: a partial ACK deflates cwnd by the newly acknowledged
  // bytes and adds back one MSS if at least one MSS was acknowledged.
  void on_partial_ack(uint32_t bytes_acked);
  // Recovery ended (full ACK): cwnd = ssthresh.
  void on_exit_recovery(uint64_t now_ns);

  // Retransmission timeout: ssthresh from the flight as on loss, cwnd = 1 MSS
  // (the loss window, RFC 5681 3.1), back to slow start. repeated: the same
  // segment timed out again, so ssthresh stays as it is (RFC 5681 eq. 4 note).
  void on_rto(uint32_t flight_size, uint64_t now_ns, bool repeated = false);

  // A reduction turned out to be spurious (D-SACK, timestamps, F-RTO): the
  // window and threshold go back to at least what they were before it, and
  // CUBIC starts a new epoch from there (its W_max as before the loss).
  void undo(uint32_t prior_cwnd, uint32_t prior_ssthresh);

  // Sending resumes after an idle period longer than the RTO: cwnd is cut to
  // the restart window min(IW, cwnd) (RFC 5681 4.1); CUBIC starts a new epoch.
  void on_idle_restart(uint64_t now_ns);

  // The segment size changed (e.g. path MTU): the window keeps its size in segments.
  void set_mss(uint32_t mss);

  uint32_t cwnd() const { return cwnd_; }
  uint32_t ssthresh() const { return ssthresh_; }
  uint32_t mss() const { return mss_; }
  CcAlgorithm algorithm() const { return alg_; }
  const char *name() const { return cc_algorithm_name(alg_); }
  bool in_slow_start() const { return cwnd_ < ssthresh_; }
  uint32_t initial_window() const;

  // CUBIC state, for tests and statistics (segments / seconds; 0 when unset).
  double cubic_w_max() const { return w_max_; }
  double cubic_k() const { return k_; }
  double cubic_w_est() const { return w_est_; }
  bool cubic_epoch_started() const { return epoch_started_; }

 private:
  void grow_slow_start(uint32_t &bytes_acked);
  void grow_newreno(uint32_t bytes_acked);
  void grow_cubic(uint32_t bytes_acked, uint64_t rtt_ns, uint64_t now_ns);
  void start_cubic_epoch(uint64_t now_ns);
  // Sets ssthresh (and CUBIC's W_max) for a loss seen with this much in flight.
  void reduce_on_loss(uint32_t flight_size);
  void add_cwnd(uint64_t bytes);

  CcAlgorithm alg_ = CcAlgorithm::kNewReno;
  uint32_t mss_ = 536;
  uint32_t cwnd_ = 0;
  uint32_t ssthresh_ = kMaxCwnd;
  // Acknowledged bytes not yet turned into window growth (congestion avoidance).
  uint64_t ca_bytes_acked_ = 0;

  // CUBIC (RFC 9438), windows in segments.
  bool epoch_started_ = false;
  uint64_t epoch_start_ns_ = 0;
  double w_max_ = 0;       // window before the last reduction (after fast convergence)
  double cwnd_prior_ = 0;  // cwnd at the last reduction, for alpha_cubic switching
  double k_ = 0;
  double w_est_ = 0;          // Reno-friendly estimate
  uint64_t cubic_carry_ = 0;  // remainder of (target - cwnd) * acked / cwnd in bytes
};

}  // namespace ix::net::tcp
