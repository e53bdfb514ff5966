#include "drivers/dpdk/dpdk_device.hh"

// rte_dev_dma_map/unmap (mapping IX's buffers for a port's DMA) are still
// marked experimental in DPDK 22.11.
#define ALLOW_EXPERIMENTAL_API 1
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>

#include "drivers/dpdk/eal.hh"
#include "drivers/dpdk/peer_memory_guard.hh"
#include "net/rss.hh"

namespace ix::drivers {

namespace {

// Hash types IX steers by: TCP and UDP over IPv4 by 4-tuple, other IPv4
// (fragments included) by address pair, as net/rss.hh models.
constexpr uint64_t kRssL4 = RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_UDP;
constexpr uint64_t kRssWanted = kRssL4 | RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_FRAG_IPV4;
constexpr unsigned kMempoolCache = 64;

// Set-up state shared by every DpdkDevice of the process (never on the fast
// path): which ports are open, and the mempools created so far.
std::mutex g_ports_mu;
std::set<uint16_t> g_open_ports;
// A stopped port's queues still hold mbufs of their mempools until the next
// configuration releases them, so mempools are never freed: reopening a port
// reuses its queue's mempool (same size), and the process's exit frees them.
std::map<std::pair<uint16_t, uint16_t>, rte_mempool *> g_pools;
// Each mempool's loan account (dpdk_queue.hh), kept as long as the mempool.
std::map<rte_mempool *, std::unique_ptr<RxLoans>> g_loans;
unsigned g_pool_generation = 0;
// Zero-copy TX: each queue's attach mempool (bodiless rte_mbufs, kept like
// g_pools) and its return account (dpdk_queue.hh, kept as long).
std::map<std::pair<uint16_t, uint16_t>, rte_mempool *> g_attach_pools;
std::map<rte_mempool *, std::unique_ptr<TxReturns>> g_returns;
// IX pools' data areas registered with the EAL as external memory, and how
// many open devices map each for DMA.
struct ExtMem {
  size_t len = 0;
  unsigned users = 0;
};
std::map<uint8_t *, ExtMem> g_extmem;
constexpr size_t kExtMemPage = 4096;

std::string port_list() {
  std::string s;
  uint16_t p = 0;
  RTE_ETH_FOREACH_DEV(p) {
    char name[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(p, name);
    s += (s.empty() ? "" : ", ") + std::to_string(p) + " (" + name + ")";
  }
  return s.empty() ? std::string("none") : s;
}

std::string no_ports_hint() {
  return "give the EAL a device: --vdev=net_memif0,role=server (shared memory), "
         "--vdev=net_af_packet0,iface=IFNAME, --vdev=net_tap0, or -a BUS:DEV.FN for a NIC bound "
         "to vfio-pci";
}

uint16_t resolve_port(const std::string &spec) {
  const uint16_t count = rte_eth_dev_count_avail();
  if (count == 0)
    throw std::runtime_error("dpdk: the EAL found no ports (EAL arguments '" + eal_args_in_use() +
                             "'); " + no_ports_hint());
  if (spec.empty()) {
    if (count > 1)
      throw std::runtime_error("dpdk: the EAL found " + std::to_string(count) +
                               " ports: " + port_list() + "; choose one with --dpdk-port ID|NAME");
    uint16_t p = 0;
    RTE_ETH_FOREACH_DEV(p) { return p; }
  }
  unsigned id = 0;
  const auto [end, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), id);
  if (ec == std::errc{} && end == spec.data() + spec.size()) {
    if (id >= RTE_MAX_ETHPORTS || !rte_eth_dev_is_valid_port(static_cast<uint16_t>(id)))
      throw std::runtime_error("dpdk_port: no port " + spec + "; ports: " + port_list());
    return static_cast<uint16_t>(id);
  }
  uint16_t p = 0;
  if (rte_eth_dev_get_port_by_name(spec.c_str(), &p) != 0)
    throw std::runtime_error("dpdk_port: no port named '" + spec + "'; ports: " + port_list() +
                             " (a virtual device exists only if dpdk_args has --vdev=" + spec +
                             ",...)");
  return p;
}

std::string errno_text(int err) { return rte_strerror(err < 0 ? -err : err); }

rte_mempool *pool_for(uint16_t port, uint16_t queue, uint32_t n, uint16_t data_room, int socket) {
  const auto key = std::make_pair(port, queue);
  if (auto it = g_pools.find(key); it != g_pools.end()) {
    rte_mempool *mp = it->second;
    if (mp->size == n && rte_pktmbuf_data_room_size(mp) == data_room) return mp;
  }
  char name[RTE_MEMPOOL_NAMESIZE];
  std::snprintf(name, sizeof name, "ix_p%u_q%u_%u", port, queue, g_pool_generation++);
  rte_mempool *mp = rte_pktmbuf_pool_create(name, n, std::min<unsigned>(kMempoolCache, n / 2), 0,
                                            data_room, socket);
  if (mp == nullptr) {
    const int err = rte_errno;
    const double mib = static_cast<double>(n) * (data_room + sizeof(rte_mbuf) + 64) / (1 << 20);
    char size[32];
    std::snprintf(size, sizeof size, "%.1f", mib);
    throw std::runtime_error(
        "dpdk: cannot reserve a mempool of " + std::to_string(n) + " mbufs (~" + size +
        " MiB) for port " + std::to_string(port) + " queue " + std::to_string(queue) + ": " +
        errno_text(err) +
        "; give the EAL more memory (-m 1024 with --no-huge) or reserve huge pages (echo 1024 "
        "> /proc/sys/vm/nr_hugepages), or use fewer queues");
  }
  g_pools[key] = mp;
  return mp;
}

// The attach mempool and return ring of one queue (called with g_ports_mu
// held); the ring is twice the mempool's size (TxReturns).
std::pair<rte_mempool *, TxReturns *> attach_pool_for(uint16_t port, uint16_t queue, uint32_t n,
                                                      int socket) {
  const auto key = std::make_pair(port, queue);
  rte_mempool *mp = nullptr;
  if (auto it = g_attach_pools.find(key); it != g_attach_pools.end() && it->second->size == n) {
    mp = it->second;
  } else {
    char name[RTE_MEMPOOL_NAMESIZE];
    std::snprintf(name, sizeof name, "ix_a%u_q%u_%u", port, queue, g_pool_generation++);
    mp = rte_pktmbuf_pool_create(name, n, std::min<unsigned>(kMempoolCache, n / 2),
                                 static_cast<uint16_t>(tx_attach_priv_size()), 0, socket);
    if (mp == nullptr) return {nullptr, nullptr};
    g_attach_pools[key] = mp;
  }
  std::unique_ptr<TxReturns> &r = g_returns[mp];
  if (!r) {
    char name[RTE_RING_NAMESIZE];
    std::snprintf(name, sizeof name, "ix_r%u_q%u_%u", port, queue, g_pool_generation++);
    auto fresh = std::make_unique<TxReturns>();
    fresh->ring = rte_ring_create_elem(name, sizeof(TxReturn), 2 * mp->size, socket,
                                       RING_F_SC_DEQ | RING_F_EXACT_SZ);
    if (fresh->ring == nullptr) return {nullptr, nullptr};
    r = std::move(fresh);
  }
  // A new opening: what an earlier one left in the ring is not its.
  TxReturn stale;
  while (rte_ring_sc_dequeue_elem(r->ring, &stale, sizeof stale) == 0) {
  }
  return {mp, r.get()};
}

}  // namespace

DpdkDevice::DpdkDevice(const DpdkConfig &cfg) {
  validate(cfg);
  init_eal(cfg.eal_args);
  const uint16_t port = resolve_port(cfg.port);
  {
    std::lock_guard<std::mutex> lock(g_ports_mu);
    if (!g_open_ports.insert(port).second)
      throw std::runtime_error("dpdk: port " + std::to_string(port) +
                               " is already open in this process (one device per port)");
  }
  info_.port_id = port;
  try {
    configure(cfg);
    setup_queues(cfg);
    program_reta();
  } catch (...) {
    std::lock_guard<std::mutex> lock(g_ports_mu);
    g_open_ports.erase(port);
    throw;
  }
  std::printf("%s\n", describe().c_str());
  std::fflush(stdout);
}

DpdkDevice::~DpdkDevice() {
  if (started_) {
    // Frames still waiting in the port's RX rings may carry IX buffers sent
    // zero copy (a ring port loops them back): free them now rather than let
    // a later opening read them (their returns are not taken back). Not on
    // net_memif: its rings are the peer's memory, which the EAL's interrupt
    // thread may be unmapping now (peer_memory_guard.hh), and it never
    // loops frames back.
    for (uint16_t q = 0; q < queues_.size() && info_.driver != "net_memif"; ++q) {
      rte_mbuf *left[DpdkQueue::kMaxBurst];
      uint16_t n;
      for (int bursts = 0; bursts < 1024; ++bursts) {
        if ((n = rte_eth_rx_burst(info_.port_id, q, left, DpdkQueue::kMaxBurst)) == 0) break;
        rte_pktmbuf_free_bulk(left, n);
      }
    }
    started_ = false;
    rte_eth_dev_stop(info_.port_id);
  }
  for (uint16_t q = 0; q < queues_.size(); ++q)
    if (const uint64_t faults = queues_[q]->drops().peer_memory_faults; faults != 0)
      std::fprintf(stderr,
                   "dpdk: %s queue %u: %llu bursts cut short by a fault in memory the peer "
                   "took away (a peer disconnecting mid-burst); each may have lost up to %u "
                   "rte_mbufs and, on TX, the IX buffers sent zero copy in it\n",
                   info_.device.c_str(), static_cast<unsigned>(q),
                   static_cast<unsigned long long>(faults), unsigned{DpdkQueue::kMaxBurst});
  std::lock_guard<std::mutex> lock(g_ports_mu);
  // Buffers the port still holds (or that its peer frees later) are not
  // taken back: their pools may go once the device has.
  for (const auto &q : queues_)
    if (TxReturns *r = q->returns(); r != nullptr) r->live.store(0, std::memory_order_release);
  for (uint8_t *&area : dma_areas_) release_dma_area(area);
  g_open_ports.erase(info_.port_id);
}

void DpdkDevice::warn(std::string text) {
  std::fprintf(stderr, "dpdk: warning: %s\n", text.c_str());
  warnings_.push_back(std::move(text));
}

void DpdkDevice::configure(const DpdkConfig &cfg) {
  const uint16_t port = info_.port_id;
  rte_eth_dev_info dev{};
  if (int rc = rte_eth_dev_info_get(port, &dev); rc != 0)
    throw std::runtime_error("dpdk: cannot query port " + std::to_string(port) + ": " +
                             errno_text(rc));
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  rte_eth_dev_get_name_by_port(port, name);
  info_.device = name;
  info_.driver = dev.driver_name != nullptr ? dev.driver_name : "?";
  info_.max_rx_queues = dev.max_rx_queues;
  info_.max_tx_queues = dev.max_tx_queues;
  const std::string who =
      "port " + std::to_string(port) + " (" + info_.device + ", driver " + info_.driver + ")";

  const uint16_t q = cfg.queues;
  if (q > dev.max_rx_queues || q > dev.max_tx_queues)
    throw std::runtime_error(
        "dpdk: " + who + " offers " + std::to_string(dev.max_rx_queues) + " RX / " +
        std::to_string(dev.max_tx_queues) + " TX queue(s), but " + std::to_string(q) +
        " are needed (one per elastic thread); use fewer cores (--cpu) or give the port more "
        "queues (net_af_packet: qpairs=N; net_memif, net_tap and net_ring: one per queue "
        "pair on both ends)");

  rte_eth_conf conf{};
  // RSS: IX's key (padded with zeros for ports whose key is longer than 40
  // bytes; the IPv4 4-tuple hash reads only the first 16 key bytes).
  const uint64_t rss_hf = dev.flow_type_rss_offloads & kRssWanted;
  std::vector<uint8_t> key(std::max<size_t>(dev.hash_key_size, net::kDefaultRssKey.size()), 0);
  std::copy(net::kDefaultRssKey.begin(), net::kDefaultRssKey.end(), key.begin());
  const bool try_rss = (rss_hf & kRssL4) != 0;
  if (try_rss) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
    conf.rx_adv_conf.rss_conf.rss_key = key.data();
    conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<uint8_t>(key.size());
    if ((dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_RSS_HASH) != 0)
      conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_RSS_HASH;
  }
  // Checksum offloads: the stack has one flag for TCP and UDP, so the port
  // must offer both.
  const uint64_t rx_csum =
      RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
  const bool rx_ip = (dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0;
  const bool rx_l4 =
      (dev.rx_offload_capa & (RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM)) ==
      (RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM);
  conf.rxmode.offloads |=
      dev.rx_offload_capa & rx_csum &
      ((rx_ip ? RTE_ETH_RX_OFFLOAD_IPV4_CKSUM : 0) |
       (rx_l4 ? RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM : 0));
  const bool tx_ip = (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
  const bool tx_l4 =
      (dev.tx_offload_capa & (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM)) ==
      (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM);
  if (tx_ip) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
  if (tx_l4) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;

  int rc = rte_eth_dev_configure(port, q, q, &conf);
  if (rc != 0 && try_rss) {
    // Some PMDs refuse a key of this length: let them hash with their own.
    conf.rx_adv_conf.rss_conf.rss_key = nullptr;
    conf.rx_adv_conf.rss_conf.rss_key_len = 0;
    rc = rte_eth_dev_configure(port, q, q, &conf);
    if (rc == 0)
      warn(who +
           " refused IX's RSS key and hashes with its own (rss_key() reports the key "
           "read back from the port)");
  }
  if (rc != 0 && try_rss) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
    conf.rx_adv_conf.rss_conf = {};
    conf.rxmode.offloads &= ~RTE_ETH_RX_OFFLOAD_RSS_HASH;
    rc = rte_eth_dev_configure(port, q, q, &conf);
    if (rc == 0) warn(who + " refused an RSS configuration; running without RSS");
  }
  if (rc != 0)
    throw std::runtime_error("dpdk: cannot configure " + who + " with " + std::to_string(q) +
                             " queue pair(s): " + errno_text(rc));
  rx_offloads_ = conf.rxmode.offloads;
  tx_offloads_ = conf.txmode.offloads;
  info_.rss = conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS;
  bool key_applied = false;
  if (info_.rss && conf.rx_adv_conf.rss_conf.rss_key != nullptr) {
    // Some PMDs take the key only through an explicit update, not from the
    // configuration; those that took it already accept the same key again.
    rte_eth_rss_conf again = conf.rx_adv_conf.rss_conf;
    key_applied = rte_eth_dev_rss_hash_update(port, &again) == 0;
  }
  if (info_.rss) {
    // Read back the key the port hashes with: what matters is what it does.
    std::vector<uint8_t> back(key.size(), 0);
    rte_eth_rss_conf got{};
    got.rss_key = back.data();
    got.rss_key_len = static_cast<uint8_t>(back.size());
    if (rte_eth_dev_rss_hash_conf_get(port, &got) == 0 && got.rss_key_len >= rss_key_.size()) {
      std::copy_n(back.begin(), rss_key_.size(), rss_key_.begin());
      has_rss_key_ = true;
    } else if (key_applied) {
      // The port cannot report its key but accepted ours.
      std::copy_n(key.begin(), rss_key_.size(), rss_key_.begin());
      has_rss_key_ = true;
    }
    // Otherwise the key is unknown: rss_key() stays empty rather than claim one.
    info_.rss_key_ix =
        has_rss_key_ && std::equal(rss_key_.begin(), rss_key_.end(), net::kDefaultRssKey.begin());
  }
  if (q > 1 && info_.rss && !info_.rss_key_ix)
    warn(who + " hashes with RSS but not with IX's key (" +
         (has_rss_key_ ? "it keeps its own" : "it neither took IX's key nor reports its own") +
         "): flows land on the queue the port's hash picks, so connections IX opens may be "
         "answered on another elastic thread's queue");
  if (q > 1 && !info_.rss)
    warn(who + " cannot steer flows by RSS, yet " + std::to_string(q) +
         " queues were asked for: the port spreads frames its own way (net_af_packet: the "
         "kernel's fanout hash; net_memif/net_ring/net_tap: whichever queue the other end "
         "sends on), so each flow stays on one queue but not on one IX chose. Connections IX "
         "accepts work; replies to connections IX opens may reach another elastic thread, "
         "which does not know them. Use one queue (one --cpu) for clients, or a port with RSS");

  rte_ether_addr mac{};
  if (rte_eth_macaddr_get(port, &mac) == 0) std::copy_n(mac.addr_bytes, 6, mac_.b.begin());
  uint16_t mtu = 1500;
  if (rte_eth_dev_get_mtu(port, &mtu) != 0 || mtu < 68) mtu = 1500;

  caps_.rx_queues = q;
  caps_.tx_queues = q;
  caps_.rss = info_.rss;
  // PMDs built on kernel sockets or devices; memif, ring, null and real
  // NICs bypass the kernel.
  caps_.kernel_path = info_.driver == "net_af_packet" || info_.driver == "net_tap" ||
                      info_.driver == "net_af_xdp" || info_.driver == "net_pcap";
  caps_.rx_hash = (conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_RSS_HASH) != 0;
  caps_.rx_ip_csum = rx_ip;
  caps_.rx_l4_csum = rx_l4;
  caps_.tx_ip_csum = tx_ip;
  caps_.tx_l4_csum = tx_l4;
  // TX gathers any chain, application memory included, into one rte_mbuf.
  caps_.tx_multi_seg = true;
  caps_.tx_external = true;
  caps_.zero_copy = false;
  caps_.mtu = std::min<uint16_t>(mtu, 9000);
  if (cfg.trusted_link) {
    if (info_.driver != "net_memif")
      throw std::runtime_error(
          "dpdk: trusted_link skips every checksum and is only for a "
          "net_memif link between two IX processes, but " +
          who + " is not one; turn trusted_link off");
    // The stack leaves checksums to the "offload"; the port does nothing
    // with them, and the peer, trusted too, does not look.
    caps_.rx_ip_csum = caps_.rx_l4_csum = caps_.tx_ip_csum = caps_.tx_l4_csum = true;
    trusted_link_ = true;
  }
}

void DpdkDevice::setup_queues(const DpdkConfig &cfg) {
  const uint16_t port = info_.port_id;
  uint16_t rxd = cfg.rx_descs, txd = cfg.tx_descs;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd); rc != 0)
    throw std::runtime_error("dpdk: port " + std::to_string(port) +
                             " rejects ring sizes: " + errno_text(rc));
  info_.rx_descs = rxd;
  info_.tx_descs = txd;
  // Each queue's mempool holds its RX ring's worth, its TX ring's worth (a
  // real NIC frees sent mbufs lazily), a burst in flight each way and the
  // per-lcore caches; what it holds beyond that is the receive loan (frames
  // the stack holds in their rte_mbufs, dpdk_queue.hh), by default another
  // RX ring's worth. 2^k - 1 is the mempool's most compact size.
  const uint32_t working = rxd + txd + 2u * DpdkQueue::kMaxBurst + 4u * kMempoolCache;
  uint32_t n = cfg.pool_mbufs;
  if (n == 0) {
    const uint32_t need = working + rxd;
    n = 1;
    while (n < need + 1) n <<= 1;
    n -= 1;
  }
  info_.pool_mbufs = n;
  info_.rx_loan = n > working ? n - working : 0;
  const uint32_t frame = std::max<uint32_t>(caps_.mtu + 18u, 2048);
  const uint16_t data_room = static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + frame);
  int socket = rte_eth_dev_socket_id(port);
  if (socket < 0) socket = SOCKET_ID_ANY;

  rte_eth_dev_info dev{};
  rte_eth_dev_info_get(port, &dev);
  rte_device_ = dev.device;
  // Zero-copy TX needs IX's buffers addressable by the port: with IOVA as VA
  // a buffer's address is its DMA address once its pool's memory is mapped
  // (set_rx_pool); with physical addresses every frame is copied. The
  // attach mempool holds the TX ring's worth, the frames a peer port (a
  // ring) may hold before reading them (an RX ring's worth) and the bursts
  // and caches on the way.
  const bool zero_copy_planned = cfg.tx_zero_copy && rte_eal_iova_mode() == RTE_IOVA_VA;
  if (cfg.tx_zero_copy && !zero_copy_planned)
    tx_copy_reason_ = "the EAL uses physical addresses (IOVA as PA)";
  else if (!cfg.tx_zero_copy)
    tx_copy_reason_ = "dpdk_tx_zero_copy is off";
  uint32_t attach_n = 1;
  while (attach_n < txd + rxd + 2u * DpdkQueue::kMaxBurst + 4u * kMempoolCache + 1) attach_n <<= 1;
  attach_n -= 1;
  if (zero_copy_planned) caps_.pool_device_share = txd + DpdkQueue::kMaxBurst;
  for (uint16_t q = 0; q < caps_.rx_queues; ++q) {
    rte_mempool *pool;
    RxLoans *loans;
    {
      std::lock_guard<std::mutex> lock(g_ports_mu);
      pool = pool_for(port, q, n, data_room, socket);
      std::unique_ptr<RxLoans> &account = g_loans[pool];
      if (!account) account = std::make_unique<RxLoans>();
      loans = account.get();
      // Frames still lent from an earlier device on this mempool count
      // against the new limit too.
      loans->limit = info_.rx_loan;
    }
    rte_eth_rxconf rxc = dev.default_rxconf;
    rxc.offloads = rx_offloads_;
    if (int rc = rte_eth_rx_queue_setup(port, q, rxd, socket, &rxc, pool); rc != 0)
      throw std::runtime_error("dpdk: cannot set up RX queue " + std::to_string(q) + " of port " +
                               std::to_string(port) + " (" + info_.device + "): " + errno_text(rc));
    rte_eth_txconf txc = dev.default_txconf;
    txc.offloads = tx_offloads_;
    if (int rc = rte_eth_tx_queue_setup(port, q, txd, socket, &txc); rc != 0)
      throw std::runtime_error("dpdk: cannot set up TX queue " + std::to_string(q) + " of port " +
                               std::to_string(port) + " (" + info_.device + "): " + errno_text(rc));
    DpdkQueueParams p;
    if (zero_copy_planned) {
      std::lock_guard<std::mutex> lock(g_ports_mu);
      const auto [attach, returns] = attach_pool_for(port, q, attach_n, socket);
      if (attach == nullptr) {
        warn("port " + std::to_string(port) + " queue " + std::to_string(q) +
             ": no memory for the zero-copy TX mempool (" + errno_text(rte_errno) +
             "); that queue copies every frame it sends");
      } else {
        p.attach_pool = attach;
        p.returns = returns;
        p.generation = ++returns->last;
        returns->live.store(p.generation, std::memory_order_release);
      }
    }
    p.port = port;
    p.queue = q;
    p.pool = pool;
    // On a trusted link the PMD is asked for nothing (memif offers nothing).
    p.tx_ip_csum = caps_.tx_ip_csum && !trusted_link_;
    p.tx_l4_csum = caps_.tx_l4_csum && !trusted_link_;
    p.trusted_link = trusted_link_;
    p.loans = loans;
    p.peer_memory = info_.driver == "net_memif";
    if (p.peer_memory) install_peer_memory_guard();
    queues_.push_back(std::make_unique<DpdkQueue>(p));
    dma_areas_.push_back(nullptr);
  }
}

