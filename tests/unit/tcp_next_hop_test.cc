// The next hop a connection remembers (NextHopCache): its segments skip the
// route and ARP lookups while the ARP table's generation holds, and follow
// the table as soon as a mapping changes or expires.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

inline const MacAddr kMacMoved{{0x02, 0, 0, 0, 0, 0x5b}};

// An ARP reply from `ip` at `mac`, to A.
Bytes arp_reply_to_a(Ipv4Addr ip, const MacAddr &mac) {
  Bytes f(14 + 28, 0);
  std::copy(kMacA.b.begin(), kMacA.b.end(), f.begin());
  std::copy(mac.b.begin(), mac.b.end(), f.begin() + 6);
  f[12] = 0x08, f[13] = 0x06;
  uint8_t *a = f.data() + 14;
  a[1] = 1;               // Ethernet
  a[2] = 0x08, a[3] = 0;  // IPv4
  a[4] = 6, a[5] = 4;     // address lengths
  a[7] = 2;               // reply
  std::copy(mac.b.begin(), mac.b.end(), a + 8);
  for (int i = 0; i < 4; ++i) a[14 + i] = static_cast<uint8_t>(ip.v >> (24 - 8 * i));
  std::copy(kMacA.b.begin(), kMacA.b.end(), a + 18);
  for (int i = 0; i < 4; ++i) a[24 + i] = static_cast<uint8_t>(kIpA.v >> (24 - 8 * i));
  return f;
}

class TcpNextHopTest : public TcpPairTest {
 protected:
  // What A puts on the wire, in order: the destination MAC and EtherType of
  // every frame.
  struct Sent {
    MacAddr dst;
    uint16_t type;
  };
  void watch_a() {
    A->sink.tap = [this](const mem::Mbuf &m) {
      const uint8_t *p = m.data();
      Sent s;
      std::copy(p, p + 6, s.dst.b.begin());
      s.type = static_cast<uint16_t>((p[12] << 8) | p[13]);
      sent.push_back(s);
    };
  }
  // The first frame of `type` A sent at or after index `from`.
  std::optional<Sent> first_of(uint16_t type, size_t from) const {
    for (size_t i = from; i < sent.size(); ++i)
      if (sent[i].type == type) return sent[i];
    return std::nullopt;
  }
  std::vector<Sent> sent;
};

TEST_F(TcpNextHopTest, ConnectionsRememberTheNextHopAndFollowItsChanges) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  ASSERT_TRUE(transfer(*A, ha, pattern(3000, 1), *B, hb));
  const Tcb *t = A->tcp().tcb_of(ha);
  ASSERT_NE(t, nullptr);
  EXPECT_NE(t->nh.arp_generation, 0u);  // filled by the first segment that found B resolved
  EXPECT_EQ(t->nh.mac, kMacB);
  const uint64_t arp_requests = A->stack->counters().arp_requests_tx;

  // B's address moves to another MAC (an ARP reply says so): the very next
  // segment of the established connection goes there, without a request.
  watch_a();
  inject(*A, arp_reply_to_a(kIpB, kMacMoved));
  size_t mark = sent.size();
  const Bytes lost = pattern(500, 2);
  iovec iov{const_cast<uint8_t *>(lost.data()), lost.size()};
  ASSERT_EQ(A->tcp().sendv(ha, &iov, 1), 500);
  run_for(1'000'000);
  auto moved = first_of(0x0800, mark);
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->dst, kMacMoved);
  EXPECT_EQ(A->stack->counters().arp_requests_tx, arp_requests);

  // And back: the retransmission reaches B and the stream completes.
  inject(*A, arp_reply_to_a(kIpB, kMacB));
  mark = sent.size();
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].received.size() >= 3500; }));
  auto back = first_of(0x0800, mark);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->dst, kMacB);
  EXPECT_EQ(B->app.conns[hb].received, [] {
    Bytes all = pattern(3000, 1);
    const Bytes more = pattern(500, 2);
    all.insert(all.end(), more.begin(), more.end());
    return all;
  }());
}

TEST_F(TcpNextHopTest, AnExpiredNeighbourIsAskedForAgainBeforeTheNextSegment) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  ASSERT_TRUE(transfer(*A, ha, pattern(2000, 3), *B, hb));
  ASSERT_NE(A->tcp().tcb_of(ha)->nh.arp_generation, 0u);

  // Idle past the ARP entry's lifetime (60 s): it expires.
  const uint64_t expired = A->stack->counters().arp_expired;
  run_for(61'000'000'000ull);
  EXPECT_GT(A->stack->counters().arp_expired, expired);

  // The next segment waits for a fresh answer: A asks first, then sends.
  watch_a();
  ASSERT_TRUE(transfer(*A, ha, pattern(700, 4), *B, hb));
  ASSERT_FALSE(sent.empty());
  size_t first_arp = sent.size(), first_tcp = sent.size();
  for (size_t i = sent.size(); i-- > 0;) {
    if (sent[i].type == 0x0806) first_arp = i;
    if (sent[i].type == 0x0800) first_tcp = i;
  }
  ASSERT_LT(first_arp, sent.size());
  ASSERT_LT(first_tcp, sent.size());
  EXPECT_LT(first_arp, first_tcp);
  EXPECT_TRUE(sent[first_arp].dst.is_broadcast());
  EXPECT_EQ(sent[first_tcp].dst, kMacB);
}

}  // namespace
}  // namespace ix::net::tcp::test
