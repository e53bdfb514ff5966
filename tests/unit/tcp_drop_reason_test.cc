// One test per TCP drop reason: crafted segments on the loop wire that the
// stack must drop for exactly that reason, counted once under its name and
// under no other. Where the segment was aimed at a live connection or
// listener, it must come through unharmed: the ordinary stream that follows
// arrives intact, byte for byte. tcp_drop_reasons.hh lists these tests, and
// stack_test.cc checks that every tcp_* reason has one.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "net/tcp/tcp.hh"
#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

Bytes timestamp_option(uint32_t val, uint32_t ecr) {
  Bytes o = {kOptNop, kOptNop, kOptTimestamps, 10};
  for (uint32_t v : {val, ecr})
    for (int s = 24; s >= 0; s -= 8) o.push_back(static_cast<uint8_t>(v >> s));
  return o;
}

// The frame cut so that its IPv4 datagram carries only `tcp_len` bytes of
// TCP; IPv4 total length and header checksum made right again, so that only
// TCP can object.
Bytes cut_tcp(Bytes f, size_t tcp_len) {
  f.resize(14 + 20 + tcp_len);
  const auto total = static_cast<uint16_t>(20 + tcp_len);
  f[16] = static_cast<uint8_t>(total >> 8);
  f[17] = static_cast<uint8_t>(total);
  f[24] = f[25] = 0;
  uint32_t sum = 0;
  for (size_t i = 14; i < 34; i += 2) sum += static_cast<uint32_t>(f[i] << 8 | f[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const auto c = static_cast<uint16_t>(~sum);
  f[24] = static_cast<uint8_t>(c >> 8);
  f[25] = static_cast<uint8_t>(c);
  return f;
}

class TcpDropReasonTest : public TcpPairTest {
 protected:
  static std::vector<uint64_t> drop_counts(Host &h) {
    const StackCounters &c = h.stack->counters();
    return {std::begin(c.drops), std::end(c.drops)};
  }

  // Runs act() (which injects into h) and checks that h's stack counted `n`
  // drops under `reason` and none under any other reason.
  void expect_only_drops(Host &h, DropReason reason, uint64_t n, const std::function<void()> &act) {
    const std::vector<uint64_t> before = drop_counts(h);
    act();
    const std::vector<uint64_t> after = drop_counts(h);
    for (size_t i = 0; i < before.size(); ++i) {
      const auto r = static_cast<DropReason>(i);
      EXPECT_EQ(after[i] - before[i], r == reason ? n : 0) << drop_reason_name(r);
    }
  }

  // An established, quiet connection from A to B's port 80.
  std::pair<ConnHandle, ConnHandle> established(const TcpConfig &b = default_tcp()) {
    start({}, default_tcp(), b);
    const auto p = connect_pair(80);
    EXPECT_NE(p.second, 0u);
    run_for(2'000'000);
    return p;
  }

  // B listening on port 80 with nothing on it yet (a connection on port 81
  // has filled both ARP caches, so B's answers leave at once).
  void listening(const TcpConfig &b = default_tcp()) {
    start({}, default_tcp(), b);
    EXPECT_NE(connect_pair(81).second, 0u);
    run_for(2'000'000);
    EXPECT_EQ(B->tcp().listen(80, 78, &B->app), IX_OK);
  }

  // A segment to B's listener on port 80 from a port A has no connection on.
  static RawSegment to_listener(uint16_t sport, uint8_t flags) {
    RawSegment r;
    r.sport = sport;
    r.dport = 80;
    r.seq = 1000;
    r.flags = flags;
    return r;
  }

  // A crafted copy of bytes [off, off + len) of `data` as A will send them
  // on ha (A has sent nothing on it yet): what a duplicate, early or
  // forged copy of the real stream looks like.
  RawSegment ahead(ConnHandle ha, const Bytes &data, size_t off, size_t len) {
    RawSegment r = from_a(ha);
    r.seq += static_cast<uint32_t>(off);
    r.payload.assign(data.begin() + static_cast<std::ptrdiff_t>(off),
                     data.begin() + static_cast<std::ptrdiff_t>(off + len));
    return r;
  }

  // A sends `data` on ha the ordinary way; B's application must get exactly
  // it (whatever crafted copies of its bytes B kept before).
  void expect_stream_intact(ConnHandle ha, ConnHandle hb, const Bytes &data) {
    iovec v{const_cast<uint8_t *>(data.data()), data.size()};
    ASSERT_EQ(A->tcp().sendv(ha, &v, 1), static_cast<int64_t>(data.size()));
    EXPECT_TRUE(run_until([&] { return B->app.conns[hb].received.size() >= data.size(); }));
    EXPECT_EQ(B->app.conns[hb].received, data);
    EXPECT_FALSE(A->app.conns[ha].dead);
    EXPECT_FALSE(B->app.conns[hb].dead);
  }

  // A connects to B's port 80; true once both ends are established.
  bool new_connection_to_80() {
    const size_t knocks = B->app.knocks.size();
    const int64_t h = A->tcp().connect(kIpB, 80, 0, 9, &A->app);
    EXPECT_GT(h, 0);
    return h > 0 && run_until([&] {
             return A->app.conns[static_cast<ConnHandle>(h)].connected &&
                    B->app.knocks.size() > knocks;
           });
  }

  const Bytes data_ = pattern(20000, 5);
};

TEST_F(TcpDropReasonTest, SegmentShorterThanATcpHeaderIsTruncated) {
  listening();
  const Bytes f = cut_tcp(raw_frame(to_listener(5555, kSyn)), 10);
  expect_only_drops(*B, DropReason::kTcpTruncated, 1, [&] { inject(*B, f); });
  EXPECT_EQ(B->tcp().half_open(), 0u);
}

TEST_F(TcpDropReasonTest, CorruptedSegmentFailsTheChecksum) {
  auto [ha, hb] = established();
  Bytes f = raw_frame(ahead(ha, data_, 0, 100));
  f[14 + 20 + 20 + 7] ^= 0x10;  // one payload bit flipped on the way
  expect_only_drops(*B, DropReason::kTcpBadChecksum, 1, [&] { inject(*B, f); });
  EXPECT_TRUE(B->app.conns[hb].received.empty());
  expect_stream_intact(ha, hb, data_);
}

TEST_F(TcpDropReasonTest, DataOffsetBelowFiveOrPastTheEndIsRefused) {
  auto [ha, hb] = established();
  RawSegment below = ahead(ha, data_, 0, 100);
  below.data_off_words = 4;
  RawSegment past = from_a(ha);  // 20 bytes of TCP, a header said to be 24
  past.data_off_words = 6;
  expect_only_drops(*B, DropReason::kTcpBadHeaderLen, 2, [&] {
    inject(*B, raw_frame(below));
    inject(*B, raw_frame(past));
  });
  EXPECT_TRUE(B->app.conns[hb].received.empty());
  expect_stream_intact(ha, hb, data_);
}

TEST_F(TcpDropReasonTest, OptionLongerThanTheHeaderIsRefused) {
  auto [ha, hb] = established();
  RawSegment r = ahead(ha, data_, 0, 100);
  r.options = {kOptTimestamps, 10, 0, 0};  // says 10 bytes, 4 are there
  expect_only_drops(*B, DropReason::kTcpBadOptions, 1, [&] { inject(*B, raw_frame(r)); });
  EXPECT_TRUE(B->app.conns[hb].received.empty());
  expect_stream_intact(ha, hb, data_);
}

TEST_F(TcpDropReasonTest, SourcePortZeroIsABadAddress) {
  listening();
  expect_only_drops(*B, DropReason::kTcpBadAddress, 1,
                    [&] { inject(*B, raw_frame(to_listener(0, kSyn))); });
  EXPECT_EQ(B->tcp().half_open(), 0u);
  EXPECT_TRUE(new_connection_to_80());
}

TEST_F(TcpDropReasonTest, SynWithFinOrRstIsRefused) {
  listening();
  expect_only_drops(*B, DropReason::kTcpBadFlags, 2, [&] {
    inject(*B, raw_frame(to_listener(5555, kSyn | kFin)));
    inject(*B, raw_frame(to_listener(5556, kSyn | kRst)));
  });
  EXPECT_EQ(B->tcp().half_open(), 0u);
  EXPECT_TRUE(new_connection_to_80());
}

TEST_F(TcpDropReasonTest, SegmentToAClosedPortIsAnsweredWithRst) {
  listening();
  RawSegment r = to_listener(5555, kSyn);
  r.dport = 9;
  const uint64_t rst = B->tcp().stats().resets_tx;
  expect_only_drops(*B, DropReason::kTcpNoConnection, 1, [&] { inject(*B, raw_frame(r)); });
  EXPECT_EQ(B->tcp().stats().resets_tx, rst + 1);
}

TEST_F(TcpDropReasonTest, RstOrSynAckToAListenerIsIgnored) {
  listening();
  const uint64_t rst = B->tcp().stats().resets_tx;
  expect_only_drops(*B, DropReason::kTcpListenIgnored, 2, [&] {
    inject(*B, raw_frame(to_listener(5555, kRst)));
    inject(*B, raw_frame(to_listener(5556, kSyn | kAck)));
  });
  EXPECT_EQ(B->tcp().stats().resets_tx, rst + 1) << "the SYN-ACK is answered, the RST is not";
  EXPECT_EQ(B->tcp().half_open(), 0u);
  EXPECT_TRUE(new_connection_to_80());
}

TEST_F(TcpDropReasonTest, ReplyWithoutSynInSynSentIsIgnored) {
  listening();
  const int64_t h = A->tcp().connect(kIpB, 80, 0, 9, &A->app);
  ASSERT_GT(h, 0);
  const auto ha = static_cast<ConnHandle>(h);
  const Tcb *ta = A->tcp().tcb_of(ha);
  ASSERT_EQ(ta->state, TcpState::kSynSent);
  // From B's side of the tuple, before B's SYN-ACK: an acceptable ACK
  // without SYN, and a RST without ACK (RFC 9293 3.10.7.3 drops both).
  RawSegment r;
  r.src = kIpB;
  r.dst = kIpA;
  r.src_mac = kMacB;
  r.dst_mac = kMacA;
  r.sport = 80;
  r.dport = ta->lport;
  r.seq = 777;
  r.ack = ta->iss + 1;
  r.flags = kAck;
  RawSegment rst = r;
  rst.flags = kRst;
  expect_only_drops(*A, DropReason::kTcpSynSentIgnored, 2, [&] {
    inject(*A, raw_frame(r));
    inject(*A, raw_frame(rst));
  });
  EXPECT_EQ(ta->state, TcpState::kSynSent);
  ASSERT_TRUE(run_until([&] { return A->app.conns[ha].connected && B->app.knocks.size() == 2; }));
  EXPECT_TRUE(transfer(*A, ha, data_, *B, B->app.knocks.back().h));
  EXPECT_EQ(B->app.conns[B->app.knocks.back().h].received, data_);
}

TEST_F(TcpDropReasonTest, SegmentFarPastTheWindowIsOutOfWindow) {
  auto [ha, hb] = established();
  RawSegment r = from_a(ha);
  r.seq += 0x40000000u;
  r.payload = {0x42};
  const uint64_t tx = B->port.stats(0).tx_packets;
  expect_only_drops(*B, DropReason::kTcpOutOfWindow, 1, [&] { inject(*B, raw_frame(r)); });
  EXPECT_EQ(B->port.stats(0).tx_packets, tx + 1) << "answered with an ACK";
  expect_stream_intact(ha, hb, data_);
}

TEST_F(TcpDropReasonTest, OlderTimestampIsRejectedByPaws) {
  auto [ha, hb] = established();
  const Tcb *tb = B->tcp().tcb_of(hb);
  ASSERT_TRUE(tb->ts_ok);
  const uint32_t ts_recent = tb->ts_recent;
  RawSegment r = ahead(ha, data_, 0, 100);
  r.options = timestamp_option(ts_recent - 1000, 0);
  expect_only_drops(*B, DropReason::kTcpPaws, 1, [&] { inject(*B, raw_frame(r)); });
  EXPECT_TRUE(B->app.conns[hb].received.empty());
  EXPECT_EQ(tb->ts_recent, ts_recent);
  expect_stream_intact(ha, hb, data_);
}

TEST_F(TcpDropReasonTest, RstInTheWindowButNotAtRcvNxtIsChallenged) {
  auto [ha, hb] = established();
  RawSegment r = from_a(ha);
  r.seq += 1;
  r.flags = kRst;
  const uint64_t challenges = B->tcp().stats().challenge_acks;
  expect_only_drops(*B, DropReason::kTcpRstIgnored, 1, [&] { inject(*B, raw_frame(r)); });
  EXPECT_EQ(B->tcp().stats().challenge_acks, challenges + 1);
  EXPECT_EQ(B->tcp().tcb_of(hb)->state, TcpState::kEstablished);
  expect_stream_intact(ha, hb, data_);
}

TEST_F(TcpDropReasonTest, SynOnAnEstablishedConnectionIsChallenged) {
  auto [ha, hb] = established();
  RawSegment r = from_a(ha);
  r.flags = kSyn;
  const uint64_t challenges = B->tcp().stats().challenge_acks;
  expect_only_drops(*B, DropReason::kTcpSynChallenged, 1, [&] { inject(*B, raw_frame(r)); });
  EXPECT_EQ(B->tcp().stats().challenge_acks, challenges + 1);
  EXPECT_EQ(B->tcp().tcb_of(hb)->state, TcpState::kEstablished);
  expect_stream_intact(ha, hb, data_);
}

TEST_F(TcpDropReasonTest, DataWithoutTheAckBitIsDropped) {
  auto [ha, hb] = established();
  RawSegment r = ahead(ha, data_, 0, 100);
  r.flags = kPsh;
  expect_only_drops(*B, DropReason::kTcpNoAck, 1, [&] { inject(*B, raw_frame(r)); });
  EXPECT_TRUE(B->app.conns[hb].received.empty());
  expect_stream_intact(ha, hb, data_);
}

TEST_F(TcpDropReasonTest, AckForDataNeverSentIsDropped) {
  auto [ha, hb] = established();
  RawSegment r = ahead(ha, data_, 0, 100);
  r.ack += 100000;
  const uint64_t challenges = B->tcp().stats().challenge_acks;
  expect_only_drops(*B, DropReason::kTcpBadAck, 1, [&] { inject(*B, raw_frame(r)); });
  EXPECT_TRUE(B->app.conns[hb].received.empty());
  EXPECT_EQ(B->tcp().stats().challenge_acks, challenges + 1);
  expect_stream_intact(ha, hb, data_);
}

TEST_F(TcpDropReasonTest, DataAfterThePeersFinIsDropped) {
  auto [ha, hb] = established();
  EXPECT_EQ(A->tcp().close(ha), IX_OK);
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].fin; }));
  ASSERT_EQ(B->tcp().tcb_of(hb)->state, TcpState::kCloseWait);
  // In B's window, right after A's FIN.
  RawSegment r = from_a(ha);
  r.payload = pattern(10);
  expect_only_drops(*B, DropReason::kTcpDataAfterFin, 1, [&] { inject(*B, raw_frame(r)); });
  EXPECT_TRUE(B->app.conns[hb].received.empty());
  // The half that is still open still carries B's data to A.
  EXPECT_TRUE(transfer(*B, hb, data_, *A, ha));
  EXPECT_EQ(A->app.conns[ha].received, data_);
}

