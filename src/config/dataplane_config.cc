#include "config/dataplane_config.hh"

#include <cmath>
#include <cstdio>
#include <set>

#include "config/value_parsers.hh"

namespace ix::config {
namespace {

uint32_t subnet_mask(uint8_t prefix_len) {
  return prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len);
}

std::string addr_text(net::Ipv4Addr a, uint8_t prefix_len) {
  return a.to_string() + "/" + std::to_string(prefix_len);
}

std::string check_device(const DataplaneConfig &cfg) {
  if (cfg.driver == "xdp" && cfg.device.empty())
    return "driver 'xdp' needs --dev IFNAME (or device = IFNAME in the config file)";
  if (cfg.device.size() > kMaxIfnameLen)
    return "device: " + quote_for_message(cfg.device) + " is longer than " +
           std::to_string(kMaxIfnameLen) + " characters (a Linux interface name is at most " +
           std::to_string(kMaxIfnameLen) + ")";
  for (unsigned char c : cfg.device) {
    if (c <= 0x20 || c >= 0x7f || c == '/' || c == ':')
      return "device: " + quote_for_message(cfg.device) +
             " is not a valid interface name (no spaces, '/', ':' or control characters)";
  }
  return {};
}

std::string check_xdp(const DataplaneConfig &cfg) {
  std::string ignored;
  if (std::string e = parse_choice(cfg.xdp_mode, {"auto", "copy", "zerocopy"}, "XDP mode", ignored);
      !e.empty())
    return "xdp_mode: " + e;
  if (std::string e =
          parse_choice(cfg.xdp_attach, {"auto", "native", "skb"}, "XDP attach mode", ignored);
      !e.empty())
    return "xdp_attach: " + e;
  if (std::string e =
          parse_choice(cfg.tcp_cc, {"cubic", "newreno"}, "TCP congestion control", ignored);
      !e.empty())
    return "tcp_cc: " + e;
  if (cfg.trusted_link && cfg.driver == "xdp")
    return "trusted_link: on with driver xdp, but a trusted link skips every checksum and is only "
           "for a net_memif link between two IX processes (driver dpdk); an AF_XDP interface can "
           "carry frames from anyone, so turn it off";
  if (cfg.xdp_mode == "zerocopy" && cfg.xdp_attach == "skb")
    return "xdp_mode: 'zerocopy' needs a native XDP attach, but xdp_attach is 'skb' (use "
           "xdp_attach native or auto, or xdp_mode copy)";
  return {};
}

std::string check_cores(const DataplaneConfig &cfg) {
  if (cfg.cores.empty()) return "cpu: the list is empty (expected CPU numbers like 0,1)";
  if (cfg.cores.size() > kMaxCores)
    return "cpu: " + std::to_string(cfg.cores.size()) + " entries is more than the " +
           std::to_string(kMaxCores) + " supported";
  std::set<int> seen;
  for (int cpu : cfg.cores) {
    if (cpu < -1 || cpu > kMaxCpu)
      return "cpu: " + std::to_string(cpu) + " is out of range -1.." + std::to_string(kMaxCpu) +
             " (-1 for an unpinned thread)";
    if (cpu >= 0 && !seen.insert(cpu).second)
      return "cpu: CPU " + std::to_string(cpu) +
             " is listed twice (each elastic thread owns its core; use -1 for an unpinned "
             "thread)";
  }
  const size_t threads = cfg.cores.size();
  if (cfg.queues != 0 && cfg.queues < threads)
    return "queues: " + std::to_string(cfg.queues) + " is fewer than the " +
           std::to_string(threads) +
           " elastic threads in cpu (each needs its own NIC queue; 0 gives one per thread)";
  if (cfg.queues > kMaxQueues)
    return "queues: " + std::to_string(cfg.queues) + " is out of range 0.." +
           std::to_string(kMaxQueues);
  if (cfg.flow_groups < kMinFlowGroups || cfg.flow_groups > kMaxFlowGroups)
    return "flow_groups: " + std::to_string(cfg.flow_groups) + " is out of range " +
           std::to_string(kMinFlowGroups) + ".." + std::to_string(kMaxFlowGroups);
  if (cfg.flow_groups < threads)
    return "flow_groups: " + std::to_string(cfg.flow_groups) + " is fewer than the " +
           std::to_string(threads) + " elastic threads in cpu (each needs at least one flow group)";
  return {};
}

// An address a host can own: not 0/8, loopback, multicast or reserved.
bool is_unicast_host(net::Ipv4Addr a) {
  uint8_t first = static_cast<uint8_t>(a.v >> 24);
  return first != 0 && first != 127 && first < 224;
}

std::string check_addresses(const DataplaneConfig &cfg) {
  if (cfg.host_addr.is_zero())
    return "host_addr is required (set host_addr = 10.0.0.2/24 in the config file or pass "
           "--host-addr 10.0.0.2/24)";
  if (cfg.prefix_len < 1 || cfg.prefix_len > 32)
    return "host_addr: prefix length " + std::to_string(cfg.prefix_len) + " is out of range 1..32";
  const std::string host = addr_text(cfg.host_addr, cfg.prefix_len);
  if (!is_unicast_host(cfg.host_addr))
    return "host_addr: " + host +
           " is not a unicast host address (0.x, 127.x, multicast and 240.x and above are "
           "not allowed)";
  const uint32_t mask = subnet_mask(cfg.prefix_len);
  const uint32_t host_bits = cfg.host_addr.v & ~mask;
  if (cfg.prefix_len <= 30 && (host_bits == 0 || host_bits == ~mask))
    return "host_addr: " + host + " is the " + (host_bits == 0 ? "network" : "broadcast") +
           " address of its subnet (pick a host address inside it)";
  if (cfg.gateway.is_zero()) return {};
  const std::string gw = cfg.gateway.to_string();
  if (!is_unicast_host(cfg.gateway))
    return "gateway_addr: " + gw + " is not a unicast host address";
  if (cfg.gateway == cfg.host_addr)
    return "gateway_addr: " + gw + " is the host's own address (the gateway is another host)";
  if ((cfg.gateway.v & mask) != (cfg.host_addr.v & mask))
    return "gateway_addr: " + gw + " is not in the host's subnet " +
           net::Ipv4Addr{cfg.host_addr.v & mask}.to_string() + "/" +
           std::to_string(cfg.prefix_len) + " (a gateway must be reachable directly)";
  return {};
}

std::string check_pool(const DataplaneConfig &cfg) {
  if (cfg.mbufs_per_core == 0) {
    // Derived: only a window too large for any pool can fail.
    if (const uint64_t n = pool_size(cfg); n > kMaxMbufs)
      return "mbufs: deriving the pool from tcp_rcv_buf " + std::to_string(cfg.tcp_rcv_buf) +
             " gives " + std::to_string(n) + " buffers per core, more than " +
             std::to_string(kMaxMbufs) + ": use a smaller --tcp-rcv-buf or set --mbufs";
    return {};
  }
  if (cfg.mbufs_per_core < kMinMbufs || cfg.mbufs_per_core > kMaxMbufs)
    return "mbufs: " + std::to_string(cfg.mbufs_per_core) + " is out of range " +
           std::to_string(kMinMbufs) + ".." + std::to_string(kMaxMbufs) +
           " (0 derives it from the windows)";
  if (const uint64_t need = min_mbufs_for(cfg.batch); cfg.mbufs_per_core < need)
    return "mbufs: " + std::to_string(cfg.mbufs_per_core) +
           " per core cannot hold a received batch and a batch of replies (batch " +
           std::to_string(cfg.batch) + ") beside twice the receive-only reserve (" +
           std::to_string(mem::default_rx_reserve(cfg.mbufs_per_core)) + "): use --mbufs " +
           std::to_string(need) + " or more, or a smaller --batch";
  // A window the pool could never fill would be a promise not kept: the
  // window closes at the holding limit before it is full.
  if (const uint64_t need = min_mbufs_for(cfg.batch, cfg.tcp_rcv_buf, 1); cfg.mbufs_per_core < need)
    return "mbufs: " + std::to_string(cfg.mbufs_per_core) +
           " per core cannot hold one receive window of tcp_rcv_buf " +
           std::to_string(cfg.tcp_rcv_buf) + " bytes (" +
           std::to_string(buffers_for_window(cfg.tcp_rcv_buf)) + " buffers of " +
           std::to_string(kWindowSegmentBytes) + "-byte segments) beside two batches and twice " +
           "the receive-only reserve: use --mbufs " + std::to_string(need) +
           " or more, or a smaller --tcp-rcv-buf";
  return {};
}

std::string check_sizes(const DataplaneConfig &cfg) {
  if (cfg.batch < kMinBatch || cfg.batch > kMaxBatch)
    return "batch: " + std::to_string(cfg.batch) + " is out of range " + std::to_string(kMinBatch) +
           ".." + std::to_string(kMaxBatch);
  if (cfg.tcp_rcv_buf < kMinTcpBuf || cfg.tcp_rcv_buf > kMaxTcpRcvBuf)
    return "tcp_rcv_buf: " + std::to_string(cfg.tcp_rcv_buf) + " is out of range " +
           std::to_string(kMinTcpBuf) + ".." + std::to_string(kMaxTcpRcvBuf) +
           " (the largest window scale 7 can advertise)";
  if (cfg.tcp_snd_buf < kMinTcpBuf || cfg.tcp_snd_buf > kMaxTcpSndBuf)
    return "tcp_snd_buf: " + std::to_string(cfg.tcp_snd_buf) + " is out of range " +
           std::to_string(kMinTcpBuf) + ".." + std::to_string(kMaxTcpSndBuf);
  if (cfg.mtu != 0 && (cfg.mtu < kMinMtu || cfg.mtu > kMaxMtu))
    return "mtu: " + std::to_string(cfg.mtu) + " is out of range " + std::to_string(kMinMtu) +
           ".." + std::to_string(kMaxMtu) + " (0 uses the device's MTU)";
  if (!std::isfinite(cfg.run_seconds) || cfg.run_seconds < 0 || cfg.run_seconds > kMaxRunSeconds)
    return "run_seconds: " + std::to_string(cfg.run_seconds) +
           " is out of range (0 runs until SIGINT/SIGTERM, else a positive number of seconds)";
  return {};
}

std::string join_cpus(const std::vector<int> &cores) {
  std::string s;
  for (int cpu : cores) {
    if (!s.empty()) s += ",";
    s += cpu < 0 ? std::string("any") : std::to_string(cpu);
  }
  return s;
}

}  // namespace

