// Malformed frames over the loop wire into a running elastic thread: each is
// dropped and counted under its reason, nothing leaks, and the dataplane
// still answers afterwards — the in-process twin of
// tests/integration/bad_input_test.sh.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "api/io_context.hh"
#include "core/elastic_thread.hh"
#include "drivers/loop/loop_wire.hh"
#include "test_frames.hh"
#include "timing/clock.hh"

namespace ix {
namespace {

using namespace test_frames;

class BadInputOverLoop : public ::testing::Test {
 protected:
  BadInputOverLoop()
      : wire_(clock_),
        attacker_(wire_.add_port({.name = "attacker", .mac = spec_.src_mac, .queues = 1})),
        victim_(wire_.add_port({.name = "victim", .mac = spec_.dst_mac, .queues = 1})),
        attacker_pool_({.count = 256, .try_huge_pages = false, .name = "attacker"}),
        thread_(config(), victim_, clock_),
        ctx_(thread_, nullptr) {
    attacker_.set_rx_pool(0, &attacker_pool_);
    ix_cmd bind{};
    bind.op = IX_CMD_UDP_BIND;
    bind.u.udp_bind.port = 7;
    ix_event evs[8];
    ix_run_io(&ctx_, &bind, 1, evs, 8);
    EXPECT_EQ(bind.result, IX_OK);
  }

  core::ElasticThreadConfig config() {
    core::ElasticThreadConfig c;
    c.pool.count = 256;
    c.pool.try_huge_pages = false;
    c.stack.mac = spec_.dst_mac;
    c.stack.addr = spec_.dst_ip;
    c.stack.gratuitous_arp = false;
    return c;
  }

  void send(const std::vector<uint8_t> &frame) {
    mem::Mbuf *m = to_mbuf(attacker_pool_, frame);
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(attacker_.tx_burst(0, &m, 1), 1);
  }

