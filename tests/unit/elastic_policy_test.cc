// The control plane's policy: when it grows, when it shrinks, and that it
// does not flap (hysteresis, cooldown).
#include "control/elastic_policy.hh"

#include <gtest/gtest.h>

#include <vector>

namespace ix::control {
namespace {

ElasticPolicyConfig four_threads() {
  ElasticPolicyConfig c;
  c.grow_busy = 0.85;
  c.grow_full_batches = 0.5;
  c.grow_after = 2;
  c.shrink_target = 0.6;
  c.shrink_after = 3;
  c.cooldown = 2;
  c.min_threads = 1;
  c.max_threads = 4;
  return c;
}

std::vector<ThreadLoad> loads(std::initializer_list<double> busy) {
  std::vector<ThreadLoad> v;
  for (double b : busy) v.push_back({b, 0});
  return v;
}

TEST(ElasticPolicy, GrowsOnlyAfterTheOverloadLasts) {
  ElasticPolicy p(four_threads());
  EXPECT_EQ(p.observe(loads({0.9, 0.2})).threads, 2u);  // one window is not enough
  const auto d = p.observe(loads({0.95, 0.2}));
  EXPECT_EQ(d.threads, 3u);
  EXPECT_NE(d.why.find("0.95"), std::string::npos) << d.why;
  EXPECT_NE(d.why.find("2 windows"), std::string::npos) << d.why;
}

TEST(ElasticPolicy, FullBatchesAloneMeanOverload) {
  ElasticPolicy p(four_threads());
  const std::vector<ThreadLoad> queued = {{0.5, 0.7}};
  EXPECT_EQ(p.observe(queued).threads, 1u);
  EXPECT_EQ(p.observe(queued).threads, 2u);
}

TEST(ElasticPolicy, ShrinksWhenOneFewerWouldStayUnderTheTarget) {
  ElasticPolicy p(four_threads());
  // 0.5 + 0.4 = 0.9 would not fit one thread at 0.6: stays.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(p.observe(loads({0.5, 0.4})).threads, 2u);
  ElasticPolicy q(four_threads());
  EXPECT_EQ(q.observe(loads({0.3, 0.2})).threads, 2u);
  EXPECT_EQ(q.observe(loads({0.3, 0.2})).threads, 2u);
  const auto d = q.observe(loads({0.3, 0.2}));
  EXPECT_EQ(d.threads, 1u);
  EXPECT_NE(d.why.find("fits 1 threads"), std::string::npos) << d.why;
}

TEST(ElasticPolicy, NeverBeyondItsBounds) {
  auto c = four_threads();
  c.cooldown = 0;
  ElasticPolicy p(c);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(p.observe(loads({1, 1, 1, 1})).threads, 4u);
  ElasticPolicy q(c);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(q.observe(loads({0})).threads, 1u);
}

TEST(ElasticPolicy, DoesNotFlap) {
  ElasticPolicy p(four_threads());
  // Overload and idleness in turn: neither lasts, nothing changes.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(p.observe(loads({0.9, 0.1})).threads, 2u);
    EXPECT_EQ(p.observe(loads({0.1, 0.1})).threads, 2u);
  }
  // After a decision, the cooldown holds the next one back.
  ElasticPolicy q(four_threads());
  q.observe(loads({0.9}));
  EXPECT_EQ(q.observe(loads({0.9})).threads, 2u);
  EXPECT_EQ(q.observe(loads({0.95, 0.95})).threads, 2u);  // cooling down
  EXPECT_EQ(q.observe(loads({0.95, 0.95})).threads, 2u);  // cooling down
  // The overload went on through the cooldown: it acts at once after it.
  EXPECT_EQ(q.observe(loads({0.95, 0.95})).threads, 3u);
}

}  // namespace
}  // namespace ix::control
