// Sequence number arithmetic on the 32-bit circle (RFC 9293 3.4), including
// comparisons and ranges that straddle 2^32.
#include <gtest/gtest.h>

#include "net/tcp/seq.hh"

namespace ix::net::tcp {
namespace {

TEST(TcpSeqTest, OrdersNearbyNumbers) {
  EXPECT_TRUE(seq_lt(1, 2));
  EXPECT_FALSE(seq_lt(2, 2));
  EXPECT_TRUE(seq_leq(2, 2));
  EXPECT_TRUE(seq_gt(3, 2));
  EXPECT_FALSE(seq_gt(2, 2));
  EXPECT_TRUE(seq_geq(2, 2));
  EXPECT_FALSE(seq_geq(1, 2));
}

TEST(TcpSeqTest, OrdersAcrossWraparound) {
  const Seq before = 0xfffffff0u;
  const Seq after = 0x10u;
  EXPECT_TRUE(seq_lt(before, after));
  EXPECT_TRUE(seq_gt(after, before));
  EXPECT_FALSE(seq_lt(after, before));
  EXPECT_EQ(seq_max(before, after), after);
  EXPECT_EQ(seq_min(before, after), before);
  EXPECT_EQ(seq_diff(after, before), 0x20u);
  // Just under half the circle apart is still "after"; the sign decides.
  EXPECT_TRUE(seq_lt(0, 0x7fffffffu));
  EXPECT_TRUE(seq_gt(0, 0x80000001u));
}

TEST(TcpSeqTest, RangeMembershipIsHalfOpenAndWraps) {
  EXPECT_TRUE(seq_in(10, 10, 20));
  EXPECT_TRUE(seq_in(19, 10, 20));
  EXPECT_FALSE(seq_in(20, 10, 20));
  EXPECT_FALSE(seq_in(9, 10, 20));
  EXPECT_FALSE(seq_in(10, 10, 10));  // empty range
  const Seq lo = 0xfffffffau;
  const Seq hi = 6;
  EXPECT_TRUE(seq_in(0xfffffffau, lo, hi));
  EXPECT_TRUE(seq_in(0xffffffffu, lo, hi));
  EXPECT_TRUE(seq_in(0, lo, hi));
  EXPECT_TRUE(seq_in(5, lo, hi));
  EXPECT_FALSE(seq_in(6, lo, hi));
  EXPECT_FALSE(seq_in(0xfffffff9u, lo, hi));
}

TEST(TcpSeqTest, UsableInConstantExpressions) {
  static_assert(seq_lt(0xffffffffu, 0));
  static_assert(seq_max(0xffffffffu, 1) == 1);
  static_assert(!seq_in(5, 5, 5));
}

}  // namespace
}  // namespace ix::net::tcp
