// Segments and situations a peer (or an attacker) can bring about on
// purpose, each of which used to wedge, poison or exhaust a connection or
// the engine: zero-window probes with data, blind segments with bad ACKs and
// huge timestamps, tiny MSS, bogus timestamp echoes in the handshake, a
// recover point left 2 GiB behind, peers that never answer probes or never
// close, a table full of TIME_WAIT, retransmitted FINs in TIME_WAIT, bare
// ACKs to a listener, floods of challenge-ACK triggers and an empty pool.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

#include "net/tcp/tcp.hh"
#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

TcpState state(Host &h, ConnHandle c) {
  const Tcb *t = h.tcp().tcb_of(c);
  return t != nullptr ? t->state : TcpState::kClosed;
}

// The tests that emulate a long-lived connection set state directly.
Tcb *mutable_tcb(Host &h, ConnHandle c) { return const_cast<Tcb *>(h.tcp().tcb_of(c)); }

Bytes timestamp_option(uint32_t val, uint32_t ecr) {
  Bytes o = {1, 1, 8, 10};
  for (uint32_t v : {val, ecr})
    for (int s = 24; s >= 0; s -= 8) o.push_back(static_cast<uint8_t>(v >> s));
  return o;
}

uint32_t be32(const uint8_t *p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// The frames waiting in h's RX ring, taken off it (the stack never sees them).
std::vector<Bytes> take_frames(Host &h) {
  std::vector<Bytes> out;
  mem::Mbuf *pkts[64];
  for (;;) {
    const uint16_t n = h.port.rx_burst(0, pkts, 64);
    for (uint16_t i = 0; i < n; ++i) {
      out.emplace_back(pkts[i]->data(), pkts[i]->data() + pkts[i]->data_len);
      mem::MbufPool::free_chain(pkts[i]);
    }
    if (n < 64) return out;
  }
}

class TcpHardeningTest : public TcpPairTest {
 protected:
  // B holds at most `rcv_buf` bytes for an application that does not read:
  // A fills it and ends up facing a zero window, probing.
  std::pair<ConnHandle, ConnHandle> fill_window(uint32_t rcv_buf) {
    TcpConfig b = default_tcp();
    b.rcv_buf = rcv_buf;
    start({}, default_tcp(), b);
    auto_consume = false;
    auto [ha, hb] = connect_pair();
    data_ = pattern(8 * rcv_buf);
    size_t queued = 0;
    on_step = [&, ha = ha] {
      if (queued >= data_.size()) return;
      iovec v{data_.data() + queued, data_.size() - queued};
      const int64_t n = A->tcp().sendv(ha, &v, 1);
      if (n > 0) queued += static_cast<size_t>(n);
    };
    EXPECT_TRUE(run_until([&, ha = ha, hb = hb] {
      const Tcb *tb = B->tcp().tcb_of(hb);
      return tb->rcv_adv == tb->rcv_nxt && A->tcp().tcb_of(ha)->persist;
    }));
    on_step = nullptr;
    return {ha, hb};
  }
  Bytes data_;
};

TEST_F(TcpHardeningTest, ZeroWindowProbeCarryingDataIsAcknowledgedAtOnce) {
  auto [ha, hb] = fill_window(4096);
  const Tcb *tb = B->tcp().tcb_of(hb);
  ASSERT_EQ(tb->rcv_adv, tb->rcv_nxt) << "B's window is closed";
  // The probe FreeBSD, macOS and Windows send: one new byte at RCV.NXT.
  RawSegment probe = from_a(ha);
  probe.seq = tb->rcv_nxt;
  probe.ack = tb->snd_nxt;
  probe.payload = {0x42};
  const uint64_t tx = B->port.stats(0).tx_packets;
  const size_t received = B->app.conns[hb].received.size();
  inject(*B, raw_frame(probe));
  EXPECT_EQ(B->port.stats(0).tx_packets, tx + 1) << "answered with an ACK carrying the window";
  EXPECT_EQ(B->app.conns[hb].received.size(), received) << "the byte is outside the window";
  // Once B reads, the window update gets A going again.
  auto_consume = true;
  EXPECT_TRUE(run_until([&] { return B->app.conns[hb].received.size() == data_.size(); }));
}

TEST_F(TcpPairTest, BlindSegmentWithBadAckDoesNotPoisonTsRecent) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  run_for(2'000'000);
  const Tcb *tb = B->tcp().tcb_of(hb);
  ASSERT_TRUE(tb->ts_ok);
  const uint32_t ts_recent = tb->ts_recent;
  // In the window, at RCV.NXT, with a timestamp far ahead, but acknowledging
  // data B never sent: RFC 5961 5.2 discards it, so nothing of it counts.
  RawSegment blind = from_a(ha);
  blind.seq = tb->rcv_nxt;
  blind.ack = tb->snd_max + 100000;
  blind.options = timestamp_option(ts_recent + 0x7fff0000u, 0);
  inject(*B, raw_frame(blind));
  EXPECT_EQ(B->stack->counters().dropped(DropReason::kTcpBadAck), 1u);
  EXPECT_EQ(tb->ts_recent, ts_recent);
  // The real peer's later segments are not taken for old duplicates.
  EXPECT_TRUE(transfer(*A, ha, pattern(20000), *B, hb));
  EXPECT_EQ(B->stack->counters().dropped(DropReason::kTcpPaws), 0u);
}

