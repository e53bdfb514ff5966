// Seeded random segments thrown at a stack that has a listener and two
// established connections: random flags, sequence and acknowledgment
// numbers near and far from the window, random and malformed options, odd
// data offsets and payloads, and bit flips of well-formed segments. Nothing
// may crash or read out of bounds (run under ASan), and every buffer must
// come back to the pool.
//
// The "victim" connection takes the full force of it, in its window too;
// it may die only of a reset that matches it exactly, and must die of that
// (RFC 5961 3.2). The "real" connection is sent only segments it must drop
// (outside its window, or malformed), each checked to be dropped for its own
// reason and to leave the connection as it was; afterwards it must carry a
// stream intact.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "net/tcp/tcp.hh"
#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

Bytes random_options(std::mt19937_64 &rng) {
  Bytes o;
  const int n = static_cast<int>(rng() % 6);
  for (int i = 0; i < n; ++i) {
    switch (rng() % 9) {
      case 0:
        o.insert(o.end(), {2, 4, static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng())});
        break;
      case 1:
        o.insert(o.end(), {3, 3, static_cast<uint8_t>(rng() % 20)});
        break;
      case 2:
        o.insert(o.end(), {4, 2});
        break;
      case 3: {
        const uint8_t blocks = static_cast<uint8_t>(1 + rng() % 4);
        o.push_back(5);
        o.push_back(static_cast<uint8_t>(2 + 8 * blocks));
        for (int b = 0; b < 8 * blocks; ++b) o.push_back(static_cast<uint8_t>(rng()));
        break;
      }
      case 4: {
        o.insert(o.end(), {8, 10});
        for (int b = 0; b < 8; ++b) o.push_back(static_cast<uint8_t>(rng()));
        break;
      }
      case 5:
        o.push_back(1);
        break;
      case 6:
        o.push_back(0);
        break;
      case 7:
        o.insert(o.end(), {static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng())});
        break;
      default:
        o.push_back(static_cast<uint8_t>(rng()));
        break;  // truncated option
    }
  }
  o.resize(std::min<size_t>((o.size() + 3) / 4 * 4, 40), 1);
  return o;
}

uint16_t be16(const Bytes &f, size_t off) {
  return static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
}
uint32_t be32(const Bytes &f, size_t off) {
  return uint32_t{be16(f, off)} << 16 | be16(f, off + 2);
}

uint16_t ones_sum(const uint8_t *p, size_t n, uint32_t acc) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n % 2 != 0) acc += uint32_t{p[n - 1]} << 8;
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

// A frame as a receiver that checks every header and checksum sees it: a
// TCP segment from A to B that gets as far as the connection lookup, or
// nothing. Written apart from the stack, to judge where a fuzzed frame may
// land.
struct ValidSegment {
  uint16_t sport, dport;
  uint32_t seq;
  uint8_t flags;
  uint32_t seg_len;  // payload, SYN and FIN
  bool options_ok;
};

std::optional<ValidSegment> valid_segment(const Bytes &f) {
  if (f.size() < 14 + 20 + 20) return std::nullopt;
  if (!std::equal(kMacB.b.begin(), kMacB.b.end(), f.begin()) || (f[6] & 1) != 0 ||
      be16(f, 12) != 0x0800)
    return std::nullopt;
  const uint8_t *ip = &f[14];
  const uint16_t total = be16(f, 16);
  if (ip[0] != 0x45 || ones_sum(ip, 20, 0) != 0xffff || total < 40 || total > f.size() - 14 ||
      (be16(f, 20) & 0x3fff) != 0 || ip[8] == 0 || ip[9] != 6 || be32(f, 26) != kIpA.v ||
      be32(f, 30) != kIpB.v)
    return std::nullopt;
  const uint8_t *tcp = ip + 20;
  const size_t tcp_len = total - 20u;
  const uint32_t pseudo = (kIpA.v >> 16) + (kIpA.v & 0xffff) + (kIpB.v >> 16) + (kIpB.v & 0xffff) +
                          6 + static_cast<uint32_t>(tcp_len);
  if (ones_sum(tcp, tcp_len, pseudo) != 0xffff) return std::nullopt;
  const size_t hlen = static_cast<size_t>(tcp[12] >> 4) * 4;
  if (hlen < 20 || hlen > tcp_len) return std::nullopt;
  ValidSegment v;
  v.sport = be16(f, 34);
  v.dport = be16(f, 36);
  v.seq = be32(f, 38);
  v.flags = tcp[13];
  v.seg_len = static_cast<uint32_t>(tcp_len - hlen) + ((v.flags & kSyn) != 0 ? 1 : 0) +
              ((v.flags & kFin) != 0 ? 1 : 0);
  TcpOptions o;
  v.options_ok = parse_tcp_options(tcp + 20, hlen - 20, &o);
  if (v.sport == 0 || v.dport == 0) return std::nullopt;
  return v;
}