// The indirection table: IX's flow groups spread round-robin over the
// queues, as FlowGroupTable does for the loop wire.
void DpdkDevice::program_reta() {
  if (!info_.rss) return;
  rte_eth_dev_info dev{};
  rte_eth_dev_info_get(info_.port_id, &dev);
  const uint16_t size = dev.reta_size;
  const std::string who = "port " + std::to_string(info_.port_id) + " (" + info_.device +
                          ", driver " + info_.driver + ")";
  if (size == 0) {
    if (caps_.rx_queues > 1)
      warn(who +
           " hashes with RSS but has no settable indirection table: flows spread over "
           "the queues by the port's own table, not by IX's flow groups");
    return;
  }
  if (int rc = write_reta(net::FlowGroupTable(size, caps_.rx_queues)); rc != 0) {
    if (caps_.rx_queues > 1)
      warn(who + " refused IX's RSS indirection table (" + errno_text(rc) +
           "): flows spread by the port's default table");
    return;
  }
  info_.reta_set = true;
  info_.reta_size = size;
  caps_.reta_size = size;
}

int DpdkDevice::write_reta(const net::FlowGroupTable &table) {
  const uint16_t size = table.size();
  std::vector<rte_eth_rss_reta_entry64> reta((size + RTE_ETH_RETA_GROUP_SIZE - 1) /
                                             RTE_ETH_RETA_GROUP_SIZE);
  for (uint16_t g = 0; g < size; ++g) {
    auto &e = reta[g / RTE_ETH_RETA_GROUP_SIZE];
    e.mask |= uint64_t{1} << (g % RTE_ETH_RETA_GROUP_SIZE);
    e.reta[g % RTE_ETH_RETA_GROUP_SIZE] = table.queue_of_group(g);
  }
  return rte_eth_dev_rss_reta_update(info_.port_id, reta.data(), size);
}

