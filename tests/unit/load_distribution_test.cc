// ix-load's size distributions: sample statistics against the analytic
// mean and quantiles (fixed seeds, bounded sample sizes), and spec parsing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "load/distribution.hh"
#include "load/workload.hh"

namespace ix::load {
namespace {

std::vector<double> draw(const Distribution &d, size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> v(n);
  for (double &x : v) x = d.sample(rng);
  return v;
}

double mean_of(const std::vector<double> &v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// Fraction of samples at or below x.
double fraction_below(const std::vector<double> &v, double x) {
  return static_cast<double>(std::count_if(v.begin(), v.end(), [&](double s) { return s <= x; })) /
         static_cast<double>(v.size());
}

TEST(LoadDistribution, GevKeySizeMatchesItsCdfAndMean) {
  const Distribution d = Distribution::fb_key();
  const double loc = 30.7984, scale = 8.20449, shape = 0.078688;
  auto cdf = [&](double x) {
    return std::exp(-std::pow(1 + shape * (x - loc) / scale, -1 / shape));
  };
  for (double u : {0.01, 0.1, 0.5, 0.9, 0.99}) EXPECT_NEAR(cdf(d.quantile(u)), u, 1e-9) << u;
  // Mean: loc + scale (Gamma(1 - k) - 1) / k, about 35.5 bytes.
  EXPECT_NEAR(d.mean(), loc + scale * (std::tgamma(1 - shape) - 1) / shape, 1e-12);
  EXPECT_GT(d.mean(), 34.0);
  EXPECT_LT(d.mean(), 37.0);
  const auto s = draw(d, 200000, 7);
  EXPECT_NEAR(mean_of(s), d.mean(), 0.01 * d.mean());
  for (double q : {0.1, 0.5, 0.9}) EXPECT_NEAR(fraction_below(s, d.quantile(q)), q, 0.005) << q;
}

TEST(LoadDistribution, FacebookValueHasItsDiscreteHeadAndParetoTail) {
  const Distribution d = Distribution::fb_value();
  const auto s = draw(d, 400000, 11);
  // The head: 2-byte values 17.82%, 3-byte 9.24%, 11-byte 8.99% (the tail
  // adds a sliver of continuous values there, which are not integers).
  auto share = [&](double v) {
    return static_cast<double>(std::count(s.begin(), s.end(), v)) / static_cast<double>(s.size());
  };
  EXPECT_NEAR(share(2), 0.17820, 0.004);
  EXPECT_NEAR(share(3), 0.09239, 0.003);
  EXPECT_NEAR(share(11), 0.08989, 0.003);
  EXPECT_NEAR(share(0), 0.00536, 0.001);
  // The analytic mean: the head's plus 55.8% of the Pareto's 214.476 / (1 - 0.348238).
  double head_mean = 0, head_mass = 0;
  const double p[15] = {0.00536, 0.00047, 0.17820, 0.09239, 0.00018, 0.02740, 0.00065, 0.00606,
                        0.00023, 0.00837, 0.00837, 0.08989, 0.00092, 0.00326, 0.01980};
  for (int i = 0; i < 15; ++i) {
    head_mean += i * p[i];
    head_mass += p[i];
  }
  const double expected = head_mean + (1 - head_mass) * 214.476 / (1 - 0.348238);
  EXPECT_NEAR(d.mean(), expected, 1e-9);
  // Shape 0.35 < 0.5: finite variance, so the sample mean settles (2%).
  EXPECT_NEAR(mean_of(s), expected, 0.02 * expected);
  // The tail's median: above the head, u = head + (1 - head) / 2.
  const double tail_median = 214.476 * (std::pow(0.5, -0.348238) - 1) / 0.348238;
  EXPECT_NEAR(d.quantile(head_mass + (1 - head_mass) / 2), tail_median, 1e-6);
}

TEST(LoadDistribution, GeneralizedParetoAndExponentialMeans) {
  const Distribution g = Distribution::gpareto(10, 100, 0.2);
  EXPECT_DOUBLE_EQ(g.mean(), 10 + 100 / 0.8);
  const auto gs = draw(g, 200000, 3);
  EXPECT_NEAR(mean_of(gs), g.mean(), 0.015 * g.mean());
  EXPECT_GE(*std::min_element(gs.begin(), gs.end()), 10.0);
  const Distribution e = Distribution::exponential(50);
  const auto es = draw(e, 200000, 5);
  EXPECT_NEAR(mean_of(es), 50, 0.5);
  EXPECT_NEAR(fraction_below(es, 50 * std::log(2.0)), 0.5, 0.005);
}

TEST(LoadDistribution, UniformIntegersCoverTheRangeEvenly) {
  const Distribution d = Distribution::uniform(5, 9);
  const auto s = draw(d, 100000, 9);
  for (int v = 5; v <= 9; ++v) {
    const double share =
        static_cast<double>(std::count(s.begin(), s.end(), v)) / static_cast<double>(s.size());
    EXPECT_NEAR(share, 0.2, 0.006) << v;
  }
  EXPECT_EQ(*std::min_element(s.begin(), s.end()), 5);
  EXPECT_EQ(*std::max_element(s.begin(), s.end()), 9);
  EXPECT_DOUBLE_EQ(d.mean(), 7);
}

TEST(LoadDistribution, ParsesSpecs) {
  std::string err;
  EXPECT_EQ(Distribution::parse("19", err)->quantile(0.3), 19);
  EXPECT_EQ(Distribution::parse("fixed:2", err)->quantile(0.9), 2);
  EXPECT_EQ(Distribution::parse("uniform:1:3", err)->quantile(0.999), 3);
  EXPECT_EQ(Distribution::parse("fb_value", err)->describe(), "fb_value");
  EXPECT_EQ(Distribution::parse("gev:30.7984:8.20449:0.078688", err)->kind(),
            Distribution::Kind::kGev);
  auto pmf = Distribution::parse("pmf:2=0.75,100=0.25", err);
  ASSERT_TRUE(pmf);
  EXPECT_EQ(pmf->quantile(0.7), 2);
  EXPECT_EQ(pmf->quantile(0.8), 100);
  EXPECT_DOUBLE_EQ(pmf->mean(), 26.5);
}

TEST(LoadDistribution, RejectsMalformedSpecsWithAReason) {
  for (const char *bad : {"", "abc", "-3", "fixed:", "fixed:-1", "uniform:5:3", "uniform:1",
                          "gev:1:2", "gev:1:0:0.1", "gpareto:0:1:x", "exp:0", "pmf:", "pmf:1=0.5",
                          "pmf:1=0.5,2", "pmf:1=1.5", "nan", "fixed:inf"}) {
    std::string err;
    EXPECT_FALSE(Distribution::parse(bad, err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
}

TEST(LoadWorkload, KeysHaveStableLengthsAndAreDistinct) {
  const Distribution d = Distribution::fb_key();
  const KeySpace keys(d, 100000);
  char a[kMaxKeyLength], b[kMaxKeyLength];
  double total = 0;
  for (uint64_t i = 0; i < 100000; ++i) {
    const size_t n = keys.format(i, a);
    ASSERT_GE(n, 5u);  // 99999 needs 5 digits
    ASSERT_LE(n, kMaxKeyLength);
    ASSERT_EQ(keys.format(i, b), n);
    ASSERT_EQ(std::string(a, n), std::string(b, n));
    total += static_cast<double>(n);
  }
  // Lengths follow fb_key (rounded): mean about 35.5.
  EXPECT_NEAR(total / 100000, d.mean(), 0.3);
  char k[kMaxKeyLength];
  EXPECT_EQ(std::string(k, KeySpace(Distribution::fixed(19), 1000).format(42, k)),
            "0000000000000000042");
  // Too short a length for the key space is raised to its digits.
  EXPECT_EQ(std::string(k, KeySpace(Distribution::fixed(1), 1000).format(7, k)), "007");
}

TEST(LoadWorkload, PresetsAreTheStudiedMixes) {
  const auto etc = workload_preset("etc");
  ASSERT_TRUE(etc);
  EXPECT_DOUBLE_EQ(etc->update_ratio, 0.033);
  EXPECT_EQ(etc->arrival, ArrivalKind::kFbIa);
  const auto usr = workload_preset("usr");
  ASSERT_TRUE(usr);
  EXPECT_EQ(usr->key_size.quantile(0.5), 19);
  EXPECT_EQ(usr->value_size.quantile(0.5), 2);
  EXPECT_DOUBLE_EQ(usr->update_ratio, 0.002);
  EXPECT_FALSE(workload_preset("zipf"));
  Rng rng(1);
  for (int i = 0; i < 1000; ++i)
    EXPECT_LE(sample_value_size(Distribution::gpareto(0, 1e6, 2), rng), kMaxValueSize);
}

}  // namespace
}  // namespace ix::load
