// Opening connections over the loop wire: the three-way handshake on both
// sides, option negotiation, refusal, timeouts, accept/reject, simultaneous
// open, stale handles and table limits.
#include <gtest/gtest.h>

#include "net/tcp/tcp.hh"
#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

TEST_F(TcpPairTest, HandshakeEstablishesBothSidesAndNegotiatesOptions) {
  start();
  auto [ha, hb] = connect_pair(80);
  ASSERT_NE(hb, 0u);
  EXPECT_EQ(A->app.conns[ha].connect_result, IX_OK);
  EXPECT_EQ(A->app.conns[ha].cookie, 5u);
  ASSERT_EQ(B->app.knocks.size(), 1u);
  const auto &k = B->app.knocks[0];
  EXPECT_EQ(k.listener_cookie, 77u);
  EXPECT_EQ(k.src, kIpA);
  EXPECT_EQ(k.dst, kIpB);
  EXPECT_EQ(k.dport, 80);
  EXPECT_GE(k.sport, 49152);
  const Tcb *ta = A->tcp().tcb_of(ha);
  const Tcb *tb = B->tcp().tcb_of(hb);
  ASSERT_NE(ta, nullptr);
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(ta->state, TcpState::kEstablished);
  EXPECT_EQ(tb->state, TcpState::kEstablished);
  EXPECT_TRUE(ta->ts_ok && tb->ts_ok);
  EXPECT_TRUE(ta->sack_ok && tb->sack_ok);
  EXPECT_TRUE(ta->ws_ok && tb->ws_ok);
  EXPECT_EQ(ta->snd_wscale, 7);
  EXPECT_EQ(tb->rcv_wscale, 7);
  EXPECT_EQ(ta->mss, 1500 - 40 - 12);  // MSS less the timestamp option
  EXPECT_EQ(ta->snd_una, ta->iss + 1);
  EXPECT_EQ(ta->rcv_nxt, tb->iss + 1);
  EXPECT_EQ(tb->rcv_nxt, ta->iss + 1);
  EXPECT_EQ(A->tcp().stats().active_opens, 1u);
  EXPECT_EQ(B->tcp().stats().passive_opens, 1u);
  EXPECT_EQ(B->tcp().half_open(), 0u);
}

TEST_F(TcpPairTest, OptionsOnlyWhereBothSidesOfferThem) {
  TcpConfig a = default_tcp();
  a.timestamps = false;
  a.sack = false;
  a.wscale = 0;
  start({}, a, default_tcp());
  auto [ha, hb] = connect_pair(80);
  ASSERT_NE(hb, 0u);
  const Tcb *ta = A->tcp().tcb_of(ha);
  const Tcb *tb = B->tcp().tcb_of(hb);
  EXPECT_FALSE(ta->ts_ok || tb->ts_ok);
  EXPECT_FALSE(ta->sack_ok || tb->sack_ok);
  EXPECT_FALSE(ta->ws_ok || tb->ws_ok);
  EXPECT_EQ(tb->rcv_wscale, 0);
  EXPECT_EQ(tb->snd_wscale, 0);
  EXPECT_EQ(tb->mss, 1460);
}

TEST_F(TcpPairTest, ConnectToClosedPortIsRefused) {
  start();
  const int64_t h = A->tcp().connect(kIpB, 81, 0, 9, &A->app);
  ASSERT_GT(h, 0);
  ASSERT_TRUE(run_until([&] { return A->app.conns[h].connect_result != 1; }));
  EXPECT_EQ(A->app.conns[h].connect_result, IX_ECONNREFUSED);
  EXPECT_FALSE(A->app.conns[h].dead);  // no on_dead after a failed connect
  EXPECT_EQ(A->tcp().connections(), 0u);
  EXPECT_EQ(B->stack->counters().dropped(DropReason::kTcpNoConnection), 1u);
  EXPECT_EQ(B->tcp().stats().resets_tx, 1u);
  // The handle is stale now.
  EXPECT_EQ(A->tcp().close(h), IX_EBADH);
}

