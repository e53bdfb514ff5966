// Packet buffers and their pool: allocation, exhaustion and recovery, misuse
// (double free), header room arithmetic, chains, external (application)
// buffers and generation numbers.
#include "mem/mbuf_pool.hh"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "mem/mbuf.hh"

namespace ix::mem {
namespace {

MbufPoolConfig small_pool(uint32_t count, uint16_t data_size = 256, uint16_t headroom = 64) {
  MbufPoolConfig c;
  c.count = count;
  c.data_size = data_size;
  c.headroom = headroom;
  c.try_huge_pages = false;
  c.name = "test_pool";
  return c;
}

TEST(MbufPoolTest, AllocGivesResetBufferWithHeadroom) {
  MbufPool pool(small_pool(4));
  Mbuf *m = pool.alloc();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->headroom(), 64);
  EXPECT_EQ(m->data_len, 0);
  EXPECT_EQ(m->pkt_len, 0u);
  EXPECT_EQ(m->nb_segs, 1);
  EXPECT_EQ(m->next, nullptr);
  EXPECT_EQ(m->tailroom(), 256);
  EXPECT_EQ(m->pool, &pool);
  EXPECT_EQ(m->in_use, 1);
  EXPECT_FALSE(m->is_external());
  EXPECT_TRUE(pool.owns(m->data()));
  EXPECT_EQ(pool.by_index(m->index), m);
  EXPECT_EQ(pool.available(), 3u);
  pool.free_one(m);
  EXPECT_EQ(pool.available(), 4u);
  EXPECT_EQ(pool.stats().allocs, 1u);
  EXPECT_EQ(pool.stats().frees, 1u);
}

TEST(MbufPoolTest, ReusedBufferIsReset) {
  MbufPool pool(small_pool(1));
  Mbuf *m = pool.alloc();
  m->append(10);
  m->ol_flags = kRxRssHashValid;
  m->rss_hash = 7;
  m->cookie = 99;
  pool.free_one(m);
  Mbuf *again = pool.alloc();
  ASSERT_EQ(again, m);
  EXPECT_EQ(again->data_len, 0);
  EXPECT_EQ(again->ol_flags, 0u);
  EXPECT_EQ(again->rss_hash, 0u);
  EXPECT_EQ(again->cookie, 0u);
  EXPECT_EQ(again->headroom(), 64);
  pool.free_one(again);
}

TEST(MbufPoolTest, BuffersAreDistinctAndDoNotOverlap) {
  MbufPool pool(small_pool(16));
  std::vector<Mbuf *> all(16);
  ASSERT_EQ(pool.alloc_bulk(all.data(), 16), 16u);
  std::set<Mbuf *> unique(all.begin(), all.end());
  EXPECT_EQ(unique.size(), 16u);
  for (size_t i = 0; i < all.size(); ++i) std::memset(all[i]->append(256), int(i), 256);
  for (size_t i = 0; i < all.size(); ++i)
    for (uint16_t b = 0; b < 256; ++b) ASSERT_EQ(all[i]->data()[b], uint8_t(i));
  for (Mbuf *m : all) pool.free_one(m);
}

TEST(MbufPoolTest, ExhaustionIsCountedAndPoolRecovers) {
  MbufPool pool(small_pool(8));
  std::vector<Mbuf *> got(10, nullptr);
  EXPECT_EQ(pool.alloc_bulk(got.data(), 10), 8u);
  EXPECT_EQ(pool.available(), 0u);
  EXPECT_EQ(pool.alloc(), nullptr);
  EXPECT_EQ(pool.alloc(), nullptr);
  // alloc_bulk asked for 10 and got 8 (one failure), then two failed allocs.
  EXPECT_EQ(pool.stats().alloc_failures, 3u);
  pool.free_one(got[3]);
  Mbuf *m = pool.alloc();
  EXPECT_EQ(m, got[3]);
  got[3] = m;
  for (uint32_t i = 0; i < 8; ++i) pool.free_one(got[i]);
  EXPECT_EQ(pool.available(), 8u);
  EXPECT_EQ(pool.stats().allocs, 9u);
  EXPECT_EQ(pool.stats().frees, 9u);
}

TEST(MbufPoolTest, DoubleFreeIsCountedAndHarmless) {
  MbufPool pool(small_pool(4));
  Mbuf *a = pool.alloc();
  pool.free_one(a);
  const uint16_t gen = a->generation;
  pool.free_one(a);
  EXPECT_EQ(pool.stats().double_frees, 1u);
  EXPECT_EQ(pool.stats().frees, 1u);
  EXPECT_EQ(pool.available(), 4u);  // not pushed twice
  EXPECT_EQ(a->generation, gen);
  // Four allocations give four different buffers: the free list is intact.
  std::set<Mbuf *> seen;
  for (int i = 0; i < 4; ++i) seen.insert(pool.alloc());
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen.count(nullptr), 0u);
  EXPECT_EQ(pool.alloc(), nullptr);
  for (Mbuf *m : seen) pool.free_one(m);
}

