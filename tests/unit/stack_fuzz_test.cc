// 100k random and mutated frames through NetStack::input (run it under
// ASan/UBSan): nothing may crash, read out of bounds or leak, and the stack
// must still answer afterwards. Seeded, so every failure reproduces.
#include <gtest/gtest.h>

#include <random>

#include "ix/syscall.h"
#include "stack_fixture.hh"

namespace ix::net::test {
namespace {

using StackFuzzTest = StackTest;

class Mutator {
 public:
  explicit Mutator(uint32_t seed) : rng_(seed) {}
  uint32_t next(uint32_t n) { return n == 0 ? 0 : static_cast<uint32_t>(rng_() % n); }

  Bytes seed_frame() {
    switch (next(8)) {
      case 0:
        return ping_frame(static_cast<uint16_t>(next(65536)), 1, pattern(next(64)));
      case 1:
        return udp_frame(1, 7, pattern(next(200)));  // bound port
      case 2:
        return udp_frame(1, static_cast<uint16_t>(next(65536)), pattern(next(40)));
      case 3:
        return eth_frame(MacAddr::broadcast(), kPeerMac, 0x0806,
                         arp_packet(static_cast<uint16_t>(1 + next(2)), kPeerMac,
                                    ipv4(10, 0, 0, static_cast<uint8_t>(next(256))), MacAddr{},
                                    next(2) ? kOurIp : ipv4(10, 0, 0, 3)));
      case 4:
        return udp_frame(1, 7, {}, {.dst = kSubnetBroadcast}, MacAddr::broadcast());
      case 5: {
        IpSpec ip;
        ip.proto = static_cast<uint8_t>(next(256));
        ip.frag = static_cast<uint16_t>(next(65536));
        return eth_frame(kOurMac, kPeerMac, 0x0800, ipv4_packet(ip, pattern(next(80))));
      }
      case 6: {
        Bytes b(next(128));
        for (auto &x : b) x = static_cast<uint8_t>(next(256));
        return b;
      }
      default: {
        Bytes b = ping_frame(1, 1, pattern(next(100)));
        b.resize(b.size() + next(40), static_cast<uint8_t>(next(256)));  // padding
        return b;
      }
    }
  }

  Bytes mutate(Bytes b) {
    const uint32_t edits = next(4);
    for (uint32_t i = 0; i < edits && !b.empty(); ++i) {
      switch (next(5)) {
        case 0:
          b[next(static_cast<uint32_t>(b.size()))] ^= static_cast<uint8_t>(1u << next(8));
          break;
        case 1:
          b[next(static_cast<uint32_t>(b.size()))] = static_cast<uint8_t>(next(256));
          break;
        case 2:
          b.resize(next(static_cast<uint32_t>(b.size()) + 1));
          break;
        case 3: {
          // Rewrite a length-like field with an interesting value.
          const uint16_t vals[] = {0, 1, 7, 8, 19, 20, 21, 0x7fff, 0xffff};
          size_t off = next(static_cast<uint32_t>(b.size()));
          if (off + 1 < b.size()) put16(&b[off], vals[next(9)]);
          break;
        }
        default:
          if (b.size() > 14) b[14] = static_cast<uint8_t>(0x40 | next(16));  // IHL
      }
    }
    return b;
  }

 private:
  std::mt19937 rng_;
};

TEST_F(StackFuzzTest, HundredThousandMutatedFrames) {
  cfg.arp_table_size = 16;
  make_stack();
  RecordingReceiver rx;
  ASSERT_TRUE(stack->udp_bind(7, &rx));
  Mutator mut(20240611);
  constexpr int kFrames = 100'000;
  for (int i = 0; i < kFrames; ++i) {
    Bytes f = mut.next(10) == 0 ? mut.seed_frame() : mut.mutate(mut.seed_frame());
    mem::Mbuf *m = to_mbuf(f, static_cast<uint16_t>(mut.next(129)));
    ASSERT_NE(m, nullptr) << "pool leak at frame " << i;
    const uint32_t flags = mut.next(8);
    m->ol_flags = (flags & 1 ? uint32_t{mem::kRxIpCsumGood} : 0u) |
                  (flags & 2 ? uint32_t{mem::kRxL4CsumGood} : 0u);
    stack->input(m);
    if (mut.next(50) == 0) {
      mem::Mbuf *p = pool.alloc();
      p->append(static_cast<uint16_t>(mut.next(100)));
      if (stack->udp_send(ipv4(10, 0, 0, static_cast<uint8_t>(mut.next(256))), 9, 9, p) != IX_OK)
        mem::MbufPool::free_chain(p);
    }
    if (mut.next(100) == 0) advance(mut.next(2'000'000'000));
    if (sink.size() > 32) sink.clear();
    rx.got.clear();
  }
  EXPECT_EQ(stack->counters().rx_frames, static_cast<uint64_t>(kFrames));
  EXPECT_GT(stack->counters().total_drops(), 0u);
  EXPECT_GT(stack->counters().udp_rx, 0u);
  expect_ping_works();
  stack.reset();
  sink.clear();
  EXPECT_EQ(pool.available(), pool.capacity());
}

}  // namespace
}  // namespace ix::net::test