// The runtime's flow groups (each thread's queue is its id) go straight into
// the NIC's table, so the NIC delivers each frame to the thread that owns its
// group and nothing is re-hashed or forwarded in software.
bool DpdkDevice::set_flow_groups(const net::FlowGroupTable &table) {
  if (!info_.reta_set || table.size() != info_.reta_size) return false;
  for (uint16_t g = 0; g < table.size(); ++g)
    if (table.queue_of_group(g) >= caps_.rx_queues) return false;
  return write_reta(table) == 0;
}

std::vector<uint16_t> DpdkDevice::read_reta() const {
  rte_eth_dev_info dev{};
  if (rte_eth_dev_info_get(info_.port_id, &dev) != 0 || dev.reta_size == 0) return {};
  std::vector<rte_eth_rss_reta_entry64> reta((dev.reta_size + RTE_ETH_RETA_GROUP_SIZE - 1) /
                                             RTE_ETH_RETA_GROUP_SIZE);
  for (auto &e : reta) e.mask = ~uint64_t{0};
  if (rte_eth_dev_rss_reta_query(info_.port_id, reta.data(), dev.reta_size) != 0) return {};
  std::vector<uint16_t> out(dev.reta_size);
  for (uint16_t g = 0; g < dev.reta_size; ++g)
    out[g] = reta[g / RTE_ETH_RETA_GROUP_SIZE].reta[g % RTE_ETH_RETA_GROUP_SIZE];
  return out;
}

