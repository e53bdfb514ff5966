// Congestion control: initial window (RFC 6928), NewReno slow start and
// congestion avoidance with byte counting (RFC 5681, RFC 3465 L = 2), fast
// recovery with window inflation and partial ACKs (RFC 6582), RTO, idle
// restart; CUBIC (RFC 9438) reduction, W_max and fast convergence, K, the
// cubic curve, the 1.5 cwnd cap and the Reno-friendly region, checked
// against the RFC formulas evaluated here.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "net/tcp/congestion_control.hh"

namespace ix::net::tcp {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;

TEST(TcpCongestionControlTest, InitialWindowPerRfc6928) {
  CongestionControl cc;
  cc.init(CcAlgorithm::kNewReno, 1460, 0);
  EXPECT_EQ(cc.cwnd(), 14600u);
  EXPECT_TRUE(cc.in_slow_start());
  cc.init(CcAlgorithm::kNewReno, 536, 0);
  EXPECT_EQ(cc.cwnd(), 5360u);  // 10 MSS below 14600
  cc.init(CcAlgorithm::kCubic, 9000, 0);
  EXPECT_EQ(cc.cwnd(), 18000u);  // 2 MSS above 14600
  EXPECT_STREQ(cc.name(), "cubic");
  EXPECT_EQ(cc.algorithm(), CcAlgorithm::kCubic);
  cc.init(CcAlgorithm::kNewReno, 0, 0);  // nonsense MSS does not divide by zero later
  cc.on_ack(100, cc.cwnd(), 0, 0);
  EXPECT_GT(cc.cwnd(), 0u);
  EXPECT_STREQ(cc.name(), "newreno");
}

TEST(TcpCongestionControlTest, NewRenoSlowStartCountsBytesUpToTwoMss) {
  CongestionControl cc;
  cc.init(CcAlgorithm::kNewReno, 1000, 0);
  ASSERT_EQ(cc.cwnd(), 10000u);
  cc.on_ack(1000, cc.cwnd(), 0, 0);
  EXPECT_EQ(cc.cwnd(), 11000u);
  cc.on_ack(2000, cc.cwnd(), 0, 0);  // a delayed ACK for two segments
  EXPECT_EQ(cc.cwnd(), 13000u);
  cc.on_ack(8000, cc.cwnd(), 0, 0);  // a stretch ACK grows by at most L = 2 MSS
  EXPECT_EQ(cc.cwnd(), 15000u);
  cc.on_ack(0, cc.cwnd(), 0, 0);
  EXPECT_EQ(cc.cwnd(), 15000u);
}

TEST(TcpCongestionControlTest, NoGrowthWhileApplicationLimited) {
  CongestionControl cc;
  cc.init(CcAlgorithm::kNewReno, 1000, 0);
  cc.on_ack(1000, 1000, 0, 0);  // one segment in flight of a ten segment window
  EXPECT_EQ(cc.cwnd(), 10000u);
  cc.on_ack(1000, 5000, 0, 0);  // half the window in flight counts as using it
  EXPECT_EQ(cc.cwnd(), 11000u);
}

TEST(TcpCongestionControlTest, NewRenoCongestionAvoidanceAddsOneMssPerWindow) {
  CongestionControl cc;
  cc.init(CcAlgorithm::kNewReno, 1000, 0);
  cc.on_enter_recovery(20000, 0);  // ssthresh = 10000
  cc.on_exit_recovery(0);
  ASSERT_EQ(cc.ssthresh(), 10000u);
  ASSERT_EQ(cc.cwnd(), 10000u);
  EXPECT_FALSE(cc.in_slow_start());
  for (int i = 0; i < 9; ++i) {
    cc.on_ack(1000, cc.cwnd(), 0, 0);
    EXPECT_EQ(cc.cwnd(), 10000u) << i;
  }
  cc.on_ack(1000, cc.cwnd(), 0, 0);  // 10000 bytes acknowledged = one cwnd
  EXPECT_EQ(cc.cwnd(), 11000u);
  // The next increment needs a full 11000 bytes.
  for (int i = 0; i < 10; ++i) cc.on_ack(1000, cc.cwnd(), 0, 0);
  EXPECT_EQ(cc.cwnd(), 11000u);
  cc.on_ack(1000, cc.cwnd(), 0, 0);
  EXPECT_EQ(cc.cwnd(), 12000u);
}

TEST(TcpCongestionControlTest, SlowStartStopsAtSsthreshAndCarriesTheRest) {
  CongestionControl cc;
  cc.init(CcAlgorithm::kNewReno, 1000, 0);
  cc.on_rto(13000, 0);  // ssthresh 6500, cwnd 1000
  ASSERT_EQ(cc.ssthresh(), 6500u);
  ASSERT_EQ(cc.cwnd(), 1000u);
  cc.on_ack(2000, cc.cwnd(), 0, 0);
  cc.on_ack(2000, cc.cwnd(), 0, 0);
  EXPECT_EQ(cc.cwnd(), 5000u);
  cc.on_ack(2000, cc.cwnd(), 0, 0);  // 1500 fills slow start, 500 goes to avoidance
  EXPECT_EQ(cc.cwnd(), 6500u);
  EXPECT_FALSE(cc.in_slow_start());
  for (int i = 0; i < 5; ++i) cc.on_ack(1000, cc.cwnd(), 0, 0);  // 5500 + 500 carried < 6500
  EXPECT_EQ(cc.cwnd(), 6500u);
  cc.on_ack(1000, cc.cwnd(), 0, 0);
  EXPECT_EQ(cc.cwnd(), 7500u);
}

TEST(TcpCongestionControlTest, NewRenoFastRecoveryInflatesAndDeflates) {
  CongestionControl cc;
  cc.init(CcAlgorithm::kNewReno, 1000, 0);
  cc.on_enter_recovery(16000, 0, 3);
  EXPECT_EQ(cc.ssthresh(), 8000u);
  EXPECT_EQ(cc.cwnd(), 11000u);  // ssthresh + 3 MSS
  cc.on_recovery_dupack();
  EXPECT_EQ(cc.cwnd(), 12000u);
  cc.on_partial_ack(3000);  // deflate by 3000, add back one MSS
  EXPECT_EQ(cc.cwnd(), 10000u);
  cc.on_partial_ack(500);  // less than an MSS: nothing added back
  EXPECT_EQ(cc.cwnd(), 9500u);
  cc.on_partial_ack(1'000'000);  // never below one MSS
  EXPECT_EQ(cc.cwnd(), 1000u);
  cc.on_exit_recovery(0);
  EXPECT_EQ(cc.cwnd(), 8000u);
}

TEST(TcpCongestionControlTest, SackRecoveryStartsAtSsthresh) {
  CongestionControl cc;
  cc.init(CcAlgorithm::kNewReno, 1000, 0);
  cc.on_enter_recovery(16000, 0);
  EXPECT_EQ(cc.cwnd(), 8000u);
  EXPECT_EQ(cc.ssthresh(), 8000u);
}

TEST(TcpCongestionControlTest, SsthreshNeverBelowTwoMss) {
  CongestionControl cc;
  cc.init(CcAlgorithm::kNewReno, 1000, 0);
  cc.on_enter_recovery(1500, 0);
  EXPECT_EQ(cc.ssthresh(), 2000u);
  cc.init(CcAlgorithm::kCubic, 1000, 0);
  cc.on_enter_recovery(1500, 0);
  EXPECT_EQ(cc.ssthresh(), 2000u);
}

TEST(TcpCongestionControlTest, RtoCollapsesToLossWindow) {
  CongestionControl cc;
  cc.init(CcAlgorithm::kNewReno, 1000, 0);
  cc.on_rto(10000, 0);
  EXPECT_EQ(cc.cwnd(), 1000u);
  EXPECT_EQ(cc.ssthresh(), 5000u);
  EXPECT_TRUE(cc.in_slow_start());
  // The same segment timing out again keeps ssthresh (the flight is now one segment).
  cc.on_rto(1000, 0, /*repeated=*/true);
  EXPECT_EQ(cc.ssthresh(), 5000u);
  EXPECT_EQ(cc.cwnd(), 1000u);
}

TEST(TcpCongestionControlTest, IdleRestartCutsToInitialWindow) {
  CongestionControl cc;
  cc.init(CcAlgorithm::kNewReno, 1000, 0);
  for (int i = 0; i < 20; ++i) cc.on_ack(2000, cc.cwnd(), 0, 0);
  ASSERT_EQ(cc.cwnd(), 50000u);
  cc.on_idle_restart(0);
  EXPECT_EQ(cc.cwnd(), 10000u);
  cc.on_rto(4000, 0);
  cc.on_idle_restart(0);  // a window smaller than IW stays
  EXPECT_EQ(cc.cwnd(), 1000u);
}

TEST(TcpCongestionControlTest, SetMssKeepsWindowInSegments) {
  CongestionControl cc;
  cc.init(CcAlgorithm::kNewReno, 1000, 0);
  cc.on_enter_recovery(20000, 0);
  cc.set_mss(500);
  EXPECT_EQ(cc.mss(), 500u);
  EXPECT_EQ(cc.cwnd(), 5000u);
  EXPECT_EQ(cc.ssthresh(), 5000u);
}

// ---- CUBIC ----

// A CUBIC connection whose window grew to w_max segments of 1000 bytes in
// slow start and then saw a loss with a full window in flight.
CongestionControl cubic_after_loss(uint32_t w_max_segments) {
  CongestionControl cc;
  cc.init(CcAlgorithm::kCubic, 1000, 0);
  while (cc.cwnd() < w_max_segments * 1000) cc.on_ack(1000, cc.cwnd(), 0, 0);
  EXPECT_EQ(cc.cwnd(), w_max_segments * 1000);
  cc.on_enter_recovery(cc.cwnd(), 0);
  return cc;
}

TEST(TcpCubicTest, ConstantsMatchRfc9438) {
  EXPECT_DOUBLE_EQ(cubic::kC, 0.4);
  EXPECT_DOUBLE_EQ(cubic::kBeta, 0.7);
  EXPECT_NEAR(cubic::kAlpha, 3 * 0.3 / 1.7, 1e-12);
  EXPECT_NEAR(cubic::k_seconds(100, 70), std::cbrt(100 * (1 - 0.7) / 0.4), 1e-12);
  EXPECT_DOUBLE_EQ(cubic::k_seconds(50, 60), 0.0);
  const double k = cubic::k_seconds(100, 70);
  EXPECT_NEAR(cubic::w_cubic(0, k, 100), 70, 1e-9);
  EXPECT_NEAR(cubic::w_cubic(k, k, 100), 100, 1e-12);
  EXPECT_NEAR(cubic::w_cubic(k + 2, k, 100), 100 + 0.4 * 8, 1e-9);
}

TEST(TcpCubicTest, LossReducesByBetaAndRemembersWmax) {
  CongestionControl cc = cubic_after_loss(100);
  EXPECT_EQ(cc.ssthresh(), 70000u);
  EXPECT_EQ(cc.cwnd(), 70000u);
  EXPECT_DOUBLE_EQ(cc.cubic_w_max(), 100.0);
}

TEST(TcpCubicTest, FastConvergenceLowersWmaxWhenLossComesEarly) {
  CongestionControl cc = cubic_after_loss(100);
  cc.on_exit_recovery(0);
  // A second loss at 80 segments, below the last maximum of 100.
  uint64_t now = 0;
  while (cc.cwnd() < 80000) {
    now += kMs;
    cc.on_ack(1000, cc.cwnd(), 1 * kMs, now);
  }
  const double cwnd_seg = cc.cwnd() / 1000.0;
  cc.on_enter_recovery(cc.cwnd(), now);
  EXPECT_NEAR(cc.cubic_w_max(), cwnd_seg * (1 + 0.7) / 2, 1e-9);
  EXPECT_EQ(cc.ssthresh(), static_cast<uint32_t>(cwnd_seg * 1000 * 0.7));
}

TEST(TcpCubicTest, EpochStartsAtFirstAckWithKFromRfc) {
  CongestionControl cc = cubic_after_loss(100);
  cc.on_exit_recovery(0);
  EXPECT_FALSE(cc.cubic_epoch_started());
  cc.on_ack(1000, cc.cwnd(), 100 * kMs, 10 * kSec);
  EXPECT_TRUE(cc.cubic_epoch_started());
  EXPECT_NEAR(cc.cubic_k(), std::cbrt(100 * (1 - 0.7) / 0.4), 1e-9);
  // At t = 0, W_cubic = 70 while W_est already took one Reno step: the
  // Reno-friendly estimate sets the window (RFC 9438 4.3).
  const double w_est = 70 + cubic::kAlpha * 1.0 / 70;
  EXPECT_NEAR(cc.cubic_w_est(), w_est, 1e-9);
  EXPECT_EQ(cc.cwnd(), static_cast<uint32_t>(w_est * 1000));
}

TEST(TcpCubicTest, AckFollowsCurveOneRttAhead) {
  CongestionControl cc = cubic_after_loss(100);
  cc.on_exit_recovery(0);
  const uint64_t t0 = 5 * kSec;
  cc.on_ack(1000, cc.cwnd(), 100 * kMs, t0);  // starts the epoch
  const double k = cc.cubic_k();
  // Half way to K: concave region, W_cubic well above W_est.
  const uint64_t now = t0 + static_cast<uint64_t>(k / 2 * 1e9);
  const uint32_t cwnd = cc.cwnd();
  const double t = (now - t0) / 1e9;
  const double target = cubic::w_cubic(t + 0.1, k, 100);
  ASSERT_GT(cubic::w_cubic(t, k, 100), cc.cubic_w_est());
  ASSERT_LT(target, 1.5 * cwnd / 1000.0);
  // cwnd += (target - cwnd) / cwnd segments for one segment acknowledged.
  const uint64_t expected_inc =
      (static_cast<uint64_t>(target * 1000) - cwnd) * 1000 / static_cast<uint64_t>(cwnd);
  cc.on_ack(1000, cwnd, 100 * kMs, now);
  EXPECT_EQ(cc.cwnd(), cwnd + expected_inc);
}

TEST(TcpCubicTest, TargetCappedAtOneAndAHalfWindows) {
  CongestionControl cc = cubic_after_loss(100);
  cc.on_exit_recovery(0);
  cc.on_ack(1000, cc.cwnd(), 100 * kMs, 0);
  const uint32_t cwnd = cc.cwnd();
  // Ten seconds past K the curve is at 500 segments, far above 1.5 cwnd:
  // each segment acknowledged adds (1.5 cwnd - cwnd) / cwnd = half a segment.
  const uint64_t now = static_cast<uint64_t>((cc.cubic_k() + 10) * 1e9);
  cc.on_ack(1000, cwnd, 100 * kMs, now);
  EXPECT_NEAR(cc.cwnd(), cwnd + 500, 1);
}

TEST(TcpCubicTest, WindowTracksCurveThroughPlateau) {
  CongestionControl cc = cubic_after_loss(100);
  cc.on_exit_recovery(0);
  const uint64_t rtt = 100 * kMs;
  uint64_t now = 0;
  const uint64_t t0 = now;
  double k = 0;
  // One round trip at a time: a window's worth of one-segment ACKs.
  for (int round = 0; round < 80; ++round) {
    const uint32_t segs = cc.cwnd() / 1000;
    for (uint32_t i = 0; i < segs; ++i) cc.on_ack(1000, cc.cwnd(), rtt, now);
    if (round == 0) k = cc.cubic_k();
    now += rtt;
    const double t = (now - t0) / 1e9;
    const double w = cc.cwnd() / 1000.0;
    // Never above the curve one RTT ahead (or W_est), and close behind it.
    const double upper = std::max(cubic::w_cubic(t, k, 100), cc.cubic_w_est()) + 1;
    const double lower = std::max(cubic::w_cubic(t - 0.1, k, 100), cc.cubic_w_est()) * 0.97;
    EXPECT_LE(w, upper) << "t=" << t;
    EXPECT_GE(w, lower) << "t=" << t;
  }
  // Eight seconds in, past K (about 4.2 s), the window grew beyond the old maximum.
  EXPECT_GT(cc.cwnd(), 100'000u);
}

TEST(TcpCubicTest, RenoFriendlyRegionAtShortRtt) {
  CongestionControl cc = cubic_after_loss(100);
  cc.on_exit_recovery(0);
  // With a 1 ms RTT, Reno's per-RTT growth outruns the cubic curve: the
  // window follows W_est, growing alpha_cubic (~0.53) segments per RTT until
  // W_est reaches the window before the loss, then one segment per RTT.
  const uint64_t rtt = 1 * kMs;
  uint64_t now = 0;
  double last = cc.cwnd() / 1000.0;
  int slow_rounds = 0, fast_rounds = 0;
  for (int round = 0; round < 120; ++round) {
    const bool below_prior = cc.cubic_w_est() < 100;
    const uint32_t segs = cc.cwnd() / 1000;
    for (uint32_t i = 0; i < segs; ++i) cc.on_ack(1000, cc.cwnd(), rtt, now);
    now += rtt;
    const double w = cc.cwnd() / 1000.0;
    EXPECT_NEAR(w, cc.cubic_w_est(), 0.01);
    EXPECT_GT(w, cubic::w_cubic(now / 1e9, cc.cubic_k(), 100));
    const double growth = w - last;
    last = w;
    if (round == 0) continue;
    if (below_prior && cc.cubic_w_est() < 100) {
      EXPECT_NEAR(growth, cubic::kAlpha, 0.03) << round;
      ++slow_rounds;
    } else if (!below_prior) {
      EXPECT_NEAR(growth, 1.0, 0.03) << round;
      ++fast_rounds;
    }
  }
  EXPECT_GT(slow_rounds, 40);
  EXPECT_GT(fast_rounds, 40);
}

TEST(TcpCubicTest, RtoUsesBetaAndLossWindow) {
  CongestionControl cc;
  cc.init(CcAlgorithm::kCubic, 1000, 0);
  cc.on_rto(10000, 0);
  EXPECT_EQ(cc.ssthresh(), 7000u);
  EXPECT_EQ(cc.cwnd(), 1000u);
  EXPECT_DOUBLE_EQ(cc.cubic_w_max(), 10.0);
}

TEST(TcpCubicTest, ExceedingOldMaximumMovesPlateau) {
  // Without a loss above it, an epoch starting above W_max puts the plateau
  // at the current window (K = 0).
  CongestionControl cc = cubic_after_loss(20);  // W_max 20, ssthresh 14
  cc.on_rto(cc.cwnd(), 0, /*repeated=*/true);   // slow start from 1 MSS to 14 segments
  while (cc.in_slow_start()) cc.on_ack(1000, cc.cwnd(), 0, 0);
  // Now in avoidance below W_max: K > 0.
  cc.on_ack(1000, cc.cwnd(), 10 * kMs, 0);
  EXPECT_GT(cc.cubic_k(), 0);
  // A new congestion event at a higher window, then an epoch started above W_max.
  CongestionControl c2;
  c2.init(CcAlgorithm::kCubic, 1000, 0);
  c2.on_enter_recovery(40000, 0);  // W_max 10 (the window at the loss), ssthresh 28
  c2.on_exit_recovery(0);
  c2.on_ack(1000, c2.cwnd(), 10 * kMs, 0);
  EXPECT_DOUBLE_EQ(c2.cubic_k(), 0.0);
  EXPECT_GE(c2.cubic_w_max(), 28.0);
}

}  // namespace
}  // namespace ix::net::tcp
