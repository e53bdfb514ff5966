// Loss recovery on the loop wire with scripted losses (LoopPort's TX
// filter): RACK finds lost retransmissions, TLP repairs tail losses, PRR
// paces fast recovery, D-SACKs are sent for duplicates and undo spurious
// retransmissions, and F-RTO undoes a spurious RTO. Each scenario loses or
// holds back exactly the segments it needs, so each test fails if its
// mechanism is missing (the RTO would repair the loss instead, or the window
// would stay reduced).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "net/tcp/tcp.hh"
#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

// The TCP fields of a frame on the loop wire (Ethernet + IPv4 without
// options, as the stack sends them).
struct FrameInfo {
  Seq seq;
  uint32_t payload;
  uint8_t flags;
};

FrameInfo frame_info(std::span<const uint8_t> f) {
  auto be16 = [&](size_t o) { return static_cast<uint32_t>(f[o] << 8 | f[o + 1]); };
  auto be32 = [&](size_t o) { return be16(o) << 16 | be16(o + 2); };
  const uint32_t ip_len = be16(14 + 2);
  const uint32_t tcp_hlen = (f[34 + 12] >> 4) * 4u;
  return {be32(34 + 4), ip_len - 20 - tcp_hlen, f[34 + 13]};
}

class TcpRecoveryTest : public TcpPairTest {
 protected:
  static TcpConfig config() {
    TcpConfig c = default_tcp();
    c.rcv_buf = 1 << 20;
    c.snd_buf = 1 << 20;
    return c;
  }
  void start_pair(TcpConfig a = config(), TcpConfig b = config()) {
    start({}, a, b, 8192);
    auto [x, y] = connect_pair();
    ha = x;
    hb = y;
    ASSERT_NE(hb, 0u);
  }
  // Queues data on A as the send buffer allows, until B has it all (on top
  // of what it received before) and A has it acknowledged.
  bool send_all(const Bytes &data, uint64_t max_ns = 60'000'000'000ull) {
    const size_t base = B->app.conns[hb].received.size();
    size_t queued = 0;
    auto prev = on_step;
    on_step = [&] {
      if (queued < data.size()) {
        iovec iov{const_cast<uint8_t *>(data.data() + queued), data.size() - queued};
        const int64_t n = A->tcp().sendv(ha, &iov, 1);
        if (n > 0) queued += static_cast<size_t>(n);
      }
    };
    const Tcb *t = A->tcp().tcb_of(ha);
    const bool ok = run_until(
        [&] {
          return B->app.conns[hb].received.size() >= base + data.size() && t->snd_una == t->snd_max;
        },
        max_ns);
    on_step = prev;
    return ok && std::equal(data.begin(), data.end(), B->app.conns[hb].received.begin() + base);
  }
  // Hands a burst to A at once (it fits the send buffer).
  bool queue_on_a(const Bytes &burst) {
    iovec v{const_cast<uint8_t *>(burst.data()), burst.size()};
    return A->tcp().sendv(ha, &v, 1) == static_cast<int64_t>(burst.size());
  }
  const TcpStats &sa() { return A->tcp().stats(); }
  ConnHandle ha = 0;
  ConnHandle hb = 0;
};

TEST_F(TcpRecoveryTest, LostRetransmissionIsFoundByRackWithoutAnRto) {
  start_pair();
  const Seq first = A->tcp().tcb_of(ha)->snd_nxt;
  const Seq victim = first + 20 * A->tcp().tcb_of(ha)->mss;
  int seen = 0;
  // The segment and its first retransmission are both lost.
  A->port.set_tx_filter([&](std::span<const uint8_t> f) {
    const FrameInfo i = frame_info(f);
    return !(i.payload > 0 && i.seq == victim && ++seen <= 2);
  });
  const Bytes data = pattern(2'000'000, 3);
  ASSERT_TRUE(send_all(data));
  EXPECT_EQ(B->app.conns[hb].received, data);
  EXPECT_GE(seen, 3) << "sent three times: the original, the lost retransmission, the repair";
  EXPECT_GE(sa().lost_retransmits, 1u);
  EXPECT_EQ(sa().rto_expirations, 0u) << "the lost retransmission waited for the RTO";
}