void DpdkDevice::set_rx_pool(uint16_t q, mem::MbufPool *pool) {
  if (q >= queues_.size())
    throw std::out_of_range("dpdk: set_rx_pool for queue " + std::to_string(q) + " but " +
                            info_.device + " was opened with " + std::to_string(queues_.size()) +
                            " queue(s)");
  DpdkQueue &queue = *queues_[q];
  mem::MbufPool *old = queue.rx_pool();
  if (old == pool) return;
  queue.set_rx_pool(pool);
  TxReturns *returns = queue.returns();
  if (returns == nullptr) return;
  std::lock_guard<std::mutex> lock(g_ports_mu);
  if (old != nullptr) {
    // Another pool: what the port still holds of the old one stays out
    // (the old pool may be about to go), and its memory is no longer sent.
    old->set_device_held(0);
    const uint32_t generation = ++returns->last;
    returns->live.store(generation, std::memory_order_release);
    queue.start_generation(generation);
    release_dma_area(dma_areas_[q]);
  }
  std::string why;
  const bool mapped = pool != nullptr && map_for_dma(pool, &why);
  if (mapped) dma_areas_[q] = pool->data_area();
  queue.set_tx_zero_copy(mapped);
  if (pool != nullptr && !mapped)
    warn(info_.device + " queue " + std::to_string(q) + " copies every frame it sends: " + why);
}

