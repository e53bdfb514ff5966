// Bulk transfers through a faulty wire (seeded, so every run is the same):
// loss, duplication, reordering, corruption, delay. 10 MB must arrive
// intact; the recovery machinery that got it there is checked to have run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "net/tcp/tcp.hh"
#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

// Where a frame is damaged, judged from the frame alone, as a receiver that
// checks every layer would find it. The wire flips one bit of a corrupted
// frame, and that bit decides which layer objects: Ethernet (a destination
// or EtherType that is not ours, a group source address), the IPv4 header
// checksum, or the TCP checksum (one flipped bit always changes a one's-
// complement sum). A flip in the rest of the source MAC passes every check:
// nothing in the stack reads it. ARP has no checksum: a damaged ARP frame
// is recognised by fields that differ from what the peer sends, but need
// not be dropped (a request's target MAC is not read either).
enum class Damage { kNone, kEthernet, kSourceMac, kIpv4, kTcp, kArp };

uint16_t ones_sum(const uint8_t *p, size_t n, uint32_t acc) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n % 2 != 0) acc += uint32_t{p[n - 1]} << 8;
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

struct Station {
  MacAddr mac;
  Ipv4Addr ip;
};

bool arp_intact(const uint8_t *a, size_t len, const Station &self, const Station &peer) {
  const uint8_t head[] = {0, 1, 8, 0, 6, 4, 0};
  if (len != 28 || !std::equal(std::begin(head), std::end(head), a) || (a[7] != 1 && a[7] != 2))
    return false;
  auto ip_at = [&](size_t off) {
    return Ipv4Addr{
        static_cast<uint32_t>(a[off] << 24 | a[off + 1] << 16 | a[off + 2] << 8 | a[off + 3])};
  };
  const bool target_mac_ok = a[7] == 1
                                 ? std::all_of(a + 18, a + 24, [](uint8_t b) { return b == 0; })
                                 : std::equal(self.mac.b.begin(), self.mac.b.end(), a + 18);
  return std::equal(peer.mac.b.begin(), peer.mac.b.end(), a + 8) && ip_at(14) == peer.ip &&
         target_mac_ok && ip_at(24) == self.ip;
}

Damage damage(const mem::Mbuf &m, const Station &self, const Station &peer) {
  EXPECT_EQ(m.next, nullptr) << "a frame in one buffer";
  const uint8_t *f = m.data();
  const size_t len = m.data_len;
  const bool to_all = std::all_of(f, f + 6, [](uint8_t b) { return b == 0xff; });
  if (len < 14 || (!to_all && !std::equal(self.mac.b.begin(), self.mac.b.end(), f)) ||
      (f[6] & 1) != 0)
    return Damage::kEthernet;
  const bool src_ok = std::equal(peer.mac.b.begin(), peer.mac.b.end(), f + 6);
  const uint16_t type = static_cast<uint16_t>(f[12] << 8 | f[13]);
  if (type == 0x0806)
    return arp_intact(f + 14, len - 14, self, peer) && src_ok ? Damage::kNone : Damage::kArp;
  if (type != 0x0800) return Damage::kEthernet;
  const uint8_t *ip = f + 14;
  if (len < 34 || ones_sum(ip, 20, 0) != 0xffff) return Damage::kIpv4;
  const size_t total = static_cast<size_t>(ip[2] << 8 | ip[3]);
  if (ip[0] != 0x45 || total < 20 || total > len - 14) return Damage::kIpv4;
  const uint32_t pseudo = ones_sum(ip + 12, 8, 6 + static_cast<uint32_t>(total - 20));
  if (ones_sum(ip + 20, total - 20, pseudo) != 0xffff) return Damage::kTcp;
  return src_ok ? Damage::kNone : Damage::kSourceMac;
}

// Counts, for frames one host takes off the wire, how many are damaged at
// each layer.
struct DamageCount {
  std::map<Damage, uint64_t> n;
  uint64_t damaged() const {
    return at(Damage::kEthernet) + at(Damage::kSourceMac) + at(Damage::kIpv4) + at(Damage::kTcp) +
           at(Damage::kArp);
  }
  uint64_t at(Damage d) const {
    auto it = n.find(d);
    return it == n.end() ? 0 : it->second;
  }
};