TEST_F(TcpPairTest, ConnectTimesOutWhenNoAnswerComes) {
  drivers::FaultConfig f;
  f.drop = 1.0;
  start(f);
  const int64_t h = A->tcp().connect(kIpB, 80, 0, 9, &A->app);
  ASSERT_GT(h, 0);
  ASSERT_TRUE(run_until([&] { return A->app.conns[h].connect_result != 1; }, 600'000'000'000ull));
  EXPECT_EQ(A->app.conns[h].connect_result, IX_EHOSTUNREACH);
  EXPECT_EQ(A->tcp().connections(), 0u);
  EXPECT_EQ(A->tcp().stats().connect_failed, 1u);
}

TEST_F(TcpPairTest, LostSynIsRetransmitted) {
  start();
  ASSERT_EQ(B->tcp().listen(80, 1, &B->app), IX_OK);
  // Resolve ARP first so that the next SYN goes straight onto the wire.
  const int64_t warm = A->tcp().connect(kIpB, 80, 0, 1, &A->app);
  ASSERT_TRUE(run_until([&] { return !B->app.knocks.empty(); }));
  EXPECT_EQ(A->tcp().abort(warm), IX_OK);
  run_for(1'000'000);
  const uint64_t tx_before = A->tcp().stats().segments_tx;
  const int64_t h = A->tcp().connect(kIpB, 80, 0, 2, &A->app);
  // Take the SYN off B's RX ring before B sees it.
  advance(latency_ns);
  mem::Mbuf *pkts[8];
  ASSERT_EQ(B->port.rx_burst(0, pkts, 8), 1);
  mem::MbufPool::free_chain(pkts[0]);
  ASSERT_TRUE(run_until([&] { return A->app.conns[h].connected; }, 5'000'000'000ull));
  EXPECT_GE(A->tcp().stats().segments_tx - tx_before, 3u);  // SYN, SYN again, ACK
}

TEST_F(TcpPairTest, RejectSendsResetAndConnectorSeesReset) {
  start();
  auto_accept = false;
  ASSERT_EQ(B->tcp().listen(80, 1, &B->app), IX_OK);
  const int64_t h = A->tcp().connect(kIpB, 80, 0, 2, &A->app);
  ASSERT_TRUE(run_until([&] { return !B->app.knocks.empty(); }));
  const ConnHandle hb = B->app.knocks[0].h;
  EXPECT_EQ(B->tcp().reject(hb), IX_OK);
  EXPECT_EQ(B->tcp().reject(hb), IX_EBADH);
  ASSERT_TRUE(run_until([&] { return A->app.conns[h].dead; }));
  EXPECT_EQ(A->app.conns[h].why, DeadReason::kReset);
  EXPECT_EQ(A->tcp().connections(), 0u);
  EXPECT_EQ(B->tcp().connections(), 0u);
}

TEST_F(TcpPairTest, DataBeforeAcceptIsQueuedAndDeliveredOnAccept) {
  start();
  auto_accept = false;
  ASSERT_EQ(B->tcp().listen(80, 1, &B->app), IX_OK);
  const int64_t h = A->tcp().connect(kIpB, 80, 0, 2, &A->app);
  ASSERT_TRUE(run_until([&] { return A->app.conns[h].connected; }));
  const Bytes msg = pattern(3000);
  iovec iov{const_cast<uint8_t *>(msg.data()), msg.size()};
  EXPECT_EQ(A->tcp().sendv(h, &iov, 1), 3000);
  run_for(5'000'000);
  ASSERT_EQ(B->app.knocks.size(), 1u);
  const ConnHandle hb = B->app.knocks[0].h;
  EXPECT_TRUE(B->app.conns[hb].received.empty());
  EXPECT_EQ(B->tcp().accept(hb, 42), IX_OK);
  EXPECT_EQ(B->tcp().accept(hb, 42), IX_EINVAL);
  EXPECT_EQ(B->app.conns[hb].received, msg);
  EXPECT_EQ(B->app.conns[hb].cookie, 42u);
}

TEST_F(TcpPairTest, SimultaneousOpen) {
  start();
  // Both sides connect to each other's fixed ports at once.
  const int64_t ha = A->tcp().connect(kIpB, 5000, 6000, 1, &A->app);
  const int64_t hb = B->tcp().connect(kIpA, 6000, 5000, 2, &B->app);
  ASSERT_GT(ha, 0);
  ASSERT_GT(hb, 0);
  ASSERT_TRUE(run_until([&] { return A->app.conns[ha].connected && B->app.conns[hb].connected; }));
  EXPECT_EQ(A->tcp().tcb_of(ha)->state, TcpState::kEstablished);
  EXPECT_EQ(B->tcp().tcb_of(hb)->state, TcpState::kEstablished);
  // And data flows.
  const Bytes msg = pattern(100);
  iovec iov{const_cast<uint8_t *>(msg.data()), msg.size()};
  EXPECT_EQ(A->tcp().sendv(ha, &iov, 1), 100);
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].received.size() == 100; }));
}