// Called with g_ports_mu held.
bool DpdkDevice::map_for_dma(mem::MbufPool *pool, std::string *why) {
  uint8_t *addr = pool->data_area();
  const size_t len = (pool->data_bytes() + kExtMemPage - 1) / kExtMemPage * kExtMemPage;
  auto it = g_extmem.find(addr);
  if (it != g_extmem.end() && it->second.len != len) {
    *why = "another buffer pool's memory is registered at the same address";
    return false;
  }
  const bool fresh = it == g_extmem.end();
  if (fresh && rte_extmem_register(addr, len, nullptr, 0, kExtMemPage) != 0) {
    *why = "the EAL refused to register the buffer pool's memory (rte_extmem_register: " +
           errno_text(rte_errno) + ")";
    return false;
  }
  // Virtual devices read buffers by their address and need no mapping
  // (ENOTSUP); a NIC behind the IOMMU gets one, which another port in the
  // same container may have made already (EEXIST).
  if (rte_dev_dma_map(static_cast<rte_device *>(rte_device_), addr,
                      reinterpret_cast<uint64_t>(addr), len) != 0 &&
      rte_errno != ENOTSUP && rte_errno != EEXIST) {
    *why =
        "the port cannot map the buffer pool for DMA (rte_dev_dma_map: " + errno_text(rte_errno) +
        ")";
    if (fresh) rte_extmem_unregister(addr, len);
    return false;
  }
  if (fresh) it = g_extmem.emplace(addr, ExtMem{len, 0}).first;
  ++it->second.users;
  return true;
}

