// Trusted links (LoopPortConfig::trusted_link, as DpdkConfig::trusted_link
// for memif): two IX stacks that skip every checksum, what goes on the wire
// then, an untrusting peer's refusal of such frames, and the configurations
// refused because they would let corruption through.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "config/parse_args.hh"
#include "net/checksum.hh"
#include "net/tcp/tcp.hh"
#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

// The full RFC 1071 sum over a TCP segment and its pseudo-header: 0xffff
// when the checksum field is complete and right; 0 for a frame that is not a
// well-formed IPv4/TCP one (ARP, for one).
uint16_t tcp_sum_of(const mem::Mbuf &m) {
  Bytes frame(m.pkt_len);
  m.copy_out(frame.data());
  if (frame.size() < 34 || frame[12] != 0x08 || frame[13] != 0x00 || frame[23] != kIpProtoTcp)
    return 0;
  const uint8_t *ip = frame.data() + 14;
  const size_t ihl = (ip[0] & 0x0f) * 4u;
  const uint16_t total = static_cast<uint16_t>((ip[2] << 8) | ip[3]);
  if (ihl < 20 || total < ihl || total > frame.size() - 14) return 0;
  const uint16_t l4_len = static_cast<uint16_t>(total - ihl);
  Ipv4Addr src, dst;
  std::memcpy(&src, ip + 12, 4);
  std::memcpy(&dst, ip + 16, 4);
  return ones_add(pseudo_header_sum(src, dst, kIpProtoTcp, l4_len), ones_sum(ip + ihl, l4_len));
}

TEST_F(TcpPairTest, TrustedEndsTransferIntactWithoutComputingAChecksum) {
  trusted_a = trusted_b = true;
  start();
  size_t frames = 0, incomplete = 0, ip_zero = 0;
  A->sink.tap = [&](const mem::Mbuf &m) {
    if (m.pkt_len < 34 || m.data()[12] != 0x08 || m.data()[13] != 0x00) return;  // not IPv4
    ++frames;
    if (tcp_sum_of(m) != 0xffff) ++incomplete;
    if (m.data()[14 + 10] == 0 && m.data()[14 + 11] == 0) ++ip_zero;
  };
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const Bytes data = pattern(1 << 20, 9);
  ASSERT_TRUE(transfer(*A, ha, data, *B, hb));
  EXPECT_EQ(B->app.conns[hb].received, data);
  EXPECT_EQ(A->stack->counters().total_drops(), 0u);
  EXPECT_EQ(B->stack->counters().total_drops(), 0u);
  // Nothing computed them: the frames carry only what the stack leaves for
  // an offload (the pseudo-header sum; a zero IPv4 checksum).
  ASSERT_GT(frames, 700u);
  EXPECT_EQ(incomplete, frames);
  EXPECT_EQ(ip_zero, frames);
}

TEST_F(TcpPairTest, AnUntrustingPeerDropsATrustedSendersFramesAsCorrupt) {
  trusted_a = true;  // B checks checksums, as any stack that is not IX would
  start();
  EXPECT_EQ(B->tcp().listen(80, 77, &B->app), IX_OK);
  const int64_t h = A->tcp().connect(kIpB, 80, 0, 5, &A->app);
  ASSERT_GT(h, 0);
  run_for(50'000'000);
  EXPECT_TRUE(B->app.knocks.empty());
  EXPECT_FALSE(A->app.conns[static_cast<ConnHandle>(h)].connected);
  EXPECT_GT(B->stack->counters().dropped(DropReason::kIpv4BadChecksum), 0u);
}

TEST(TrustedLink, ALoopPortThatCorruptsFramesCannotBeTrusted) {
  timing::ManualClock clock;
  drivers::FaultConfig corrupting;
  corrupting.corrupt = 0.01;
  drivers::LoopWire wire(clock, drivers::LoopWireConfig{corrupting, 0});
  try {
    wire.add_port({.name = "t", .mac = kMacA, .trusted_link = true});
    FAIL() << "a trusted port on a corrupting wire was accepted";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
  }
  // The same port untrusted is fine, and claims no offload.
  auto &p = wire.add_port({.name = "u", .mac = kMacB});
  EXPECT_FALSE(p.caps().rx_l4_csum);
  EXPECT_FALSE(p.caps().tx_l4_csum);
}

TEST(TrustedLink, ConfigTakesOnOrOffAndRefusesItForAfXdp) {
  config::DataplaneConfig cfg;
  auto parse = [&cfg](std::vector<std::string> args) {
    std::vector<const char *> argv = {"ix"};
    for (auto &a : args) argv.push_back(a.c_str());
    cfg = config::DataplaneConfig{};
    return config::parse_args(static_cast<int>(argv.size()), argv.data(), {}, cfg);
  };
  auto on = parse({"--driver", "dpdk", "--host-addr", "10.0.0.2/24", "--trusted-link", "on"});
  ASSERT_EQ(on.status, config::ParseResult::kOk) << on.message;
  EXPECT_TRUE(cfg.trusted_link);
  auto bad = parse({"--driver", "dpdk", "--host-addr", "10.0.0.2/24", "--trusted-link", "yes"});
  EXPECT_NE(bad.status, config::ParseResult::kOk);
  EXPECT_NE(bad.message.find("on"), std::string::npos) << bad.message;
  auto xdp = parse(
      {"--driver", "xdp", "--dev", "eth0", "--host-addr", "10.0.0.2/24", "--trusted-link", "on"});
  EXPECT_NE(xdp.status, config::ParseResult::kOk);
  EXPECT_NE(xdp.message.find("memif"), std::string::npos) << xdp.message;
}

}  // namespace
}  // namespace ix::net::tcp::test
