// ix-load's open-loop schedule: gaps whose mean is 1/rate for every arrival
// kind, and due times that only move forward.
#include <gtest/gtest.h>

#include <cmath>

#include "load/arrival.hh"

namespace ix::load {
namespace {

TEST(LoadArrival, MeanGapIsOneOverTheRate) {
  for (ArrivalKind kind : {ArrivalKind::kExponential, ArrivalKind::kFixed, ArrivalKind::kFbIa}) {
    const double rate = 20000;  // 50 us apart
    const uint64_t start = 1'000'000'000;
    OpenLoopSchedule s(kind, rate, start, 17);
    const int n = 200000;
    uint64_t previous = start;
    for (int i = 0; i < n; ++i) {
      ASSERT_GE(s.next_due_ns(), previous);
      previous = s.next_due_ns();
      s.advance();
    }
    const double mean_gap = static_cast<double>(previous - start) / n;
    EXPECT_NEAR(mean_gap, 1e9 / rate, 0.01 * 1e9 / rate) << arrival_name(kind);
  }
}

TEST(LoadArrival, FixedGapsAreExactWithoutDrift) {
  OpenLoopSchedule s(ArrivalKind::kFixed, 3000, 0, 1);  // 333333.33 ns: rounding must not add up
  for (int i = 1; i <= 3000; ++i) {
    EXPECT_EQ(s.next_due_ns(), static_cast<uint64_t>(std::llround(i * 1e9 / 3000)));
    s.advance();
  }
}

TEST(LoadArrival, ExponentialGapsAreMemoryless) {
  // P(gap > mean) = 1/e for an exponential; fb_ia's Pareto shape differs.
  const Distribution exp = arrival_gap_ns(ArrivalKind::kExponential, 1000);
  const Distribution fb = arrival_gap_ns(ArrivalKind::kFbIa, 1000);
  EXPECT_DOUBLE_EQ(exp.mean(), 1e6);
  EXPECT_NEAR(fb.mean(), 1e6, 1e-3);
  Rng rng(5);
  int above = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) above += exp.sample(rng) > 1e6;
  EXPECT_NEAR(static_cast<double>(above) / n, std::exp(-1.0), 0.005);
  EXPECT_EQ(*parse_arrival("fb_ia"), ArrivalKind::kFbIa);
  EXPECT_FALSE(parse_arrival("poisson"));
}

}  // namespace
}  // namespace ix::load
