// RFC 6675 sender scoreboard: merging of overlapping, adjacent and
// out-of-range SACK blocks, advancing SND.UNA, wraparound, the fixed
// capacity, IsLost with DupThresh, NextSeg rule (1) and SetPipe on worked
// examples.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "net/tcp/sack_scoreboard.hh"

namespace ix::net::tcp {
namespace {

std::vector<SackBlock> held(const SackScoreboard &sb) {
  return {sb.blocks().begin(), sb.blocks().end()};
}

TEST(TcpSackScoreboardTest, StartsEmpty) {
  SackScoreboard sb(1000);
  EXPECT_TRUE(sb.empty());
  EXPECT_EQ(sb.sacked_bytes(), 0u);
  EXPECT_EQ(sb.highest_sacked(), 1000u);
  EXPECT_FALSE(sb.is_sacked(1000));
}

TEST(TcpSackScoreboardTest, MergesOverlappingAndAdjacentBlocks) {
  SackScoreboard sb(1000);
  const SackBlock a[] = {{4000, 5000}, {2000, 3000}};
  sb.update(1000, 10000, a);
  EXPECT_EQ(held(sb), (std::vector<SackBlock>{{2000, 3000}, {4000, 5000}}));
  EXPECT_EQ(sb.sacked_bytes(), 2000u);
  const SackBlock adjacent[] = {{3000, 4000}};
  sb.update(1000, 10000, adjacent);
  EXPECT_EQ(held(sb), (std::vector<SackBlock>{{2000, 5000}}));
  const SackBlock overlap[] = {{4500, 6000}, {1500, 2500}};
  sb.update(1000, 10000, overlap);
  EXPECT_EQ(held(sb), (std::vector<SackBlock>{{1500, 6000}}));
  EXPECT_EQ(sb.sacked_bytes(), 4500u);
  EXPECT_EQ(sb.highest_sacked(), 6000u);
  EXPECT_TRUE(sb.is_sacked(1500));
  EXPECT_TRUE(sb.is_sacked(5999));
  EXPECT_FALSE(sb.is_sacked(6000));
  EXPECT_FALSE(sb.is_sacked(1499));
}

TEST(TcpSackScoreboardTest, OneBlockSwallowsSeveral) {
  SackScoreboard sb(0);
  const SackBlock a[] = {{100, 200}, {300, 400}, {500, 600}, {900, 950}};
  sb.update(0, 1000, a);
  ASSERT_EQ(sb.block_count(), 4u);
  const SackBlock big[] = {{150, 700}};
  sb.update(0, 1000, big);
  EXPECT_EQ(held(sb), (std::vector<SackBlock>{{100, 700}, {900, 950}}));
  EXPECT_EQ(sb.sacked_bytes(), 650u);
}

TEST(TcpSackScoreboardTest, IgnoresBlocksOutsideTheWindow) {
  SackScoreboard sb(1000);
  const SackBlock bad[] = {
      {500, 900},     // wholly acknowledged already (D-SACK)
      {9000, 11000},  // beyond what was sent
      {5000, 5000},   // empty
      {6000, 5000},   // inverted
      {800, 1200},    // straddles SND.UNA: the part above it counts
  };
  sb.update(1000, 10000, bad);
  EXPECT_EQ(held(sb), (std::vector<SackBlock>{{1000, 1200}}));
  EXPECT_EQ(sb.ignored_blocks(), 4u);
}

TEST(TcpSackScoreboardTest, AdvancingUnaDropsAndCutsBlocks) {
  SackScoreboard sb(1000);
  const SackBlock a[] = {{2000, 3000}, {3500, 4500}, {6000, 7000}};
  sb.update(1000, 10000, a);
  sb.update(4000, 10000, {});
  EXPECT_EQ(held(sb), (std::vector<SackBlock>{{4000, 4500}, {6000, 7000}}));
  EXPECT_EQ(sb.sacked_bytes(), 1500u);
  sb.update(7000, 10000, {});
  EXPECT_TRUE(sb.empty());
  EXPECT_EQ(sb.sacked_bytes(), 0u);
  EXPECT_EQ(sb.highest_sacked(), 7000u);
  // A stale (older) SND.UNA does not bring anything back.
  sb.update(5000, 10000, {});
  EXPECT_EQ(sb.highest_sacked(), 7000u);
}

TEST(TcpSackScoreboardTest, WorksAcrossSequenceWrap) {
  const Seq una = 0xfffff000u;
  SackScoreboard sb(una);
  const SackBlock a[] = {{0xfffffc00u, 0x400u}, {0x800u, 0xc00u}};
  sb.update(una, 0x2000u, a);
  EXPECT_EQ(held(sb), (std::vector<SackBlock>{{0xfffffc00u, 0x400u}, {0x800u, 0xc00u}}));
  EXPECT_EQ(sb.sacked_bytes(), 0x800u + 0x400u);
  EXPECT_TRUE(sb.is_sacked(0xffffffffu));
  EXPECT_TRUE(sb.is_sacked(0));
  EXPECT_FALSE(sb.is_sacked(0x400u));
  EXPECT_EQ(sb.highest_sacked(), 0xc00u);
  EXPECT_EQ(sb.next_lost(una, 0x2000u, una, 1024), std::optional<Seq>(una));
  sb.update(0x100u, 0x2000u, {});
  EXPECT_EQ(held(sb), (std::vector<SackBlock>{{0x100u, 0x400u}, {0x800u, 0xc00u}}));
}

TEST(TcpSackScoreboardTest, CapacityForgetsHighestBlocks) {
  SackScoreboard sb(0);
  for (uint32_t i = 0; i < SackScoreboard::kMaxBlocks + 1; ++i) {
    const SackBlock b[] = {{1000 + 100 * i, 1050 + 100 * i}};
    sb.update(0, 100000, b);
  }
  EXPECT_EQ(sb.block_count(), SackScoreboard::kMaxBlocks);
  EXPECT_EQ(sb.overflowed_blocks(), 1u);
  EXPECT_EQ(sb.sacked_bytes(), 50u * SackScoreboard::kMaxBlocks);
  EXPECT_EQ(sb.highest_sacked(), 1050u + 100 * (SackScoreboard::kMaxBlocks - 1));
  // A new low block pushes out the highest one.
  const SackBlock low[] = {{100, 150}};
  sb.update(0, 100000, low);
  EXPECT_EQ(sb.block_count(), SackScoreboard::kMaxBlocks);
  EXPECT_EQ(sb.blocks().front(), (SackBlock{100, 150}));
  EXPECT_EQ(sb.highest_sacked(), 1050u + 100 * (SackScoreboard::kMaxBlocks - 2));
  EXPECT_EQ(sb.sacked_bytes(), 50u * SackScoreboard::kMaxBlocks);
  // Merging still works when full.
  const SackBlock bridge[] = {{150, 1000}};
  sb.update(0, 100000, bridge);
  EXPECT_EQ(sb.block_count(), SackScoreboard::kMaxBlocks - 1);
  EXPECT_EQ(sb.blocks().front(), (SackBlock{100, 1050}));
}

TEST(TcpSackScoreboardTest, IsLostByBytesAbove) {
  constexpr uint32_t kMss = 1000;
  SackScoreboard sb(0);
  const SackBlock two[] = {{1000, 3000}};
  sb.update(0, 10000, two);
  EXPECT_FALSE(sb.is_lost(0, kMss));  // 2000 bytes above: not more than 2 * MSS
  const SackBlock three[] = {{3000, 4000}};
  sb.update(0, 10000, three);
  EXPECT_TRUE(sb.is_lost(0, kMss));  // 3000 > 2 * MSS
  EXPECT_TRUE(sb.is_lost(999, kMss));
  EXPECT_FALSE(sb.is_lost(1000, kMss));  // SACKed bytes are not lost
  EXPECT_FALSE(sb.is_lost(4000, kMss));  // nothing above
  EXPECT_FALSE(sb.is_lost(0, kMss, 4));  // a higher DupThresh needs more evidence
}

TEST(TcpSackScoreboardTest, IsLostByDiscontiguousBlocks) {
  SackScoreboard sb(0);
  const SackBlock small[] = {{1000, 1100}, {1200, 1300}, {1400, 1500}};
  sb.update(0, 10000, small);
  EXPECT_TRUE(sb.is_lost(0, 1000));      // three blocks above, only 300 bytes
  EXPECT_FALSE(sb.is_lost(1100, 1000));  // two blocks above
  EXPECT_FALSE(sb.is_lost(0, 1000, 4));
}

// Ten 1000-byte segments sent; the receiver reports 1, 3, 4 and 5 (RFC 6675
// style example): segment 0 and 2 are holes below three SACKed segments.
SackScoreboard example() {
  SackScoreboard sb(0);
  const SackBlock b[] = {{1000, 2000}, {3000, 6000}};
  sb.update(0, 10000, b);
  return sb;
}

TEST(TcpSackScoreboardTest, NextSegPicksLowestLostHoleAboveHighRxt) {
  SackScoreboard sb = example();
  EXPECT_EQ(sb.next_lost(0, 10000, 0, 1000), std::optional<Seq>(0));
  EXPECT_EQ(sb.next_lost_range(0, 10000, 0, 1000), (std::optional<SackBlock>{{0, 1000}}));
  // Segment 0 retransmitted: next is the hole at 2000.
  EXPECT_EQ(sb.next_lost(0, 10000, 1000, 1000), std::optional<Seq>(2000));
  // Half of that hole retransmitted already.
  EXPECT_EQ(sb.next_lost_range(0, 10000, 2500, 1000), (std::optional<SackBlock>{{2500, 3000}}));
  // Both holes done; the tail above the highest SACK is not lost.
  EXPECT_EQ(sb.next_lost(0, 10000, 3000, 1000), std::nullopt);
  // With DupThresh 4 only the lowest hole has enough evidence above it.
  EXPECT_EQ(sb.next_lost(0, 10000, 0, 1000, 4), std::optional<Seq>(0));
  EXPECT_EQ(sb.next_lost(0, 10000, 1000, 1000, 4), std::nullopt);
}

TEST(TcpSackScoreboardTest, NextSegNeedsLossEvidence) {
  SackScoreboard sb(0);
  const SackBlock one[] = {{1000, 2000}};
  sb.update(0, 10000, one);
  EXPECT_EQ(sb.next_lost(0, 10000, 0, 1000), std::nullopt);  // one dupack is reordering, not loss
  SackScoreboard empty(0);
  EXPECT_EQ(empty.next_lost(0, 10000, 0, 1000), std::nullopt);
}

TEST(TcpSackScoreboardTest, PipeCountsUnsackedNotLostPlusRetransmitted) {
  SackScoreboard sb = example();
  // Holes [0,1000) and [2000,3000) are lost; [6000,10000) is in flight.
  EXPECT_EQ(sb.pipe(0, 10000, 0, 1000), 4000u);
  // Retransmitting the first hole puts it back in the pipe.
  EXPECT_EQ(sb.pipe(0, 10000, 1000, 1000), 5000u);
  EXPECT_EQ(sb.pipe(0, 10000, 2500, 1000), 5500u);
  // With less evidence nothing is lost: everything not SACKed is in flight.
  SackScoreboard weak(0);
  const SackBlock one[] = {{1000, 2000}};
  weak.update(0, 10000, one);
  EXPECT_EQ(weak.pipe(0, 10000, 0, 1000), 9000u);
  // A retransmitted byte that is not considered lost counts twice (original and copy).
  EXPECT_EQ(weak.pipe(0, 10000, 500, 1000), 9500u);
}

TEST(TcpSackScoreboardTest, PipeWithoutSacksIsTheFlight) {
  SackScoreboard sb(5000);
  EXPECT_EQ(sb.pipe(5000, 15000, 5000, 1000), 10000u);
  EXPECT_EQ(sb.pipe(5000, 5000, 5000, 1000), 0u);
}

TEST(TcpSackScoreboardTest, ThreeDupacksExample) {
  // Segment 0 lost, segments 1-3 SACKed by three duplicate ACKs, 4-9 in flight.
  SackScoreboard sb(0);
  for (Seq s = 1000; s < 4000; s += 1000) {
    const SackBlock b[] = {{s, s + 1000}};
    sb.update(0, 10000, b);
  }
  EXPECT_EQ(sb.block_count(), 1u);
  EXPECT_TRUE(sb.is_lost(0, 1000));
  EXPECT_EQ(sb.pipe(0, 10000, 0, 1000), 6000u);
  EXPECT_EQ(sb.next_lost(0, 10000, 0, 1000), std::optional<Seq>(0));
  EXPECT_EQ(sb.pipe(0, 10000, 1000, 1000), 7000u);
  // The retransmission arrives: cumulative ACK to 4000 empties the board.
  sb.update(4000, 10000, {});
  EXPECT_TRUE(sb.empty());
  EXPECT_EQ(sb.pipe(4000, 10000, 4000, 1000), 6000u);
}

// The scoreboard against RFC 6675's definitions applied octet by octet to a
// byte map, for random SACK reports and ACKs (including across 2^32).
TEST(TcpSackScoreboardTest, AgreesWithOctetByOctetModel) {
  constexpr uint32_t kMss = 100;
  constexpr uint32_t kSpan = 2000;
  std::mt19937 rng(4242);
  for (int trial = 0; trial < 200; ++trial) {
    const Seq base = trial % 3 == 0 ? 0xfffffc00u : static_cast<Seq>(rng());
    const Seq snd_max = base + kSpan;
    Seq una = base;
    std::vector<bool> sacked(kSpan, false);
    SackScoreboard sb(una);
    for (int ack = 0; ack < 8; ++ack) {
      if (rng() % 3 == 0) una += rng() % 200;
      std::vector<SackBlock> blocks;
      for (int i = 0, n = 1 + rng() % 3; i < n; ++i) {
        const uint32_t l = rng() % kSpan, len = 1 + rng() % 150;
        blocks.push_back({base + l, base + std::min(kSpan, l + len)});
      }
      sb.update(una, snd_max, blocks);
      for (const SackBlock &b : blocks)
        if (seq_gt(b.right, una))
          for (Seq s = seq_max(b.left, una); s != b.right; ++s) sacked[s - base] = true;
      for (Seq s = base; s != una; ++s) sacked[s - base] = false;

      uint32_t total = 0;
      for (uint32_t i = 0; i < kSpan; ++i) total += sacked[i];
      ASSERT_EQ(sb.sacked_bytes(), total);
      // Octets SACKed above each octet, and SACKed runs starting above it.
      std::vector<uint32_t> bytes_above(kSpan, 0), runs_above(kSpan, 0);
      for (uint32_t i = kSpan - 1; i-- > 0;) {
        bytes_above[i] = bytes_above[i + 1] + sacked[i + 1];
        runs_above[i] = runs_above[i + 1] + (sacked[i + 1] && !sacked[i]);
      }
      auto lost = [&](Seq s) {
        const uint32_t i = s - base;
        return !sacked[i] && (runs_above[i] >= 3 || bytes_above[i] > 2 * kMss);
      };
      const Seq high_rxt = una + rng() % 600;
      uint64_t pipe = 0;
      std::optional<Seq> next;
      for (Seq s = una; s != snd_max; ++s) {
        const bool sk = sacked[s - base];
        ASSERT_EQ(sb.is_sacked(s), sk);
        const bool ls = lost(s);
        if (s % 37 == 0) {
          ASSERT_EQ(sb.is_lost(s, kMss), ls) << s - base;
        }
        if (!sk) pipe += (ls ? 0 : 1) + (seq_lt(s, high_rxt) ? 1 : 0);
        if (!next && !sk && ls && seq_geq(s, high_rxt)) next = s;
      }
      ASSERT_EQ(sb.pipe(una, snd_max, high_rxt, kMss), pipe) << trial << "/" << ack;
      ASSERT_EQ(sb.next_lost(una, snd_max, high_rxt, kMss), next) << trial << "/" << ack;
    }
  }
}

}  // namespace
}  // namespace ix::net::tcp