TEST(MbufPoolTest, GenerationBumpsOnEveryFree) {
  MbufPool pool(small_pool(1));
  Mbuf *m = pool.alloc();
  const uint16_t g0 = m->generation;
  pool.free_one(m);
  EXPECT_EQ(m->generation, uint16_t(g0 + 1));
  m = pool.alloc();
  EXPECT_EQ(m->generation, uint16_t(g0 + 1));  // alloc keeps it: handles taken now stay valid
  pool.free_one(m);
  EXPECT_EQ(m->generation, uint16_t(g0 + 2));
}

TEST(MbufTest, PrependAdjAppendRespectBounds) {
  MbufPool pool(small_pool(1, 100, 32));
  Mbuf *m = pool.alloc();
  EXPECT_EQ(m->append(101), nullptr);
  EXPECT_EQ(m->data_len, 0);
  uint8_t *body = m->append(100);
  ASSERT_NE(body, nullptr);
  std::memset(body, 0xbb, 100);
  EXPECT_EQ(m->tailroom(), 0);
  EXPECT_EQ(m->append(1), nullptr);

  EXPECT_EQ(m->prepend(33), nullptr);
  EXPECT_EQ(m->pkt_len, 100u);
  uint8_t *hdr = m->prepend(32);
  ASSERT_NE(hdr, nullptr);
  EXPECT_EQ(hdr, m->buf);
  EXPECT_EQ(m->headroom(), 0);
  EXPECT_EQ(m->data_len, 132);
  EXPECT_EQ(m->pkt_len, 132u);
  EXPECT_EQ(m->prepend(1), nullptr);

  EXPECT_EQ(m->adj(133), nullptr);
  EXPECT_EQ(m->data_len, 132);
  uint8_t *after = m->adj(32);
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(after[0], 0xbb);
  EXPECT_EQ(m->pkt_len, 100u);
  m->trim_to(4);
  EXPECT_EQ(m->data_len, 4);
  EXPECT_EQ(m->pkt_len, 4u);
  m->trim_to(50);  // never grows
  EXPECT_EQ(m->data_len, 4);
  EXPECT_NE(m->adj(4), nullptr);
  EXPECT_EQ(m->data_len, 0);
  EXPECT_EQ(m->pkt_len, 0u);
  EXPECT_EQ(m->adj(1), nullptr);
  pool.free_one(m);
}

TEST(MbufTest, ChainAndCopyOut) {
  MbufPool pool(small_pool(3, 64));
  Mbuf *a = pool.alloc(), *b = pool.alloc(), *c = pool.alloc();
  std::vector<uint8_t> expect(150);
  std::iota(expect.begin(), expect.end(), uint8_t{0});
  std::memcpy(a->append(50), expect.data(), 50);
  std::memcpy(b->append(64), expect.data() + 50, 64);
  std::memcpy(c->append(36), expect.data() + 114, 36);
  a->chain(b);
  a->chain(c);
  EXPECT_EQ(a->pkt_len, 150u);
  EXPECT_EQ(a->nb_segs, 3);
  EXPECT_EQ(a->next, b);
  EXPECT_EQ(b->next, c);
  std::vector<uint8_t> out(a->pkt_len);
  a->copy_out(out.data());
  EXPECT_EQ(out, expect);
  MbufPool::free_chain(a);
  EXPECT_EQ(pool.available(), 3u);
  EXPECT_EQ(pool.stats().frees, 3u);
}