// Drops a host counted under reasons whose names start with `prefix`.
uint64_t drops_named(const StackCounters &c, std::string_view prefix) {
  uint64_t t = 0;
  for (size_t i = 0; i < static_cast<size_t>(DropReason::kCount); ++i)
    if (std::string_view(drop_reason_name(static_cast<DropReason>(i))).starts_with(prefix))
      t += c.drops[i];
  return t;
}

struct LossCase {
  const char *name;
  double drop, duplicate, reorder, corrupt;
  bool sack;
  bool timestamps;
  CcAlgorithm cc;
  size_t bytes;
};

class TcpLossTest : public TcpPairTest, public ::testing::WithParamInterface<LossCase> {};

TEST_P(TcpLossTest, TransferArrivesIntact) {
  const LossCase &c = GetParam();
  drivers::FaultConfig f;
  f.drop = c.drop;
  f.duplicate = c.duplicate;
  f.reorder = c.reorder;
  f.reorder_gap = 3;
  f.corrupt = c.corrupt;
  f.seed = 42;
  // Another seed, to see how a change fares over many loss patterns (the
  // assertions hold for any).
  if (const char *seed = getenv("IX_TCP_TEST_SEED")) f.seed = std::strtoull(seed, nullptr, 10);
  TcpConfig t = default_tcp();
  t.sack = c.sack;
  t.timestamps = c.timestamps;
  t.cc = c.cc;
  t.rcv_buf = 1 << 20;
  t.snd_buf = 1 << 20;
  t.max_retransmits = 30;
  start(f, t, t, 8192);
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  // From here on, every frame each host takes in is judged by where it is
  // damaged, to be compared with the drops its stack counts and the
  // corruptions the wire made.
  struct Side {
    Host *host;
    Host *peer;
    DamageCount seen;
    StackCounters drops_before;
    drivers::LoopQueueStats peer_tx_before;
  };
  Side sides[2] = {{A.get(), B.get(), {}, {}, {}}, {B.get(), A.get(), {}, {}, {}}};
  for (Side &sd : sides) {
    sd.drops_before = sd.host->stack->counters();
    sd.peer_tx_before = sd.peer->port.queue_stats(0);
    const Station a{kMacA, kIpA}, b{kMacB, kIpB};
    const Station self = sd.host == A.get() ? a : b;
    const Station peer = sd.host == A.get() ? b : a;
    sd.host->rx_tap = [&seen = sd.seen, self, peer](const mem::Mbuf &m) {
      ++seen.n[damage(m, self, peer)];
    };
  }
  // Between steps, the sender never holds a segment judged lost outside a
  // recovery or the loss state: only those retransmit it, and a lost mark
  // left outside them would wait for the RTO.
  const Tcb *sender = A->tcp().tcb_of(ha);
  uint64_t stranded_steps = 0;
  on_step = [&] {
    if (sender->sack_ok && !sender->in_recovery && !sender->rec.in_loss &&
        sender->rec.lost_bytes > 0)
      ++stranded_steps;
  };
  const Bytes data = pattern(c.bytes, 11);
  const uint64_t t0 = clock.now_ns();
  ASSERT_TRUE(transfer(*A, ha, data, *B, hb, 3'000'000'000'000ull))
      << "got " << B->app.conns[hb].received.size();
  EXPECT_TRUE(B->app.conns[hb].received == data);
  ASSERT_TRUE(
      run_until([&] { return A->app.conns[ha].sent_acked == data.size(); }, 600'000'000'000ull));
  const uint64_t done_ns = clock.now_ns();  // the transfer's simulated time ends here
  on_step = nullptr;
  EXPECT_EQ(stranded_steps, 0u) << "steps with a segment marked lost outside any recovery";
  if (c.drop > 0) {
    EXPECT_GT(A->tcp().stats().retransmits, 0u);
    EXPECT_GT(A->tcp().stats().fast_retransmits, 0u);
  }
  // Let the wire go quiet, so that every frame sent has been taken in.
  run_for(1'000'000'000);
  for (Side &sd : sides) {
    SCOPED_TRACE(sd.host == A.get() ? "frames to A" : "frames to B");
    sd.host->rx_tap = nullptr;
    const StackCounters &now = sd.host->stack->counters();
    // Each damaged frame is dropped once, by the layer its damage is in.
    EXPECT_EQ(drops_named(now, "eth_") - drops_named(sd.drops_before, "eth_"),
              sd.seen.at(Damage::kEthernet));
    EXPECT_EQ(drops_named(now, "ipv4_") - drops_named(sd.drops_before, "ipv4_"),
              sd.seen.at(Damage::kIpv4));
    EXPECT_EQ(now.dropped(DropReason::kTcpBadChecksum) -
                  sd.drops_before.dropped(DropReason::kTcpBadChecksum),
              sd.seen.at(Damage::kTcp));
    // And every frame the wire corrupted is one of those, or went nowhere
    // (a flipped destination MAC); a duplicated one is seen twice.
    const drivers::LoopQueueStats tx = sd.peer->port.queue_stats(0);
    const uint64_t corrupted = tx.faults.corrupted - sd.peer_tx_before.faults.corrupted;
    const uint64_t nowhere = tx.tx_no_dest - sd.peer_tx_before.tx_no_dest;
    if (c.duplicate == 0) {
      EXPECT_EQ(sd.seen.damaged() + nowhere, corrupted);
    } else {
      EXPECT_GE(sd.seen.damaged() + nowhere, corrupted);
    }
    const std::string to = sd.host == A.get() ? "to_a_" : "to_b_";
    RecordProperty(to + "corrupted", static_cast<int>(corrupted));
    RecordProperty(to + "damaged_eth", static_cast<int>(sd.seen.at(Damage::kEthernet)));
    RecordProperty(to + "damaged_ipv4", static_cast<int>(sd.seen.at(Damage::kIpv4)));
    RecordProperty(to + "damaged_tcp", static_cast<int>(sd.seen.at(Damage::kTcp)));
    if (c.corrupt > 0) {
      EXPECT_GT(sd.seen.at(Damage::kTcp), 0u) << "most of a frame's bits are TCP's";
    } else {
      EXPECT_EQ(corrupted, 0u);
      EXPECT_EQ(sd.seen.damaged(), 0u);
    }
  }
  EXPECT_FALSE(A->app.conns[ha].dead);
  const TcpStats &st = A->tcp().stats();
  RecordProperty("simulated_ms", static_cast<int>((done_ns - t0) / 1'000'000));
  RecordProperty("retransmits", static_cast<int>(st.retransmits));
  RecordProperty("rto_expirations", static_cast<int>(st.rto_expirations));
  RecordProperty("fast_retransmits", static_cast<int>(st.fast_retransmits));
  if (getenv("IX_TCP_TEST_VERBOSE") != nullptr)
    printf("%s: %.1f ms simulated, %lu segments, %lu retransmits, %lu fast, %lu RTOs\n", c.name,
           (done_ns - t0) / 1e6, st.data_segments_tx, st.retransmits, st.fast_retransmits,
           st.rto_expirations);
  // Nothing leaked: only what the wire and the stacks legitimately hold.
  A.reset();
  B.reset();
}

constexpr size_t k10M = 10u << 20;

INSTANTIATE_TEST_SUITE_P(
    Faults, TcpLossTest,
    ::testing::Values(
        LossCase{"loss1_sack_cubic", 0.01, 0, 0, 0, true, true, CcAlgorithm::kCubic, k10M},
        LossCase{"loss5_sack_cubic", 0.05, 0, 0, 0, true, true, CcAlgorithm::kCubic, k10M},
        LossCase{"loss10_sack_cubic", 0.10, 0, 0, 0, true, true, CcAlgorithm::kCubic, k10M},
        LossCase{"loss5_newreno_nosack", 0.05, 0, 0, 0, false, true, CcAlgorithm::kNewReno, k10M},
        LossCase{"loss5_no_timestamps", 0.05, 0, 0, 0, true, false, CcAlgorithm::kCubic, k10M},
        LossCase{"duplicate", 0, 0.05, 0, 0, true, true, CcAlgorithm::kCubic, k10M},
        LossCase{"reorder", 0, 0, 0.05, 0, true, true, CcAlgorithm::kCubic, k10M},
        LossCase{"corrupt", 0, 0, 0, 0.02, true, true, CcAlgorithm::kCubic, k10M},
        LossCase{"everything", 0.03, 0.03, 0.03, 0.01, true, true, CcAlgorithm::kCubic, k10M},
        LossCase{"everything_nosack", 0.03, 0.03, 0.03, 0.01, false, false, CcAlgorithm::kNewReno,
                 k10M}),
    [](const ::testing::TestParamInfo<LossCase> &i) { return std::string(i.param.name); });

}  // namespace
}  // namespace ix::net::tcp::test
