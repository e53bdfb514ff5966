// Ending connections: orderly close from either side and both at once
// (FIN_WAIT_1/2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT), resets and their
// RFC 5961 validation, abort, retransmission and keep-alive timeouts, and the
// reuse of a TIME_WAIT tuple.
#include <gtest/gtest.h>

#include "net/tcp/tcp.hh"
#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

TcpState state(Host &h, ConnHandle c) {
  const Tcb *t = h.tcp().tcb_of(c);
  return t != nullptr ? t->state : TcpState::kClosed;
}

TEST_F(TcpPairTest, ActiveCloseWalksEveryState) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const Tcb *ta = A->tcp().tcb_of(ha);
  const Ipv4Addr b_ip = kIpB;
  const uint16_t aport = ta->lport;
  EXPECT_EQ(A->tcp().close(ha), IX_OK);
  EXPECT_EQ(state(*A, ha), TcpState::kFinWait1);
  iovec v{const_cast<char *>("x"), 1};
  EXPECT_EQ(A->tcp().sendv(ha, &v, 1), IX_ECLOSED);
  ASSERT_TRUE(
      run_until([&] { return B->app.conns[hb].fin && state(*A, ha) == TcpState::kFinWait2; }));
  EXPECT_EQ(state(*B, hb), TcpState::kCloseWait);
  EXPECT_EQ(B->app.conns[hb].fin_count, 1);
  // Half close: B can still send, A still receives.
  const Bytes tail = pattern(5000);
  iovec t{const_cast<uint8_t *>(tail.data()), tail.size()};
  EXPECT_EQ(B->tcp().sendv(hb, &t, 1), 5000);
  ASSERT_TRUE(run_until([&] { return A->app.conns[ha].received.size() == 5000; }));
  EXPECT_EQ(A->app.conns[ha].received, tail);
  EXPECT_EQ(B->tcp().close(hb), IX_OK);
  EXPECT_EQ(state(*B, hb), TcpState::kLastAck);
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].dead && A->app.conns[ha].dead; }));
  EXPECT_EQ(B->app.conns[hb].why, DeadReason::kClosed);
  EXPECT_EQ(A->app.conns[ha].why, DeadReason::kClosed);
  EXPECT_TRUE(A->app.conns[ha].fin);
  EXPECT_EQ(A->tcp().state_of(b_ip, 80, aport), TcpState::kTimeWait);
  EXPECT_EQ(A->tcp().close(ha), IX_EBADH);  // gone for the application
  EXPECT_EQ(B->tcp().connections(), 0u);
  run_for(A->tcp().config().time_wait_ns + 100'000'000);
  EXPECT_EQ(A->tcp().state_of(b_ip, 80, aport), TcpState::kClosed);
  EXPECT_EQ(A->tcp().connections(), 0u);
  EXPECT_EQ(A->app.conns[ha].dead_count, 1);
}

TEST_F(TcpPairTest, CloseSendsQueuedDataBeforeFin) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const Bytes data = pattern(200'000, 2);
  iovec v{const_cast<uint8_t *>(data.data()), data.size()};
  ASSERT_EQ(A->tcp().sendv(ha, &v, 1), 200'000);
  EXPECT_EQ(A->tcp().close(ha), IX_OK);
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].fin; }));
  EXPECT_EQ(B->app.conns[hb].received, data);
  ASSERT_TRUE(run_until([&] { return A->app.conns[ha].sent_acked == 200'000u; }));
}

TEST_F(TcpPairTest, SimultaneousCloseGoesThroughClosing) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  EXPECT_EQ(A->tcp().close(ha), IX_OK);
  EXPECT_EQ(B->tcp().close(hb), IX_OK);
  EXPECT_EQ(state(*A, ha), TcpState::kFinWait1);
  EXPECT_EQ(state(*B, hb), TcpState::kFinWait1);
  // Both FINs cross: each side sees the other's FIN before its own is acked.
  advance(latency_ns);
  A->receive();
  B->receive();
  EXPECT_EQ(state(*A, ha), TcpState::kClosing);
  EXPECT_EQ(state(*B, hb), TcpState::kClosing);
  ASSERT_TRUE(run_until([&] { return A->app.conns[ha].dead && B->app.conns[hb].dead; }));
  EXPECT_EQ(A->app.conns[ha].why, DeadReason::kClosed);
  EXPECT_EQ(B->app.conns[hb].why, DeadReason::kClosed);
  EXPECT_EQ(A->tcp().connections(), 1u);  // both in TIME_WAIT
  EXPECT_EQ(B->tcp().connections(), 1u);
  run_for(A->tcp().config().time_wait_ns + 100'000'000);
  EXPECT_EQ(A->tcp().connections() + B->tcp().connections(), 0u);
}

TEST_F(TcpPairTest, LostFinIsRetransmitted) {
  // Without tail loss probes the RTO repairs it; with them (the default,
  // next test) the probe does, sooner.
  TcpConfig c = default_tcp();
  c.tlp = false;
  start({}, c, c);
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  EXPECT_EQ(A->tcp().close(ha), IX_OK);
  advance(latency_ns);
  mem::Mbuf *pkts[4];
  ASSERT_EQ(B->port.rx_burst(0, pkts, 4), 1);  // the FIN, lost
  mem::MbufPool::free_chain(pkts[0]);
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].fin; }));
  EXPECT_GE(A->tcp().stats().rto_expirations, 1u);
  EXPECT_EQ(A->tcp().stats().tlp_probes, 0u);
}