struct ReleaseLog {
  int calls = 0;
  Mbuf *last = nullptr;
  uint64_t cookie = 0;
};

void record_release(Mbuf *m, void *arg) {
  auto *log = static_cast<ReleaseLog *>(arg);
  ++log->calls;
  log->last = m;
  log->cookie = m->cookie;
}

TEST(MbufTest, ExternalBufferReleaseFiresExactlyOnce) {
  MbufPool pool(small_pool(2));
  static const uint8_t app_data[] = "application owned bytes";
  ReleaseLog log;
  Mbuf *m = pool.alloc();
  m->attach_external(app_data, sizeof(app_data), record_release, &log, 0xfeed);
  EXPECT_TRUE(m->is_external());
  EXPECT_EQ(m->data(), app_data);
  EXPECT_EQ(m->pkt_len, sizeof(app_data));
  pool.free_one(m);
  EXPECT_EQ(log.calls, 1);
  EXPECT_EQ(log.last, m);
  EXPECT_EQ(log.cookie, 0xfeedu);
  pool.free_one(m);  // double free: counted, no second release
  EXPECT_EQ(log.calls, 1);
  EXPECT_EQ(pool.stats().double_frees, 1u);
  // The buffer comes back pointing at its own memory again.
  Mbuf *again = pool.alloc();
  ASSERT_EQ(again, m);
  EXPECT_FALSE(again->is_external());
  EXPECT_TRUE(pool.owns(again->data()));
  EXPECT_EQ(again->tailroom(), 256);
  pool.free_one(again);
  EXPECT_EQ(log.calls, 1);
}

TEST(MbufTest, ExternalSegmentInChainReleasedOnFreeChain) {
  MbufPool pool(small_pool(3));
  static const uint8_t payload[40] = {1, 2, 3};
  ReleaseLog log;
  Mbuf *hdr = pool.alloc();
  std::memset(hdr->append(20), 0x11, 20);
  Mbuf *ext = pool.alloc();
  ext->attach_external(payload, sizeof(payload), record_release, &log, 1);
  hdr->chain(ext);
  EXPECT_EQ(hdr->pkt_len, 60u);
  std::vector<uint8_t> out(60);
  hdr->copy_out(out.data());
  EXPECT_EQ(out[20], 1);
  EXPECT_EQ(out[22], 3);
  MbufPool::free_chain(hdr);
  EXPECT_EQ(log.calls, 1);
  EXPECT_EQ(log.last, ext);
  EXPECT_EQ(pool.available(), 3u);
}

TEST(MbufPoolTest, RejectsBadConfig) {
  EXPECT_THROW(MbufPool(small_pool(0)), std::invalid_argument);
  EXPECT_THROW(MbufPool(small_pool(1, 65535, 128)), std::invalid_argument);
}

TEST(MbufPoolTest, HeadersLiveApartFromThePageAlignedDataArea) {
  MbufPool pool(small_pool(40, 256, 64));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(pool.data_area()) % 4096, 0u);
  EXPECT_EQ(pool.buffer_stride(), 320u);  // 64 + 256, a multiple of 64
  EXPECT_EQ(pool.data_bytes(), 40u * 320u);
  for (uint32_t i = 0; i < pool.capacity(); ++i) {
    Mbuf *m = pool.by_index(i);
    // No header inside the data area: a device that writes there (an
    // AF_XDP UMEM) cannot reach pool metadata.
    EXPECT_FALSE(pool.owns(m));
    EXPECT_EQ(m->own_buf, pool.data_area() + i * 320u);
    EXPECT_EQ(pool.by_data_offset(i * 320u), m);
    EXPECT_EQ(pool.by_data_offset(i * 320u + 319u), m);
  }
  EXPECT_EQ(pool.by_data_offset(pool.data_bytes()), nullptr);
}

