// ix-load's latency histogram: bucket arithmetic and how far a reported
// percentile may be from the exact one (never below, at most 1/128 above).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "load/latency_histogram.hh"
#include "load/rng.hh"

namespace ix::load {
namespace {

// The exact value at quantile q by the histogram's definition of rank.
uint64_t exact(std::vector<uint64_t> sorted, double q) {
  const uint64_t rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(sorted.size()))));
  return sorted[rank - 1];
}

TEST(LoadHistogram, BucketsAreContiguousAndNarrow) {
  EXPECT_EQ(LatencyHistogram::index_of(0), 0u);
  EXPECT_EQ(LatencyHistogram::index_of(255), 255u);
  size_t previous = 0;
  for (uint64_t v = 1; v < (uint64_t{1} << 40); v = v * 1.001 + 1) {
    const size_t i = LatencyHistogram::index_of(v);
    ASSERT_GE(i, previous);
    ASSERT_LE(i, previous + 1) << v;  // no bucket skipped
    previous = i;
    const uint64_t top = LatencyHistogram::highest_in(i);
    ASSERT_GE(top, v);
    ASSERT_LE(static_cast<double>(top - v), static_cast<double>(v) / 128.0) << v;
    ASSERT_EQ(LatencyHistogram::index_of(top), i);
    if (i + 1 < LatencyHistogram::kBuckets) {
      ASSERT_EQ(LatencyHistogram::index_of(top + 1), i + 1) << v;
    }
  }
  EXPECT_EQ(LatencyHistogram::index_of(UINT64_MAX), LatencyHistogram::kBuckets - 1);
}

TEST(LoadHistogram, PercentilesAreWithinPrecisionOfTheExactOnes) {
  Rng rng(42);
  std::vector<uint64_t> values;
  LatencyHistogram h;
  // Log-uniform from 1 us to 10 s.
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v =
        static_cast<uint64_t>(std::exp(std::log(1e3) + rng.uniform() * std::log(1e7)));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.0, 0.001, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    const uint64_t want = exact(values, q), got = h.percentile(q);
    EXPECT_GE(got, want) << q;
    EXPECT_LE(static_cast<double>(got), static_cast<double>(want) * (1 + 1.0 / 128)) << q;
  }
  EXPECT_EQ(h.count(), values.size());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.percentile(1.0), values.back());
  double sum = 0;
  for (uint64_t v : values) sum += static_cast<double>(v);
  EXPECT_NEAR(h.mean(), sum / static_cast<double>(values.size()), 1e-6 * h.mean());
}

TEST(LoadHistogram, ConstantLatencyIsReportedClosely) {
  LatencyHistogram h;
  for (int i = 0; i < 1000; ++i) h.record(2'000'000);                          // 2 ms
  for (double q : {0.5, 0.99, 0.999}) EXPECT_EQ(h.percentile(q), 2'000'000u);  // capped by max
  h.record(2'100'000);
  EXPECT_GE(h.percentile(0.5), 2'000'000u);
  EXPECT_LE(h.percentile(0.5), 2'000'000u + 2'000'000u / 128);
  EXPECT_EQ(h.percentile(1.0), 2'100'000u);
}

TEST(LoadHistogram, MergeEqualsRecordingEverything) {
  LatencyHistogram a, b, all;
  Rng rng(3);
  for (int i = 0; i < 5000; ++i) {
    const uint64_t v = rng.below(50'000'000);
    (i % 2 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  for (double q : {0.1, 0.5, 0.99}) EXPECT_EQ(a.percentile(q), all.percentile(q));
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
}

TEST(LoadHistogram, EmptyAndOverflow) {
  LatencyHistogram h;
  EXPECT_EQ(h.percentile(0.99), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.mean(), 0);
  h.record(uint64_t{1} << 45);  // beyond the tracked range
  EXPECT_EQ(h.overflow(), 1u);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.percentile(0.5), uint64_t{1} << 45);  // max is exact
}

}  // namespace
}  // namespace ix::load
