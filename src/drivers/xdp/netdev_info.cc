#include "drivers/xdp/netdev_info.hh"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace ix::drivers {

namespace {

// A datagram socket is the handle the interface ioctls hang off; it needs no
// privileges and is bound to the caller's network namespace.
class IoctlSocket {
 public:
  IoctlSocket() : fd_(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0)
      throw std::runtime_error(std::string("xdp: cannot open a socket to query interfaces: ") +
                               std::strerror(errno));
  }
  ~IoctlSocket() { close(fd_); }
  IoctlSocket(const IoctlSocket &) = delete;
  IoctlSocket &operator=(const IoctlSocket &) = delete;

  bool request(const std::string &ifname, unsigned long req, ifreq &ifr) const {
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    return ioctl(fd_, req, &ifr) == 0;
  }
  bool ethtool(const std::string &ifname, void *cmd) const {
    ifreq ifr{};
    ifr.ifr_data = static_cast<char *>(cmd);
    return request(ifname, SIOCETHTOOL, ifr);
  }

 private:
  int fd_;
};

// /sys/class/net/<if>/queues/{rx,tx}-N mirror the kernel's real queue counts,
// which is what AF_XDP bind checks. Used when the driver has no
// ETHTOOL_GCHANNELS. (sysfs shows the namespace it was mounted in, which
// `ip netns exec` takes care of.)
uint32_t count_sysfs_queues(const std::string &ifname, const char *prefix) {
  std::error_code ec;
  const std::filesystem::path dir = "/sys/class/net/" + ifname + "/queues";
  uint32_t n = 0;
  for (const auto &e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0) ++n;
  return n;
}

}  // namespace

NetdevInfo query_netdev(const std::string &ifname) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ)
    throw std::runtime_error("xdp: '" + ifname + "' is not a valid interface name");
  NetdevInfo info;
  info.ifname = ifname;
  info.ifindex = if_nametoindex(ifname.c_str());
  if (info.ifindex == 0)
    throw std::runtime_error("xdp: interface '" + ifname +
                             "' does not exist; check `ip link` (inside the right network "
                             "namespace: `ip netns exec NS ip link`)");
  IoctlSocket sock;

  ifreq ifr{};
  // Loopback reports 65536; the caps field is 16 bits and no frame is larger.
  if (sock.request(ifname, SIOCGIFMTU, ifr) && ifr.ifr_mtu > 0)
    info.mtu = static_cast<uint16_t>(std::min(ifr.ifr_mtu, 65535));
  ifr = {};
  if (sock.request(ifname, SIOCGIFHWADDR, ifr))
    std::memcpy(info.mac.b.data(), ifr.ifr_hwaddr.sa_data, info.mac.b.size());

  ethtool_drvinfo drv{};
  drv.cmd = ETHTOOL_GDRVINFO;
  if (sock.ethtool(ifname, &drv)) info.driver = drv.driver;

  // NICs count "combined" channels (one RX and one TX queue each) plus any
  // RX-only or TX-only ones; veth reports plain RX and TX counts.
  ethtool_channels ch{};
  ch.cmd = ETHTOOL_GCHANNELS;
  if (sock.ethtool(ifname, &ch)) {
    info.rx_queues = ch.combined_count + ch.rx_count;
    info.tx_queues = ch.combined_count + ch.tx_count;
    info.max_rx_queues = ch.max_combined + ch.max_rx;
  } else {
    const uint32_t rx = count_sysfs_queues(ifname, "rx-");
    const uint32_t tx = count_sysfs_queues(ifname, "tx-");
    info.rx_queues = rx > 0 ? rx : 1;
    info.tx_queues = tx > 0 ? tx : 1;
  }
  if (info.rx_queues == 0) info.rx_queues = 1;
  if (info.tx_queues == 0) info.tx_queues = 1;
  return info;
}

std::string how_to_add_queues(const NetdevInfo &info, uint32_t wanted) {
  const std::string n = std::to_string(wanted);
  if (info.driver == "veth")
    return "veth queue counts are fixed at creation: recreate the pair with `ip link add A "
           "numrxqueues " +
           n + " numtxqueues " + n + " type veth peer name B numrxqueues " + n + " numtxqueues " +
           n + "` (scripts/netns.sh up NAME --queues " + n + ")";
  std::string hint =
      "raise the channel count with `ethtool -L " + info.ifname + " combined " + n + "`";
  if (info.max_rx_queues != 0)
    hint += " (the driver allows up to " + std::to_string(info.max_rx_queues) + ")";
  return hint;
}

}  // namespace ix::drivers