TEST_F(TcpPairTest, ListenErrors) {
  start();
  EXPECT_EQ(B->tcp().listen(0, 1, &B->app), IX_EINVAL);
  EXPECT_EQ(B->tcp().listen(80, 1, nullptr), IX_EINVAL);
  EXPECT_EQ(B->tcp().listen(80, 1, &B->app), IX_OK);
  EXPECT_EQ(B->tcp().listen(80, 2, &B->app), IX_EADDRINUSE);
  // Only the receiver listening may stop it.
  EXPECT_EQ(B->tcp().unlisten(80, &A->app), IX_EINVAL);
  EXPECT_EQ(B->tcp().unlisten(80, &B->app), IX_OK);
  EXPECT_EQ(B->tcp().unlisten(80, &B->app), IX_EINVAL);
  EXPECT_EQ(B->tcp().listen(80, 2, &B->app), IX_OK);
}

TEST_F(TcpPairTest, ConnectArgumentErrors) {
  start();
  EXPECT_EQ(A->tcp().connect(kIpB, 0, 0, 1, &A->app), IX_EINVAL);
  EXPECT_EQ(A->tcp().connect(Ipv4Addr{}, 80, 0, 1, &A->app), IX_EINVAL);
  EXPECT_EQ(A->tcp().connect(kIpA, 80, 0, 1, &A->app), IX_EINVAL);
  EXPECT_EQ(A->tcp().connect(kIpB, 80, 0, 1, nullptr), IX_EINVAL);
  EXPECT_GT(A->tcp().connect(kIpB, 80, 7000, 1, &A->app), 0);
  EXPECT_EQ(A->tcp().connect(kIpB, 80, 7000, 1, &A->app), IX_EADDRINUSE);
}

TEST_F(TcpPairTest, StaleAndInvalidHandlesGetBadHandle) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  iovec iov{const_cast<char *>("x"), 1};
  for (ConnHandle bad :
       {ConnHandle{0}, ConnHandle{12345678}, ConnHandle{ha + (1ull << 24)}, ~ConnHandle{0}}) {
    EXPECT_EQ(A->tcp().sendv(bad, &iov, 1), IX_EBADH);
    EXPECT_EQ(A->tcp().recv_done(bad, 1), IX_EBADH);
    EXPECT_EQ(A->tcp().close(bad), IX_EBADH);
    EXPECT_EQ(A->tcp().abort(bad), IX_EBADH);
    EXPECT_EQ(A->tcp().accept(bad, 1), IX_EBADH);
    EXPECT_EQ(A->tcp().reject(bad), IX_EBADH);
    EXPECT_EQ(A->tcp().set_coalescing(bad, true), IX_EBADH);
  }
  EXPECT_EQ(A->tcp().abort(ha), IX_OK);
  EXPECT_EQ(A->tcp().sendv(ha, &iov, 1), IX_EBADH);
  // A new connection reusing the slot gets a different handle.
  const int64_t h2 = A->tcp().connect(kIpB, 80, 0, 3, &A->app);
  ASSERT_GT(h2, 0);
  EXPECT_NE(static_cast<ConnHandle>(h2), ha);
  EXPECT_EQ(A->tcp().close(ha), IX_EBADH);
}

