// What one dataplane process runs with: the NIC, the cores, the host's
// address and the knobs of the run-to-completion loop. Filled from an
// IX-style config file and command-line flags (see config/parse_args.hh);
// validate() checks a filled-in value however it was built.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mem/mbuf_pool.hh"
#include "net/addr.hh"

namespace ix::config {

struct DataplaneConfig {
  std::string driver = "xdp";         // "xdp", "dpdk" or "loop"
  std::string device;                 // interface for xdp (required for xdp)
  std::string dpdk_args;              // DPDK EAL arguments, e.g. "--no-huge -m 512 --vdev=..."
  std::string dpdk_port;              // DPDK port id or device name; empty: the only port
  std::string xdp_mode = "auto";      // auto|copy|zerocopy
  std::string xdp_attach = "auto";    // auto|native|skb
  bool trusted_link = false;          // no checksums: memif between IX processes only
  bool dpdk_tx_zero_copy = true;      // dpdk: send frames in the pool's buffers
  std::string tcp_cc = "cubic";       // TCP congestion control: cubic|newreno
  uint32_t tcp_max_conns = 262144;    // TCP connections per elastic thread (TcpConfig's default)
  uint32_t tcp_rcv_buf = 256 * 1024;  // bytes a connection holds for the application (its window)
  uint32_t tcp_snd_buf = 256 * 1024;  // application bytes a connection references, unacknowledged
  std::vector<int> cores = {0};  // one elastic thread per entry, pinned to that CPU; -1 = unpinned
  uint16_t queues = 0;           // NIC queues; 0 = one per core
  net::Ipv4Addr host_addr;       // required
  uint8_t prefix_len = 24;
  net::Ipv4Addr gateway;  // optional (zero: none)
  uint16_t batch = 64;    // adaptive batching bound (1..1024)
  // Empty polls before an idle elastic thread yields its CPU once; 0 never
  // yields; -1 (auto): 64 when the device's frames pass through this host's
  // kernel (DeviceCaps::kernel_path), else never.
  int32_t idle_yield = -1;
  uint32_t mbufs_per_core = 0;  // 0: derived from the windows and the connection limit (pool_size)
  uint16_t flow_groups = 128;
  uint16_t mtu = 0;            // 0 = the device's
  std::string stats_file;      // optional: where to write counters at exit (JSON)
  std::string control_socket;  // optional: Unix socket for ixctl (control/)
  // The control plane's policy (control/elastic_policy.hh): the runtime
  // runs on as many of its threads as the load needs.
  bool elastic = false;
  uint32_t elastic_window_us = 10'000;
  uint32_t elastic_grow_busy_pct = 85;
  uint32_t elastic_shrink_pct = 60;
  std::string dataplane;                   // protected mode: ixd's socket; empty: library mode
  double run_seconds = 0;                  // 0 = until SIGINT/SIGTERM
  std::map<std::string, std::string> app;  // application options, by name
};

// Limits the parser and validate() enforce (shared so help text and errors agree).
inline constexpr int kMaxCpu = 1023;
inline constexpr int32_t kMaxIdleYield = 1'000'000;  // CPU_SETSIZE - 1
inline constexpr unsigned kMaxCores = 1024;
inline constexpr unsigned kMaxQueues = 1024;
inline constexpr unsigned kMinBatch = 1, kMaxBatch = 1024;
inline constexpr uint32_t kMinMbufs = 64, kMaxMbufs = 1u << 24;

// Buffers a full receive window takes when full-sized segments fill it
// (1448 bytes of payload each: an Ethernet MTU with TCP timestamps).
inline constexpr uint32_t kWindowSegmentBytes = 1448;
inline uint32_t buffers_for_window(uint32_t bytes) {
  return static_cast<uint32_t>((uint64_t{bytes} + kWindowSegmentBytes - 1) / kWindowSegmentBytes);
}
// The derived pool: at least this many buffers, and enough for this many
// connections (or the connection limit, if lower) to fill their receive
// windows at once.
inline constexpr uint32_t kMinDerivedMbufs = 8192;
inline constexpr uint32_t kFullWindowsDerived = 8;

// The fewest buffers with which a core can hold `windows` full receive
// windows of rcv_buf bytes, a received batch and a batch of replies above
// the level where it stops holding received data (twice the receive-only
// reserve, mem::default_rx_reserve). More than kMaxMbufs if none can.
inline uint64_t min_mbufs_for(uint32_t batch, uint32_t rcv_buf = 0, uint32_t windows = 0) {
  const uint64_t fixed = 2ull * batch + uint64_t{windows} * buffers_for_window(rcv_buf);
  // The reserve is about 1/16 of the pool, so the answer is near 8/7 of `fixed`.
  uint64_t n = std::max<uint64_t>(kMinMbufs, fixed);
  while (n <= kMaxMbufs && n < fixed + 2ull * mem::default_rx_reserve(static_cast<uint32_t>(n)))
    ++n;
  return n;
}

// The pool each elastic thread gets: the configured size, or (mbufs 0) the
// one derived from the windows and the connection limit.
inline uint64_t pool_size(const DataplaneConfig &cfg) {
  if (cfg.mbufs_per_core != 0) return cfg.mbufs_per_core;
  return std::max<uint64_t>(
      kMinDerivedMbufs,
      min_mbufs_for(cfg.batch, cfg.tcp_rcv_buf, std::min(cfg.tcp_max_conns, kFullWindowsDerived)));
}
// A TCP handle has 24 bits of slot index (net/tcp/conn_table.hh).
inline constexpr uint32_t kMinTcpConns = 1, kMaxTcpConns = 1u << 24;
// A receive buffer beyond what window scale 7 (TcpConfig::wscale) can
// advertise would never be used.
inline constexpr uint32_t kMinTcpBuf = 4096, kMaxTcpRcvBuf = 65535u << 7, kMaxTcpSndBuf = 64u << 20;
inline constexpr unsigned kMinFlowGroups = 1, kMaxFlowGroups = 4096;
inline constexpr unsigned kMinMtu = 68, kMaxMtu = 9000;  // 68: the IPv4 minimum (RFC 791)
inline constexpr double kMaxRunSeconds = 1e9;
inline constexpr size_t kMaxIfnameLen = 15;  // IFNAMSIZ - 1

// Empty if cfg is usable; otherwise one message naming the field, its value
// and how to fix it.
std::string validate(const DataplaneConfig &cfg);

// One paragraph for start-up logs, e.g. "driver xdp on veth0 (mode auto,
// attach auto), 2 elastic threads on CPUs 0,1 with 2 NIC queues, ...".
std::string describe(const DataplaneConfig &cfg);

}  // namespace ix::config
