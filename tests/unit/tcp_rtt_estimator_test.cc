// RFC 6298 retransmission timeout: first and later samples against values
// worked out by hand from the RFC's formulas, the clock granularity term,
// clamping to [min, max], and exponential backoff.
#include <gtest/gtest.h>

#include "net/tcp/rtt_estimator.hh"

namespace ix::net::tcp {
namespace {

constexpr uint64_t kMs = 1'000'000;

RttConfig rfc_config() {
  RttConfig c;
  c.min_rto_ns = 1 * kMs;  // low floor so the formula itself shows
  c.max_rto_ns = 60'000 * kMs;
  c.clock_granularity_ns = 1 * kMs;
  return c;
}

TEST(TcpRttEstimatorTest, InitialRtoBeforeAnySample) {
  RttEstimator e;
  EXPECT_FALSE(e.has_sample());
  EXPECT_EQ(e.rto_ns(), 1'000 * kMs);  // RFC 6298 2.1
}

TEST(TcpRttEstimatorTest, FirstSampleSetsSrttAndHalfVariance) {
  RttEstimator e(rfc_config());
  e.sample(100 * kMs);
  EXPECT_TRUE(e.has_sample());
  EXPECT_EQ(e.srtt_ns(), 100 * kMs);
  EXPECT_EQ(e.rttvar_ns(), 50 * kMs);
  EXPECT_EQ(e.rto_ns(), 300 * kMs);  // 100 + 4 * 50
}

TEST(TcpRttEstimatorTest, LaterSamplesFollowAlphaAndBeta) {
  RttEstimator e(rfc_config());
  e.sample(100 * kMs);
  // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
  e.sample(200 * kMs);
  EXPECT_EQ(e.rttvar_ns(), 62'500'000u);
  EXPECT_EQ(e.srtt_ns(), 112'500'000u);
  EXPECT_EQ(e.rto_ns(), 112'500'000u + 250'000'000u);
  // RTTVAR = 3/4 * 62.5 + 1/4 * |112.5 - 100| = 50; SRTT = 7/8 * 112.5 + 12.5 = 110.9375
  e.sample(100 * kMs);
  EXPECT_EQ(e.rttvar_ns(), 50'000'000u);
  EXPECT_EQ(e.srtt_ns(), 110'937'500u);
  EXPECT_EQ(e.rto_ns(), 110'937'500u + 200'000'000u);
}

TEST(TcpRttEstimatorTest, GranularityBoundsTheVarianceTerm) {
  RttConfig c = rfc_config();
  c.clock_granularity_ns = 10 * kMs;
  RttEstimator e(c);
  for (int i = 0; i < 50; ++i) e.sample(20 * kMs);  // steady RTT: RTTVAR decays toward 0
  EXPECT_EQ(e.srtt_ns(), 20 * kMs);
  EXPECT_LT(4 * e.rttvar_ns(), 10 * kMs);
  EXPECT_EQ(e.rto_ns(), 30 * kMs);  // SRTT + G
}

TEST(TcpRttEstimatorTest, ClampsToMinimumAndMaximum) {
  RttEstimator low;  // default min 200 ms
  low.sample(1 * kMs);
  EXPECT_EQ(low.rto_ns(), 200 * kMs);
  RttEstimator high;
  high.sample(100'000 * kMs);
  EXPECT_EQ(high.rto_ns(), 60'000 * kMs);
}

TEST(TcpRttEstimatorTest, BackoffDoublesUntilMaximumAndResets) {
  RttEstimator e;
  e.sample(100 * kMs);  // RTO 300 ms
  e.backoff();
  EXPECT_EQ(e.rto_ns(), 600 * kMs);
  e.backoff();
  EXPECT_EQ(e.rto_ns(), 1'200 * kMs);
  for (int i = 0; i < 100; ++i) e.backoff();
  EXPECT_EQ(e.backoffs(), 102u);
  EXPECT_EQ(e.rto_ns(), 60'000 * kMs);
  e.reset_backoff();
  EXPECT_EQ(e.backoffs(), 0u);
  EXPECT_EQ(e.rto_ns(), 300 * kMs);
}

TEST(TcpRttEstimatorTest, BackoffAppliesBeforeAnySample) {
  RttEstimator e;
  e.backoff();
  e.backoff();
  EXPECT_EQ(e.rto_ns(), 4'000 * kMs);
}

}  // namespace
}  // namespace ix::net::tcp