// What of B's side of a connection a segment could change. (Not RCV.ADV:
// any ACK B sends, the answer to an out-of-window segment too, may
// advertise the window the application has freed since.)
struct ConnView {
  TcpState state;
  Seq rcv_nxt, snd_una, snd_nxt, snd_max;
  uint32_t snd_wnd, ts_recent;
  bool operator==(const ConnView &) const = default;
};

ConnView view(const Tcb &t) {
  return {t.state, t.rcv_nxt, t.snd_una, t.snd_nxt, t.snd_max, t.snd_wnd, t.ts_recent};
}

class TcpFuzzTest : public TcpPairTest {
 protected:
  std::vector<uint64_t> drops() const {
    const StackCounters &c = B->stack->counters();
    return {std::begin(c.drops), std::end(c.drops)};
  }
};

TEST_F(TcpFuzzTest, RandomSegmentsNeverBreakTheStack) {
  start();
  auto [ha, hb] = connect_pair(80);  // the real connection
  auto [va, vb] = connect_pair(81);  // the victim
  ASSERT_NE(hb, 0u);
  ASSERT_NE(vb, 0u);
  run_for(2'000'000);
  std::mt19937_64 rng(20240601);
  const Tcb *real = B->tcp().tcb_of(hb);
  const uint16_t real_port = A->tcp().tcb_of(ha)->lport;
  const Tcb *victim_a = A->tcp().tcb_of(va);
  const uint32_t base_seq = victim_a->snd_nxt;
  const uint32_t base_ack = victim_a->rcv_nxt;
  const uint16_t victim_port = victim_a->lport;

  // Could B's real connection take this frame (it is aimed at its tuple, and
  // in or next to its window)? Such frames are not sent: the real
  // connection is only to see segments it must drop.
  auto could_touch_real = [&](const Bytes &f) {
    const auto v = valid_segment(f);
    if (!v || v->sport != real_port || v->dport != 80) return false;
    const uint32_t wnd = real->rcv_adv - real->rcv_nxt;
    // Anything from 2,000 below RCV.NXT (a segment reaching into the window)
    // to one past its right edge.
    return v->seq - (real->rcv_nxt - 2000) <= wnd + 2001;
  };

  enum Kind { kRealOutOfWindow, kRealMalformed, kVictim, kAnyPort, kKinds };
  std::map<DropReason, uint64_t> expected;  // drops the real-connection segments must cause
  int victim_resets = 0;
  bool victim_dead = false;
  int skipped = 0;
  for (int i = 0; i < 20000 && !HasFailure(); ++i) {
    const auto kind = static_cast<Kind>(rng() % kKinds);
    RawSegment r;
    r.sport = victim_port;
    r.dport = 81;
    const uint32_t near = static_cast<uint32_t>(rng() % 200000) - 100000;
    r.seq = rng() % 3 == 0 ? static_cast<uint32_t>(rng()) : base_seq + near;
    r.ack = rng() % 3 == 0 ? static_cast<uint32_t>(rng())
                           : base_ack + static_cast<uint32_t>(rng() % 2000) - 1000;
    r.flags = static_cast<uint8_t>(rng());
    if (rng() % 2 == 0) r.flags &= static_cast<uint8_t>(~kRst);  // keep the victim alive longer
    r.window = static_cast<uint16_t>(rng());
    r.payload = pattern(rng() % 3 == 0 ? rng() % 1400 : 0, static_cast<uint32_t>(i));
    std::optional<DropReason> expect;  // for the real connection's segments
    Bytes f;
    switch (kind) {
      case kRealOutOfWindow: {
        // Well formed, no options (so no PAWS), any flags, outside the window.
        r.sport = real_port;
        r.dport = 80;
        const uint32_t wnd = real->rcv_adv - real->rcv_nxt;
        r.seq = rng() % 2 == 0 ? real->rcv_nxt + wnd + 1 + static_cast<uint32_t>(rng() % 1000000)
                               : real->rcv_nxt - 2000 - static_cast<uint32_t>(rng() % 1000000);
        const bool syn_with = (r.flags & kSyn) != 0 && (r.flags & (kRst | kFin)) != 0;
        expect = syn_with ? DropReason::kTcpBadFlags : DropReason::kTcpOutOfWindow;
        f = raw_frame(r);
        break;
      }
      case kRealMalformed: {
        // Anywhere, in the window too: what is malformed never gets that far.
        r.sport = real_port;
        r.dport = 80;
        r.seq = real->rcv_nxt + static_cast<uint32_t>(rng() % 4000) - 2000;
        switch (rng() % 3) {
          case 0:
            f = raw_frame(r);
            // One bit of the TCP segment flipped: no one's-complement sum misses that.
            f[34 + rng() % (f.size() - 34)] ^= static_cast<uint8_t>(1u << (rng() % 8));
            expect = DropReason::kTcpBadChecksum;
            break;
          case 1:
            r.data_off_words = static_cast<int>(rng() % 5);
            expect = DropReason::kTcpBadHeaderLen;
            break;
          default: {
            static const Bytes kMalformed[] = {
                {kOptMss, 3, 0, 0},          // wrong length for the kind
                {kOptTimestamps, 10, 0, 0},  // longer than what is left
                {kOptWscale, 1, 0, 0},       // length below 2
                {kOptSack, 6, 0, 0},         // no whole block
            };
            r.options = kMalformed[rng() % std::size(kMalformed)];
            expect = DropReason::kTcpBadOptions;
            break;
          }
        }
        if (f.empty()) f = raw_frame(r);
        break;
      }
      case kVictim:
      case kAnyPort:
        if (kind == kAnyPort) {
          r.sport = rng() % 2 == 0 ? static_cast<uint16_t>(rng()) : victim_port;
          r.dport = rng() % 2 == 0 ? static_cast<uint16_t>(rng()) : 80;
        }
        r.options = random_options(rng);
        if (rng() % 10 == 0) r.data_off_words = static_cast<int>(rng() % 16);
        f = raw_frame(r);
        if (rng() % 8 == 0) {
          // Flip a few bits anywhere past the Ethernet header, or cut the frame.
          for (int k = 0; k < 3; ++k)
            f[14 + rng() % (f.size() - 14)] ^= static_cast<uint8_t>(1u << (rng() % 8));
          if (rng() % 2 == 0) f.resize(14 + rng() % (f.size() - 14));
        }
        if (could_touch_real(f)) {
          ++skipped;
          continue;
        }
        break;
      default:
        break;
    }
    if (!victim_dead && B->app.conns[vb].dead) {
      ADD_FAILURE() << "the victim died between segments, at segment " << i;
      break;
    }
    const ConnView real_before = view(*real);
    const std::vector<uint64_t> drops_before = drops();
    const Tcb *tv = B->tcp().tcb_of(vb);
    const Seq victim_rcv_nxt = tv != nullptr ? tv->rcv_nxt : 0;
    const bool victim_synced = tv != nullptr && tv->state != TcpState::kTimeWait;

    inject(*B, f);

    EXPECT_TRUE(view(*real) == real_before)
        << "segment " << i << " (kind " << kind << ") changed the real connection: rcv_nxt "
        << real_before.rcv_nxt << " -> " << real->rcv_nxt << ", snd_wnd " << real_before.snd_wnd
        << " -> " << real->snd_wnd << ", ts_recent " << real_before.ts_recent << " -> "
        << real->ts_recent << ", snd_una " << real_before.snd_una << " -> " << real->snd_una;
    EXPECT_FALSE(B->app.conns[hb].dead);
    if (expect) {
      const std::vector<uint64_t> after = drops();
      for (size_t d = 0; d < after.size(); ++d) {
        const auto reason = static_cast<DropReason>(d);
        EXPECT_EQ(after[d] - drops_before[d], reason == *expect ? 1u : 0u)
            << "segment " << i << " for the real connection, " << drop_reason_name(reason);
      }
      ++expected[*expect];
    }
    // RFC 5961 3.2: a RST kills only if it sits exactly at RCV.NXT, and
    // then it must.
    const auto v = valid_segment(f);
    const bool exact_reset = victim_synced && v && v->options_ok && v->sport == victim_port &&
                             v->dport == 81 && (v->flags & kRst) != 0 && (v->flags & kSyn) == 0 &&
                             v->seq == victim_rcv_nxt;
    if (!victim_dead && B->app.conns[vb].dead) {
      victim_dead = true;
      ++victim_resets;
      EXPECT_TRUE(exact_reset) << "segment " << i << " killed the victim without an exact reset";
      EXPECT_EQ(B->app.conns[vb].why, DeadReason::kReset);
    } else {
      EXPECT_FALSE(exact_reset) << "segment " << i << " was an exact reset the victim survived";
    }
    if (i % 64 == 0) step();
  }
  run_for(100'000'000);
  // Each kind of segment the real connection saw was made, and dropped.
  for (DropReason d :
       {DropReason::kTcpOutOfWindow, DropReason::kTcpBadFlags, DropReason::kTcpBadChecksum,
        DropReason::kTcpBadHeaderLen, DropReason::kTcpBadOptions}) {
    EXPECT_GT(expected[d], 0u) << drop_reason_name(d);
    EXPECT_GE(B->stack->counters().dropped(d), expected[d]) << drop_reason_name(d);
  }
  // Whatever the victim went through, a reset exactly at its RCV.NXT
  // still ends it (unless one already did).
  if (!victim_dead) {
    const Tcb *tv = B->tcp().tcb_of(vb);
    ASSERT_NE(tv, nullptr);
    RawSegment rst;
    rst.sport = victim_port;
    rst.dport = 81;
    rst.seq = tv->rcv_nxt;
    rst.flags = kRst;
    inject(*B, raw_frame(rst));
    EXPECT_TRUE(B->app.conns[vb].dead);
    EXPECT_EQ(B->app.conns[vb].why, DeadReason::kReset);
  }
  RecordProperty("victim_resets", victim_resets);
  RecordProperty("skipped", skipped);

  // The real connection carries a stream, intact and in order.
  ASSERT_FALSE(A->app.conns[ha].dead);
  ASSERT_FALSE(B->app.conns[hb].dead);
  ASSERT_TRUE(B->app.conns[hb].received.empty()) << "no fuzzed byte got into the real stream";
  const Bytes msg = pattern(20000, 77);
  iovec v{const_cast<uint8_t *>(msg.data()), msg.size()};
  ASSERT_EQ(A->tcp().sendv(ha, &v, 1), static_cast<int64_t>(msg.size()));
  EXPECT_TRUE(run_until([&] {
    return B->app.conns[hb].received.size() >= msg.size() &&
           A->app.conns[ha].sent_acked >= msg.size();
  }));
  EXPECT_EQ(B->app.conns[hb].received, msg);
  EXPECT_EQ(A->app.conns[ha].sent_acked, msg.size());

  // Every buffer comes back once the stacks are gone.
  const uint32_t cap = B->pool.capacity();
  B->stack.reset();
  EXPECT_EQ(B->pool.available(), cap);
  EXPECT_EQ(B->pool.stats().double_frees, 0u);
}

TEST(TcpHeaderFuzz, RandomOptionBytesStayInBounds) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    const size_t len = rng() % 41;
    // Exactly len bytes on the heap: ASan catches any read past them.
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len == 0 ? 1 : len]);
    for (size_t k = 0; k < len; ++k)
      buf[k] = static_cast<uint8_t>(rng() % 4 == 0 ? rng() % 9 : rng());
    TcpOptions o;
    if (parse_tcp_options(buf.get(), len, &o)) {
      EXPECT_LE(o.sack_count, kMaxSackBlocks);
      EXPECT_LE(o.wscale, kMaxWscale);
    }
  }
}

}  // namespace
}  // namespace ix::net::tcp::test
