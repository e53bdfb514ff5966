// Path MTU discovery (RFC 1191) on the loop wire: a router between A and B
// with a smaller MTU drops A's large segments and answers "fragmentation
// needed"; A lowers its MSS, sends everything again at the new size without
// shrinking its congestion window, and the transfer completes intact. Forged
// reports (no such connection, sequence numbers outside what is in flight,
// tiny MTUs) change nothing and are counted.
#include <gtest/gtest.h>

#include <vector>

#include "net/icmp.hh"
#include "net/tcp/tcp.hh"
#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

constexpr Ipv4Addr kRouterIp = ipv4(10, 0, 0, 254);

void put16(uint8_t *p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
uint16_t get16(const uint8_t *p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

uint16_t checksum(const uint8_t *p, size_t n) {
  uint32_t acc = 0;
  for (size_t i = 0; i + 1 < n; i += 2) acc += get16(p + i);
  if (n % 2 != 0) acc += uint32_t{p[n - 1]} << 8;
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(~acc);
}

// The IPv4 total length of an Ethernet frame.
uint16_t ip_len(const Bytes &frame) { return get16(&frame[16]); }

// What a router sends back for `offending` (an Ethernet frame A sent): ICMP
// type 3 code 4 quoting its IPv4 header and first 8 bytes of TCP.
Bytes frag_needed(const Bytes &offending, uint16_t mtu) {
  Bytes icmp(8);
  icmp[0] = 3;
  icmp[1] = 4;
  put16(&icmp[6], mtu);
  icmp.insert(icmp.end(), offending.begin() + 14, offending.begin() + 14 + 20 + 8);
  put16(&icmp[2], checksum(icmp.data(), icmp.size()));
  Bytes f(34 + icmp.size());
  std::copy(kMacA.b.begin(), kMacA.b.end(), f.begin());
  std::copy(kMacB.b.begin(), kMacB.b.end(), f.begin() + 6);
  put16(&f[12], 0x0800);
  uint8_t *ip = &f[14];
  ip[0] = 0x45;
  put16(ip + 2, static_cast<uint16_t>(20 + icmp.size()));
  ip[8] = 64;
  ip[9] = 1;
  for (int i = 0; i < 4; ++i) {
    ip[12 + i] = static_cast<uint8_t>(kRouterIp.v >> (24 - 8 * i));
    ip[16 + i] = static_cast<uint8_t>(kIpA.v >> (24 - 8 * i));
  }
  put16(ip + 10, checksum(ip, 20));
  std::copy(icmp.begin(), icmp.end(), f.begin() + 34);
  return f;
}

// The same report with the quoted TCP sequence number (or ports) replaced.
Bytes with_seq(Bytes frame, uint32_t seq) {
  uint8_t *tcp = &frame[34 + 8 + 20];
  for (int i = 0; i < 4; ++i) tcp[4 + i] = static_cast<uint8_t>(seq >> (24 - 8 * i));
  frame[36] = frame[37] = 0;
  put16(&frame[36], checksum(&frame[34], frame.size() - 34));
  return frame;
}
Bytes with_sport(Bytes frame, uint16_t sport) {
  put16(&frame[34 + 8 + 20], sport);
  frame[36] = frame[37] = 0;
  put16(&frame[36], checksum(&frame[34], frame.size() - 34));
  return frame;
}

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

class TcpPmtuTest : public TcpPairTest {
 protected:
  // Moves A's frames to B through a router whose outgoing link has MTU
  // `path_mtu`: a larger datagram is dropped and answered with
  // "fragmentation needed" carrying `reported_mtu`.
  void route(uint16_t path_mtu, uint16_t reported_mtu) {
    for (const Bytes &f : take_frames(*B)) {
      if (ip_len(f) > path_mtu) {
        ++too_big;
        inject(*A, frag_needed(f, reported_mtu));
        continue;
      }
      if (too_big > 0) largest_after = std::max<uint16_t>(largest_after, ip_len(f));
      inject(*B, f);
    }
  }

  // Streams `data` from A to B through the router until B has it all.
  bool transfer_through_router(ConnHandle ha, ConnHandle hb, const Bytes &data, uint16_t path_mtu,
                               uint16_t reported_mtu) {
    size_t queued = 0;
    on_step = [&] {
      if (queued >= data.size()) return;
      iovec iov{const_cast<uint8_t *>(data.data() + queued), data.size() - queued};
      const int64_t n = A->tcp().sendv(ha, &iov, 1);
      if (n > 0) queued += static_cast<size_t>(n);
    };
    const uint64_t deadline = clock.now_ns() + 60'000'000'000ull;
    while (B->app.conns[hb].received.size() < data.size() && clock.now_ns() < deadline) {
      route(path_mtu, reported_mtu);
      step();
    }
    on_step = nullptr;
    return B->app.conns[hb].received == data;
  }

  // A has data in flight towards B, held on the wire (B has not seen it):
  // returns A's frames (taken off B's ring).
  std::vector<Bytes> data_in_flight(ConnHandle ha, size_t bytes) {
    const Bytes data = pattern(bytes);
    data_ = data;
    iovec iov{data_.data(), data_.size()};
    EXPECT_EQ(A->tcp().sendv(ha, &iov, 1), static_cast<int64_t>(bytes));
    advance(latency_ns + 1);
    return take_frames(*B);
  }

  uint32_t too_big = 0;
  uint16_t largest_after = 0;
  Bytes data_;
};

TEST_F(TcpPmtuTest, RouterWithSmallerMtuLowersMssAndTransferCompletes) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const Tcb *ta = A->tcp().tcb_of(ha);
  ASSERT_TRUE(ta->ts_ok);
  ASSERT_EQ(ta->mss, 1500 - 40 - 12);
  const Bytes data = pattern(300'000, 3);
  ASSERT_TRUE(transfer_through_router(ha, hb, data, 1280, 1280));
  EXPECT_GT(too_big, 0u);
  EXPECT_EQ(ta->mss, 1280 - 40 - 12) << "the timestamp option still fits";
  EXPECT_EQ(ta->cc.mss(), ta->mss);
  EXPECT_EQ(largest_after, 1280) << "later full segments fill the path exactly";
  const TcpStats &s = A->tcp().stats();
  EXPECT_EQ(s.pmtu_lowered, 1u);
  // Reports about the other segments of the first flight name the MTU
  // already in use.
  EXPECT_EQ(s.pmtu_not_lower, too_big - 1);
  EXPECT_EQ(s.pmtu_no_conn + s.pmtu_bad_seq + s.pmtu_too_small, 0u);
  EXPECT_EQ(s.rto_expirations, 0u) << "resent at once, not after a timeout";
  EXPECT_EQ(s.fast_retransmits, 0u);
  EXPECT_EQ(A->stack->counters().icmp_frag_needed_rx, too_big);
}

TEST_F(TcpPmtuTest, CongestionWindowIsNotReduced) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const std::vector<Bytes> flight = data_in_flight(ha, 20'000);
  ASSERT_GE(flight.size(), 2u);
  const Tcb *ta = A->tcp().tcb_of(ha);
  const uint32_t cwnd_segments = ta->cc.cwnd() / ta->mss;
  const uint32_t ssthresh = ta->cc.ssthresh();
  const uint32_t rexmits = ta->retransmits;
  inject(*A, frag_needed(flight[0], 1000));
  EXPECT_EQ(ta->mss, 1000 - 52);
  EXPECT_EQ(ta->cc.cwnd() / ta->mss, cwnd_segments) << "the same window, in the new segments";
  EXPECT_EQ(ta->cc.ssthresh(), ssthresh) << "no loss was recorded";
  EXPECT_GT(ta->retransmits, rexmits) << "what was outstanding went out again";
  const uint32_t old_mss = 1500 - 52;
  advance(latency_ns + 1);
  // As much goes out again as the (unchanged) window allows: whole
  // segments as first sent, each cut to the new size.
  uint32_t resent = 0;
  for (const Bytes &f : take_frames(*B)) {
    EXPECT_LE(ip_len(f), 1000);
    resent += ip_len(f) - 52;
  }
  const uint32_t allowed = std::min<uint32_t>(20'000, ta->cc.cwnd());
  EXPECT_GE(resent, allowed);
  EXPECT_LT(resent, allowed + old_mss);
  // The first flight is gone (the router dropped it); the resent data arrives.
  EXPECT_TRUE(run_until([&] { return B->app.conns[hb].received == data_; }));
}

TEST_F(TcpPmtuTest, PlateauGuessWhenTheRouterGivesNoMtu) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  // An RFC 792 router: next-hop MTU 0. The quoted datagram was 1500 bytes,
  // so the next plateau below is 1492 (RFC 1191 table 7-1).
  ASSERT_TRUE(transfer_through_router(ha, hb, pattern(100'000, 5), 1492, 0));
  EXPECT_GT(too_big, 0u);
  EXPECT_EQ(A->tcp().tcb_of(ha)->mss, 1492 - 52);
  EXPECT_EQ(A->tcp().stats().pmtu_lowered, 1u);
}

TEST(Rfc1191Plateau, NextLowerPlateau) {
  EXPECT_EQ(rfc1191_plateau_below(1500), 1492);
  EXPECT_EQ(rfc1191_plateau_below(1492), 1006);
  EXPECT_EQ(rfc1191_plateau_below(65535), 32000);
  EXPECT_EQ(rfc1191_plateau_below(600), 508);
  EXPECT_EQ(rfc1191_plateau_below(68), 0);
}

TEST_F(TcpPmtuTest, ForgedReportsChangeNothingAndAreCounted) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const std::vector<Bytes> flight = data_in_flight(ha, 8'000);
  ASSERT_FALSE(flight.empty());
  const Tcb *ta = A->tcp().tcb_of(ha);
  const uint16_t mss = ta->mss;
  const uint32_t cwnd = ta->cc.cwnd();
  const Bytes report = frag_needed(flight[0], 1200);
  // No such connection.
  inject(*A, with_sport(report, static_cast<uint16_t>(ta->lport + 1)));
  // Sequence numbers not in flight: not yet sent, and already acknowledged.
  inject(*A, with_seq(report, ta->snd_max));
  inject(*A, with_seq(report, ta->snd_max + 100'000));
  inject(*A, with_seq(report, ta->snd_una - 1));
  // MTUs too small to believe: below 576, and IPv4's minimum of 68.
  inject(*A, frag_needed(flight[0], 575));
  inject(*A, frag_needed(flight[0], 68));
  // No smaller than what is in use.
  inject(*A, frag_needed(flight[0], 1500));
  inject(*A, frag_needed(flight[0], 9000));
  const TcpStats &s = A->tcp().stats();
  EXPECT_EQ(s.pmtu_no_conn, 1u);
  EXPECT_EQ(s.pmtu_bad_seq, 3u);
  EXPECT_EQ(s.pmtu_too_small, 2u);
  EXPECT_EQ(s.pmtu_not_lower, 2u);
  EXPECT_EQ(s.pmtu_lowered, 0u);
  EXPECT_EQ(ta->mss, mss);
  EXPECT_EQ(ta->cc.cwnd(), cwnd);
  EXPECT_EQ(ta->retransmits, 0u);
  EXPECT_EQ(A->stack->counters().icmp_frag_needed_rx, 8u);
  EXPECT_EQ(A->stack->counters().total_drops(), 0u);
  // The floor itself is believed.
  inject(*A, frag_needed(flight[0], Tcp::kMinPathMtu));
  EXPECT_EQ(ta->mss, Tcp::kMinPathMtu - 52);
  EXPECT_EQ(s.pmtu_lowered, 1u);
  // A report about a connection that has closed is ignored too.
  A->tcp().abort(ha);
  inject(*A, frag_needed(flight[0], 1000));
  EXPECT_EQ(s.pmtu_no_conn, 2u);
}

TEST_F(TcpPmtuTest, WithoutTimestampsTheWholeMtuLessHeadersIsPayload) {
  TcpConfig a = default_tcp();
  a.timestamps = false;
  start({}, a);
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const std::vector<Bytes> flight = data_in_flight(ha, 4'000);
  ASSERT_FALSE(flight.empty());
  ASSERT_FALSE(A->tcp().tcb_of(ha)->ts_ok);
  inject(*A, frag_needed(flight[0], 1400));
  EXPECT_EQ(A->tcp().tcb_of(ha)->mss, 1400 - 40);
  EXPECT_TRUE(run_until([&] { return B->app.conns[hb].received == data_; }));
}

TEST_F(TcpPmtuTest, LateReportAboutAcknowledgedDataIsIgnored) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const std::vector<Bytes> flight = data_in_flight(ha, 3'000);
  ASSERT_FALSE(flight.empty());
  for (const Bytes &f : flight) inject(*B, f);
  const Tcb *ta = A->tcp().tcb_of(ha);
  ASSERT_TRUE(run_until([&] { return ta->snd_una == ta->snd_max; }));
  ASSERT_EQ(B->app.conns[hb].received, data_);
  // A late report about data acknowledged since: not in flight any more.
  inject(*A, frag_needed(flight[0], 1000));
  EXPECT_EQ(A->tcp().stats().pmtu_bad_seq, 1u);
  EXPECT_EQ(ta->mss, 1500 - 52);
}

}  // namespace
}  // namespace ix::net::tcp::test