// A handshake written by hand: B listens on 80, a raw SYN from port 5555
// with the given options, B's SYN-ACK read off the wire, then the ACK.
class RawHandshakeTest : public TcpPairTest {
 protected:
  ConnHandle handshake(const Bytes &syn_options, const Bytes &ack_options) {
    start();
    connect_pair(81);  // both ARP caches filled
    run_for(1'000'000);
    EXPECT_EQ(B->tcp().listen(80, 78, &B->app), IX_OK);
    take_frames(*A);
    RawSegment syn;
    syn.sport = 5555;
    syn.dport = 80;
    syn.seq = 1000;
    syn.flags = kSyn;
    syn.options = syn_options;
    inject(*B, raw_frame(syn));
    advance(latency_ns + 1);
    uint32_t iss = 0;
    bool synack = false;
    for (const Bytes &f : take_frames(*A)) {
      const uint8_t *tcp = f.data() + 14 + 20;
      if (f.size() >= 54 && (tcp[13] & (kSyn | kAck)) == (kSyn | kAck)) {
        iss = be32(tcp + 4);
        synack = true;
      }
    }
    EXPECT_TRUE(synack) << "B answered the SYN";
    const size_t knocks = B->app.knocks.size();
    RawSegment ack = syn;
    ack.seq = 1001;
    ack.ack = iss + 1;
    ack.flags = kAck;
    ack.options = ack_options;
    inject(*B, raw_frame(ack));
    EXPECT_EQ(B->app.knocks.size(), knocks + 1) << "the connection was established";
    return B->app.knocks.empty() ? 0 : B->app.knocks.back().h;
  }
  uint32_t b_ts_now() const { return static_cast<uint32_t>(clock.now_ns() / 1'000'000); }
};

TEST_F(RawHandshakeTest, TinyPeerMssWithTimestampsStaysTiny) {
  // MSS 8 with timestamps: taking the 12-byte option off must not wrap.
  Bytes syn_opt = {2, 4, 0, 8};
  const Bytes ts = timestamp_option(100, 0);
  syn_opt.insert(syn_opt.end(), ts.begin(), ts.end());
  const ConnHandle h = handshake(syn_opt, timestamp_option(101, b_ts_now()));
  ASSERT_NE(h, 0u);
  const Tcb *t = B->tcp().tcb_of(h);
  ASSERT_TRUE(t->ts_ok);
  EXPECT_GE(t->mss, 64u);
  EXPECT_LE(t->mss, 100u);
}

