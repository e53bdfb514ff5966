#include "net/arp.hh"

#include <gtest/gtest.h>

#include "ix/syscall.h"
#include "net/arp_table.hh"
#include "stack_fixture.hh"

namespace ix::net::test {
namespace {

using ArpTest = StackTest;

Bytes arp_frame(uint16_t op, const MacAddr &sha, Ipv4Addr spa, Ipv4Addr tpa,
                const MacAddr &eth_dst = MacAddr::broadcast(), const MacAddr &tha = MacAddr{}) {
  return eth_frame(eth_dst, sha, 0x0806, arp_packet(op, sha, spa, tha, tpa));
}

// A UDP payload mbuf with room for headers in front.
mem::Mbuf *payload(mem::MbufPool &pool, const Bytes &data) {
  mem::Mbuf *m = pool.alloc();
  std::memcpy(m->append(static_cast<uint16_t>(data.size())), data.data(), data.size());
  return m;
}

void expect_arp_request_for(const Bytes &f, Ipv4Addr target) {
  ASSERT_GE(f.size(), 42u);
  EXPECT_EQ(get_mac(f, 0), MacAddr::broadcast());
  EXPECT_EQ(get_mac(f, 6), kOurMac);
  EXPECT_EQ(get16(f, 12), 0x0806);
  EXPECT_EQ(get16(f, 14), 1);
  EXPECT_EQ(get16(f, 16), 0x0800);
  EXPECT_EQ(f[18], 6);
  EXPECT_EQ(f[19], 4);
  EXPECT_EQ(get16(f, 20), 1);
  EXPECT_EQ(get_mac(f, 22), kOurMac);
  EXPECT_EQ(get32(f, 28), kOurIp.v);
  EXPECT_EQ(get32(f, 38), target.v);
}

TEST_F(ArpTest, AnswersRequestForUsInPlace) {
  s();
  const uint32_t free_before = pool.available();
  inject(arp_frame(1, kPeerMac, kPeerIp, kOurIp));
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(pool.available(), free_before - 1);  // the request became the reply
  Bytes r = sink.bytes(0);
  ASSERT_EQ(r.size(), 42u);
  EXPECT_EQ(get_mac(r, 0), kPeerMac);
  EXPECT_EQ(get_mac(r, 6), kOurMac);
  EXPECT_EQ(get16(r, 20), 2);
  EXPECT_EQ(get_mac(r, 22), kOurMac);
  EXPECT_EQ(get32(r, 28), kOurIp.v);
  EXPECT_EQ(get_mac(r, 32), kPeerMac);
  EXPECT_EQ(get32(r, 38), kPeerIp.v);
  EXPECT_EQ(stack->counters().arp_requests_rx, 1u);
  EXPECT_EQ(stack->counters().arp_replies_tx, 1u);
  // The asker was cached: it is about to talk to us.
  MacAddr mac;
  ASSERT_TRUE(stack->arp_lookup(kPeerIp, &mac));
  EXPECT_EQ(mac, kPeerMac);
  EXPECT_EQ(total_drops(), 0u);
}

TEST_F(ArpTest, ProbeIsAnsweredButNotLearned) {
  s();
  inject(arp_frame(1, kPeerMac, Ipv4Addr{}, kOurIp));  // RFC 5227 probe
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(get32(sink.bytes(0), 38), 0u);
  EXPECT_EQ(stack->arp_entries(), 0u);
}

TEST_F(ArpTest, LearnsOnlyLikeLinux) {
  s();
  // A request for someone else from an unknown sender: not cached, not answered.
  expect_drop(arp_frame(1, kPeerMac, kPeerIp, ipv4(10, 0, 0, 77)), DropReason::kArpNotForUs);
  // An unsolicited reply: also not cached.
  expect_drop(arp_frame(2, kPeerMac, kPeerIp, kOurIp, kOurMac), DropReason::kArpNotForUs);
  EXPECT_EQ(stack->arp_entries(), 0u);
  // Once cached, any ARP from the sender refreshes (here: changes) its entry.
  learn_peer();
  const uint64_t drops_before = total_drops();
  inject(arp_frame(1, kOtherMac, kPeerIp, ipv4(10, 0, 0, 77)));
  EXPECT_EQ(total_drops(), drops_before);
  MacAddr mac;
  ASSERT_TRUE(stack->arp_lookup(kPeerIp, &mac));
  EXPECT_EQ(mac, kOtherMac);
  EXPECT_EQ(sink.size(), 0u);
}

TEST_F(ArpTest, MalformedPacketsCountedByReason) {
  const Bytes good = arp_frame(1, kPeerMac, kPeerIp, kOurIp);
  for (size_t n = 14; n < 42; ++n)
    expect_drop(Bytes(good.begin(), good.begin() + static_cast<long>(n)),
                DropReason::kArpTruncated);
  auto patched = [&](size_t off, uint8_t v) {
    Bytes f = good;
    f[off] = v;
    return f;
  };
  expect_drop(patched(15, 6), DropReason::kArpBadHwType);        // htype 6 (IEEE 802)
  expect_drop(patched(16, 0x86), DropReason::kArpBadProtoType);  // ptype 0x8600
  expect_drop(patched(18, 8), DropReason::kArpBadAddrLen);
  expect_drop(patched(19, 16), DropReason::kArpBadAddrLen);
  expect_drop(patched(21, 3), DropReason::kArpBadOp);  // RARP request
  expect_drop(patched(21, 0), DropReason::kArpBadOp);
  expect_drop(patched(22, 0x03), DropReason::kArpBadSender);  // group sender MAC
  expect_drop(arp_frame(1, MacAddr{}, kPeerIp, kOurIp), DropReason::kArpBadSender);
  expect_drop(arp_frame(1, kPeerMac, ipv4(224, 0, 0, 5), kOurIp), DropReason::kArpBadSender);
  expect_drop(arp_frame(1, kPeerMac, kSubnetBroadcast, kOurIp), DropReason::kArpBadSender);
  expect_drop(arp_frame(1, kPeerMac, kOurIp, kOurIp), DropReason::kArpAddrConflict);
  EXPECT_EQ(stack->arp_entries(), 0u);
  // Still answers a good request afterwards.
  inject(good);
  EXPECT_EQ(sink.size(), 1u);
}

TEST_F(ArpTest, GratuitousAtStart) {
  cfg.gratuitous_arp = true;
  make_stack().start();
  ASSERT_EQ(sink.size(), 1u);
  Bytes f = sink.bytes(0);
  expect_arp_request_for(f, kOurIp);  // sender and target are both us
  EXPECT_EQ(stack->counters().arp_gratuitous_tx, 1u);

  cfg.gratuitous_arp = false;
  make_stack().start();
  EXPECT_EQ(sink.size(), 0u);
}

TEST_F(ArpTest, HoldThenResolveSendsInOrder) {
  s();
  for (uint8_t i = 0; i < 3; ++i)
    ASSERT_EQ(stack->udp_send(kPeerIp, 9, 1000, payload(pool, {i})), IX_OK);
  ASSERT_EQ(sink.size(), 1u);  // one request, three datagrams held
  expect_arp_request_for(sink.bytes(0), kPeerIp);
  EXPECT_EQ(stack->counters().arp_held, 3u);
  EXPECT_FALSE(stack->arp_lookup(kPeerIp, nullptr));
  sink.clear();

  inject(arp_frame(2, kPeerMac, kPeerIp, kOurIp, kOurMac, kOurMac));
  ASSERT_EQ(sink.size(), 3u);
  for (uint8_t i = 0; i < 3; ++i) {
    Bytes f = sink.bytes(i);
    EXPECT_EQ(get_mac(f, 0), kPeerMac);
    EXPECT_EQ(f.at(42), i);
  }
  EXPECT_EQ(stack->counters().arp_resolved, 1u);
  EXPECT_EQ(total_drops(), 0u);
  sink.clear();
  // Resolved: the next datagram goes straight out.
  ASSERT_EQ(stack->udp_send(kPeerIp, 9, 1000, payload(pool, {7})), IX_OK);
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(get_mac(sink.bytes(0), 0), kPeerMac);
}

TEST_F(ArpTest, HoldQueueIsBounded) {
  cfg.arp_hold_per_entry = 2;
  make_stack();
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(stack->udp_send(kPeerIp, 9, 1000, payload(pool, {1})), IX_OK);
  EXPECT_EQ(drops(DropReason::kArpHoldFull), 3u);
  sink.clear();
  inject(arp_frame(2, kPeerMac, kPeerIp, kOurIp, kOurMac, kOurMac));
  EXPECT_EQ(sink.size(), 2u);
}

TEST_F(ArpTest, RetriesThenDropsHeldPackets) {
  cfg.arp_retry_ns = 1'000'000'000;
  cfg.arp_max_retries = 3;
  make_stack();
  const uint32_t free_before = pool.available();
  ASSERT_EQ(stack->udp_send(kPeerIp, 9, 1000, payload(pool, {1})), IX_OK);
  ASSERT_EQ(stack->udp_send(kPeerIp, 9, 1000, payload(pool, {2})), IX_OK);
  EXPECT_EQ(sink.size(), 1u);
  for (int retry = 1; retry <= 3; ++retry) {
    advance(cfg.arp_retry_ns / 2);
    EXPECT_EQ(sink.size(), static_cast<size_t>(retry)) << "not yet";
    advance(cfg.arp_retry_ns / 2 + 100'000);
    ASSERT_EQ(sink.size(), static_cast<size_t>(retry + 1)) << "retry " << retry;
    expect_arp_request_for(sink.bytes(retry), kPeerIp);
  }
  EXPECT_EQ(drops(DropReason::kArpUnresolved), 0u);
  advance(cfg.arp_retry_ns + 100'000);
  EXPECT_EQ(sink.size(), 4u);  // no fifth request
  EXPECT_EQ(drops(DropReason::kArpUnresolved), 2u);
  EXPECT_EQ(stack->arp_entries(), 0u);
  EXPECT_EQ(stack->counters().arp_requests_tx, 4u);
  sink.clear();
  EXPECT_EQ(pool.available(), free_before);  // held packets were freed
  // A later send starts over.
  ASSERT_EQ(stack->udp_send(kPeerIp, 9, 1000, payload(pool, {3})), IX_OK);
  EXPECT_EQ(sink.size(), 1u);
}

TEST_F(ArpTest, LateReplyAfterRetryStillResolves) {
  make_stack();
  ASSERT_EQ(stack->udp_send(kPeerIp, 9, 1000, payload(pool, {1})), IX_OK);
  advance(cfg.arp_retry_ns + 100'000);
  EXPECT_EQ(sink.size(), 2u);
  sink.clear();
  inject(arp_frame(2, kPeerMac, kPeerIp, kOurIp, kOurMac, kOurMac));
  EXPECT_EQ(sink.size(), 1u);
  // The retry timer is now the expiry timer: no more requests.
  advance(cfg.arp_retry_ns * 5);
  EXPECT_EQ(sink.size(), 1u);
}

TEST_F(ArpTest, EntriesExpire) {
  cfg.arp_timeout_ns = 10'000'000'000ull;
  make_stack();
  learn_peer();
  EXPECT_TRUE(stack->arp_lookup(kPeerIp, nullptr));
  advance(cfg.arp_timeout_ns / 2);
  // Refreshed by any ARP from the peer: lives another full timeout.
  inject(arp_frame(1, kPeerMac, kPeerIp, ipv4(10, 0, 0, 50)));
  advance(cfg.arp_timeout_ns * 3 / 4);
  EXPECT_TRUE(stack->arp_lookup(kPeerIp, nullptr));
  EXPECT_EQ(stack->arp_entries(), 1u);
  advance(cfg.arp_timeout_ns / 4 + 100'000);
  EXPECT_FALSE(stack->arp_lookup(kPeerIp, nullptr));
  EXPECT_EQ(stack->arp_entries(), 0u);
  EXPECT_EQ(stack->counters().arp_expired, 1u);
  sink.clear();
  // Sending now asks again.
  ASSERT_EQ(stack->udp_send(kPeerIp, 9, 1000, payload(pool, {1})), IX_OK);
  ASSERT_EQ(sink.size(), 1u);
  expect_arp_request_for(sink.bytes(0), kPeerIp);
}

TEST_F(ArpTest, StaleEntryIsNotUsedBeforeTheTimerRuns) {
  cfg.arp_timeout_ns = 10'000'000'000ull;
  make_stack();
  learn_peer();
  clock.advance(cfg.arp_timeout_ns);  // the wheel has not been advanced
  EXPECT_FALSE(stack->arp_lookup(kPeerIp, nullptr));
  ASSERT_EQ(stack->udp_send(kPeerIp, 9, 1000, payload(pool, {1})), IX_OK);
  ASSERT_EQ(sink.size(), 1u);
  expect_arp_request_for(sink.bytes(0), kPeerIp);  // held, not sent to the old MAC
  timers.advance(clock.now_ns());
  EXPECT_EQ(stack->arp_entries(), 1u);  // still pending, not removed by the old expiry
}

TEST_F(ArpTest, OffLinkGoesThroughGateway) {
  make_stack();
  ASSERT_EQ(stack->udp_send(kRemoteIp, 9, 1000, payload(pool, {1})), IX_OK);
  ASSERT_EQ(sink.size(), 1u);
  expect_arp_request_for(sink.bytes(0), kGatewayIp);
  sink.clear();
  inject(arp_frame(2, kGatewayMac, kGatewayIp, kOurIp, kOurMac, kOurMac));
  ASSERT_EQ(sink.size(), 1u);
  Bytes f = sink.bytes(0);
  EXPECT_EQ(get_mac(f, 0), kGatewayMac);
  EXPECT_EQ(get32(f, 30), kRemoteIp.v);
}

TEST_F(ArpTest, FullTableEvictsOldestResolvedOrRefuses) {
  cfg.arp_table_size = 2;
  make_stack();
  learn_peer(ipv4(10, 0, 0, 10), kPeerMac);
  advance(1'000'000);
  learn_peer(ipv4(10, 0, 0, 11), kOtherMac);
  EXPECT_EQ(stack->arp_entries(), 2u);
  // A third neighbour pushes out the oldest resolved entry.
  ASSERT_EQ(stack->udp_send(ipv4(10, 0, 0, 12), 9, 1000, payload(pool, {1})), IX_OK);
  EXPECT_EQ(stack->counters().arp_evicted, 1u);
  EXPECT_FALSE(stack->arp_lookup(ipv4(10, 0, 0, 10), nullptr));
  EXPECT_TRUE(stack->arp_lookup(ipv4(10, 0, 0, 11), nullptr));
  // Fill with pending entries: nothing left to evict.
  ASSERT_EQ(stack->udp_send(ipv4(10, 0, 0, 13), 9, 1000, payload(pool, {1})), IX_OK);
  mem::Mbuf *p = payload(pool, {1});
  EXPECT_EQ(stack->udp_send(ipv4(10, 0, 0, 14), 9, 1000, p), IX_ENOMEM);
  EXPECT_EQ(drops(DropReason::kArpTableFull), 1u);
  EXPECT_EQ(p->data_len, 1u);  // the caller still owns an untouched payload
  mem::MbufPool::free_chain(p);
  // A request for us from a stranger is still answered when the table is full.
  sink.clear();
  inject(arp_frame(1, kPeerMac, ipv4(10, 0, 0, 20), kOurIp));
  EXPECT_EQ(sink.size(), 1u);
  EXPECT_EQ(stack->counters().arp_learn_skipped, 1u);
}

TEST_F(ArpTest, DestroyingTheStackFreesHeldPacketsAndTimers) {
  make_stack();
  const uint32_t free_before = pool.available();
  ASSERT_EQ(stack->udp_send(kPeerIp, 9, 1000, payload(pool, {1})), IX_OK);
  EXPECT_GT(timers.pending(), 0u);
  stack.reset();
  sink.clear();
  EXPECT_EQ(timers.pending(), 0u);
  EXPECT_EQ(pool.available(), free_before);
}

TEST(ArpTableTest, InsertFindRemoveUnderCollisions) {
  ArpTable t(64);
  std::vector<Ipv4Addr> ips;
  for (uint32_t i = 0; i < 64; ++i) ips.push_back(Ipv4Addr{0x0a000000u + i * 256});
  for (auto ip : ips) ASSERT_NE(t.insert(ip), nullptr);
  EXPECT_TRUE(t.full());
  EXPECT_EQ(t.insert(ipv4(1, 2, 3, 4)), nullptr);
  // Remove every other entry, then check all lookups.
  for (size_t i = 0; i < ips.size(); i += 2) t.remove(t.find(ips[i]));
  for (size_t i = 0; i < ips.size(); ++i) {
    ArpEntry *e = t.find(ips[i]);
    if (i % 2 == 0) {
      EXPECT_EQ(e, nullptr) << i;
    } else {
      ASSERT_NE(e, nullptr) << i;
      EXPECT_EQ(e->ip, ips[i]);
    }
  }
  EXPECT_EQ(t.size(), 32u);
  for (size_t i = 0; i < ips.size(); i += 2) ASSERT_NE(t.insert(ips[i]), nullptr);
  for (auto ip : ips) EXPECT_NE(t.find(ip), nullptr);
}

TEST(ArpTableTest, HoldQueueIsFifo) {
  mem::MbufPool pool(StackTest::pool_config());
  ArpTable t(4);
  ArpEntry *e = t.insert(kPeerIp);
  mem::Mbuf *a = pool.alloc(), *b = pool.alloc(), *c = pool.alloc();
  ArpTable::hold_push(e, a);
  ArpTable::hold_push(e, b);
  EXPECT_EQ(ArpTable::hold_pop(e), a);
  ArpTable::hold_push(e, c);
  EXPECT_EQ(ArpTable::hold_pop(e), b);
  EXPECT_EQ(ArpTable::hold_pop(e), c);
  EXPECT_EQ(ArpTable::hold_pop(e), nullptr);
  EXPECT_EQ(e->held, 0u);
  for (auto *m : {a, b, c}) pool.free_one(m);
}

}  // namespace
}  // namespace ix::net::test