TEST_F(TcpDropReasonTest, InOrderSegmentBeyondTheReceiveQueueIsDropped) {
  TcpConfig b = default_tcp();
  b.recv_queue_segments = 16;
  auto [ha, hb] = established(b);
  // The engine may make the queue larger than asked for (room for what the
  // reassembly queue hands over).
  const uint32_t cap = B->tcp().tcb_of(hb)->rq.capacity();
  ASSERT_LT(cap, data_.size());
  auto_consume = false;  // the application holds every segment it is given
  expect_only_drops(*B, DropReason::kTcpRecvQueueFull, 2, [&] {
    for (size_t i = 0; i < cap; ++i) inject(*B, raw_frame(ahead(ha, data_, i, 1)));
    // The next byte, in order, twice (a later byte would go to reassembly).
    inject(*B, raw_frame(ahead(ha, data_, cap, 1)));
    inject(*B, raw_frame(ahead(ha, data_, cap, 1)));
  });
  EXPECT_EQ(B->app.conns[hb].received, Bytes(data_.begin(), data_.begin() + cap));
  auto_consume = true;
  expect_stream_intact(ha, hb, data_);
}

TEST_F(TcpDropReasonTest, DataIsNotHeldWhenThePoolIsAtItsHoldingLimit) {
  rx_reserve = 8;
  auto [ha, hb] = established();
  std::vector<mem::Mbuf *> held;  // what applications hold
  while (!B->pool.holding_limit()) held.push_back(B->pool.alloc());
  expect_only_drops(*B, DropReason::kTcpPoolLow, 1,
                    [&] { inject(*B, raw_frame(ahead(ha, data_, 0, 100))); });
  EXPECT_TRUE(B->app.conns[hb].received.empty());
  for (mem::Mbuf *m : held) mem::MbufPool::free_chain(m);
  expect_stream_intact(ha, hb, data_);
}