TEST_F(RawHandshakeTest, BogusTimestampEchoInTheHandshakeIsNoRttSample) {
  // The ACK echoes a timestamp B has not sent yet (from its future): taken
  // as an RTT it would wrap to 49 days and pin the RTO at its maximum.
  const ConnHandle h =
      handshake(timestamp_option(100, 0), timestamp_option(101, b_ts_now() + 100000));
  ASSERT_NE(h, 0u);
  EXPECT_LE(B->tcp().tcb_of(h)->rtt.rto_ns(), 1'000'000'000ull);
}

TEST_F(TcpPairTest, FastRetransmitStillWorksTwoGibibytesAfterTheLastRecovery) {
  drivers::FaultConfig f;
  f.drop = 0.02;
  f.seed = 7;
  start(f);
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  // As if 2 GiB less one byte had been acknowledged since the last recovery:
  // the next ACK takes SND.UNA more than 2^31 past the recover point.
  Tcb *ta = mutable_tcb(*A, ha);
  ta->recover = ta->snd_una - 0x7fffffffu;
  // Which repair the first loss gets: fast retransmit, not a timeout.
  uint64_t first_fast = 0, first_rto = 0;
  const Bytes data = pattern(300000);
  size_t queued = 0;
  on_step = [&] {
    if (queued < data.size()) {
      iovec v{const_cast<uint8_t *>(data.data() + queued), data.size() - queued};
      const int64_t n = A->tcp().sendv(ha, &v, 1);
      if (n > 0) queued += static_cast<size_t>(n);
    }
    if (first_fast + first_rto == 0) {
      first_fast = A->tcp().stats().fast_retransmits;
      first_rto = A->tcp().stats().rto_expirations;
    }
  };
  ASSERT_TRUE(
      run_until([&] { return B->app.conns[hb].received.size() == data.size(); }, 120'000'000'000));
  EXPECT_EQ(B->app.conns[hb].received, data);
  EXPECT_GT(first_fast, 0u) << "the first loss was repaired by fast retransmit";
  EXPECT_EQ(first_rto, 0u);
}

TEST_F(TcpHardeningTest, PersistGivesUpOnAPeerThatAnswersNoProbe) {
  auto [ha, hb] = fill_window(4096);
  // From now on nothing B sends reaches A: the peer has vanished.
  for (int i = 0; i < 200000 && !A->app.conns[ha].dead; ++i) {
    take_frames(*A);
    B->receive();
    advance(50'000'000);
  }
  EXPECT_TRUE(A->app.conns[ha].dead);
  EXPECT_EQ(A->app.conns[ha].why, DeadReason::kTimeout);
  EXPECT_EQ(A->tcp().stats().persist_timeouts, 1u);
  EXPECT_GT(A->tcp().stats().window_probes, 10u);
}

TEST_F(TcpPairTest, FinWait2EndsAfterThePeerIsSilentForTheTimeout) {
  TcpConfig a = default_tcp();
  a.fin_wait2_ns = 30'000'000'000ull;
  start({}, a);
  auto [ha, hb] = connect_pair();
  auto [ha2, hb2] = connect_pair(82);
  ASSERT_NE(hb, 0u);
  ASSERT_NE(hb2, 0u);
  EXPECT_EQ(A->tcp().close(ha), IX_OK);
  EXPECT_EQ(A->tcp().close(ha2), IX_OK);
  ASSERT_TRUE(run_until([&] {
    return state(*A, ha) == TcpState::kFinWait2 && state(*A, ha2) == TcpState::kFinWait2;
  }));
  // The peer of the second connection keeps sending (a half close): that
  // one stays; the first one's peer is silent and never closes.
  const char byte = 'x';
  for (int s = 0; s < 60; s += 10) {
    iovec v{const_cast<char *>(&byte), 1};
    EXPECT_EQ(B->tcp().sendv(hb2, &v, 1), 1);
    run_for(10'000'000'000ull);
  }
  EXPECT_TRUE(A->app.conns[ha].dead);
  EXPECT_EQ(A->app.conns[ha].why, DeadReason::kTimeout);
  EXPECT_EQ(A->tcp().stats().fin_wait2_timeouts, 1u);
  EXPECT_EQ(state(*A, ha2), TcpState::kFinWait2);
  EXPECT_EQ(A->app.conns[ha2].received.size(), 6u);
}

TEST_F(TcpPairTest, FullTableGivesUpItsOldestTimeWait) {
  TcpConfig a = default_tcp();
  a.max_connections = 8;
  a.time_wait_ns = 60'000'000'000ull;
  start({}, a);
  EXPECT_EQ(B->tcp().listen(80, 77, &B->app), IX_OK);
  std::vector<uint16_t> ports;
  for (int i = 0; i < 8; ++i) {
    const int64_t h = A->tcp().connect(kIpB, 80, 0, 5, &A->app);
    ASSERT_GT(h, 0) << "connection " << i;
    ASSERT_TRUE(run_until([&] {
      return A->app.conns[static_cast<ConnHandle>(h)].connected && !B->app.knocks.empty() &&
             B->app.knocks.size() == static_cast<size_t>(i + 1);
    }));
    ports.push_back(A->tcp().tcb_of(static_cast<ConnHandle>(h))->lport);
    EXPECT_EQ(A->tcp().close(static_cast<ConnHandle>(h)), IX_OK);
    const ConnHandle hb = B->app.knocks.back().h;
    ASSERT_TRUE(run_until([&] { return B->app.conns[hb].fin; }));
    EXPECT_EQ(B->tcp().close(hb), IX_OK);
    ASSERT_TRUE(run_until(
        [&] { return A->tcp().state_of(kIpB, 80, ports.back()) == TcpState::kTimeWait; }));
  }
  // Every slot holds a TIME_WAIT: a new connection takes the oldest one's.
  const int64_t h = A->tcp().connect(kIpB, 80, 0, 6, &A->app);
  ASSERT_GT(h, 0) << "not refused for lack of a slot";
  EXPECT_EQ(A->tcp().stats().time_wait_evicted, 1u);
  EXPECT_EQ(A->tcp().state_of(kIpB, 80, ports.front()), TcpState::kClosed);
  EXPECT_EQ(A->tcp().state_of(kIpB, 80, ports.back()), TcpState::kTimeWait);
  EXPECT_TRUE(run_until([&] { return A->app.conns[static_cast<ConnHandle>(h)].connected; }));
}

TEST_F(TcpPairTest, RetransmittedFinRestartsTimeWait) {
  start();  // time_wait_ns: 2 s
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const uint16_t aport = A->tcp().tcb_of(ha)->lport;
  EXPECT_EQ(A->tcp().close(ha), IX_OK);
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].fin; }));
  EXPECT_EQ(B->tcp().close(hb), IX_OK);
  ASSERT_TRUE(run_until([&] { return A->tcp().state_of(kIpB, 80, aport) == TcpState::kTimeWait; }));
  const Seq a_rcv_nxt = A->tcp().table().lookup(kIpA, aport, kIpB, 80)->rcv_nxt;
  const Seq a_snd_nxt = A->tcp().table().lookup(kIpA, aport, kIpB, 80)->snd_nxt;
  run_for(1'500'000'000);
  // B's FIN again, as if A's ACK of it had been lost.
  RawSegment fin;
  fin.src = kIpB;
  fin.dst = kIpA;
  fin.src_mac = kMacB;
  fin.dst_mac = kMacA;
  fin.sport = 80;
  fin.dport = aport;
  fin.seq = a_rcv_nxt - 1;
  fin.ack = a_snd_nxt;
  fin.flags = kFin | kAck;
  inject(*A, raw_frame(fin));
  EXPECT_EQ(A->stack->counters().dropped(DropReason::kTcpOutOfWindow), 1u) << "and re-ACKed";
  run_for(1'000'000'000);
  // B has forgotten the connection and answers that ACK with a RST, which
  // TIME_WAIT ignores (RFC 1337).
  EXPECT_GE(A->stack->counters().dropped(DropReason::kTcpRstIgnored), 1u);
  EXPECT_EQ(A->tcp().state_of(kIpB, 80, aport), TcpState::kTimeWait)
      << "2.5 s after entering TIME_WAIT, 1 s after the FIN came again";
  run_for(1'200'000'000);
  EXPECT_EQ(A->tcp().state_of(kIpB, 80, aport), TcpState::kClosed);
}

TEST_F(TcpPairTest, BareAckToAListenerIsNoCookieCheckWhenNoCookieWasSent) {
  start();
  connect_pair(81);
  run_for(1'000'000);
  EXPECT_EQ(B->tcp().listen(80, 78, &B->app), IX_OK);
  const uint64_t rst = B->tcp().stats().resets_tx;
  RawSegment r;
  r.sport = 6000;
  r.dport = 80;
  r.seq = 12345;
  r.ack = 67890;
  r.flags = kAck;
  inject(*B, raw_frame(r));
  EXPECT_EQ(B->stack->counters().dropped(DropReason::kTcpBadCookie), 0u);
  EXPECT_EQ(B->stack->counters().dropped(DropReason::kTcpNoConnection), 1u);
  EXPECT_EQ(B->tcp().stats().resets_tx, rst + 1);
}

TEST_F(TcpPairTest, ChallengeAcksAreRateLimited) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  run_for(1'000'000'000);  // a fresh one-second budget
  const uint64_t before = B->tcp().stats().challenge_acks;
  RawSegment syn = from_a(ha);
  syn.flags = kSyn;
  const Bytes frame = raw_frame(syn);
  for (int i = 0; i < 1500; ++i) inject(*B, frame);
  EXPECT_EQ(B->tcp().stats().challenge_acks - before, 1000u);
  EXPECT_EQ(B->tcp().stats().challenge_acks_suppressed, 500u);
  EXPECT_EQ(B->stack->counters().dropped(DropReason::kTcpSynChallenged), 1500u);
  EXPECT_EQ(state(*B, hb), TcpState::kEstablished);
  advance(1'000'000'000);
  inject(*B, frame);
  EXPECT_EQ(B->tcp().stats().challenge_acks - before, 1001u) << "a new second, a new budget";
}

// Out-of-window ACKs are answered at most once per oow_ack_interval_ns per
// connection (Linux's tcp_invalid_ratelimit): a blind sender gets one
// reflected, not one per segment. Out-of-window data (an old duplicate) is
// answered every time: its sender may be waiting for that ACK.
TEST_F(TcpPairTest, OutOfWindowAcksAreAnsweredOncePerIntervalAndDuplicateDataAlways) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  run_for(1'000'000'000);
  const Seq nxt = B->tcp().tcb_of(hb)->rcv_nxt;
  RawSegment ack = from_a(ha);
  ack.flags = kAck;
  ack.seq = nxt + 10'000'000;  // far past the window
  const Bytes ack_frame = raw_frame(ack);
  const uint64_t tx0 = B->tcp().stats().segments_tx;
  for (int i = 0; i < 100; ++i) inject(*B, ack_frame);
  EXPECT_EQ(B->tcp().stats().segments_tx - tx0, 1u) << "one ACK answered";
  EXPECT_EQ(B->tcp().stats().oow_acks_suppressed, 99u);
  EXPECT_EQ(B->stack->counters().dropped(DropReason::kTcpOutOfWindow), 100u);
  // An old duplicate carrying data, every time.
  RawSegment dup = from_a(ha);
  dup.flags = kAck | kPsh;
  dup.seq = nxt - 100;
  dup.payload = Bytes(50, 'd');
  const Bytes dup_frame = raw_frame(dup);
  for (int i = 0; i < 5; ++i) inject(*B, dup_frame);
  EXPECT_EQ(B->tcp().stats().segments_tx - tx0, 6u) << "each duplicate answered";
  EXPECT_EQ(B->tcp().stats().oow_acks_suppressed, 99u);
  // A probe (one below RCV.NXT, no data: keep-alive, zero-window probe)
  // is answered every time, whatever the interval.
  RawSegment probe = from_a(ha);
  probe.flags = kAck;
  probe.seq = nxt - 1;
  const Bytes probe_frame = raw_frame(probe);
  for (int i = 0; i < 3; ++i) inject(*B, probe_frame);
  EXPECT_EQ(B->tcp().stats().segments_tx - tx0, 9u) << "each probe answered";
  EXPECT_EQ(B->tcp().stats().oow_acks_suppressed, 99u);
  // The interval passes: the next out-of-window ACK is answered again.
  advance(TcpConfig{}.oow_ack_interval_ns);
  inject(*B, ack_frame);
  EXPECT_EQ(B->tcp().stats().segments_tx - tx0, 10u);
  EXPECT_EQ(state(*B, hb), TcpState::kEstablished);
  // The connection itself is unharmed.
  EXPECT_TRUE(transfer(*A, ha, pattern(20000, 4), *B, hb));
}

TEST_F(TcpPairTest, OutOfWindowSynsShareTheChallengeAckBudget) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  run_for(1'000'000'000);  // a fresh one-second budget
  const uint64_t before = B->tcp().stats().challenge_acks;
  const uint64_t sent_before = B->port.stats(0).tx_packets;
  RawSegment syn = from_a(ha);
  syn.flags = kSyn;
  syn.seq += 0x40000000;  // far outside the window: a blind guess
  const Bytes frame = raw_frame(syn);
  for (int i = 0; i < 1500; ++i) inject(*B, frame);
  EXPECT_EQ(B->tcp().stats().challenge_acks - before, 1000u);
  EXPECT_EQ(B->tcp().stats().challenge_acks_suppressed, 500u);
  EXPECT_EQ(B->port.stats(0).tx_packets - sent_before, 1000u) << "one ACK per budgeted SYN only";
  EXPECT_EQ(B->stack->counters().dropped(DropReason::kTcpOutOfWindow), 1500u);
  EXPECT_EQ(state(*B, hb), TcpState::kEstablished);
}

TEST_F(TcpPairTest, SendIsRetriedWhenThePoolWasEmptyAndNothingWasInFlight) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  run_for(2'000'000);
  std::vector<mem::Mbuf *> held;
  while (mem::Mbuf *m = A->pool.alloc()) held.push_back(m);
  const Bytes data = pattern(1000);
  iovec v{const_cast<uint8_t *>(data.data()), data.size()};
  ASSERT_EQ(A->tcp().sendv(ha, &v, 1), 1000);
  for (mem::Mbuf *m : held) mem::MbufPool::free_chain(m);
  EXPECT_TRUE(
      run_until([&] { return B->app.conns[hb].received.size() == data.size(); }, 2'000'000'000));
  EXPECT_EQ(B->app.conns[hb].received, data);
  EXPECT_GE(A->tcp().stats().tx_alloc_retries, 1u);
}

TEST_F(TcpPairTest, OutOfOrderSegmentsAreCappedForTheWholeEngine) {
  TcpConfig b = default_tcp();
  b.ooo_max_segments_total = 20;
  start({}, default_tcp(), b);
  auto [h1, b1] = connect_pair();
  auto [h2, b2] = connect_pair(82);
  auto [h3, b3] = connect_pair(83);
  ASSERT_NE(b3, 0u);
  run_for(2'000'000);
  // 1-byte segments with a gap before them: each would keep a whole buffer.
  auto flood = [&](ConnHandle ha, ConnHandle hb, int n) {
    const Seq nxt = B->tcp().tcb_of(hb)->rcv_nxt;
    for (int i = 0; i < n; ++i) {
      RawSegment r = from_a(ha);
      r.seq = nxt + 10 + 2 * static_cast<uint32_t>(i);
      r.payload = {0x55};
      inject(*B, raw_frame(r));
    }
  };
  const uint32_t free_before = B->pool.available();
  flood(h1, b1, 15);
  flood(h2, b2, 15);
  EXPECT_EQ(B->tcp().tcb_of(b1)->ooo.segments(), 15u);
  EXPECT_EQ(B->tcp().tcb_of(b2)->ooo.segments(), 5u) << "the engine's 20 are taken";
  EXPECT_EQ(B->tcp().stats().ooo_engine_full, 10u);
  EXPECT_GE(B->pool.available() + 20, free_before);
  // The third connection still receives in order.
  EXPECT_TRUE(transfer(*A, h3, pattern(50000), *B, b3));
  // A connection that goes away gives its share back.
  EXPECT_EQ(B->tcp().abort(b1), IX_OK);
  flood(h3, b3, 10);
  EXPECT_EQ(B->tcp().tcb_of(b3)->ooo.segments(), 10u);
}

// Out-of-order data is given back when the pool gets down to its holding
// limit: on every connection holding some (not only the one a segment
// arrives for), each connection's highest sequence first, round by round,
// until the pool is out of pressure. What is kept still fits the senders'
// streams; nothing was acknowledged that was not kept.
TEST_F(TcpPairTest, OutOfOrderDataIsGivenUpAcrossConnectionsHighestFirstWhenThePoolRunsLow) {
  rx_reserve = 16;
  TcpConfig b = default_tcp();
  b.ooo_max_segments_total = 400;  // above the default quarter of the pool
  start({}, default_tcp(), b, /*mbufs=*/512);
  constexpr int kConns = 3;
  constexpr uint32_t kHeld = 100, kSeg = 20;
  std::pair<ConnHandle, ConnHandle> conn[kConns];
  Bytes stream[kConns];
  Seq nxt[kConns];
  for (int k = 0; k < kConns; ++k) {
    conn[k] = connect_pair(static_cast<uint16_t>(80 + k));
    ASSERT_NE(conn[k].second, 0u);
    stream[k] = pattern(20000, 3 + k);
  }
  auto [quiet_a, quiet_b] = connect_pair(90);
  ASSERT_NE(quiet_b, 0u);
  run_for(2'000'000);
  // Each connection: 100 segments beyond a 1-byte gap, carrying the very
  // bytes its sender will send there, each holding a buffer of B's pool.
  for (int k = 0; k < kConns; ++k) {
    nxt[k] = B->tcp().tcb_of(conn[k].second)->rcv_nxt;
    for (uint32_t i = 0; i < kHeld; ++i) {
      RawSegment r = from_a(conn[k].first);
      r.seq = nxt[k] + 1 + kSeg * i;
      r.payload = Bytes(stream[k].begin() + 1 + kSeg * i, stream[k].begin() + 1 + kSeg * (i + 1));
      inject(*B, raw_frame(r));
    }
    ASSERT_EQ(B->tcp().tcb_of(conn[k].second)->ooo.segments(), kHeld);
  }
  EXPECT_EQ(B->tcp().stats().ooo_pruned, 0u);
  // Something else takes the pool down to its holding limit.
  std::vector<mem::Mbuf *> held;
  while (!B->pool.holding_limit()) held.push_back(B->pool.alloc());
  const uint32_t available = B->pool.available();

  // A bare ACK on a connection holding nothing out of order.
  RawSegment ack = from_a(quiet_a);
  ack.flags = kAck;
  inject(*B, raw_frame(ack));

  EXPECT_EQ(B->tcp().stats().ooo_reclaims, 1u);
  EXPECT_FALSE(B->pool.under_pressure()) << "reclaimed until the pool is out of pressure";
  uint32_t kept_total = 0, kept_min = kHeld, kept_max = 0;
  for (int k = 0; k < kConns; ++k) {
    const Tcb *t = B->tcp().tcb_of(conn[k].second);
    const uint32_t kept = t->ooo.segments();
    ASSERT_GT(kept, 0u) << "the pool needed less than all of it";
    // Highest first: what stays is the run just above the gap.
    EXPECT_EQ(t->ooo.highest_end(), nxt[k] + 1 + kSeg * kept) << "connection " << k;
    EXPECT_EQ(t->rcv_nxt, nxt[k]);
    kept_total += kept;
    kept_min = std::min(kept_min, kept);
    kept_max = std::max(kept_max, kept);
  }
  EXPECT_LE(kept_max - kept_min, 1u) << "every connection gives its share, round by round";
  EXPECT_EQ(B->tcp().stats().ooo_pruned, kConns * kHeld - kept_total);
  EXPECT_GE(B->pool.available(), available + kConns * kHeld - kept_total);
  for (mem::Mbuf *m : held) mem::MbufPool::free_chain(m);
  // The senders' streams arrive intact, through what was kept.
  for (int k = 0; k < kConns; ++k)
    EXPECT_TRUE(transfer(*A, conn[k].first, stream[k], *B, conn[k].second)) << "connection " << k;
}

// A pool whose reserve is a large share of it reaches its holding limit
// before it counts as under pressure: the reclaim still frees out-of-order
// data until the pool is off the limit.
TEST_F(TcpPairTest, OutOfOrderDataIsGivenUpAtTheHoldingLimitOfASmallPool) {
  rx_reserve = 40;
  TcpConfig b = default_tcp();
  b.ooo_max_segments_total = 64;
  start({}, default_tcp(), b, /*mbufs=*/128);
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  auto [qa, qb] = connect_pair(81);
  ASSERT_NE(qb, 0u);
  run_for(2'000'000);
  const Seq nxt = B->tcp().tcb_of(hb)->rcv_nxt;
  const Bytes stream = pattern(20000, 8);
  for (uint32_t i = 0; i < 30; ++i) {
    RawSegment r = from_a(ha);
    r.seq = nxt + 1 + 10 * i;
    r.payload = Bytes(stream.begin() + 1 + 10 * i, stream.begin() + 11 + 10 * i);
    inject(*B, raw_frame(r));
  }
  ASSERT_EQ(B->tcp().tcb_of(hb)->ooo.segments(), 30u);
  // Down to the holding limit, yet not under pressure (the limit is twice
  // the reserve, 80 buffers; pressure is less than half the pool free).
  std::vector<mem::Mbuf *> held;
  while (!B->pool.holding_limit()) held.push_back(B->pool.alloc());
  ASSERT_FALSE(B->pool.under_pressure());
  RawSegment ack = from_a(qa);
  ack.flags = kAck;
  inject(*B, raw_frame(ack));
  EXPECT_GT(B->tcp().stats().ooo_pruned, 0u);
  EXPECT_FALSE(B->pool.holding_limit()) << "reclaimed until off the holding limit";
  for (mem::Mbuf *m : held) mem::MbufPool::free_chain(m);
  EXPECT_TRUE(transfer(*A, ha, stream, *B, hb));
}

// Windows shrink as the pool runs low: with less than half of B's pool
// free, each of its windows opens by at most 4 segments beyond the data it
// acknowledges (the edge already advertised stays), and once the pool is
// back above half they open in full again.
TEST_F(TcpPairTest, WindowsOpenBySmallStepsWhileThePoolIsUnderPressure) {
  rx_reserve = 16;
  start({}, default_tcp(), default_tcp(), /*mbufs=*/512);
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const Tcb *ta = A->tcp().tcb_of(ha);
  const uint32_t mss = ta->mss;
  ASSERT_GT(ta->snd_wnd, 8 * mss) << "a full window before any pressure";
  // Something else holds most of B's pool: under half free, above the
  // holding limit.
  std::vector<mem::Mbuf *> held;
  while (!B->pool.under_pressure()) held.push_back(B->pool.alloc());
  ASSERT_FALSE(B->pool.holding_limit());
  const uint64_t before = B->tcp().stats().windows_under_pressure;
  // More than the window B advertised before, so that its edge must move.
  const Bytes data = pattern(600'000, 7);
  ASSERT_TRUE(transfer(*A, ha, data, *B, hb));
  EXPECT_EQ(B->app.conns[hb].received, data);
  EXPECT_GT(B->tcp().stats().windows_under_pressure, before);
  run_for(10'000'000);
  // The scaled window field rounds up to the next 128 bytes.
  EXPECT_LE(ta->snd_wnd, 4 * mss + 128) << "the last window B opened, under pressure";
  EXPECT_TRUE(B->pool.under_pressure());
  for (mem::Mbuf *m : held) mem::MbufPool::free_chain(m);
  ASSERT_FALSE(B->pool.under_pressure());
  const Bytes more = pattern(100'000, 8);
  ASSERT_TRUE(transfer(*A, ha, more, *B, hb));
  run_for(10'000'000);  // the last ACKs and window updates arrive
  EXPECT_GT(ta->snd_wnd, 8 * mss) << "the pool has room again: windows open in full";
  EXPECT_TRUE(
      std::equal(more.begin(), more.end(), B->app.conns[hb].received.begin() + data.size()));
}

// The 10,000-connection deadlock in small: an echo server that keeps each
// received buffer until its echo is acknowledged (as zero-copy echo does),
// more data in flight than its pool holds, and one pool for RX and TX. The
// ACKs that would free the buffers must still get in.
TEST_F(TcpPairTest, EchoThatHoldsBuffersUntilAckedDoesNotDeadlockThePool) {
  rx_reserve = 16;
  start({}, default_tcp(), default_tcp(), /*mbufs=*/384);
  auto_consume = false;
  constexpr int kConns = 48;
  constexpr size_t kBytes = 16 * 1024;
  std::vector<std::pair<ConnHandle, ConnHandle>> conns;
  for (int i = 0; i < kConns; ++i) conns.push_back(connect_pair(static_cast<uint16_t>(100 + i)));
  const Bytes data = pattern(kBytes);
  std::map<ConnHandle, size_t> sent_a, echoed_b, done_b;  // per connection
  on_step = [&] {
    for (auto [ha, hb] : conns) {
      // A streams its bytes and reads the echo as it comes.
      if (sent_a[ha] < kBytes) {
        iovec v{const_cast<uint8_t *>(data.data() + sent_a[ha]), kBytes - sent_a[ha]};
        const int64_t n = A->tcp().sendv(ha, &v, 1);
        if (n > 0) sent_a[ha] += static_cast<size_t>(n);
      }
      ConnLog &ca = A->app.conns[ha];
      if (ca.unconsumed > 0) {
        EXPECT_EQ(A->tcp().recv_done(ha, ca.unconsumed), IX_OK);
        ca.unconsumed = 0;
      }
      // B echoes what it got, and gives the received buffers back only
      // once the echo of them is acknowledged.
      ConnLog &cb = B->app.conns[hb];
      if (echoed_b[hb] < cb.received.size()) {
        iovec v{cb.received.data() + echoed_b[hb], cb.received.size() - echoed_b[hb]};
        const int64_t n = B->tcp().sendv(hb, &v, 1);
        if (n > 0) echoed_b[hb] += static_cast<size_t>(n);
      }
      if (cb.sent_acked > done_b[hb]) {
        const auto n =
            static_cast<uint32_t>(std::min<uint64_t>(cb.sent_acked - done_b[hb], cb.unconsumed));
        if (n > 0) {
          EXPECT_EQ(B->tcp().recv_done(hb, n), IX_OK);
          cb.unconsumed -= n;
          done_b[hb] += n;
        }
      }
    }
  };
  const bool all = run_until(
      [&] {
        for (auto [ha, hb] : conns)
          if (A->app.conns[ha].received.size() < kBytes) return false;
        return true;
      },
      120'000'000'000ull);
  EXPECT_TRUE(all) << "B's pool: " << B->pool.available() << " of " << B->pool.capacity()
                   << " free, pool-low drops "
                   << B->stack->counters().dropped(DropReason::kTcpPoolLow);
  for (auto [ha, hb] : conns) EXPECT_EQ(A->app.conns[ha].received, data);
  EXPECT_GT(B->stack->counters().dropped(DropReason::kTcpPoolLow), 0u)
      << "the pool did run down to its holding limit";
}

TEST_F(TcpPairTest, AReceiversBufferQuotaClosesItsWindowsAndCountsItsDeadConnectionsBuffers) {
  start();
  auto_consume = false;
  B->app.set_rx_buffer_quota(16);
  std::vector<std::pair<ConnHandle, ConnHandle>> conns;
  for (uint16_t i = 0; i < 3; ++i) conns.push_back(connect_pair(static_cast<uint16_t>(200 + i)));
  const Bytes data = pattern(256 * 1024);
  std::map<ConnHandle, size_t> sent;
  on_step = [&] {
    for (auto [ha, hb] : conns) {
      if (sent[ha] >= data.size()) continue;
      iovec v{const_cast<uint8_t *>(data.data() + sent[ha]), data.size() - sent[ha]};
      const int64_t n = A->tcp().sendv(ha, &v, 1);
      if (n > 0) sent[ha] += static_cast<size_t>(n);
    }
  };
  // Until the quota is reached, and a while after: never beyond it.
  int after = 0;
  for (int i = 0; i < 5000 && after < 200; ++i) {
    step();
    ASSERT_LE(B->app.rx_buffers_held(), 16u) << "step " << i;
    if (B->app.rx_buffers_held() == 16u) ++after;
  }
  on_step = nullptr;
  EXPECT_EQ(B->app.rx_buffers_held(), 16u) << "the quota was never reached";
  size_t received = 0;
  for (auto [ha, hb] : conns) received += B->app.conns[hb].received.size();
  EXPECT_LT(received, 3 * data.size()) << "windows did not close at the quota";
  // The connections die with their data unread (the receiver aborts them;
  // a peer's RST beyond the closed window would be ignored): the buffers
  // stay readable (deferred) and still count until the owner frees them.
  const uint32_t in_use = B->pool.capacity() - B->pool.available();
  for (auto [ha, hb] : conns) EXPECT_EQ(B->tcp().abort(hb), IX_OK);
  for (int i = 0; i < 20; ++i) step();
  EXPECT_EQ(B->app.rx_buffers_held(), 16u);
  EXPECT_GE(B->pool.capacity() - B->pool.available(), 16u);
  EXPECT_LE(B->pool.capacity() - B->pool.available(), in_use);
  B->tcp().free_deferred(B->app);
  EXPECT_EQ(B->app.rx_buffers_held(), 0u);
}

TEST_F(TcpPairTest, AReceiversConnectionQuotaRefusesMoreUntilOneGoes) {
  start();
  B->app.set_connection_quota(2);
  auto c1 = connect_pair(300);
  auto c2 = connect_pair(301);
  ASSERT_NE(c1.second, 0u);
  ASSERT_NE(c2.second, 0u);
  EXPECT_EQ(B->app.connections(), 2u);
  // At its quota: its own connects fail at once, SYNs to its ports are dropped.
  EXPECT_EQ(B->tcp().connect(kIpA, 9, 0, 1, &B->app), IX_ENOMEM);
  ASSERT_EQ(B->tcp().listen(302, 77, &B->app), IX_OK);
  const int64_t h3 = A->tcp().connect(kIpB, 302, 0, 5, &A->app);
  ASSERT_GT(h3, 0);
  for (int i = 0; i < 50; ++i) step();
  EXPECT_FALSE(A->app.conns[static_cast<ConnHandle>(h3)].connected);
  EXPECT_GT(B->stack->counters().dropped(DropReason::kTcpConnTableFull), 0u);
  EXPECT_EQ(B->app.knocks.size(), 2u);
  // Another receiver on the same engine is not held back.
  RecordingApp other;
  ASSERT_EQ(B->tcp().listen(303, 78, &other), IX_OK);
  const int64_t h4 = A->tcp().connect(kIpB, 303, 0, 6, &A->app);
  EXPECT_TRUE(run_until([&] {
    return A->app.conns[static_cast<ConnHandle>(h4)].connected && other.knocks.size() == 1;
  }));
  // One of B's connections goes: the waiting one gets in (A's SYN retransmission).
  EXPECT_EQ(B->tcp().abort(c1.second), IX_OK);
  EXPECT_EQ(B->app.connections(), 1u);
  EXPECT_TRUE(run_until([&] { return A->app.conns[static_cast<ConnHandle>(h3)].connected; }));
  EXPECT_EQ(B->app.connections(), 2u);
  // A connection that ends in TIME_WAIT no longer counts once it is dead to its owner.
  EXPECT_EQ(B->tcp().close(c2.second), IX_OK);
  EXPECT_EQ(A->tcp().close(c2.first), IX_OK);
  EXPECT_TRUE(run_until([&] { return B->app.conns[c2.second].dead; }));
  EXPECT_EQ(B->app.connections(), 1u);
  B->tcp().abort_all(other);
}

}  // namespace
}  // namespace ix::net::tcp::test