TEST_F(TcpPairTest, LostFinIsRetransmittedByATailLossProbe) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  EXPECT_EQ(A->tcp().close(ha), IX_OK);
  advance(latency_ns);
  mem::Mbuf *pkts[4];
  ASSERT_EQ(B->port.rx_burst(0, pkts, 4), 1);  // the FIN, lost
  mem::MbufPool::free_chain(pkts[0]);
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].fin; }));
  EXPECT_EQ(A->tcp().stats().tlp_probes, 1u);
  EXPECT_EQ(A->tcp().stats().rto_expirations, 0u);
}

TEST_F(TcpPairTest, AbortResetsThePeer) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  EXPECT_EQ(A->tcp().abort(ha), IX_OK);
  EXPECT_FALSE(A->app.conns[ha].dead);  // the application asked for it: no event
  EXPECT_EQ(A->tcp().connections(), 0u);
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].dead; }));
  EXPECT_EQ(B->app.conns[hb].why, DeadReason::kReset);
  EXPECT_EQ(B->tcp().connections(), 0u);
}

TEST_F(TcpPairTest, ResetOutsideExactSequenceGetsChallengeAck) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  run_for(2'000'000);
  const uint64_t challenges = B->tcp().stats().challenge_acks;
  // In the window but not at RCV.NXT: challenge, connection survives.
  RawSegment r = from_a(ha);
  r.flags = kRst;
  r.seq += 1000;
  inject(*B, raw_frame(r));
  EXPECT_EQ(B->tcp().stats().challenge_acks, challenges + 1);
  EXPECT_EQ(state(*B, hb), TcpState::kEstablished);
  EXPECT_EQ(B->stack->counters().dropped(DropReason::kTcpRstIgnored), 1u);
  // Out of the window: ignored.
  r.seq += 0x40000000;
  inject(*B, raw_frame(r));
  EXPECT_EQ(state(*B, hb), TcpState::kEstablished);
  // A SYN on the connection: challenge ACK too (RFC 5961 4).
  RawSegment syn = from_a(ha);
  syn.flags = kSyn;
  inject(*B, raw_frame(syn));
  EXPECT_EQ(B->tcp().stats().challenge_acks, challenges + 2);
  EXPECT_EQ(state(*B, hb), TcpState::kEstablished);
  // Exactly at RCV.NXT: the connection is reset.
  RawSegment ok = from_a(ha);
  ok.flags = kRst;
  inject(*B, raw_frame(ok));
  EXPECT_TRUE(B->app.conns[hb].dead);
  EXPECT_EQ(B->app.conns[hb].why, DeadReason::kReset);
}

TEST_F(TcpPairTest, AckForUnsentDataIsRejected) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  run_for(2'000'000);
  RawSegment r = from_a(ha);
  r.ack += 100000;  // B never sent this
  r.payload = pattern(10);
  inject(*B, raw_frame(r));
  EXPECT_EQ(B->stack->counters().dropped(DropReason::kTcpBadAck), 1u);
  EXPECT_TRUE(B->app.conns[hb].received.empty());
  EXPECT_EQ(state(*B, hb), TcpState::kEstablished);
}

TEST_F(TcpPairTest, SegmentToClosedPortGetsReset) {
  start();
  // A connection first, so that B knows where to send its replies.
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  run_for(1'000'000);
  const uint64_t rst_before = B->tcp().stats().resets_tx;
  RawSegment r;
  r.dport = 9999;
  r.seq = 1000;
  r.ack = 5000;
  r.flags = kAck;
  inject(*B, raw_frame(r));
  EXPECT_EQ(B->tcp().stats().resets_tx, rst_before + 1);
  RawSegment rst = r;
  rst.flags = kRst;
  inject(*B, raw_frame(rst));  // never answer a reset
  EXPECT_EQ(B->tcp().stats().resets_tx, rst_before + 1);
  EXPECT_EQ(B->stack->counters().dropped(DropReason::kTcpNoConnection), 2u);
}