TEST_F(TcpRecoveryTest, TailLossIsRepairedByAProbeBeforeTheRto) {
  start_pair();
  // Warm up: an RTT sample, a window of several segments.
  ASSERT_TRUE(send_all(pattern(100'000, 1)));
  const Tcb *t = A->tcp().tcb_of(ha);
  const uint32_t mss = t->mss;
  // The last two segments of a burst are lost: nothing after them would
  // bring the duplicate ACKs or SACKs that start fast recovery.
  const Seq tail = t->snd_nxt + 8 * mss;
  std::map<Seq, int> seen;
  A->port.set_tx_filter([&](std::span<const uint8_t> f) {
    const FrameInfo i = frame_info(f);
    return !(i.payload > 0 && seq_geq(i.seq, tail) && ++seen[i.seq] == 1);
  });
  const size_t before = B->app.conns[hb].received.size();
  const Bytes burst = pattern(10 * mss, 2);
  ASSERT_TRUE(queue_on_a(burst));
  const uint64_t t0 = clock.now_ns();
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].received.size() == before + burst.size(); },
                        5'000'000'000ull));
  // Simulated time: the probe went after about two round trips on this
  // wire; its SACK let RACK find the other loss: far below the RTO's floor.
  EXPECT_LT(clock.now_ns() - t0, A->tcp().config().min_rto_ns / 2);
  EXPECT_EQ(sa().tlp_probes, 1u);
  EXPECT_EQ(sa().fast_retransmits, 1u);
  EXPECT_EQ(sa().rto_expirations, 0u);
  EXPECT_EQ(B->app.conns[hb].received, [&] {
    Bytes all = pattern(100'000, 1);
    all.insert(all.end(), burst.begin(), burst.end());
    return all;
  }());
}

TEST_F(TcpRecoveryTest, ProbeThatRepairsALoneTailLossReducesTheWindowOnce) {
  // One segment in flight: the probe waits for the peer's delayed ACK too
  // (RFC 8985 7.2). An IX peer acknowledges within delack_ns (500 us).
  TcpConfig c = config();
  c.tlp_max_ack_delay_ns = 1'000'000;
  start_pair(c, c);
  ASSERT_TRUE(send_all(pattern(100'000, 1)));
  const Tcb *t = A->tcp().tcb_of(ha);
  const uint32_t mss = t->mss;
  const Seq last = t->snd_nxt + 4 * mss;
  int seen = 0;
  A->port.set_tx_filter([&](std::span<const uint8_t> f) {
    const FrameInfo i = frame_info(f);
    return !(i.payload > 0 && i.seq == last && ++seen == 1);
  });
  const size_t before = B->app.conns[hb].received.size();
  const Bytes burst = pattern(5 * mss, 2);
  ASSERT_TRUE(queue_on_a(burst));
  const uint64_t t0 = clock.now_ns();
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].received.size() == before + burst.size(); },
                        5'000'000'000ull));
  EXPECT_LT(clock.now_ns() - t0, A->tcp().config().min_rto_ns / 2);
  EXPECT_EQ(sa().tlp_probes, 1u);
  EXPECT_EQ(sa().rto_expirations, 0u);
  EXPECT_EQ(sa().fast_retransmits, 0u);
  // The probe was a retransmission and no D-SACK said the original
  // arrived: once an ACK goes past it, the window is reduced once.
  const uint32_t cwnd_before = t->cc.cwnd();
  ASSERT_TRUE(send_all(pattern(5 * mss, 4)));
  EXPECT_EQ(sa().tlp_recoveries, 1u);
  EXPECT_LE(A->tcp().tcb_of(ha)->cc.ssthresh(), cwnd_before);
}

TEST_F(TcpRecoveryTest, ProbeOfALateTailIsDsackedAndTheWindowIsKept) {
  start_pair();
  ASSERT_TRUE(send_all(pattern(100'000, 1)));
  const Tcb *t = A->tcp().tcb_of(ha);
  const uint32_t mss = t->mss;
  const Seq last = t->snd_nxt + 4 * mss;
  std::optional<Bytes> held;
  A->port.set_tx_filter([&](std::span<const uint8_t> f) {
    const FrameInfo i = frame_info(f);
    if (i.payload > 0 && i.seq == last && !held) {
      held = Bytes(f.begin(), f.end());  // late, not lost: delivered below
      return false;
    }
    return true;
  });
  const Bytes burst = pattern(5 * mss, 5);
  ASSERT_TRUE(queue_on_a(burst));
  ASSERT_TRUE(run_until([&] { return sa().tlp_probes == 1 && t->snd_una == t->snd_max; },
                        1'000'000'000ull));
  ASSERT_TRUE(held.has_value());
  const uint32_t cwnd = t->cc.cwnd();
  inject(*B, *held);  // the original, after its probe: a duplicate
  run_for(10'000'000);
  EXPECT_GE(B->tcp().stats().dsacks_tx, 1u);
  EXPECT_GE(sa().dsacks_rx, 1u);
  EXPECT_FALSE(t->rec.tlp_out) << "the D-SACK ended the probe's episode";
  // More data: nothing counts the probe as a repaired loss.
  ASSERT_TRUE(send_all(pattern(20 * mss, 6)));
  EXPECT_EQ(sa().tlp_recoveries, 0u);
  EXPECT_GE(A->tcp().tcb_of(ha)->cc.cwnd(), cwnd);
}

TEST_F(TcpRecoveryTest, ReorderingThatTriggeredFastRetransmitIsUndoneByDsack) {
  start_pair();
  ASSERT_TRUE(send_all(pattern(300'000, 1)));
  const Tcb *t = A->tcp().tcb_of(ha);
  const uint32_t mss = t->mss;
  const Seq late = t->snd_nxt + 2 * mss;
  std::optional<Bytes> held;
  bool retransmitted = false;
  uint32_t prior_cwnd = 0;
  A->port.set_tx_filter([&](std::span<const uint8_t> f) {
    const FrameInfo i = frame_info(f);
    if (i.payload == 0 || i.seq != late) return true;
    if (!held) {
      held = Bytes(f.begin(), f.end());
      prior_cwnd = t->cc.cwnd();
      return false;
    }
    retransmitted = true;
    return true;
  });
  const Bytes burst = pattern(30 * mss, 7);
  ASSERT_TRUE(queue_on_a(burst));
  ASSERT_TRUE(run_until([&] { return retransmitted; }, 1'000'000'000ull));
  EXPECT_EQ(sa().fast_retransmits, 1u);
  EXPECT_LT(t->cc.cwnd(), prior_cwnd) << "fast recovery reduced the window";
  run_for(200'000);  // the retransmission arrives; then the original, late
  inject(*B, *held);
  ASSERT_TRUE(run_until([&] { return t->snd_una == t->snd_max; }, 1'000'000'000ull));
  run_for(1'000'000);
  EXPECT_GE(sa().dsacks_rx, 1u);
  EXPECT_EQ(sa().dsack_undos, 1u);
  EXPECT_EQ(sa().spurious_undos, 1u);
  EXPECT_GE(t->cc.cwnd(), prior_cwnd) << "the reduction was undone";
  EXPECT_TRUE(t->rec.reord) << "reordering is now expected on this path";
  EXPECT_EQ(sa().rto_expirations, 0u);
}

TEST_F(TcpRecoveryTest, SpuriousRtoIsUndoneWhenOriginalsAreAcked) {
  start_pair();
  ASSERT_TRUE(send_all(pattern(300'000, 1)));
  const Tcb *t = A->tcp().tcb_of(ha);
  const uint32_t prior_cwnd = t->cc.cwnd();
  // B's ACKs stop for longer than the RTO (a path that stalls, then
  // delivers everything): every ACK B sends in that time is held back.
  std::vector<Bytes> held_acks;
  bool stall = true;
  B->port.set_tx_filter([&](std::span<const uint8_t> f) {
    if (!stall) return true;
    held_acks.emplace_back(f.begin(), f.end());
    return false;
  });
  const Bytes burst = pattern(20 * t->mss, 8);
  ASSERT_TRUE(queue_on_a(burst));
  ASSERT_TRUE(run_until([&] { return sa().rto_expirations == 1; }, 5'000'000'000ull));
  ASSERT_TRUE(t->rec.in_loss);
  ASSERT_FALSE(held_acks.empty());
  // The stalled ACKs arrive after the RTO: they acknowledge originals.
  stall = false;
  for (const Bytes &f : held_acks) inject(*A, f);
  ASSERT_TRUE(run_until([&] { return t->snd_una == t->snd_max; }, 5'000'000'000ull));
  EXPECT_EQ(sa().frto_undos, 1u);
  EXPECT_FALSE(t->rec.in_loss);
  EXPECT_GE(t->cc.cwnd(), prior_cwnd) << "the RTO's reduction was undone";
  EXPECT_EQ(B->app.conns[hb].received.size(), 300'000 + burst.size());
}

TEST_F(TcpRecoveryTest, RealRtoIsNotUndone) {
  start_pair();
  ASSERT_TRUE(send_all(pattern(300'000, 1)));
  const Tcb *t = A->tcp().tcb_of(ha);
  // Everything A sends for a while is lost: the RTO is real.
  bool blackout = true;
  A->port.set_tx_filter([&](std::span<const uint8_t>) { return !blackout; });
  const Bytes burst = pattern(20 * t->mss, 9);
  ASSERT_TRUE(queue_on_a(burst));
  ASSERT_TRUE(run_until([&] { return sa().rto_expirations == 1; }, 5'000'000'000ull));
  blackout = false;
  ASSERT_TRUE(run_until([&] { return t->snd_una == t->snd_max; }, 30'000'000'000ull));
  EXPECT_EQ(sa().spurious_undos, 0u);
  EXPECT_EQ(B->app.conns[hb].received.size(), 300'000 + burst.size());
}

TEST_F(TcpRecoveryTest, DuplicateSegmentsAreReportedWithDsack) {
  start_pair();
  ASSERT_TRUE(send_all(pattern(10'000, 1)));
  const Tcb *tb = B->tcp().tcb_of(hb);
  // An old segment again (below RCV.NXT): answered with a D-SACK block.
  RawSegment r = from_a(ha);
  r.seq = tb->rcv_nxt - 100;
  r.payload = pattern(100, 1);
  std::vector<Bytes> acks;
  B->port.set_tx_filter([&](std::span<const uint8_t> f) {
    acks.emplace_back(f.begin(), f.end());
    return true;
  });
  // Timestamps: the segment must carry a valid one to pass PAWS.
  const Tcb *ta = A->tcp().tcb_of(ha);
  r.options = {1, 1, 8, 10};
  const uint32_t tsval = static_cast<uint32_t>(clock.now_ns() / 1'000'000);
  for (int i = 0; i < 4; ++i) r.options.push_back(static_cast<uint8_t>(tsval >> (24 - 8 * i)));
  for (int i = 0; i < 4; ++i)
    r.options.push_back(static_cast<uint8_t>(ta->ts_recent >> (24 - 8 * i)));
  inject(*B, raw_frame(r));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(B->tcp().stats().dsacks_tx, 1u);
  // The ACK's SACK option (kind 5) holds the duplicate range first.
  const Bytes &f = acks[0];
  const size_t opt = 54, end = 34 + (f[34 + 12] >> 4) * 4u;
  bool found = false;
  for (size_t p = opt; p + 1 < end;) {
    if (f[p] == 0) break;
    if (f[p] == 1) {
      ++p;
      continue;
    }
    if (f[p] == 5) {
      auto be32 = [&](size_t o) {
        return uint32_t{f[o]} << 24 | uint32_t{f[o + 1]} << 16 | uint32_t{f[o + 2]} << 8 | f[o + 3];
      };
      EXPECT_EQ(be32(p + 2), r.seq);
      EXPECT_EQ(be32(p + 6), r.seq + 100);
      found = true;
    }
    p += f[p + 1];
  }
  EXPECT_TRUE(found) << "no SACK option in the ACK of a duplicate";
}

TEST_F(TcpRecoveryTest, FastRecoverySendsInProportionToWhatIsDelivered) {
  start_pair();
  // A window of about a hundred segments, well below the send buffer, so
  // that the flight is limited by the congestion window and data waits.
  ASSERT_TRUE(send_all(pattern(150'000, 1)));
  const Tcb *t = A->tcp().tcb_of(ha);
  const uint32_t mss = t->mss;
  const Seq victim = t->snd_nxt + 5 * mss;
  // What happens during A's recovery, in order: 'a' an ACK from B, 's' a
  // data segment from A.
  std::string events;
  bool dropped = false;
  A->port.set_tx_filter([&](std::span<const uint8_t> f) {
    const FrameInfo i = frame_info(f);
    if (i.payload > 0 && seq_geq(i.seq, victim) && !dropped) {
      dropped = true;
      return false;
    }
    if (t->in_recovery && i.payload > 0) events += 's';
    return true;
  });
  // ACKs as A takes them in (B sends them in batches, before A knows it
  // is recovering).
  A->rx_tap = [&](const mem::Mbuf &) {
    if (t->in_recovery) events += 'a';
  };
  ASSERT_LT(t->cc.cwnd(), A->tcp().config().snd_buf / 3);
  const Bytes more = pattern(A->tcp().config().snd_buf, 10);
  ASSERT_TRUE(send_all(more));
  ASSERT_TRUE(dropped);
  ASSERT_EQ(sa().fast_retransmits, 1u);
  EXPECT_EQ(sa().rto_expirations, 0u);
  // PRR (RFC 6937): from the start of recovery A sends about ssthresh /
  // flight (0.7 for CUBIC) segments per segment delivered. RFC 6675's rule
  // alone sends nothing but the retransmission until the pipe has drained to
  // the new window, a third of the ACKs later.
  const size_t acks = static_cast<size_t>(std::count(events.begin(), events.end(), 'a'));
  ASSERT_GE(acks, 10u) << events;
  size_t seen_acks = 0, sends = 0, i = 0;
  for (; i < events.size() && seen_acks < acks / 3; ++i) {
    if (events[i] == 'a') ++seen_acks;
    if (events[i] == 's') ++sends;
  }
  EXPECT_GE(sends, seen_acks / 3) << events;
  // And never more than what was delivered (the reduction is real): B
  // acknowledges every segment at once while a gap is open.
  const size_t total_sends = static_cast<size_t>(std::count(events.begin(), events.end(), 's'));
  EXPECT_LE(total_sends, acks + 2) << events;
}

TEST_F(TcpRecoveryTest, RecoveryStartedByTheReorderingTimerSendsNewDataBehindTheRetransmission) {
  start_pair();
  ASSERT_TRUE(send_all(pattern(100'000, 1)));
  const Tcb *t = A->tcp().tcb_of(ha);
  const uint32_t mss = t->mss;
  // Two segments: the first and its first retransmission are lost. One
  // SACK (of the second) is below DupThresh, so RACK waits out its
  // reordering window and the timer starts the recovery.
  const Seq victim = t->snd_nxt;
  int seen = 0;
  A->port.set_tx_filter([&](std::span<const uint8_t> f) {
    const FrameInfo i = frame_info(f);
    return !(i.payload > 0 && i.seq == victim && ++seen <= 2);
  });
  const size_t before = B->app.conns[hb].received.size();
  const Bytes burst = pattern(2 * mss, 2);
  const Bytes next = pattern(mss, 3);
  ASSERT_TRUE(queue_on_a(burst));
  // The application's next message is ready once the recovery has begun:
  // the segment it becomes is what shows the retransmission lost (RACK).
  bool queued = false;
  on_step = [&] {
    if (!queued && t->in_recovery) queued = queue_on_a(next);
  };
  ASSERT_TRUE(run_until(
      [&] { return B->app.conns[hb].received.size() == before + burst.size() + next.size(); },
      5'000'000'000ull));
  on_step = nullptr;
  EXPECT_TRUE(queued);
  EXPECT_EQ(seen, 3) << "the original, the lost retransmission, the repair";
  EXPECT_EQ(sa().fast_retransmits, 1u);
  EXPECT_GE(sa().lost_retransmits, 1u);
  EXPECT_EQ(sa().rto_expirations, 0u) << "the lost retransmission waited for the RTO";
}

}  // namespace
}  // namespace ix::net::tcp::test
