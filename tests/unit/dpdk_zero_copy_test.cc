// Zero-copy TX in the DPDK driver (dpdk_queue.hh): a frame in one buffer of
// the queue's pool goes to the PMD in that buffer, the PMD's free (on any
// thread) returns it through the queue's return ring, and the owner takes it
// back at its next burst. Over net_ring0 (a loop on one thread) and a pair of
// ring ports made here from two rte_rings (A's TX is B's RX), driven by two
// threads, so that a buffer A sent is freed on B's thread.
#include <gtest/gtest.h>
// DPDK's headers are C that C++20 warns about (++ on volatile).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wvolatile"
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ring.h>
#pragma GCC diagnostic pop

#include <atomic>
#include <cstring>
#include <deque>
#include <thread>
#include <vector>

#include "dpdk_rig.hh"
#include "drivers/dpdk/dpdk_device.hh"
#include "drivers/dpdk/eal.hh"
#include "mem/mbuf_pool.hh"
#include "test_frames.hh"

namespace ix::drivers {
namespace {

namespace tf = ix::test_frames;

// Two ports joined back to back: A sends into `ab`, B receives from it (and
// the other way round through `ba`). Made once per process, as the EAL is.
// Each ring holds 15 frames, so a sender that outruns the receiver sees the
// PMD refuse part of a burst.
void make_ring_pair() {
  static bool made = [] {
    init_eal(eal_args());
    rte_ring *ab = rte_ring_create("ix_zc_ab", 16, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    rte_ring *ba = rte_ring_create("ix_zc_ba", 16, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (ab == nullptr || ba == nullptr) return false;
    return rte_eth_from_rings("ix_zc_a", &ba, 1, &ab, 1, SOCKET_ID_ANY) >= 0 &&
           rte_eth_from_rings("ix_zc_b", &ab, 1, &ba, 1, SOCKET_ID_ANY) >= 0;
  }();
  ASSERT_TRUE(made) << "could not make the ring pair: " << rte_strerror(rte_errno);
}

TEST(DpdkZeroCopy, AFrameInOnePoolBufferIsSentInThatBuffer) {
  DpdkDevice dev(config_for("net_ring0"));
  EXPECT_TRUE(Contains(dev.describe(), "TX zero copy for frames in one IX buffer"));
  // The pools the runtime builds keep a share for what the port holds.
  EXPECT_EQ(dev.caps().pool_device_share, dev.port_info().tx_descs + DpdkQueue::kMaxBurst);
  mem::MbufPoolConfig pc = small_pool();
  pc.device_share = dev.caps().pool_device_share;
  mem::MbufPool pool(pc);
  dev.set_rx_pool(0, &pool);
  dev.start();
  EXPECT_TRUE(dev.warnings().empty());

  // One frame in one buffer, one whose payload is application memory (a
  // chain: copied), one of minimum size.
  FrameTrio f(pool, 1);
  const std::vector<uint8_t> &a = f.a, &b = f.b, &c = f.c;
  mem::Mbuf **out = f.out;
  const int &releases = f.releases;
  const uint8_t *where_a = out[0]->data();
  const uint8_t *where_c = out[2]->data();
  const uint32_t before = pool.available();

  ASSERT_EQ(dev.tx_burst(0, out, 3), 3);
  EXPECT_EQ(releases, 1);                   // the chain was copied: released at once
  EXPECT_EQ(pool.available(), before + 2);  // its two buffers are home; a's and c's are not
  DpdkQueueDrops d = dev.drops(0);
  EXPECT_EQ(d.tx_zero_copy, 2u);
  EXPECT_EQ(d.tx_copied, 1u);
  EXPECT_EQ(d.tx_in_device, 2u);
  EXPECT_EQ(pool.device_held(), 2u);

  auto got = receive(dev, 0, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(tf::bytes_of(got[0]), a);
  EXPECT_EQ(tf::bytes_of(got[1]), b);
  EXPECT_EQ(tf::bytes_of(got[2]), c);
  // The ring hands the receiver the very buffers the sender wrote.
  EXPECT_EQ(got[0]->data(), where_a);
  EXPECT_EQ(got[2]->data(), where_c);
  EXPECT_FALSE(pool.owns(got[1]->data()));  // the copy lives in the PMD's mempool
  for (mem::Mbuf *m : got) mem::MbufPool::free_chain(m);

  // Freed by the receiver: back in the pool once the owner polls again.
  mem::Mbuf *none[4];
  EXPECT_EQ(dev.rx_burst(0, none, 4), 0);
  EXPECT_EQ(pool.available(), pool.capacity());
  EXPECT_EQ(dev.drops(0).tx_in_device, 0u);
  EXPECT_EQ(pool.device_held(), 0u);
  const QueueStats st = dev.stats(0);
  EXPECT_EQ(st.tx_packets, 3u);
  EXPECT_EQ(st.tx_bytes, a.size() + b.size() + c.size());
  EXPECT_EQ(st.tx_dropped, 0u);
}

TEST(DpdkZeroCopy, BadFramesAreDroppedAndTheirBuffersFreed) {
  DpdkDevice dev(config_for("net_ring0"));
  mem::MbufPool pool(small_pool());
  dev.set_rx_pool(0, &pool);
  dev.start();
  const std::vector<uint8_t> good = udp_bytes(5, 100);
  mem::Mbuf *empty = pool.alloc();  // no bytes at all
  ASSERT_NE(empty, nullptr);
  mem::Mbuf *out[2] = {empty, tf::to_mbuf(pool, good)};
  EXPECT_EQ(dev.tx_burst(0, out, 2), 2);
  EXPECT_EQ(dev.drops(0).tx_bad_chain, 1u);
  EXPECT_EQ(dev.stats(0).tx_dropped, 1u);
  auto got = receive(dev, 0, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(tf::bytes_of(got[0]), good);
  mem::MbufPool::free_chain(got[0]);
  mem::Mbuf *none[1];
  dev.rx_burst(0, none, 1);
  EXPECT_EQ(pool.available(), pool.capacity());
}

// A sends from a small pool as fast as it can; B, on its own thread,
// receives, checks and frees. Every buffer A lends comes home through B's
// frees; frames the full ring refuses stay A's and are sent again; the pool
// runs dry while B lags and recovers; nothing is lost, duplicated or
// reordered.
TEST(DpdkZeroCopy, BuffersFreedOnAnotherThreadComeHome) {
  make_ring_pair();
  DpdkDevice a(config_for("net_ring_ix_zc_a"));
  DpdkDevice b(config_for("net_ring_ix_zc_b"));
  mem::MbufPoolConfig small = small_pool();
  small.count = 24;
  mem::MbufPool pool_a(small);
  mem::MbufPool pool_b(small_pool());
  a.set_rx_pool(0, &pool_a);
  b.set_rx_pool(0, &pool_b);
  a.start();
  b.start();
  auto frame = [](uint32_t seq) { return udp_bytes(seq, 64 + seq % 200); };

  // Before B reads anything: a burst of 20 into a ring that holds 15. The
  // five refused frames are still A's (sent again below, in order).
  std::deque<mem::Mbuf *> unsent;
  uint32_t built = 0;
  mem::Mbuf *burst[20];
  for (; built < 20; ++built) burst[built] = tf::to_mbuf(pool_a, frame(built));
  const uint16_t taken = a.tx_burst(0, burst, 20);
  EXPECT_EQ(taken, 15);
  EXPECT_EQ(a.drops(0).tx_in_device, 15u);
  EXPECT_EQ(a.drops(0).tx_zero_copy, 15u);
  unsent.insert(unsent.end(), burst + taken, burst + 20);
  // The pool (24) runs dry with 15 frames in the ring and 5 refused.
  for (; built < 24; ++built) unsent.push_back(tf::to_mbuf(pool_a, frame(built)));
  EXPECT_EQ(tf::to_mbuf(pool_a, frame(built)), nullptr);
  uint32_t sent = taken;

  constexpr uint32_t kFrames = 5000;
  std::atomic<bool> receiver_failed{false};
  std::atomic<uint32_t> in_pool_a{0};
  std::thread receiver([&] {
    uint32_t next = 0;
    mem::Mbuf *got[32];
    for (long polls = 0; next < kFrames && polls < 50'000'000; ++polls) {
      const uint16_t n = b.rx_burst(0, got, 32);
      for (uint16_t i = 0; i < n; ++i) {
        if (tf::bytes_of(got[i]) != frame(next)) receiver_failed = true;
        if (pool_a.owns(got[i]->data())) in_pool_a.fetch_add(1, std::memory_order_relaxed);
        ++next;
        mem::MbufPool::free_chain(got[i]);  // the rte_mbuf, and A's buffer, freed here
      }
    }
    if (next != kFrames) receiver_failed = true;
  });

  for (long spins = 0; sent < kFrames && spins < 50'000'000; ++spins) {
    if (unsent.empty() && built < kFrames) {
      if (mem::Mbuf *m = tf::to_mbuf(pool_a, frame(built)); m != nullptr) {
        unsent.push_back(m);
        ++built;
      } else {
        mem::Mbuf *none[1];
        a.rx_burst(0, none, 1);  // the owner's poll takes back what B freed
        continue;
      }
    }
    if (!unsent.empty() && a.tx_burst(0, &unsent.front(), 1) == 1) {
      unsent.pop_front();
      ++sent;
    }
  }
  receiver.join();
  EXPECT_FALSE(receiver_failed);
  EXPECT_EQ(sent, kFrames);
  EXPECT_EQ(in_pool_a.load(), kFrames);  // every frame B read was in A's buffer
  mem::Mbuf *none[1];
  a.rx_burst(0, none, 1);
  EXPECT_EQ(pool_a.available(), pool_a.capacity());
  EXPECT_EQ(pool_b.available(), pool_b.capacity());
  const DpdkQueueDrops d = a.drops(0);
  EXPECT_EQ(d.tx_zero_copy, kFrames);
  EXPECT_EQ(d.tx_copied, 0u);
  EXPECT_EQ(d.tx_in_device, 0u);
  EXPECT_EQ(d.tx_returns_lost, 0u);
  EXPECT_EQ(a.stats(0).tx_packets, kFrames);
}

// A device closed while the port still holds frames it sent: the ring is
// drained at close, and a later opening of the same queue neither returns
// those buffers nor reads them.
TEST(DpdkZeroCopy, ClosingWithFramesOutLeavesNothingBehind) {
  const std::vector<uint8_t> frame = udp_bytes(9, 300);
  {
    DpdkDevice dev(config_for("net_ring0"));
    mem::MbufPool pool(small_pool());
    dev.set_rx_pool(0, &pool);
    dev.start();
    for (int i = 0; i < 10; ++i) {
      mem::Mbuf *m = tf::to_mbuf(pool, frame);
      ASSERT_EQ(dev.tx_burst(0, &m, 1), 1);
    }
    EXPECT_EQ(dev.drops(0).tx_in_device, 10u);
  }
  DpdkDevice dev(config_for("net_ring0"));
  mem::MbufPool pool(small_pool());
  dev.set_rx_pool(0, &pool);
  dev.start();
  mem::Mbuf *burst[16];
  EXPECT_EQ(dev.rx_burst(0, burst, 16), 0);  // the old frames are gone
  mem::Mbuf *m = tf::to_mbuf(pool, frame);
  ASSERT_EQ(dev.tx_burst(0, &m, 1), 1);
  auto got = receive(dev, 0, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(tf::bytes_of(got[0]), frame);
  mem::MbufPool::free_chain(got[0]);
  dev.rx_burst(0, burst, 16);
  EXPECT_EQ(pool.available(), pool.capacity());
  EXPECT_EQ(dev.drops(0).tx_in_device, 0u);
}

// A queue given another pool: what the port still holds of the old one is
// not taken back into either pool when it comes free; the new pool's
// accounting starts from nothing.
TEST(DpdkZeroCopy, AnotherPoolStartsAfreshAndLeavesTheOldBuffersAlone) {
  DpdkDevice dev(config_for("net_ring0"));
  mem::MbufPool first(small_pool());
  mem::MbufPool second(small_pool());
  dev.set_rx_pool(0, &first);
  dev.start();
  const std::vector<uint8_t> frame = udp_bytes(3, 200);
  for (int i = 0; i < 5; ++i) {
    mem::Mbuf *m = tf::to_mbuf(first, frame);
    ASSERT_EQ(dev.tx_burst(0, &m, 1), 1);
  }
  EXPECT_EQ(dev.drops(0).tx_in_device, 5u);
  dev.set_rx_pool(0, &second);
  EXPECT_EQ(dev.drops(0).tx_in_device, 0u);
  auto got = receive(dev, 0, 5);  // wrapped in the second pool's mbufs
  ASSERT_EQ(got.size(), 5u);
  for (mem::Mbuf *m : got) {
    EXPECT_EQ(tf::bytes_of(m), frame);
    mem::MbufPool::free_chain(m);
  }
  mem::Mbuf *none[1];
  dev.rx_burst(0, none, 1);
  EXPECT_EQ(second.available(), second.capacity());
  EXPECT_EQ(first.available(), first.capacity() - 5);  // left where the old generation left them
  EXPECT_EQ(dev.drops(0).tx_in_device, 0u);
  // The second pool's own frames go out zero copy and come home as before.
  mem::Mbuf *m = tf::to_mbuf(second, frame);
  ASSERT_EQ(dev.tx_burst(0, &m, 1), 1);
  EXPECT_EQ(dev.drops(0).tx_in_device, 1u);
  got = receive(dev, 0, 1);
  ASSERT_EQ(got.size(), 1u);
  mem::MbufPool::free_chain(got[0]);
  dev.rx_burst(0, none, 1);
  EXPECT_EQ(second.available(), second.capacity());
  EXPECT_EQ(dev.drops(0).tx_in_device, 0u);
}

// A's frames still unread at B when A closes and opens again with a new
// pool: B frees them later, on its thread; A's new opening takes none of
// them back (they belong to the old pool, which may be gone).
TEST(DpdkZeroCopy, BuffersOfAClosedOpeningAreNotTakenBack) {
  make_ring_pair();
  const std::vector<uint8_t> frame = udp_bytes(4, 120);
  DpdkDevice b(config_for("net_ring_ix_zc_b"));
  mem::MbufPool pool_b(small_pool());
  b.set_rx_pool(0, &pool_b);
  b.start();
  mem::MbufPool old_pool(small_pool());  // outlives the first opening, as a test can
  {
    DpdkDevice a(config_for("net_ring_ix_zc_a"));
    a.set_rx_pool(0, &old_pool);
    a.start();
    for (int i = 0; i < 6; ++i) {
      mem::Mbuf *m = tf::to_mbuf(old_pool, frame);
      ASSERT_EQ(a.tx_burst(0, &m, 1), 1);
    }
  }
  DpdkDevice a(config_for("net_ring_ix_zc_a"));
  mem::MbufPool new_pool(small_pool());
  a.set_rx_pool(0, &new_pool);
  a.start();
  std::thread reader([&] {
    auto got = receive(b, 0, 6);
    EXPECT_EQ(got.size(), 6u);
    for (mem::Mbuf *m : got) {
      EXPECT_EQ(tf::bytes_of(m), frame);
      mem::MbufPool::free_chain(m);
    }
  });
  reader.join();
  // The new opening sends one of its own, so that its next poll looks at
  // the return ring: only that one comes back.
  mem::Mbuf *m = tf::to_mbuf(new_pool, frame);
  ASSERT_EQ(a.tx_burst(0, &m, 1), 1);
  EXPECT_EQ(a.drops(0).tx_in_device, 1u);
  auto got = receive(b, 0, 1);
  ASSERT_EQ(got.size(), 1u);
  mem::MbufPool::free_chain(got[0]);
  mem::Mbuf *none[1];
  a.rx_burst(0, none, 1);
  EXPECT_EQ(new_pool.available(), new_pool.capacity());
  EXPECT_EQ(old_pool.available(), old_pool.capacity() - 6);
  EXPECT_EQ(a.drops(0).tx_in_device, 0u);
}

}  // namespace
}  // namespace ix::drivers