  // Runs the dataplane, echoing UDP; returns frames that came back.
  std::vector<std::vector<uint8_t>> run() {
    std::vector<ix_cmd> cmds;
    for (int round = 0; round < 4; ++round) {
      clock_.advance(20'000);
      ix_event evs[64];
      const int n = ix_run_io(&ctx_, cmds.data(), cmds.size(), evs, 64);
      cmds.clear();
      for (int i = 0; i < n; ++i) {
        ix_cmd c{};
        if (evs[i].type == IX_EV_UDP_RECV) {
          const auto &r = evs[i].u.udp_recv;
          c.op = IX_CMD_UDP_SEND;
          c.cookie = r.buf;
          c.u.udp_send = {r.data, r.len, r.dst.port, 0, r.src};
        } else if (evs[i].type == IX_EV_UDP_SENT) {
          c.op = IX_CMD_UDP_RECV_DONE;
          c.u.recv_done.buf = evs[i].cookie;
        } else {
          continue;
        }
        cmds.push_back(c);
      }
    }
    std::vector<std::vector<uint8_t>> out;
    mem::Mbuf *rx[32];
    for (uint16_t n; (n = attacker_.rx_burst(0, rx, 32)) != 0;)
      for (uint16_t i = 0; i < n; ++i) {
        out.push_back(bytes_of(rx[i]));
        mem::MbufPool::free_chain(rx[i]);
      }
    return out;
  }

  std::map<std::string, uint64_t> drops() {
    std::map<std::string, uint64_t> d;
    thread_.stack().counters().for_each([&](const char *name, uint64_t v) {
      std::string n(name);
      if (v != 0 && n.starts_with("drop.")) d[n.substr(5)] = v;
    });
    return d;
  }

  UdpSpec spec_{{}, 4000, 7, {'h', 'i'}};
  timing::ManualClock clock_;
  drivers::LoopWire wire_;
  drivers::LoopPort &attacker_;
  drivers::LoopPort &victim_;
  mem::MbufPool attacker_pool_;
  core::ElasticThread thread_;
  api::LocalContext ctx_;
};

TEST_F(BadInputOverLoop, EachMalformedFrameIsCountedAndTheDataplaneStillAnswers) {
  const std::vector<uint8_t> good = udp_frame(spec_);
  std::map<std::string, uint64_t> want;
  auto bad = [&](const char *reason, std::vector<uint8_t> f, bool fix_ip_sum = true) {
    if (fix_ip_sum && f.size() >= kEthLen + kIpv4Len) {
      const size_t ihl = size_t{f[kEthLen] & 0x0fu} * 4;
      if (ihl >= 20 && kEthLen + ihl <= f.size()) {
        put16(&f[kEthLen + 10], 0);
        put16(&f[kEthLen + 10], static_cast<uint16_t>(~fold(ones_sum(&f[kEthLen], ihl))));
      }
    }
    for (int i = 0; i < 3; ++i) send(f);
    want[reason] += 3;
  };

  auto f = good;
  put16(&f[12], 0x88b5);
  bad("eth_unknown_type", f, false);
  bad("ipv4_truncated", std::vector<uint8_t>(good.begin(), good.begin() + kEthLen + 12), false);
  f = good;
  f[kEthLen + 10] ^= 0xff;
  bad("ipv4_bad_checksum", f, false);
  f = good;
  f[kEthLen] = 0x65;
  bad("ipv4_bad_version", f);
  f = good;
  put16(&f[kEthLen + 2], static_cast<uint16_t>(f.size()));  // longer than the frame
  bad("ipv4_truncated", f);
  f = good;  // IP options: IHL 6 with one 4-byte NOP/EOL option
  f.insert(f.begin() + kEthLen + kIpv4Len, {1, 1, 1, 0});
  f[kEthLen] = 0x46;
  put16(&f[kEthLen + 2], static_cast<uint16_t>(f.size() - kEthLen));
  bad("ipv4_options", f);
  UdpSpec frag = spec_;
  frag.frag = kMoreFragments;
  bad("ipv4_fragment", udp_frame(frag));
  f = good;
  put16(&f[kEthLen + kIpv4Len + 4], 200);  // UDP length past the datagram
  bad("udp_bad_length", f);
  f = good;
  f[f.size() - 1] ^= 0x40;  // payload bit flip: UDP checksum catches it
  bad("udp_bad_checksum", f);
  UdpSpec closed = spec_;
  closed.dst_port = 9;
  bad("udp_no_port", udp_frame(closed));

  const auto replies = run();
  EXPECT_EQ(drops(), want);
  // Only the ICMP port-unreachable errors came back (rate limit allows 3).
  for (const auto &r : replies) EXPECT_EQ(r[kEthLen + 9], 1) << "unexpected reply protocol";

  // Introduce ourselves (an ARP request for the victim's address teaches it
  // our MAC), then a good datagram is echoed.
  std::vector<uint8_t> arp(28);
  put16(&arp[0], 1);
  put16(&arp[2], 0x0800);
  arp[4] = 6;
  arp[5] = 4;
  put16(&arp[6], 1);
  std::copy(spec_.src_mac.b.begin(), spec_.src_mac.b.end(), arp.begin() + 8);
  put32(&arp[14], spec_.src_ip.v);
  put32(&arp[24], spec_.dst_ip.v);
  send(eth_frame(net::MacAddr::broadcast(), spec_.src_mac, 0x0806, arp));
  ASSERT_EQ(run().size(), 1u);  // the ARP reply
  send(good);
  const auto echo = run();
  ASSERT_EQ(echo.size(), 1u);
  EXPECT_TRUE(udp_checksum_ok(echo[0]));
  EXPECT_EQ(echo[0].back(), 'i');
  EXPECT_EQ(thread_.pool().available(), thread_.pool().capacity());
}

TEST_F(BadInputOverLoop, CorruptingWireLosesNothingSilently) {
  // Every frame on a wire that flips one random bit is either echoed intact
  // or dropped somewhere and counted: by the wire (no such MAC) or the stack.
  drivers::FaultConfig corrupt;
  corrupt.corrupt = 1.0;
  corrupt.seed = 7;
  timing::ManualClock clock;
  drivers::LoopWire wire(clock, {.faults = corrupt});
  auto &a = wire.add_port({.name = "a", .mac = spec_.src_mac, .queues = 1});
  auto &b = wire.add_port(
      {.name = "b", .mac = spec_.dst_mac, .queues = 1, .faults = drivers::FaultConfig{}});
  mem::MbufPool pool({.count = 1024, .try_huge_pages = false, .name = "a"});
  a.set_rx_pool(0, &pool);
  core::ElasticThread t(config(), b, clock);
  const int kFrames = 500;
  for (int i = 0; i < kFrames; ++i) {
    mem::Mbuf *m = to_mbuf(pool, udp_frame(spec_));
    ASSERT_EQ(a.tx_burst(0, &m, 1), 1);
    t.poll();
  }
  const auto &c = t.stack().counters();
  const uint64_t lost_on_wire = a.queue_stats(0).tx_no_dest;
  // Nothing is bound here, so intact datagrams count as udp_no_port: every
  // frame is accounted for exactly once.
  EXPECT_EQ(c.total_drops() + lost_on_wire, static_cast<uint64_t>(kFrames));
  EXPECT_GT(
      c.dropped(net::DropReason::kUdpBadChecksum) + c.dropped(net::DropReason::kIpv4BadChecksum),
      0u);
}

}  // namespace
}  // namespace ix
