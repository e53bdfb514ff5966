// Prefetching a burst's control blocks (NetStack::prefetch,
// Tcp::prefetch_segments, LocalContext's prefetch of a batch's commands) is
// a hint: it must read only the frames' own bytes, change nothing, and be
// skipped where it does not pay. Every TcpPairTest burst goes through it too
// (default_tcp() sets prefetch_min_conns to 0), under the sanitizers.
#include <gtest/gtest.h>

#include <vector>

#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

class TcpPrefetchTest : public TcpPairTest {
 protected:
  // Copies each frame into a buffer of B's pool, as the wire would.
  std::vector<mem::Mbuf *> burst_of(const std::vector<Bytes> &frames) {
    std::vector<mem::Mbuf *> ms;
    for (const Bytes &f : frames) {
      mem::Mbuf *m = B->pool.alloc();
      EXPECT_NE(m, nullptr);
      if (m == nullptr) break;
      if (!f.empty()) std::memcpy(m->append(static_cast<uint16_t>(f.size())), f.data(), f.size());
      ms.push_back(m);
    }
    return ms;
  }
};

TEST_F(TcpPrefetchTest, ABurstOfAnyFramesIsPrefetchedWithoutChangingAnything) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_TRUE(B->tcp().prefetch_pays());

  // A valid data segment of the connection, every truncation of it, and
  // frames of other kinds: ARP, IPv4 with options, UDP, IPv6, a fragment,
  // an IPv4 header claiming more header than the frame has, and one for no
  // connection. None of them may be read past its end or change state.
  RawSegment r = from_a(ha);
  r.flags = kAck | kPsh;
  r.payload = Bytes(100, 'x');
  const Bytes good = raw_frame(r);
  std::vector<Bytes> frames;
  for (size_t len = 0; len <= good.size(); ++len)
    frames.emplace_back(good.begin(), good.begin() + len);
  Bytes arp = good;
  arp[12] = 0x08, arp[13] = 0x06;
  frames.push_back(arp);
  Bytes ipv6 = good;
  ipv6[12] = 0x86, ipv6[13] = 0xdd;
  frames.push_back(ipv6);
  Bytes long_ihl = good;
  long_ihl[14] = 0x4f;  // 60-byte IPv4 header
  frames.push_back(Bytes(long_ihl.begin(), long_ihl.begin() + 14 + 40));
  Bytes udp = good;
  udp[14 + 9] = 17;
  frames.push_back(udp);
  Bytes fragment = good;
  fragment[14 + 7] = 0x08;  // fragment offset 8
  frames.push_back(fragment);
  RawSegment stranger = r;
  stranger.sport = 4321;
  frames.push_back(raw_frame(stranger));
  ASSERT_GE(frames.size(), 2u);

  std::vector<mem::Mbuf *> burst = burst_of(frames);
  ASSERT_EQ(burst.size(), frames.size());
  const Tcb *t = B->tcp().tcb_of(hb);
  const Seq rcv_nxt = t->rcv_nxt;
  const uint64_t segments_rx = B->tcp().stats().segments_rx;
  const uint64_t rx_frames = B->stack->counters().rx_frames;
  const uint64_t drops = B->stack->counters().total_drops();
  const uint32_t available = B->pool.available();

  B->stack->prefetch(burst.data(), static_cast<unsigned>(burst.size()));

  EXPECT_EQ(t->rcv_nxt, rcv_nxt);
  EXPECT_EQ(B->tcp().stats().segments_rx, segments_rx);
  EXPECT_EQ(B->stack->counters().rx_frames, rx_frames);
  EXPECT_EQ(B->stack->counters().total_drops(), drops);
  EXPECT_EQ(B->pool.available(), available);
  for (size_t i = 0; i < burst.size(); ++i)
    EXPECT_EQ(burst[i]->data_len, frames[i].size()) << "frame " << i << " was changed";

  // The frames then go through input() as usual: the whole one is taken,
  // the rest dropped and counted.
  for (mem::Mbuf *m : burst) B->stack->input(m);
  EXPECT_EQ(t->rcv_nxt, rcv_nxt + 100);
  EXPECT_GT(B->stack->counters().total_drops(), drops);
}

TEST_F(TcpPrefetchTest, PrefetchingStartsAtTheConfiguredNumberOfConnections) {
  TcpConfig b = default_tcp();
  b.prefetch_min_conns = 2;
  start({}, default_tcp(), b);
  EXPECT_FALSE(B->tcp().prefetch_pays()) << "no connection yet";
  connect_pair();
  EXPECT_FALSE(B->tcp().prefetch_pays()) << "one connection";
  connect_pair(81);
  EXPECT_TRUE(B->tcp().prefetch_pays()) << "two connections";
  // The default is past a core's second-level cache.
  EXPECT_EQ(TcpConfig{}.prefetch_min_conns, 1024u);
}

}  // namespace
}  // namespace ix::net::tcp::test