TEST_F(TcpDropReasonTest, OutOfOrderSegmentBeyondTheReassemblyLimitIsDropped) {
  TcpConfig b = default_tcp();
  b.ooo_max_segments = 2;
  auto [ha, hb] = established(b);
  expect_only_drops(*B, DropReason::kTcpReassemblyFull, 1, [&] {
    for (size_t off = 2; off <= 6; off += 2) inject(*B, raw_frame(ahead(ha, data_, off, 1)));
  });
  EXPECT_EQ(B->tcp().tcb_of(hb)->ooo.segments(), 2u);
  EXPECT_TRUE(B->app.conns[hb].received.empty());
  expect_stream_intact(ha, hb, data_);
}

TEST_F(TcpDropReasonTest, SynBeyondTheBacklogIsDroppedWithoutCookies) {
  TcpConfig b = default_tcp();
  b.syn_backlog = 2;
  b.syn_cookies = false;
  listening(b);
  expect_only_drops(*B, DropReason::kTcpSynBacklogFull, 1, [&] {
    for (int port = 5001; port <= 5003; ++port)
      inject(*B, raw_frame(to_listener(static_cast<uint16_t>(port), kSyn)));
  });
  EXPECT_EQ(B->tcp().half_open(), 2u);
  // A resets the two SYN-ACKs it never asked for; the backlog empties.
  EXPECT_TRUE(run_until([&] { return B->tcp().half_open() == 0; }));
  EXPECT_TRUE(new_connection_to_80());
}

