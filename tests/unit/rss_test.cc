// Toeplitz hash against Microsoft's published RSS verification suite (IPv4
// rows, default key) and an independent bit-by-bit reference; flow group
// table behaviour.
#include "net/rss.hh"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

namespace ix::net {
namespace {

// The textbook definition, written to share nothing with the production
// code: for input bit i (MSB first) that is set, XOR in key bits [i, i+32),
// with key bits past the end of the key taken as 0.
uint32_t reference_toeplitz(std::span<const uint8_t> key, std::span<const uint8_t> input) {
  auto key_bit = [&](size_t i) -> uint32_t {
    return i / 8 < key.size() ? (key[i / 8] >> (7 - i % 8)) & 1u : 0u;
  };
  uint32_t result = 0;
  for (size_t i = 0; i < input.size() * 8; ++i) {
    if (((input[i / 8] >> (7 - i % 8)) & 1u) == 0) continue;
    uint32_t window = 0;
    for (size_t j = 0; j < 32; ++j) window = (window << 1) | key_bit(i + j);
    result ^= window;
  }
  return result;
}

struct VerificationRow {
  const char *src;
  uint16_t sport;
  const char *dst;
  uint16_t dport;
  uint32_t hash_2tuple;  // "IPv4 only"
  uint32_t hash_4tuple;  // "IPv4 with TCP"
};

// Microsoft "Verifying the RSS Hash Calculation", IPv4 table, default key.
constexpr std::array<VerificationRow, 5> kRows = {{
    {"66.9.149.187", 2794, "161.142.100.80", 1766, 0x323e8fc2, 0x51ccc178},
    {"199.92.111.2", 14230, "65.69.140.83", 4739, 0xd718262a, 0xc626b0ea},
    {"24.19.198.95", 12898, "12.22.207.184", 38024, 0xd2d0a5de, 0x5c2b394a},
    {"38.27.205.30", 48228, "209.142.163.6", 2217, 0x82989176, 0xafc7327f},
    {"153.39.163.191", 44251, "202.188.127.2", 1303, 0x5d1809c5, 0x10e828a2},
}};

std::vector<uint8_t> tuple_bytes(Ipv4Addr s, Ipv4Addr d, int sport = -1, int dport = -1) {
  std::vector<uint8_t> v;
  for (uint32_t a : {s.v, d.v})
    for (int sh = 24; sh >= 0; sh -= 8) v.push_back(static_cast<uint8_t>(a >> sh));
  if (sport >= 0) {
    for (int p : {sport, dport}) {
      v.push_back(static_cast<uint8_t>(p >> 8));
      v.push_back(static_cast<uint8_t>(p));
    }
  }
  return v;
}

TEST(RssTest, MatchesMicrosoftVerificationSuite4Tuple) {
  for (const auto &r : kRows) {
    const auto src = Ipv4Addr::parse(r.src), dst = Ipv4Addr::parse(r.dst);
    ASSERT_TRUE(src && dst) << r.src << " " << r.dst;
    EXPECT_EQ(rss_hash_ipv4_l4(kDefaultRssKey, *src, *dst, r.sport, r.dport), r.hash_4tuple)
        << r.src << ":" << r.sport << " -> " << r.dst << ":" << r.dport;
  }
}

TEST(RssTest, MatchesMicrosoftVerificationSuite2Tuple) {
  for (const auto &r : kRows) {
    const auto src = Ipv4Addr::parse(r.src), dst = Ipv4Addr::parse(r.dst);
    ASSERT_TRUE(src && dst);
    EXPECT_EQ(rss_hash_ipv4(kDefaultRssKey, *src, *dst), r.hash_2tuple) << r.src << " -> " << r.dst;
  }
}

TEST(RssTest, ReferenceImplementationAgreesWithPublishedValues) {
  for (const auto &r : kRows) {
    const auto src = *Ipv4Addr::parse(r.src), dst = *Ipv4Addr::parse(r.dst);
    EXPECT_EQ(reference_toeplitz(kDefaultRssKey, tuple_bytes(src, dst)), r.hash_2tuple);
    EXPECT_EQ(reference_toeplitz(kDefaultRssKey, tuple_bytes(src, dst, r.sport, r.dport)),
              r.hash_4tuple);
  }
}

TEST(RssTest, ToeplitzMatchesReferenceOnRandomKeysAndInputs) {
  std::mt19937_64 rng(42);
  for (int iter = 0; iter < 2000; ++iter) {
    std::vector<uint8_t> key(40), input(rng() % 37);  // up to an IPv6 4-tuple
    for (auto &b : key) b = static_cast<uint8_t>(rng());
    for (auto &b : input) b = static_cast<uint8_t>(rng());
    ASSERT_EQ(toeplitz_hash(key, input), reference_toeplitz(key, input)) << "iteration " << iter;
  }
}

TEST(RssTest, InputLongerThanKeyUsesZeroKeyBits) {
  const std::array<uint8_t, 4> key = {0x80, 0x00, 0x00, 0x01};
  const std::array<uint8_t, 8> input = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(toeplitz_hash(key, input), reference_toeplitz(key, input));
  // A key too short for one window hashes to 0 rather than reading past it.
  const std::array<uint8_t, 3> tiny = {1, 2, 3};
  EXPECT_EQ(toeplitz_hash(tiny, input), 0u);
}

TEST(RssTest, EmptyInputHashesToZero) { EXPECT_EQ(toeplitz_hash(kDefaultRssKey, {}), 0u); }

TEST(RssTest, HashDependsOnDirection) {
  const auto a = ipv4(10, 0, 0, 1), b = ipv4(10, 0, 0, 2);
  EXPECT_NE(rss_hash_ipv4_l4(kDefaultRssKey, a, b, 1000, 80),
            rss_hash_ipv4_l4(kDefaultRssKey, b, a, 80, 1000));
}

TEST(FlowGroupTableTest, DefaultHas128GroupsOnQueueZero) {
  FlowGroupTable t;
  EXPECT_EQ(t.size(), 128);
  for (uint16_t g = 0; g < t.size(); ++g) EXPECT_EQ(t.queue_of_group(g), 0);
}

TEST(FlowGroupTableTest, GroupIsLowBitsOfHash) {
  FlowGroupTable t(128, 4);
  EXPECT_EQ(t.group_of(0x51ccc178), 0x78);
  EXPECT_EQ(t.group_of(0xffffffff), 127);
  EXPECT_EQ(t.queue_of(0x51ccc178), t.queue_of_group(0x78));
}

TEST(FlowGroupTableTest, SpreadIsRoundRobin) {
  FlowGroupTable t(128, 3);
  std::array<int, 3> per_queue{};
  for (uint16_t g = 0; g < t.size(); ++g) {
    EXPECT_EQ(t.queue_of_group(g), g % 3);
    ++per_queue[t.queue_of_group(g)];
  }
  EXPECT_EQ(per_queue[0], 43);
  EXPECT_EQ(per_queue[1], 43);
  EXPECT_EQ(per_queue[2], 42);
  t.spread(2);
  for (uint16_t g = 0; g < t.size(); ++g) EXPECT_EQ(t.queue_of_group(g), g % 2);
}

TEST(FlowGroupTableTest, AssignMovesOneGroupOnly) {
  FlowGroupTable t(128, 2);
  const uint32_t hash =
      rss_hash_ipv4_l4(kDefaultRssKey, ipv4(10, 0, 0, 1), ipv4(10, 0, 0, 2), 40000, 11211);
  const uint16_t g = t.group_of(hash);
  const uint16_t old_q = t.queue_of(hash);
  t.assign(g, static_cast<uint16_t>(1 - old_q));
  EXPECT_EQ(t.queue_of(hash), 1 - old_q);
  for (uint16_t other = 0; other < t.size(); ++other)
    if (other != g) {
      EXPECT_EQ(t.queue_of_group(other), other % 2);
    }
}

TEST(FlowGroupTableTest, NonPowerOfTwoSizeUsesModulo) {
  FlowGroupTable t(100, 5);
  EXPECT_EQ(t.group_of(12345), 12345 % 100);
  EXPECT_EQ(t.queue_of(12345), (12345 % 100) % 5);
}

TEST(FlowGroupTableTest, RejectsEmptyTableAndZeroQueues) {
  EXPECT_THROW(FlowGroupTable(0, 1), std::invalid_argument);
  EXPECT_THROW(FlowGroupTable(128, 0), std::invalid_argument);
  FlowGroupTable t;
  EXPECT_THROW(t.spread(0), std::invalid_argument);
}

}  // namespace
}  // namespace ix::net

namespace ix::net {
namespace {

// The tabulated hash must agree with the bitwise definition for every key
// and input, including the default key's published values.
TEST(ToeplitzTable, MatchesBitwiseHash) {
  const ToeplitzTable def(kDefaultRssKey);
  EXPECT_EQ(def.ipv4_l4(ipv4(66, 9, 149, 187), ipv4(161, 142, 100, 80), 2794, 1766), 0x51ccc178u);
  EXPECT_EQ(def.ipv4(ipv4(66, 9, 149, 187), ipv4(161, 142, 100, 80)), 0x323e8fc2u);
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint8_t>(state >> 56);
  };
  for (int k = 0; k < 20; ++k) {
    std::array<uint8_t, 40> key;
    for (auto &b : key) b = next();
    const ToeplitzTable t(key);
    for (int i = 0; i < 200; ++i) {
      uint8_t in[16];
      for (auto &b : in) b = next();
      const size_t len = 1 + next() % 16;  // includes lengths past the table
      EXPECT_EQ(t.hash({in, len}), toeplitz_hash(key, {in, len}));
    }
  }
}

}  // namespace
}  // namespace ix::net