std::string validate(const DataplaneConfig &cfg) {
  std::string ignored;
  if (std::string e = parse_choice(cfg.driver, {"xdp", "dpdk", "loop"}, "driver", ignored);
      !e.empty())
    return "driver: " + e;
  // Protected mode: the dataplane process owns the NIC and the stack, and
  // checks its own configuration.
  if (!cfg.dataplane.empty()) return {};
  for (auto check :
       {check_device, check_xdp, check_cores, check_addresses, check_sizes, check_pool}) {
    if (std::string e = check(cfg); !e.empty()) return e;
  }
  return {};
}

std::string describe(const DataplaneConfig &cfg) {
  const size_t threads = cfg.cores.size();
  std::string s = "driver " + cfg.driver;
  if (cfg.driver == "xdp")
    s += " on " + (cfg.device.empty() ? std::string("(no device)") : cfg.device) + " (mode " +
         cfg.xdp_mode + ", attach " + cfg.xdp_attach + ")";
  else if (cfg.driver == "dpdk")
    s += " on port " + (cfg.dpdk_port.empty() ? std::string("(the only one)") : cfg.dpdk_port) +
         " (EAL: " + (cfg.dpdk_args.empty() ? std::string("no arguments") : cfg.dpdk_args) + ")";
  else if (!cfg.device.empty())
    s += " (" + cfg.device + ")";
  s += ", " + std::to_string(threads) + (threads == 1 ? " elastic thread" : " elastic threads") +
       " on CPU" + (threads == 1 ? " " : "s ") + join_cpus(cfg.cores);
  const size_t queues = cfg.queues != 0 ? cfg.queues : threads;
  s += " with " + std::to_string(queues) + (queues == 1 ? " NIC queue" : " NIC queues");
  s += ", host " + addr_text(cfg.host_addr, cfg.prefix_len);
  s += cfg.gateway.is_zero() ? std::string(", no gateway") : ", gateway " + cfg.gateway.to_string();
  const uint32_t mbufs = static_cast<uint32_t>(std::min<uint64_t>(pool_size(cfg), kMaxMbufs));
  const uint32_t reserve = mem::default_rx_reserve(mbufs);
  const uint64_t above = uint64_t{mbufs} > 2ull * cfg.batch + 2ull * reserve
                             ? mbufs - 2ull * cfg.batch - 2ull * reserve
                             : 0;
  s += ", batch " + std::to_string(cfg.batch) + ", " + std::to_string(mbufs) + " mbufs per core (" +
       (cfg.mbufs_per_core == 0 ? "derived; " : "") + std::to_string(reserve) +
       " only for reception; received data not held below " + std::to_string(2 * reserve) +
       " free; out of order at most " + std::to_string(std::max<uint32_t>(mbufs / 4, 1)) +
       "; full receive windows of " + std::to_string(cfg.tcp_rcv_buf) + " bytes for " +
       std::to_string(above / std::max<uint32_t>(buffers_for_window(cfg.tcp_rcv_buf), 1)) +
       " connections at once), TCP send buffer " + std::to_string(cfg.tcp_snd_buf) + " bytes, " +
       std::to_string(cfg.flow_groups) + " flow groups, MTU " +
       (cfg.mtu == 0 ? std::string("from the device") : std::to_string(cfg.mtu));
  if (!cfg.stats_file.empty()) s += ", stats to " + cfg.stats_file;
  if (!cfg.control_socket.empty()) s += ", control socket " + cfg.control_socket;
  if (cfg.run_seconds > 0) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%g", cfg.run_seconds);
    s += std::string(", running for ") + secs + " s";
  } else {
    s += ", running until SIGINT/SIGTERM";
  }
  if (!cfg.app.empty()) {
    s += "; application:";
    for (const auto &[name, value] : cfg.app) s += " " + name + "=" + value;
  }
  return s + ".";
}

}  // namespace ix::config