// Called with g_ports_mu held. The last user of an area unmaps and
// unregisters it: a mapping in a VFIO container several ports share must
// outlive each of them but the last.
void DpdkDevice::release_dma_area(uint8_t *&addr) {
  if (addr == nullptr) return;
  auto it = g_extmem.find(addr);
  if (it != g_extmem.end() && --it->second.users == 0) {
    rte_dev_dma_unmap(static_cast<rte_device *>(rte_device_), addr,
                      reinterpret_cast<uint64_t>(addr), it->second.len);
    rte_extmem_unregister(addr, it->second.len);
    g_extmem.erase(it);
  }
  addr = nullptr;
}

void DpdkDevice::start() {
  for (size_t q = 0; q < queues_.size(); ++q)
    if (queues_[q]->rx_pool() == nullptr)
      throw std::logic_error("dpdk: set_rx_pool was not called for queue " + std::to_string(q) +
                             " of " + info_.device);
  if (started_) return;
  if (int rc = rte_eth_dev_start(info_.port_id); rc != 0)
    throw std::runtime_error("dpdk: cannot start port " + std::to_string(info_.port_id) + " (" +
                             info_.device + "): " + errno_text(rc));
  started_ = true;
}

QueueStats DpdkDevice::stats(uint16_t q) const {
  return q < queues_.size() ? queues_[q]->stats() : QueueStats{};
}

