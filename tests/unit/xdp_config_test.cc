// Error paths of the AF_XDP driver that need no privileges: option parsing,
// config validation, interface lookup, and the queue-count check, all of which
// run before any socket is created or XDP program attached (so these tests
// pass the same way as root and as an ordinary user).
#include "drivers/xdp/xdp_config.hh"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "drivers/xdp/netdev_info.hh"
#include "drivers/xdp/xdp_device.hh"

namespace ix::drivers {
namespace {

// Runs f, which must throw E, and returns the message.
template <typename E, typename F>
std::string message_of(F &&f) {
  try {
    f();
  } catch (const E &e) {
    return e.what();
  } catch (const std::exception &e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception";
  return {};
}

XdpConfig config_for(const std::string &ifname) {
  XdpConfig c;
  c.ifname = ifname;
  return c;
}

TEST(XdpConfig, ParsesModesAndRoundTrips) {
  for (auto m : {XdpCopyMode::kAuto, XdpCopyMode::kCopy, XdpCopyMode::kZeroCopy})
    EXPECT_EQ(parse_xdp_copy_mode(to_string(m)), m);
  for (auto m : {XdpAttachMode::kAuto, XdpAttachMode::kNative, XdpAttachMode::kSkb})
    EXPECT_EQ(parse_xdp_attach_mode(to_string(m)), m);
  EXPECT_EQ(parse_xdp_attach_mode("drv"), XdpAttachMode::kNative);
  EXPECT_EQ(parse_xdp_attach_mode("generic"), XdpAttachMode::kSkb);
  EXPECT_FALSE(parse_xdp_copy_mode("fast").has_value());
  EXPECT_FALSE(parse_xdp_copy_mode("").has_value());
  EXPECT_FALSE(parse_xdp_attach_mode("hw").has_value());
}

TEST(XdpConfig, ValidateRejectsBadFields) {
  EXPECT_NO_THROW(validate(config_for("eth0")));

  EXPECT_NE(
      message_of<std::invalid_argument>([] { validate(config_for("")); }).find("no interface name"),
      std::string::npos);
  EXPECT_NE(message_of<std::invalid_argument>([] {
              validate(config_for("a-name-longer-than-ifnamsiz"));
            }).find("longer than"),
            std::string::npos);

  XdpConfig c = config_for("eth0");
  c.queues = 0;
  EXPECT_NE(message_of<std::invalid_argument>([&] { validate(c); }).find("queues"),
            std::string::npos);

  c = config_for("eth0");
  c.ring_size = 1000;
  EXPECT_NE(message_of<std::invalid_argument>([&] { validate(c); }).find("power of two"),
            std::string::npos);
  c.ring_size = 32;
  EXPECT_THROW(validate(c), std::invalid_argument);

  c = config_for("eth0");
  c.frame_size = 3000;
  EXPECT_NE(message_of<std::invalid_argument>([&] { validate(c); }).find("frame_size"),
            std::string::npos);

  c = config_for("eth0");
  c.attach = XdpAttachMode::kSkb;
  c.copy_mode = XdpCopyMode::kZeroCopy;
  EXPECT_NE(message_of<std::invalid_argument>([&] { validate(c); }).find("zero-copy"),
            std::string::npos);
}

TEST(XdpDevice, MissingInterfaceIsNamedWithTheFix) {
  const std::string msg =
      message_of<std::runtime_error>([] { XdpDevice dev(config_for("ixnosuch0")); });
  EXPECT_NE(msg.find("interface 'ixnosuch0' does not exist"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ip link"), std::string::npos) << msg;
}

TEST(XdpDevice, BadConfigIsRejectedBeforeTouchingTheInterface) {
  XdpConfig c = config_for("lo");
  c.ring_size = 3;
  EXPECT_THROW(XdpDevice dev(c), std::invalid_argument);
}

// Loopback exists in every network namespace and has one queue (it has no
// ETHTOOL_GCHANNELS, so this also covers the sysfs fallback).
TEST(NetdevInfo, ReadsLoopback) {
  const NetdevInfo lo = query_netdev("lo");
  EXPECT_GT(lo.ifindex, 0u);
  EXPECT_GE(lo.mtu, 1500);  // 65536 on Linux, clamped to the 16-bit field
  EXPECT_TRUE(lo.mac.is_zero());
  EXPECT_GE(lo.rx_queues, 1u);
  EXPECT_GE(lo.tx_queues, 1u);
}

TEST(NetdevInfo, MissingInterfaceThrows) {
  EXPECT_THROW(query_netdev("ixnosuch1"), std::runtime_error);
  EXPECT_THROW(query_netdev(""), std::runtime_error);
}

TEST(XdpDevice, TooFewQueuesSaysHowManyAndHowToAdd) {
  const NetdevInfo lo = query_netdev("lo");
  XdpConfig c = config_for("lo");
  c.queues = static_cast<uint16_t>(lo.rx_queues + 1);
  const std::string msg = message_of<std::runtime_error>([&] { XdpDevice dev(c); });
  EXPECT_NE(msg.find("has " + std::to_string(lo.rx_queues) + " RX"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ethtool -L lo combined " + std::to_string(c.queues)), std::string::npos)
      << msg;

  c.queues = 1;
  c.start_queue = lo.rx_queues;  // one past the last queue
  EXPECT_THROW(XdpDevice dev(c), std::runtime_error);
}

TEST(NetdevInfo, VethHintNamesQueueOptions) {
  NetdevInfo veth;
  veth.ifname = "ix0";
  veth.driver = "veth";
  const std::string hint = how_to_add_queues(veth, 4);
  EXPECT_NE(hint.find("numrxqueues 4 numtxqueues 4"), std::string::npos) << hint;
  EXPECT_NE(hint.find("netns.sh up NAME --queues 4"), std::string::npos) << hint;
}

}  // namespace
}  // namespace ix::drivers
