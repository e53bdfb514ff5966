// The one small interface every NIC driver implements: multi-queue RX/TX
// bursts, offload capabilities, and per-queue statistics. Protocols never see
// which kind of device carries them.
//
// Threading: queue q is used by exactly one elastic thread; rx_burst/tx_burst
// for different queues may run concurrently on different cores and must not
// share writable state.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "mem/mbuf.hh"
#include "mem/mbuf_pool.hh"
#include "net/addr.hh"
#include "net/link_caps.hh"
#include "net/rss.hh"

namespace ix::drivers {

// A transmit chain longer than this is malformed (or cyclic): drivers drop
// it rather than walk it.
constexpr uint32_t kMaxTxSegments = 256;

struct DeviceCaps {
  uint16_t rx_queues = 1;
  uint16_t tx_queues = 1;
  bool rss = false;           // the device steers flows to queues by Toeplitz hash
  uint16_t reta_size = 0;     // RSS indirection table entries (0: no RSS)
  bool rx_hash = false;       // mbuf rss_hash is filled on receive
  bool rx_ip_csum = false;    // RX verifies IPv4 header checksums (sets kRxIpCsumGood)
  bool rx_l4_csum = false;    // RX verifies TCP/UDP checksums (sets kRxL4CsumGood)
  bool tx_ip_csum = false;    // TX fills IPv4 header checksums on kTxIpCsum
  bool tx_l4_csum = false;    // TX fills TCP/UDP checksums on kTxL4Csum
  bool tx_multi_seg = false;  // TX accepts chained mbufs (scatter-gather)
  bool tx_external = false;   // TX accepts segments in application memory
  bool zero_copy = false;     // frames move without a copy in the driver
  // Frames pass through this host's kernel (AF_XDP, DPDK's af_packet or tap):
  // the kernel's softirq work for them may need the polling thread's CPU,
  // so an idle elastic thread should yield now and then (see
  // ElasticThreadConfig::idle_polls_before_yield).
  bool kernel_path = false;
  uint16_t mtu = 1500;
  // Non-zero: the device receives into and sends from the pool's own
  // buffers (its data area is the device's DMA or UMEM region), so each RX
  // pool must be built with MbufPoolConfig::buffer_stride equal to this.
  // 0: any pool will do (the device copies, or owns its buffers).
  uint32_t pool_buffer_stride = 0;
  // Such a device may hold up to this many of the pool's buffers at once
  // (posted for reception, sent and not yet completed): pools are built
  // with MbufPoolConfig::device_share of it, on top of the stack's count.
  uint32_t pool_device_share = 0;

  // The part the network stack needs: MTU and transmit checksum offloads.
  net::LinkCaps link_caps() const { return {mtu, tx_ip_csum, tx_l4_csum}; }
};

struct QueueStats {
  uint64_t rx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t rx_nombuf = 0;   // frames lost because the RX pool was empty
  uint64_t rx_dropped = 0;  // frames lost for other reasons (ring full, faults)
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_dropped = 0;  // frames the device refused or lost
};

class Device {
 public:
  virtual ~Device() = default;

  virtual std::string_view name() const = 0;
  virtual const DeviceCaps &caps() const = 0;
  virtual net::MacAddr mac() const = 0;

  // Give RX queue q its buffer pool (the owning core's). Must be called for
  // every queue before start(). The pool must outlive the device's use of
  // it: until the device is destroyed, or given another pool and started
  // again. A device with caps().pool_buffer_stride checks the pool's layout
  // here and throws std::invalid_argument naming the stride it needs.
  virtual void set_rx_pool(uint16_t q, mem::MbufPool *pool) = 0;
  // Called once every queue has its pool, on one thread, before any burst.
  virtual void start() {}

  // Receive up to max frames from queue q into pkts. Never blocks or waits
  // to fill the burst (adaptive batching). Caller owns the returned mbufs.
  virtual uint16_t rx_burst(uint16_t q, mem::Mbuf **pkts, uint16_t max) = 0;

  // Transmit up to n frames on queue q. The device takes ownership of the
  // first k (the return value) and frees them when done; the caller keeps
  // pkts[k..n) (queue full) and must retry or free them.
  virtual uint16_t tx_burst(uint16_t q, mem::Mbuf **pkts, uint16_t n) = 0;

  // Snapshot of queue q's counters. Safe to call from another thread while
  // the queue runs (values may be slightly stale).
  virtual QueueStats stats(uint16_t q) const = 0;

  // Buffers of queue q's pool the device holds right now: posted for
  // frames to arrive in, or sent and not yet completed. Only devices that
  // receive into the pool's buffers (caps().pool_buffer_stride) hold any.
  // Queue q's thread only.
  virtual uint32_t pool_buffers_held(uint16_t) const { return 0; }

  // RSS: the device's hash key and the indirection table mapping
  // (hash % reta_size) to an RX queue. Devices without RSS return empty.
  virtual std::string_view rss_key() const { return {}; }
  // Program the indirection table: flow group g (hash % reta_size) goes to
  // RX queue table.queue_of_group(g). False, changing nothing, when the
  // device cannot be programmed (no RSS, or a table of another size).
  virtual bool set_flow_groups(const net::FlowGroupTable &) { return false; }
  // A mark on RX queue q, taken by the queue's thread after a steering
  // change: rx_passed(q, mark) turns true once rx_burst has taken every
  // frame that was in the queue at the mark (a flow-group move's old owner
  // knows then that no frame steered to it before the change is left).
  // kNoRxMark: the device cannot tell (the caller waits for an empty poll).
  static constexpr uint64_t kNoRxMark = UINT64_MAX;
  virtual uint64_t rx_mark(uint16_t /*q*/) const { return kNoRxMark; }
  virtual bool rx_passed(uint16_t /*q*/, uint64_t /*mark*/) const { return false; }
};

}  // namespace ix::drivers
