// Out-of-order reassembly: in-order release, trimming of overlaps on both
// sides, replacement of covered segments, duplicates, segment and byte
// limits, wraparound near 2^32, SACK block order (RFC 2018 4), and that every
// mbuf returns to the pool (ASan also watches for leaks).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "mem/mbuf_pool.hh"
#include "net/tcp/reassembly_queue.hh"

namespace ix::net::tcp {
namespace {

mem::MbufPoolConfig pool_config() {
  mem::MbufPoolConfig c;
  c.count = 256;
  c.data_size = 2048;
  c.headroom = 64;
  c.try_huge_pages = false;
  c.name = "reasm_test";
  return c;
}

// Byte value carried by sequence number s in every test stream.
uint8_t pattern(Seq s) { return static_cast<uint8_t>(s * 7 + (s >> 8)); }

struct Delivered {
  Seq seq;
  uint32_t len;
};

class TcpReassemblyQueueTest : public ::testing::Test {
 protected:
  mem::MbufPool pool_{pool_config()};

  // An mbuf whose payload is the pattern bytes for [seq, seq + len).
  mem::Mbuf *segment(Seq seq, uint32_t len) {
    mem::Mbuf *m = pool_.alloc();
    EXPECT_NE(m, nullptr);
    uint8_t *p = m->append(static_cast<uint16_t>(len));
    EXPECT_NE(p, nullptr);
    for (uint32_t i = 0; i < len; ++i) p[i] = pattern(seq + i);
    return m;
  }

  // Inserts a fresh segment; frees it when the queue refuses it, as callers do.
  bool insert(ReassemblyQueue &q, Seq seq, uint32_t len) {
    mem::Mbuf *m = segment(seq, len);
    if (q.insert(seq, m, m->data(), len)) return true;
    mem::MbufPool::free_chain(m);
    return false;
  }

  // Pops what is ready, checks the bytes, frees the mbufs and returns the ranges.
  std::vector<Delivered> pop(ReassemblyQueue &q, Seq rcv_nxt) {
    std::vector<Delivered> out;
    Seq next = rcv_nxt;
    const uint32_t n = q.pop_ready(rcv_nxt, [&](mem::Mbuf *m, const uint8_t *data, uint32_t len) {
      EXPECT_GE(data, m->data());
      EXPECT_LE(data + len, m->data() + m->data_len);
      for (uint32_t i = 0; i < len; ++i) EXPECT_EQ(data[i], pattern(next + i)) << i;
      out.push_back({next, len});
      next += len;
      mem::MbufPool::free_chain(m);
    });
    EXPECT_EQ(n, next - rcv_nxt);
    return out;
  }

  std::vector<SackBlock> sacks(const ReassemblyQueue &q, size_t max = 4) {
    std::vector<SackBlock> b(max);
    b.resize(q.sack_blocks(b.data(), max));
    return b;
  }