TEST(MbufPoolTest, AFixedBufferStrideGivesAlignedBuffersOfThatSize) {
  MbufPoolConfig c = small_pool(16, 256, 128);
  c.buffer_stride = 2048;
  MbufPool pool(c);
  EXPECT_EQ(pool.buffer_stride(), 2048u);
  Mbuf *m = pool.alloc();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->headroom(), 128);
  EXPECT_EQ(m->tailroom(), 2048 - 128);  // the stride, not data_size, sets the room
  EXPECT_EQ(pool.data_offset_of(m), m->index * 2048u + 128u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m->own_buf) % 2048, 0u);
  pool.free_one(m);
}

TEST(MbufPoolTest, ABadBufferStrideIsRefusedWithWhatItMustBe) {
  for (uint32_t bad : {100u, 1000u, 3000u, 32768u}) {
    MbufPoolConfig c = small_pool(4);
    c.buffer_stride = bad;
    try {
      MbufPool pool(c);
      FAIL() << "stride " << bad << " accepted";
    } catch (const std::invalid_argument &e) {
      EXPECT_NE(std::string(e.what()).find("power of two"), std::string::npos) << e.what();
    }
  }
  MbufPoolConfig c = small_pool(4, 256, 2048);
  c.buffer_stride = 2048;  // no room left after the headroom
  EXPECT_THROW(MbufPool pool(c), std::invalid_argument);
}

TEST(MbufPoolTest, TheDevicesShareNeverCountsAsTheStacks) {
  MbufPoolConfig c = small_pool(64);
  c.device_share = 32;
  c.rx_reserve = 8;
  MbufPool pool(c);
  EXPECT_EQ(pool.capacity(), 96u);
  EXPECT_EQ(pool.stack_capacity(), 64u);
  // The device posts its whole share for reception and says so.
  std::vector<Mbuf *> device;
  for (int i = 0; i < 32; ++i) device.push_back(pool.alloc_rx());
  pool.set_device_held(32);
  EXPECT_FALSE(pool.under_pressure());
  // The stack gets its own 64 less the RX reserve, not a buffer more.
  std::vector<Mbuf *> stack;
  while (Mbuf *m = pool.alloc()) {
    stack.push_back(m);
    if (stack.size() == 33) {
      EXPECT_TRUE(pool.under_pressure());  // past half of its 64
    }
  }
  EXPECT_EQ(stack.size(), 56u);
  EXPECT_TRUE(pool.in_reserve());
  EXPECT_TRUE(pool.holding_limit());
  // Frames the device received move to the stack; what the device gives
  // back is still its share, not the stack's: alloc() stays at the reserve.
  for (Mbuf *m : device) pool.free_one(m);
  pool.set_device_held(0);
  EXPECT_EQ(pool.alloc(), nullptr);
  EXPECT_TRUE(pool.in_reserve());
  Mbuf *rx = pool.alloc_rx();  // reception may take any buffer
  ASSERT_NE(rx, nullptr);
  pool.free_one(rx);
  // Once the stack frees, it may allocate again.
  pool.free_one(stack.back());
  stack.pop_back();
  EXPECT_NE(stack.emplace_back(pool.alloc()), nullptr);
  for (Mbuf *m : stack) pool.free_one(m);
  EXPECT_FALSE(pool.in_reserve());
  EXPECT_FALSE(pool.under_pressure());
}

TEST(MbufPoolTest, HugePageRequestFallsBackToNormalPages) {
  MbufPoolConfig c = small_pool(64);
  c.try_huge_pages = true;
  MbufPool pool(c);  // works whether or not huge pages are reserved
  Mbuf *m = pool.alloc();
  ASSERT_NE(m, nullptr);
  std::memset(m->append(256), 1, 256);
  pool.free_one(m);
}

}  // namespace
}  // namespace ix::mem
