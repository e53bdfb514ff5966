#include "config/option_table.hh"

#include <array>
#include <cstdio>

#include "config/value_parsers.hh"

namespace ix::config {
namespace {

template <typename T>
std::string set_integer(std::string_view text, int64_t min, int64_t max, T &field) {
  int64_t v = 0;
  std::string err = parse_integer(text, min, max, v);
  if (err.empty()) field = static_cast<T>(v);
  return err;
}

std::string or_none(const std::string &s, const char *none) { return s.empty() ? none : s; }

const std::array<OptionSpec, 29> kOptions = {{
    {"driver", "driver", "", "NAME",
     "NIC driver: xdp (AF_XDP on a Linux interface), dpdk (any DPDK port) or loop "
     "(in-process loopback, for tests)",
     [](std::string_view v, DataplaneConfig &c) {
       return parse_choice(v, {"xdp", "dpdk", "loop"}, "driver", c.driver);
     },
     [](const DataplaneConfig &c) { return c.driver; }},
    {"device", "dev", "devices", "IFNAME",
     "network interface the xdp driver attaches to (also --device; IX's key was devices)",
     [](std::string_view v, DataplaneConfig &c) { return parse_single_name(v, c.device); },
     [](const DataplaneConfig &c) { return or_none(c.device, "none; required for xdp"); }},
    {"dpdk_args", "dpdk-args", "", "'EAL ARGS'",
     "DPDK EAL arguments for the dpdk driver, one quoted string, e.g. \"-a 0000:01:00.0\" or "
     "\"--no-huge -m 512 --no-pci --vdev=net_memif0,role=server\"",
     [](std::string_view v, DataplaneConfig &c) {
       // A config file's `dpdk_args = "..."` quotes the whole list; quotes
       // inside it are the EAL splitter's (drivers/dpdk/dpdk_config.hh).
       v = trim(v);
       if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front() &&
           v.substr(1, v.size() - 2).find(v.front()) == std::string_view::npos)
         v = v.substr(1, v.size() - 2);
       c.dpdk_args = std::string(v);
       return std::string();
     },
     [](const DataplaneConfig &c) { return or_none(c.dpdk_args, "none"); }, true},
    {"dpdk_port", "dpdk-port", "", "ID|NAME",
     "DPDK port the dpdk driver uses: its id or device name (net_memif0, 0000:01:00.0)",
     [](std::string_view v, DataplaneConfig &c) { return parse_single_name(v, c.dpdk_port); },
     [](const DataplaneConfig &c) { return or_none(c.dpdk_port, "the only port"); }},
    {"dpdk_tx_zero_copy", "dpdk-tx-zero-copy", "", "on|off",
     "dpdk driver: hand each frame built in one IX buffer to the port in that buffer (on), or "
     "copy every sent frame into an rte_mbuf (off, for comparison)",
     [](std::string_view v, DataplaneConfig &c) {
       return parse_on_off(v, "dpdk TX zero copy", c.dpdk_tx_zero_copy);
     },
     [](const DataplaneConfig &c) { return on_off(c.dpdk_tx_zero_copy); }},
    {"xdp_mode", "xdp-mode", "", "MODE",
     "AF_XDP buffer mode: auto, copy or zerocopy (zerocopy needs driver support)",
     [](std::string_view v, DataplaneConfig &c) {
       return parse_choice(v, {"auto", "copy", "zerocopy"}, "XDP mode", c.xdp_mode);
     },
     [](const DataplaneConfig &c) { return c.xdp_mode; }},
    {"xdp_attach", "xdp-attach", "", "MODE",
     "how the XDP program attaches: auto, native (in the driver) or skb (generic)",
     [](std::string_view v, DataplaneConfig &c) {
       return parse_choice(v, {"auto", "native", "skb"}, "XDP attach mode", c.xdp_attach);
     },
     [](const DataplaneConfig &c) { return c.xdp_attach; }},
    {"trusted_link", "trusted-link", "", "on|off",
     "skip every checksum on both ends: only for a net_memif link (driver dpdk) to another IX "
     "process with the same setting, never a NIC or veth (README, \"Trusted links\")",
     [](std::string_view v, DataplaneConfig &c) {
       return parse_on_off(v, "trusted link", c.trusted_link);
     },
     [](const DataplaneConfig &c) { return on_off(c.trusted_link); }},
    {"tcp_cc", "tcp-cc", "", "NAME",
     "TCP congestion control: cubic (RFC 9438) or newreno (RFC 5681/6582)",
     [](std::string_view v, DataplaneConfig &c) {
       return parse_choice(v, {"cubic", "newreno"}, "TCP congestion control", c.tcp_cc);
     },
     [](const DataplaneConfig &c) { return c.tcp_cc; }},
    {"tcp_max_conns", "tcp-max-conns", "", "N",
     "TCP connections (TIME_WAIT included) per elastic thread; slots are made as needed, the "
     "limit itself costs 4 bytes per connection",
     [](std::string_view v, DataplaneConfig &c) {
       return set_integer(v, kMinTcpConns, kMaxTcpConns, c.tcp_max_conns);
     },
     [](const DataplaneConfig &c) { return std::to_string(c.tcp_max_conns); }},
    {"tcp_rcv_buf", "tcp-rcv-buf", "", "BYTES",
     "bytes each TCP connection holds for the application: its largest receive window "
     "(4096..8388480)",
     [](std::string_view v, DataplaneConfig &c) {
       return set_integer(v, kMinTcpBuf, kMaxTcpRcvBuf, c.tcp_rcv_buf);
     },
     [](const DataplaneConfig &c) { return std::to_string(c.tcp_rcv_buf); }},
    {"tcp_snd_buf", "tcp-snd-buf", "", "BYTES",
     "application bytes each TCP connection references until they are acknowledged "
     "(4096..67108864)",
     [](std::string_view v, DataplaneConfig &c) {
       return set_integer(v, kMinTcpBuf, kMaxTcpSndBuf, c.tcp_snd_buf);
     },
     [](const DataplaneConfig &c) { return std::to_string(c.tcp_snd_buf); }},
    {"cpu", "cpu", "cores", "LIST",
     "CPUs to run elastic threads on, one thread per entry, e.g. 0,1 or [0, 1]; -1 runs a "
     "thread unpinned",
     [](std::string_view v, DataplaneConfig &c) { return parse_cpu_list(v, kMaxCpu, c.cores); },
     [](const DataplaneConfig &c) {
       std::string s;
       for (int cpu : c.cores) s += (s.empty() ? "" : ",") + std::to_string(cpu);
       return s;
     }},
    {"queues", "queues", "", "N", "NIC queues to use; 0 gives one per elastic thread",
     [](std::string_view v, DataplaneConfig &c) { return set_integer(v, 0, kMaxQueues, c.queues); },
     [](const DataplaneConfig &c) {
       return c.queues == 0 ? std::string("0 = one per thread") : std::to_string(c.queues);
     }},
    {"host_addr", "host-addr", "", "ADDR/PREFIX",
     "this host's IPv4 address and subnet prefix, e.g. 10.0.0.2/24",
     [](std::string_view v, DataplaneConfig &c) {
       return parse_addr_with_prefix(v, c.host_addr, c.prefix_len);
     },
     [](const DataplaneConfig &c) {
       return c.host_addr.is_zero() ? std::string("none; required")
                                    : c.host_addr.to_string() + "/" + std::to_string(c.prefix_len);
     }},
    {"gateway_addr", "gateway", "", "ADDR",
     "IPv4 gateway for destinations outside the subnet; empty for none",
     [](std::string_view v, DataplaneConfig &c) { return parse_optional_addr(v, c.gateway); },
     [](const DataplaneConfig &c) {
       return c.gateway.is_zero() ? std::string("none") : c.gateway.to_string();
     }},
    {"batch", "batch", "", "N",
     "adaptive batching bound: most packets taken from a queue per loop iteration",
     [](std::string_view v, DataplaneConfig &c) {
       return set_integer(v, kMinBatch, kMaxBatch, c.batch);
     },
     [](const DataplaneConfig &c) { return std::to_string(c.batch); }},
    {"idle_yield", "idle-yield", "", "auto|N",
     "yield the CPU once after N empty polls (0: never); auto yields after 64 only when frames "
     "pass through this host's kernel (AF_XDP), whose softirq work may need the same CPU",
     [](std::string_view v, DataplaneConfig &c) {
       if (trim(v) == "auto") {
         c.idle_yield = -1;
         return std::string();
       }
       std::string err = set_integer(v, 0, kMaxIdleYield, c.idle_yield);
       return err.empty() ? err : err + " (or auto)";
     },
     [](const DataplaneConfig &c) {
       return c.idle_yield < 0 ? std::string("auto") : std::to_string(c.idle_yield);
     }},
    {"mbufs", "mbufs", "mbufs_per_core", "N",
     "packet buffers in each elastic thread's pool; 0 (auto) derives it: enough for 8 "
     "connections (or tcp_max_conns, if fewer) to fill their receive windows at once beside "
     "the batches and the receive-only reserve, and at least 8192",
     [](std::string_view v, DataplaneConfig &c) {
       if (trim(v) == "auto") {
         c.mbufs_per_core = 0;
         return std::string();
       }
       uint32_t n = 0;
       std::string err = set_integer(v, 0, kMaxMbufs, n);
       if (!err.empty()) return err + " (or auto)";
       if (n != 0 && n < kMinMbufs)
         return std::to_string(n) + " is out of range " + std::to_string(kMinMbufs) + ".." +
                std::to_string(kMaxMbufs) + " (or 0 / auto)";
       c.mbufs_per_core = n;
       return std::string();
     },
     [](const DataplaneConfig &c) {
       return c.mbufs_per_core == 0 ? "auto (" + std::to_string(pool_size(c)) + ")"
                                    : std::to_string(c.mbufs_per_core);
     }},
    {"flow_groups", "flow-groups", "", "N",
     "RSS flow groups (indirection table entries) spread over the elastic threads",
     [](std::string_view v, DataplaneConfig &c) {
       return set_integer(v, kMinFlowGroups, kMaxFlowGroups, c.flow_groups);
     },
     [](const DataplaneConfig &c) { return std::to_string(c.flow_groups); }},
    {"mtu", "mtu", "", "BYTES", "IP MTU; 0 uses the device's",
     [](std::string_view v, DataplaneConfig &c) {
       uint16_t mtu = 0;
       std::string err = set_integer(v, 0, kMaxMtu, mtu);
       if (err.empty() && mtu != 0 && mtu < kMinMtu)
         return std::to_string(mtu) + " is out of range " + std::to_string(kMinMtu) + ".." +
                std::to_string(kMaxMtu) + " (0 uses the device's MTU)";
       if (err.empty()) c.mtu = mtu;
       return err;
     },
     [](const DataplaneConfig &c) {
       return c.mtu == 0 ? std::string("0 = the device's") : std::to_string(c.mtu);
     }},
    {"stats_file", "stats-file", "", "PATH",
     "write the dataplane counters to PATH as JSON at exit; empty for none",
     [](std::string_view v, DataplaneConfig &c) {
       c.stats_file = std::string(trim(v));
       return std::string();
     },
     [](const DataplaneConfig &c) { return or_none(c.stats_file, "none"); }},
    {"dataplane", "dataplane", "", "PATH",
     "protected mode: attach to the dataplane process (ixd) listening on the Unix socket PATH "
     "instead of running the stack in this process; the NIC, cores, addresses and TCP settings "
     "are then ixd's, and this process's own are not used",
     [](std::string_view v, DataplaneConfig &c) {
       c.dataplane = std::string(trim(v));
       return std::string();
     },
     [](const DataplaneConfig &c) { return or_none(c.dataplane, "none (library mode)"); }},
    {"control_socket", "control-socket", "", "PATH",
     "serve live counters and the TCP connection list on the Unix socket PATH while running "
     "(ixctl PATH stats|conns); empty for none",
     [](std::string_view v, DataplaneConfig &c) {
       c.control_socket = std::string(trim(v));
       return std::string();
     },
     [](const DataplaneConfig &c) { return or_none(c.control_socket, "none"); }},
    {"elastic", "elastic", "", "on|off",
     "the control plane: run on as many of the --cpu threads as the load needs, gathering flow "
     "groups onto fewer threads and parking the rest when idle, spreading them when busy "
     "(README, \"Elastic threads\"); `ixctl PATH elastic` shows its signals and decisions",
     [](std::string_view v, DataplaneConfig &c) { return parse_on_off(v, "elastic", c.elastic); },
     [](const DataplaneConfig &c) { return on_off(c.elastic); }},
    {"elastic_window_us", "elastic-window-us", "", "MICROSECONDS",
     "how often the control plane reads the threads' load and decides",
     [](std::string_view v, DataplaneConfig &c) {
       return set_integer(v, 100u, 10'000'000u, c.elastic_window_us);
     },
     [](const DataplaneConfig &c) { return std::to_string(c.elastic_window_us); }},
    {"elastic_grow_busy", "elastic-grow-busy", "", "PERCENT",
     "add a thread when one is busy this share of its loop (or has half its polls full) for 2 "
     "windows in a row",
     [](std::string_view v, DataplaneConfig &c) {
       return set_integer(v, 1u, 100u, c.elastic_grow_busy_pct);
     },
     [](const DataplaneConfig &c) { return std::to_string(c.elastic_grow_busy_pct); }},
    {"elastic_shrink", "elastic-shrink", "", "PERCENT",
     "remove a thread when the load would keep one fewer at most this busy, for 20 windows",
     [](std::string_view v, DataplaneConfig &c) {
       return set_integer(v, 1u, 100u, c.elastic_shrink_pct);
     },
     [](const DataplaneConfig &c) { return std::to_string(c.elastic_shrink_pct); }},
    {"run_seconds", "seconds", "", "SECONDS",
     "stop after this many seconds; 0 runs until SIGINT/SIGTERM",
     [](std::string_view v, DataplaneConfig &c) {
       return parse_seconds(v, kMaxRunSeconds, c.run_seconds);
     },
     [](const DataplaneConfig &c) {
       if (c.run_seconds == 0) return std::string("0 = until SIGINT/SIGTERM");
       char s[32];
       std::snprintf(s, sizeof s, "%g", c.run_seconds);
       return std::string(s);
     }},
}};

}  // namespace

std::span<const OptionSpec> dataplane_options() { return kOptions; }

std::string canonical_name(std::string_view name) {
  std::string s(name);
  for (char &c : s)
    if (c == '-') c = '_';
  return s;
}

const OptionSpec *find_option(std::string_view name) {
  const std::string want = canonical_name(name);
  if (want.empty()) return nullptr;
  for (const OptionSpec &o : kOptions) {
    if (want == canonical_name(o.key) || want == canonical_name(o.flag) ||
        (!o.alias.empty() && want == canonical_name(o.alias)))
      return &o;
  }
  return nullptr;
}

}  // namespace ix::config