TEST_F(TcpPairTest, RetransmissionTimeoutKillsTheConnection) {
  TcpConfig a = default_tcp();
  a.max_retransmits = 4;
  start({}, a, default_tcp());
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  B.reset();  // the peer vanishes
  const Bytes data = pattern(1000);
  iovec v{const_cast<uint8_t *>(data.data()), data.size()};
  EXPECT_EQ(A->tcp().sendv(ha, &v, 1), 1000);
  for (int i = 0; i < 2000 && !A->app.conns[ha].dead; ++i) {
    advance(50'000'000);
  }
  EXPECT_TRUE(A->app.conns[ha].dead);
  EXPECT_EQ(A->app.conns[ha].why, DeadReason::kTimeout);
  EXPECT_EQ(A->tcp().stats().rto_expirations, 4u);
  EXPECT_EQ(A->tcp().connections(), 0u);
}

TEST_F(TcpPairTest, KeepAliveDetectsAVanishedPeer) {
  TcpConfig a = default_tcp();
  a.keepalive_idle_ns = 1'000'000'000;
  a.keepalive_interval_ns = 100'000'000;
  a.keepalive_probes = 3;
  start({}, a, default_tcp());
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  EXPECT_EQ(A->tcp().set_keepalive(ha, true), IX_OK);
  // While the peer answers, probes keep the connection up.
  run_for(3'000'000'000ull);
  EXPECT_FALSE(A->app.conns[ha].dead);
  EXPECT_GT(A->tcp().stats().keepalive_probes, 0u);
  B.reset();
  for (int i = 0; i < 200 && !A->app.conns[ha].dead; ++i) advance(50'000'000);
  EXPECT_TRUE(A->app.conns[ha].dead);
  EXPECT_EQ(A->app.conns[ha].why, DeadReason::kTimeout);
}

TEST_F(TcpPairTest, TimeWaitTupleIsReusedByANewerSyn) {
  TcpConfig a = default_tcp();
  a.time_wait_ns = 60'000'000'000ull;
  start({}, a, a);
  ASSERT_EQ(B->tcp().listen(80, 1, &B->app), IX_OK);
  // B closes first so that B holds the TIME_WAIT; A reconnects from the same port.
  const int64_t h1 = A->tcp().connect(kIpB, 80, 40000, 1, &A->app);
  ASSERT_TRUE(run_until([&] { return !B->app.knocks.empty() && A->app.conns[h1].connected; }));
  const ConnHandle hb = B->app.knocks[0].h;
  EXPECT_EQ(B->tcp().close(hb), IX_OK);
  ASSERT_TRUE(run_until([&] { return A->app.conns[h1].fin; }));
  EXPECT_EQ(A->tcp().close(h1), IX_OK);
  ASSERT_TRUE(run_until([&] { return A->app.conns[h1].dead && B->app.conns[hb].dead; }));
  EXPECT_EQ(B->tcp().state_of(kIpA, 40000, 80), TcpState::kTimeWait);
  run_for(10'000'000);  // the timestamp clock moves on
  const int64_t h2 = A->tcp().connect(kIpB, 80, 40000, 2, &A->app);
  ASSERT_GT(h2, 0);
  ASSERT_TRUE(run_until([&] { return A->app.conns[h2].connected && B->app.knocks.size() == 2; }));
  EXPECT_EQ(B->tcp().stats().time_wait_reused, 1u);
}

TEST_F(TcpPairTest, UnlistenResetsUnacceptedConnections) {
  start();
  auto_accept = false;
  ASSERT_EQ(B->tcp().listen(80, 1, &B->app), IX_OK);
  const int64_t h = A->tcp().connect(kIpB, 80, 0, 2, &A->app);
  ASSERT_TRUE(run_until([&] { return !B->app.knocks.empty(); }));
  EXPECT_EQ(B->tcp().unlisten(80, &B->app), IX_OK);
  EXPECT_EQ(B->tcp().connections(), 0u);
  ASSERT_TRUE(run_until([&] { return A->app.conns[h].dead; }));
  EXPECT_EQ(A->app.conns[h].why, DeadReason::kReset);
}

}  // namespace
}  // namespace ix::net::tcp::test
