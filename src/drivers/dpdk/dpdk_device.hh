// DPDK driver: any port the EAL can drive becomes an IX device. Real NICs
// (`-a 0000:01:00.0` with vfio-pci) and virtual ones (`--vdev=net_memif0`,
// net_af_packet, net_af_xdp, net_tap, net_ring, net_null) look the same.
//
// One RX/TX queue pair per elastic thread. Where the port can, RSS hashes
// with IX's Toeplitz key (net/rss.hh) and the indirection table spreads IX's
// flow groups over the queues, so the port steers a flow to the core IX
// expects. Ports without RSS (net_memif, net_tap, net_af_packet...) are fine
// with one queue; with several, the port spreads frames its own way and the
// constructor prints a warning saying what that means (see warnings()).
// Checksum offloads are used when the port offers them for IPv4, TCP and UDP
// alike, otherwise the stack computes checksums in software.
//
// Received frames are lent to the stack in their rte_mbufs and frames in one
// pool buffer are sent in it (see dpdk_queue.hh); the rest is copied once.
// This header names no DPDK type; only src/drivers/dpdk/*.cc include DPDK.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "drivers/device.hh"
#include "drivers/dpdk/dpdk_config.hh"
#include "drivers/dpdk/dpdk_queue.hh"

namespace ix::drivers {

// What the port offers and what was set up, for start-up logs and tests.
struct DpdkPortInfo {
  uint16_t port_id = 0;
  std::string device;  // device name, e.g. "net_memif0" or "0000:01:00.0"
  std::string driver;  // PMD, e.g. "net_memif"
  uint16_t max_rx_queues = 0;
  uint16_t max_tx_queues = 0;
  uint16_t rx_descs = 0;  // per queue, after the PMD's adjustment
  uint16_t tx_descs = 0;
  uint32_t pool_mbufs = 0;  // per queue
  uint32_t rx_loan = 0;     // per queue: frames the stack may hold in rte_mbufs (zero copy)
  bool rss = false;         // RSS hashing configured
  bool rss_key_ix = false;  // ... with IX's key (false: the port's own key)
  bool reta_set = false;    // the indirection table holds IX's flow-group spread
  uint16_t reta_size = 0;
};

class DpdkDevice final : public Device {
 public:
  // Initialises the EAL on first use (see eal.hh), then configures the port
  // and its queues. Throws std::invalid_argument for a bad config and
  // std::runtime_error naming the problem and the fix when the EAL cannot
  // start, the port does not exist or is open already, it has too few queues,
  // or a mempool cannot be reserved.
  explicit DpdkDevice(const DpdkConfig &cfg);
  ~DpdkDevice() override;
  DpdkDevice(const DpdkDevice &) = delete;
  DpdkDevice &operator=(const DpdkDevice &) = delete;

  std::string_view name() const override { return info_.device; }
  const DeviceCaps &caps() const override { return caps_; }
  net::MacAddr mac() const override { return mac_; }

  void set_rx_pool(uint16_t q, mem::MbufPool *pool) override;
  // Starts the port (rte_eth_dev_start); every queue needs its pool first.
  void start() override;

  uint16_t rx_burst(uint16_t q, mem::Mbuf **pkts, uint16_t max) override {
    return q < queues_.size() && started_ ? queues_[q]->rx_burst(pkts, max) : 0;
  }
  uint16_t tx_burst(uint16_t q, mem::Mbuf **pkts, uint16_t n) override {
    return q < queues_.size() && started_ ? queues_[q]->tx_burst(pkts, n) : 0;
  }

  QueueStats stats(uint16_t q) const override;
  DpdkQueueDrops drops(uint16_t q) const;
  std::string_view rss_key() const override;
  // Programs the RSS indirection table with the runtime's flow groups
  // (group g to RX queue table.queue_of_group(g)). False, changing nothing,
  // when the port has no table IX could set or one of another size.
  bool set_flow_groups(const net::FlowGroupTable &table) override;

  const DpdkPortInfo &port_info() const { return info_; }
  // The port's indirection table as it reports it (entry -> queue); empty if
  // the port has none or cannot report it.
  std::vector<uint16_t> read_reta() const;
  // What the port cannot do that IX would use, one sentence each; also
  // printed to stderr at construction.
  const std::vector<std::string> &warnings() const { return warnings_; }
  // One line: port, driver, queues, RSS and offloads (printed at construction).
  std::string describe() const;

 private:
  void configure(const DpdkConfig &cfg);
  void setup_queues(const DpdkConfig &cfg);
  void program_reta();
  int write_reta(const net::FlowGroupTable &table);  // rte_eth_dev_rss_reta_update's result
  // Registers the pool's data area with the EAL and maps it for the port's
  // DMA (zero-copy TX); false, saying why, if either is refused.
  bool map_for_dma(mem::MbufPool *pool, std::string *why);
  // One user fewer of the area at addr (unmapped after the last); clears addr.
  void release_dma_area(uint8_t *&addr);
  void warn(std::string text);

  DpdkPortInfo info_;
  DeviceCaps caps_;
  net::MacAddr mac_;
  std::array<uint8_t, 40> rss_key_{};
  bool has_rss_key_ = false;
  bool started_ = false;
  bool trusted_link_ = false;  // DpdkConfig::trusted_link, checked against the port
  uint64_t rx_offloads_ = 0;   // RTE_ETH_RX_OFFLOAD_* the port was configured with
  uint64_t tx_offloads_ = 0;   // RTE_ETH_TX_OFFLOAD_*
  std::vector<std::unique_ptr<DpdkQueue>> queues_;
  void *rte_device_ = nullptr;        // the port's rte_device (for DMA mappings)
  std::vector<uint8_t *> dma_areas_;  // per queue: the pool data area it maps, or null
  std::string tx_copy_reason_;        // why TX copies every frame; empty: zero copy
  std::vector<std::string> warnings_;
};

}  // namespace ix::drivers