TEST_F(TcpDropReasonTest, SynToAFullTableIsDroppedWithoutCookies) {
  TcpConfig b = default_tcp();
  b.max_connections = 3;  // the connection on port 81 takes one
  b.syn_cookies = false;
  listening(b);
  ASSERT_EQ(B->tcp().connections(), 1u);
  expect_only_drops(*B, DropReason::kTcpConnTableFull, 1, [&] {
    for (int port = 5001; port <= 5003; ++port)
      inject(*B, raw_frame(to_listener(static_cast<uint16_t>(port), kSyn)));
  });
  EXPECT_EQ(B->tcp().connections(), 3u);
  EXPECT_TRUE(run_until([&] { return B->tcp().connections() == 1; }));
  EXPECT_TRUE(new_connection_to_80());
}

TEST_F(TcpDropReasonTest, AckWithAForgedCookieIsRefused) {
  TcpConfig b = default_tcp();
  b.syn_backlog = 1;  // the second SYN is answered with a cookie
  listening(b);
  inject(*B, raw_frame(to_listener(5001, kSyn)));
  inject(*B, raw_frame(to_listener(5002, kSyn)));
  ASSERT_EQ(B->tcp().stats().syn_cookies_sent, 1u);
  RawSegment ack = to_listener(5003, kAck);
  ack.seq = 1001;
  ack.ack = 12345;
  const uint64_t rst = B->tcp().stats().resets_tx;
  const uint32_t conns = B->tcp().connections();
  expect_only_drops(*B, DropReason::kTcpBadCookie, 1, [&] { inject(*B, raw_frame(ack)); });
  EXPECT_EQ(B->tcp().stats().resets_tx, rst + 1);
  EXPECT_EQ(B->tcp().connections(), conns);
  EXPECT_EQ(B->tcp().stats().syn_cookies_accepted, 0u);
}

}  // namespace
}  // namespace ix::net::tcp::test