DpdkQueueDrops DpdkDevice::drops(uint16_t q) const {
  return q < queues_.size() ? queues_[q]->drops() : DpdkQueueDrops{};
}

std::string_view DpdkDevice::rss_key() const {
  if (!has_rss_key_) return {};
  return {reinterpret_cast<const char *>(rss_key_.data()), rss_key_.size()};
}

std::string DpdkDevice::describe() const {
  std::string s = "dpdk: port " + std::to_string(info_.port_id) + " " + info_.device + " (driver " +
                  info_.driver + "), " + std::to_string(caps_.rx_queues) + " queue pair(s) of " +
                  std::to_string(info_.max_rx_queues) + " RX / " +
                  std::to_string(info_.max_tx_queues) + " TX, " + std::to_string(info_.rx_descs) +
                  "/" + std::to_string(info_.tx_descs) + " descriptors, " +
                  std::to_string(info_.pool_mbufs) + " mbufs per queue (" +
                  std::to_string(info_.rx_loan) + " received frames lent without a copy), mac " +
                  mac_.to_string() + ", MTU " + std::to_string(caps_.mtu) + "; RSS ";
  if (!info_.rss)
    s += "none";
  else
    s += std::string(info_.rss_key_ix ? "with IX's key"
                     : has_rss_key_   ? "with the port's own key"
                                      : "with an unknown key") +
         (info_.reta_set ? ", table of " + std::to_string(info_.reta_size) + " entries set"
                         : ", default table");
  auto where = [](bool hw) { return hw ? "port" : "software"; };
  if (trusted_link_)
    s += "; checksums: none (trusted link)";
  else
    s += std::string("; checksums: TX IPv4 ") + where(caps_.tx_ip_csum) + ", TX TCP/UDP " +
         where(caps_.tx_l4_csum) + ", RX IPv4 " + where(caps_.rx_ip_csum) + ", RX TCP/UDP " +
         where(caps_.rx_l4_csum);
  s += tx_copy_reason_.empty() ? std::string("; TX zero copy for frames in one IX buffer")
                               : "; TX copies every frame (" + tx_copy_reason_ + ")";
  return s;
}

}  // namespace ix::drivers