  void expect_pool_full() { EXPECT_EQ(pool_.available(), pool_.capacity()); }
};

bool operator==(const Delivered &a, const Delivered &b) { return a.seq == b.seq && a.len == b.len; }

TEST_F(TcpReassemblyQueueTest, ReleasesContiguousSegmentsInOrder) {
  {
    ReassemblyQueue q;
    EXPECT_TRUE(insert(q, 1200, 100));
    EXPECT_TRUE(insert(q, 1100, 100));
    EXPECT_TRUE(insert(q, 1400, 100));
    EXPECT_EQ(q.segments(), 3u);
    EXPECT_EQ(q.bytes(), 300u);
    EXPECT_TRUE(pop(q, 1000).empty());  // the gap at 1000 is still open
    EXPECT_EQ(pop(q, 1100), (std::vector<Delivered>{{1100, 100}, {1200, 100}}));
    EXPECT_EQ(q.segments(), 1u);
    EXPECT_EQ(q.bytes(), 100u);
    EXPECT_EQ(q.highest_end(), 1500u);
    EXPECT_EQ(pop(q, 1400), (std::vector<Delivered>{{1400, 100}}));
    EXPECT_TRUE(q.empty());
  }
  expect_pool_full();
}

TEST_F(TcpReassemblyQueueTest, TrimsBytesAlreadyReceived) {
  {
    ReassemblyQueue q;
    EXPECT_TRUE(insert(q, 1000, 100));
    EXPECT_TRUE(insert(q, 1100, 100));
    // The caller delivered up to 1150 by other means (a longer in-order segment).
    EXPECT_EQ(pop(q, 1150), (std::vector<Delivered>{{1150, 50}}));
    EXPECT_TRUE(q.empty());
  }
  expect_pool_full();
}

TEST_F(TcpReassemblyQueueTest, CutsOverlapOnEitherSide) {
  {
    ReassemblyQueue q;
    ASSERT_TRUE(insert(q, 1000, 100));
    ASSERT_TRUE(insert(q, 1200, 100));
    EXPECT_TRUE(insert(q, 1050, 100));  // head overlaps [1000,1100): keeps [1100,1150)
    EXPECT_EQ(q.bytes(), 250u);
    EXPECT_TRUE(insert(q, 1180, 40));  // tail overlaps [1200,1300): keeps [1180,1200)
    EXPECT_EQ(q.bytes(), 270u);
    EXPECT_TRUE(insert(q, 1140, 50));  // both sides: keeps [1150,1180)
    EXPECT_EQ(q.bytes(), 300u);
    EXPECT_TRUE(insert(q, 950, 60));  // tail into the first: keeps [950,1000)
    EXPECT_EQ(q.segments(), 6u);
    EXPECT_EQ(pop(q, 950),
              (std::vector<Delivered>{
                  {950, 50}, {1000, 100}, {1100, 50}, {1150, 30}, {1180, 20}, {1200, 100}}));
  }
  expect_pool_full();
}

TEST_F(TcpReassemblyQueueTest, ReplacesSegmentsItCovers) {
  {
    ReassemblyQueue q;
    ASSERT_TRUE(insert(q, 1100, 50));
    ASSERT_TRUE(insert(q, 1200, 50));
    ASSERT_TRUE(insert(q, 1400, 50));
    const uint32_t before = pool_.available();
    EXPECT_TRUE(insert(q, 1050, 300));             // covers the first two, ends before the third
    EXPECT_EQ(pool_.available(), before + 2 - 1);  // two freed, one now held
    EXPECT_EQ(q.segments(), 2u);
    EXPECT_EQ(q.bytes(), 350u);
    EXPECT_EQ(pop(q, 1050), (std::vector<Delivered>{{1050, 300}}));
  }
  expect_pool_full();
}

TEST_F(TcpReassemblyQueueTest, RefusesDuplicatesAndEmptySegments) {
  {
    ReassemblyQueue q;
    ASSERT_TRUE(insert(q, 1000, 100));
    ASSERT_TRUE(insert(q, 1100, 100));
    EXPECT_FALSE(insert(q, 1000, 100));  // exact duplicate
    EXPECT_FALSE(insert(q, 1020, 30));   // inside one segment
    EXPECT_FALSE(insert(q, 1050, 100));  // spans two held, all bytes held
    EXPECT_FALSE(insert(q, 1100, 0));
    mem::Mbuf *m = segment(1300, 10);
    EXPECT_FALSE(q.insert(1300, m, nullptr, 10));
    EXPECT_FALSE(q.insert(1300, nullptr, m->data(), 10));
    mem::MbufPool::free_chain(m);
    EXPECT_EQ(q.segments(), 2u);
    EXPECT_EQ(q.bytes(), 200u);
  }
  expect_pool_full();
}

TEST_F(TcpReassemblyQueueTest, EnforcesSegmentAndByteLimits) {
  {
    ReassemblyQueue q(3, 350);
    EXPECT_TRUE(insert(q, 1000, 100));
    EXPECT_TRUE(insert(q, 1200, 100));
    EXPECT_FALSE(insert(q, 1400, 200));  // 400 bytes > 350
    EXPECT_TRUE(insert(q, 1400, 10));
    EXPECT_FALSE(insert(q, 1500, 10));  // a fourth segment
    EXPECT_EQ(q.segments(), 3u);
    EXPECT_EQ(q.bytes(), 210u);
    // One segment replacing two: 210 - 200 + 300 = 310 bytes in 2 segments.
    EXPECT_TRUE(insert(q, 1000, 300));
    EXPECT_EQ(q.segments(), 2u);
    EXPECT_EQ(q.bytes(), 310u);
    EXPECT_TRUE(insert(q, 1500, 10));   // the freed slot is usable again
    EXPECT_FALSE(insert(q, 1600, 40));  // 360 bytes > 350
    EXPECT_EQ(q.segments(), 3u);
    EXPECT_EQ(q.bytes(), 320u);
  }
  expect_pool_full();
}

TEST_F(TcpReassemblyQueueTest, WrapsAroundTwoToTheThirtyTwo) {
  {
    ReassemblyQueue q;
    const Seq base = 0xffffff80u;
    ASSERT_TRUE(insert(q, 0x40u, 0x40u));
    ASSERT_TRUE(insert(q, 0xffffffc0u, 0x80u));   // crosses zero
    EXPECT_FALSE(insert(q, 0xfffffff0u, 0x60u));  // every byte of it is held already
    EXPECT_EQ(q.bytes(), 0xc0u);
    EXPECT_EQ(sacks(q), (std::vector<SackBlock>{{0xffffffc0u, 0x80u}}));
    EXPECT_TRUE(pop(q, base).empty());
    EXPECT_TRUE(insert(q, base, 0x40u));
    EXPECT_EQ(pop(q, base),
              (std::vector<Delivered>{{base, 0x40u}, {0xffffffc0u, 0x80u}, {0x40u, 0x40u}}));
  }
  expect_pool_full();
}

TEST_F(TcpReassemblyQueueTest, SackBlocksMostRecentFirst) {
  {
    ReassemblyQueue q;
    ASSERT_TRUE(insert(q, 2000, 100));
    ASSERT_TRUE(insert(q, 4000, 100));
    ASSERT_TRUE(insert(q, 3000, 100));
    EXPECT_EQ(sacks(q), (std::vector<SackBlock>{{3000, 3100}, {4000, 4100}, {2000, 2100}}));
    ASSERT_TRUE(insert(q, 2100, 100));  // extends the oldest block: it goes first
    EXPECT_EQ(sacks(q), (std::vector<SackBlock>{{2000, 2200}, {3000, 3100}, {4000, 4100}}));
    ASSERT_TRUE(insert(q, 5000, 100));
    EXPECT_EQ(sacks(q, 3), (std::vector<SackBlock>{{5000, 5100}, {2000, 2200}, {3000, 3100}}));
    EXPECT_EQ(sacks(q, 1), (std::vector<SackBlock>{{5000, 5100}}));
    EXPECT_TRUE(sacks(q, 0).empty());
  }
  expect_pool_full();
}

TEST_F(TcpReassemblyQueueTest, ClearAndDestructorFreeHeldMbufs) {
  {
    ReassemblyQueue q;
    for (Seq s = 0; s < 10; ++s) ASSERT_TRUE(insert(q, 1000 + 200 * s, 100));
    EXPECT_EQ(pool_.available(), pool_.capacity() - 10);
    q.clear();
    EXPECT_TRUE(q.empty());
    expect_pool_full();
    for (Seq s = 0; s < 10; ++s) ASSERT_TRUE(insert(q, 1000 + 200 * s, 100));
    ReassemblyQueue moved(std::move(q));
    EXPECT_EQ(moved.segments(), 10u);
    EXPECT_TRUE(q.empty());  // NOLINT(bugprone-use-after-move): moved-from state is defined
    EXPECT_FALSE(insert(q, 5000, 10));
  }
  expect_pool_full();
}

// Random segments against a byte map: what comes out is exactly the stream,
// in order, nothing is lost below the limits, and every mbuf comes back.
TEST_F(TcpReassemblyQueueTest, RandomArrivalsRebuildTheStream) {
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 20; ++trial) {
    const Seq isn = trial % 2 == 0 ? 0xfffff000u : static_cast<Seq>(rng());
    const uint32_t total = 6000;
    ReassemblyQueue q(64, 1 << 20);
    Seq rcv_nxt = isn;
    uint32_t delivered = 0;
    while (delivered < total) {
      const uint32_t off = rng() % total;
      const uint32_t len = std::min<uint32_t>(1 + rng() % 300, total - off);
      const Seq seq = isn + off;
      if (seq_leq(seq + len, rcv_nxt)) continue;  // old duplicate: the caller drops it
      if (seq_leq(seq, rcv_nxt)) {
        // In order: the caller delivers directly from rcv_nxt, then drains the queue.
        mem::Mbuf *m = segment(seq, len);
        const uint32_t skip = rcv_nxt - seq;
        for (uint32_t i = skip; i < len; ++i) ASSERT_EQ(m->data()[i], pattern(seq + i));
        mem::MbufPool::free_chain(m);
        rcv_nxt = seq + len;
        delivered = rcv_nxt - isn;
        for (const Delivered &d : pop(q, rcv_nxt)) {
          ASSERT_EQ(d.seq, rcv_nxt);
          rcv_nxt += d.len;
        }
        delivered = rcv_nxt - isn;
      } else {
        insert(q, seq, len);
      }
      // Held ranges are disjoint, sorted and above rcv_nxt.
      std::vector<SackBlock> b(64);
      b.resize(q.sack_blocks(b.data(), b.size()));
      uint32_t held = 0;
      for (const SackBlock &s : b) {
        ASSERT_TRUE(seq_gt(s.left, rcv_nxt));
        held += s.right - s.left;
      }
      ASSERT_EQ(held, q.bytes());
    }
    EXPECT_EQ(delivered, total);
    EXPECT_TRUE(q.empty());
  }
  expect_pool_full();
}

}  // namespace
}  // namespace ix::net::tcp
