#include "net/udp.hh"

#include <gtest/gtest.h>

#include "ix/syscall.h"
#include "stack_fixture.hh"

namespace ix::net::test {
namespace {

using UdpTest = StackTest;

mem::Mbuf *payload(mem::MbufPool &pool, const Bytes &data, uint16_t headroom = 128) {
  mem::Mbuf *m = pool.alloc();
  m->data_off = headroom;
  std::memcpy(m->append(static_cast<uint16_t>(data.size())), data.data(), data.size());
  return m;
}

// Checks a captured UDP frame from us to the peer.
void expect_udp_frame(const Bytes &f, uint16_t sport, uint16_t dport, const Bytes &data,
                      Ipv4Addr dst = kPeerIp) {
  ASSERT_EQ(f.size(), 42 + data.size());
  EXPECT_EQ(get_mac(f, 6), kOurMac);
  EXPECT_EQ(get16(f, 12), 0x0800);
  EXPECT_EQ(f[14], 0x45);
  EXPECT_EQ(get16(f, 16), 28 + data.size());
  EXPECT_EQ(f[23], 17);
  EXPECT_EQ(get32(f, 26), kOurIp.v);
  EXPECT_EQ(get32(f, 30), dst.v);
  EXPECT_EQ(ref_fold(ref_sum(&f[14], 20)), 0xffff);
  EXPECT_EQ(get16(f, 34), sport);
  EXPECT_EQ(get16(f, 36), dport);
  EXPECT_EQ(get16(f, 38), 8 + data.size());
  EXPECT_NE(get16(f, 40), 0);
  EXPECT_EQ(ref_fold(ref_sum(&f[34], f.size() - 34,
                             ref_pseudo(kOurIp, dst, 17, static_cast<uint16_t>(8 + data.size())))),
            0xffff);
  EXPECT_EQ(Bytes(f.begin() + 42, f.end()), data);
}

TEST_F(UdpTest, DeliversToBoundPortZeroCopy) {
  RecordingReceiver rx;
  ASSERT_TRUE(s().udp_bind(5000, &rx));
  const Bytes data = pattern(33);
  inject(udp_frame(4000, 5000, data));
  ASSERT_EQ(rx.got.size(), 1u);
  EXPECT_EQ(rx.got[0].payload, data);
  EXPECT_EQ(rx.got[0].d.src, kPeerIp);
  EXPECT_EQ(rx.got[0].d.dst, kOurIp);
  EXPECT_EQ(rx.got[0].d.src_port, 4000);
  EXPECT_EQ(rx.got[0].d.dst_port, 5000);
  EXPECT_EQ(stack->counters().udp_rx, 1u);
  EXPECT_EQ(total_drops(), 0u);
  EXPECT_EQ(pool.available(), pool.capacity());
}

TEST_F(UdpTest, BindRules) {
  RecordingReceiver a, b;
  EXPECT_FALSE(s().udp_bind(0, &a));
  EXPECT_FALSE(s().udp_bind(7, nullptr));
  EXPECT_TRUE(s().udp_bind(7, &a));
  EXPECT_FALSE(s().udp_bind(7, &b));
  EXPECT_TRUE(s().udp_unbind(7));
  EXPECT_FALSE(s().udp_unbind(7));
  EXPECT_TRUE(s().udp_bind(7, &b));
  EXPECT_TRUE(s().udp_bind(65535, &a));
  inject(udp_frame(1, 65535, {1}));
  EXPECT_EQ(a.got.size(), 1u);
}

TEST_F(UdpTest, ZeroChecksumAcceptedAndPaddingTrimmed) {
  RecordingReceiver rx;
  ASSERT_TRUE(s().udp_bind(53, &rx));
  IpSpec ip;
  ip.proto = 17;
  Bytes f = eth_frame(kOurMac, kPeerMac, 0x0800,
                      ipv4_packet(ip, udp_segment(kPeerIp, kOurIp, 1, 53, {9, 8, 7}, false)));
  f.resize(60, 0x55);
  inject(f);
  ASSERT_EQ(rx.got.size(), 1u);
  EXPECT_EQ(rx.got[0].payload, (Bytes{9, 8, 7}));
}

TEST_F(UdpTest, UdpLengthShorterThanIpPayloadTrims) {
  RecordingReceiver rx;
  ASSERT_TRUE(s().udp_bind(53, &rx));
  // UDP says 8+2 bytes; IP carries 8+5. The extra 3 bytes are not delivered.
  Bytes u = udp_segment(kPeerIp, kOurIp, 1, 53, {1, 2}, true);
  u.insert(u.end(), {0xa, 0xb, 0xc});
  inject(eth_frame(kOurMac, kPeerMac, 0x0800, ipv4_packet({.proto = 17}, u)));
  ASSERT_EQ(rx.got.size(), 1u);
  EXPECT_EQ(rx.got[0].payload, (Bytes{1, 2}));
}

TEST_F(UdpTest, MalformedDatagramsCountedByReason) {
  RecordingReceiver rx;
  ASSERT_TRUE(s().udp_bind(53, &rx));
  for (size_t n = 0; n < 8; ++n)
    expect_drop(eth_frame(kOurMac, kPeerMac, 0x0800, ipv4_packet({.proto = 17}, Bytes(n, 0))),
                DropReason::kUdpTruncated);
  auto with_len = [](uint16_t len) {
    Bytes u = udp_segment(kPeerIp, kOurIp, 1, 53, {1, 2, 3, 4}, false);
    put16(&u[4], len);
    return eth_frame(kOurMac, kPeerMac, 0x0800, ipv4_packet({.proto = 17}, u));
  };
  expect_drop(with_len(7), DropReason::kUdpBadLength);
  expect_drop(with_len(0), DropReason::kUdpBadLength);
  expect_drop(with_len(13), DropReason::kUdpBadLength);
  expect_drop(with_len(0xffff), DropReason::kUdpBadLength);
  Bytes bad = udp_frame(1, 53, pattern(20));
  bad[50] ^= 0x10;
  expect_drop(bad, DropReason::kUdpBadChecksum);
  EXPECT_TRUE(rx.got.empty());
  // The NIC verified it: accepted as is.
  inject(bad, mem::kRxL4CsumGood);
  EXPECT_EQ(rx.got.size(), 1u);
  expect_ping_works();
}

TEST_F(UdpTest, SendPrependsInPlaceWithHeadroom) {
  learn_peer();
  mem::Mbuf *p = payload(pool, pattern(100), 64);
  const uint32_t free_before = pool.available();
  ASSERT_EQ(stack->udp_send(kPeerIp, 7777, 6666, p), IX_OK);
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(sink.frames[0], p);  // same buffer, headers in front
  EXPECT_EQ(sink.frames[0]->nb_segs, 1);
  EXPECT_EQ(pool.available(), free_before);
  expect_udp_frame(sink.bytes(0), 6666, 7777, pattern(100));
  EXPECT_EQ(get_mac(sink.bytes(0), 0), kPeerMac);
  EXPECT_EQ(sink.frames[0]->l2_len, 14);
  EXPECT_EQ(sink.frames[0]->l3_len, 20);
  EXPECT_EQ(sink.frames[0]->l4_len, 8);
  EXPECT_EQ(stack->counters().udp_tx, 1u);
}

TEST_F(UdpTest, SendUsesHeaderMbufWithoutHeadroom) {
  learn_peer();
  mem::Mbuf *p = payload(pool, pattern(101), 10);  // odd length, too little headroom
  ASSERT_EQ(stack->udp_send(kPeerIp, 7777, 6666, p), IX_OK);
  ASSERT_EQ(sink.size(), 1u);
  mem::Mbuf *f = sink.frames[0];
  EXPECT_NE(f, p);
  EXPECT_EQ(f->next, p);
  EXPECT_EQ(f->nb_segs, 2);
  EXPECT_EQ(f->data_len, 42);
  EXPECT_EQ(f->pkt_len, 143u);
  expect_udp_frame(sink.bytes(0), 6666, 7777, pattern(101));
}

struct Released {
  int calls = 0;
  uint64_t cookie = 0;
};
void on_release(mem::Mbuf *m, void *arg) {
  auto *r = static_cast<Released *>(arg);
  ++r->calls;
  r->cookie = m->cookie;
}

TEST_F(UdpTest, SendFromApplicationMemoryReleasesAfterTransmit) {
  learn_peer();
  const Bytes app = pattern(77, 42);  // the application's buffer
  Released rel;
  mem::Mbuf *p = pool.alloc();
  p->attach_external(app.data(), static_cast<uint16_t>(app.size()), &on_release, &rel, 0xc00c1e);
  ASSERT_EQ(stack->udp_send(kPeerIp, 7777, 6666, p), IX_OK);
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(sink.frames[0]->next, p);
  EXPECT_EQ(sink.frames[0]->next->data(), app.data());  // not copied
  expect_udp_frame(sink.bytes(0), 6666, 7777, app);
  EXPECT_EQ(rel.calls, 0);  // the "NIC" still holds it
  sink.clear();             // transmitted and freed
  EXPECT_EQ(rel.calls, 1);
  EXPECT_EQ(rel.cookie, 0xc00c1eu);
  EXPECT_EQ(pool.available(), pool.capacity());
}

TEST_F(UdpTest, SendChecksumOverOddChain) {
  learn_peer();
  mem::Mbuf *p = payload(pool, pattern(3, 1), 0);
  p->chain(payload(pool, pattern(5, 9), 0));
  p->chain(payload(pool, pattern(1, 200), 0));
  Bytes all = pattern(3, 1);
  for (auto b : pattern(5, 9)) all.push_back(b);
  all.push_back(pattern(1, 200)[0]);
  ASSERT_EQ(stack->udp_send(kPeerIp, 1, 2, p), IX_OK);
  ASSERT_EQ(sink.size(), 1u);
  expect_udp_frame(sink.bytes(0), 2, 1, all);
}

TEST_F(UdpTest, SendChecksumOffload) {
  caps.tx_l4_csum = true;
  make_stack();
  learn_peer();
  ASSERT_EQ(stack->udp_send(kPeerIp, 1, 2, payload(pool, pattern(10))), IX_OK);
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_NE(sink.frames[0]->ol_flags & mem::kTxL4Csum, 0u);
  Bytes f = sink.bytes(0);
  // The field holds the pseudo-header sum for the NIC to finish.
  EXPECT_EQ(get16(f, 40), ref_fold(ref_pseudo(kOurIp, kPeerIp, 17, 18)));
}

TEST_F(UdpTest, SendErrorsLeavePayloadWithCaller) {
  cfg.mtu = 1500;
  cfg.gateway = Ipv4Addr{};
  make_stack();
  learn_peer();
  mem::Mbuf *big = pool.alloc();
  big->append(1473);
  EXPECT_EQ(stack->udp_send(kPeerIp, 9, 9, big), IX_EMSGSIZE);
  big->trim_to(1472);
  EXPECT_EQ(stack->udp_send(kPeerIp, 9, 9, big), IX_OK);  // exactly the MTU
  EXPECT_EQ(get16(sink.bytes(0), 16), 1500);

  mem::Mbuf *p = payload(pool, {1, 2, 3});
  EXPECT_EQ(stack->udp_send(Ipv4Addr{}, 9, 9, p), IX_EINVAL);
  EXPECT_EQ(stack->udp_send(kPeerIp, 0, 9, p), IX_EINVAL);
  EXPECT_EQ(stack->udp_send(kOurIp, 9, 9, p), IX_EINVAL);
  EXPECT_EQ(stack->udp_send(kPeerIp, 9, 9, nullptr), IX_EINVAL);
  EXPECT_EQ(stack->udp_send(kRemoteIp, 9, 9, p), IX_EHOSTUNREACH);
  EXPECT_EQ(drops(DropReason::kIpv4NoRoute), 1u);
  EXPECT_EQ(p->data_len, 3);
  EXPECT_EQ(p->data_off, 128);
  mem::MbufPool::free_chain(p);
}

TEST_F(UdpTest, SendToBroadcastAndMulticast) {
  s();
  ASSERT_EQ(stack->udp_send(kSubnetBroadcast, 9, 9, payload(pool, {1})), IX_OK);
  ASSERT_EQ(stack->udp_send(ipv4(255, 255, 255, 255), 9, 9, payload(pool, {1})), IX_OK);
  ASSERT_EQ(stack->udp_send(ipv4(239, 129, 2, 3), 9, 9, payload(pool, {1})), IX_OK);
  ASSERT_EQ(sink.size(), 3u);  // no ARP needed
  EXPECT_EQ(get_mac(sink.bytes(0), 0), MacAddr::broadcast());
  EXPECT_EQ(get_mac(sink.bytes(1), 0), MacAddr::broadcast());
  EXPECT_EQ(get_mac(sink.bytes(2), 0), (MacAddr{{0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}}));
  EXPECT_EQ(stack->arp_entries(), 0u);
}

TEST_F(UdpTest, PoolExhaustionIsCountedAndRecovers) {
  learn_peer();
  // Take every buffer but one for a payload.
  std::vector<mem::Mbuf *> taken;
  while (pool.available() > 1) taken.push_back(pool.alloc());
  mem::Mbuf *p = payload(pool, {1, 2}, 0);
  ASSERT_EQ(pool.available(), 0u);
  // No buffer for a header segment.
  EXPECT_EQ(stack->udp_send(kPeerIp, 9, 9, p), IX_ENOBUFS);
  EXPECT_EQ(p->next, nullptr);
  // An ARP request cannot be built either: counted, and the entry retries.
  mem::Mbuf *q = taken.back();
  taken.pop_back();
  q->data_off = 128;
  q->data_len = 0;
  q->pkt_len = 0;
  q->append(4);
  EXPECT_EQ(stack->udp_send(ipv4(10, 0, 0, 9), 9, 9, q), IX_OK);  // held; request failed
  EXPECT_EQ(drops(DropReason::kNoMbuf), 1u);
  EXPECT_EQ(sink.size(), 0u);
  // An unreachable port in a frame without headroom cannot be answered.
  mem::Mbuf *in = taken.back();
  taken.pop_back();
  in->data_off = 0;
  Bytes f = udp_frame(1, 2, {});
  std::memcpy(in->append(static_cast<uint16_t>(f.size())), f.data(), f.size());
  stack->input(in);
  EXPECT_EQ(drops(DropReason::kUdpNoPort), 1u);
  EXPECT_EQ(drops(DropReason::kNoMbuf), 2u);
  // Echo replies need no buffer: still answered.
  mem::Mbuf *ping = taken.back();
  taken.pop_back();
  ping->data_off = 128;
  Bytes pf = ping_frame(5, 6, {});
  std::memcpy(ping->append(static_cast<uint16_t>(pf.size())), pf.data(), pf.size());
  stack->input(ping);
  EXPECT_EQ(sink.size(), 1u);
  sink.clear();

  // Buffers come back: the retry gets its request out and everything works.
  for (auto *m : taken) pool.free_one(m);
  advance(cfg.arp_retry_ns + 100'000);
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(get32(sink.bytes(0), 38), ipv4(10, 0, 0, 9).v);
  sink.clear();
  EXPECT_EQ(stack->udp_send(kPeerIp, 9, 9, p), IX_OK);
  EXPECT_EQ(sink.size(), 1u);
  expect_ping_works();
}

}  // namespace
}  // namespace ix::net::test