TEST_F(TcpPairTest, ConnectionTableIsBoundedAndCounted) {
  TcpConfig a = default_tcp();
  a.max_connections = 3;
  start({}, a, default_tcp());
  ASSERT_EQ(B->tcp().listen(80, 1, &B->app), IX_OK);
  for (int i = 0; i < 3; ++i) EXPECT_GT(A->tcp().connect(kIpB, 80, 0, i, &A->app), 0);
  EXPECT_EQ(A->tcp().connect(kIpB, 80, 0, 9, &A->app), IX_ENOMEM);
  EXPECT_EQ(A->tcp().stats().conn_table_full, 1u);
}

TEST_F(TcpPairTest, SynBacklogOverflowFallsBackToSynCookies) {
  TcpConfig b = default_tcp();
  b.syn_backlog = 0;  // every SYN is answered with a cookie
  start({}, default_tcp(), b);
  auto [ha, hb] = connect_pair(80);
  ASSERT_NE(hb, 0u);
  EXPECT_EQ(B->tcp().stats().syn_cookies_sent, 1u);
  EXPECT_EQ(B->tcp().stats().syn_cookies_accepted, 1u);
  const Tcb *tb = B->tcp().tcb_of(hb);
  ASSERT_NE(tb, nullptr);
  // Timestamps carried the other options through the cookie.
  EXPECT_TRUE(tb->ts_ok);
  EXPECT_TRUE(tb->sack_ok);
  EXPECT_EQ(tb->snd_wscale, 7);
  EXPECT_EQ(tb->mss, 1460 - 12);
  const Bytes msg = pattern(50'000);
  ASSERT_TRUE(transfer(*A, ha, msg, *B, hb));
  EXPECT_EQ(B->app.conns[hb].received, msg);
}

TEST_F(TcpPairTest, SynBacklogWithoutCookiesDropsAndCounts) {
  TcpConfig b = default_tcp();
  b.syn_backlog = 0;
  b.syn_cookies = false;
  start({}, default_tcp(), b);
  ASSERT_EQ(B->tcp().listen(80, 1, &B->app), IX_OK);
  A->tcp().connect(kIpB, 80, 0, 1, &A->app);
  run_for(2'000'000);
  EXPECT_GE(B->stack->counters().dropped(DropReason::kTcpSynBacklogFull), 1u);
  EXPECT_TRUE(B->app.knocks.empty());
}

TEST_F(TcpPairTest, ManyConnectionsOpenAndCloseWithoutLeaks) {
  start();
  ASSERT_EQ(B->tcp().listen(80, 1, &B->app), IX_OK);
  const uint32_t free_a = A->pool.available();
  std::vector<int64_t> hs;
  for (int i = 0; i < 100; ++i) hs.push_back(A->tcp().connect(kIpB, 80, 0, i, &A->app));
  ASSERT_TRUE(run_until([&] { return B->app.knocks.size() == 100; }));
  for (auto h : hs) EXPECT_EQ(A->tcp().close(h), IX_OK);
  ASSERT_TRUE(run_until([&] {
    for (auto &k : B->app.knocks)
      if (!B->app.conns[k.h].fin) return false;
    return true;
  }));
  for (auto &k : B->app.knocks) EXPECT_EQ(B->tcp().close(k.h), IX_OK);
  ASSERT_TRUE(run_until([&] { return B->tcp().connections() == 0; }));
  for (auto h : hs) EXPECT_TRUE(A->app.conns[h].dead);
  run_for(3'000'000'000ull);  // past TIME_WAIT
  EXPECT_EQ(A->tcp().connections(), 0u);
  EXPECT_EQ(A->pool.available(), free_a);
}

}  // namespace
}  // namespace ix::net::tcp::test
