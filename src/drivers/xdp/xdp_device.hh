// AF_XDP driver: any Linux interface becomes an IX device with one AF_XDP
// socket per queue. libxdp attaches its bundled default XDP program, which
// redirects every frame arriving on a bound queue into that queue's socket,
// so no BPF compiler is involved. When the last socket closes, libxdp
// removes the program again.
//
// Each queue's UMEM is its RX pool's data area (caps().pool_buffer_stride
// is the UMEM frame size the pools must be built with), so the driver copies
// nothing: received frames are pool buffers, and pool buffers are sent from
// where they lie. caps().zero_copy reports whether the *kernel* moves frames
// without a copy as well (XDP_ZEROCOPY, where the NIC driver supports it;
// veth and generic XDP copy once in the kernel). tx_multi_seg and
// tx_external are true because TX gathers a chain into one pool buffer.
//
// The sockets open in start(), once every queue has its pool (the UMEM must
// exist before the socket binds): attach and bind errors surface there.
//
// Queue q (0-based) is bound to NIC queue start_queue + q; queue q is driven
// by exactly one thread (see device.hh).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "drivers/device.hh"
#include "drivers/xdp/netdev_info.hh"
#include "drivers/xdp/xdp_config.hh"
#include "drivers/xdp/xsk_queue.hh"

namespace ix::drivers {

class XdpDevice final : public Device {
 public:
  // Checks the interface. Throws std::invalid_argument for a bad config and
  // std::runtime_error with the cause and the fix when the interface is
  // missing, has too few queues, or its MTU does not fit a UMEM frame.
  explicit XdpDevice(const XdpConfig &cfg);
  ~XdpDevice() override;
  XdpDevice(const XdpDevice &) = delete;
  XdpDevice &operator=(const XdpDevice &) = delete;

  std::string_view name() const override { return info_.ifname; }
  const DeviceCaps &caps() const override { return caps_; }
  net::MacAddr mac() const override { return info_.mac; }

  // Throws std::invalid_argument for a pool whose buffer_stride is not
  // caps().pool_buffer_stride.
  void set_rx_pool(uint16_t q, mem::MbufPool *pool) override;
  // Opens every queue's socket over its pool (again, for queues given
  // another pool since the last start). Throws std::runtime_error with the
  // cause and the fix when XDP cannot attach, zero-copy is unsupported, or
  // the process lacks privileges.
  void start() override;

  uint16_t rx_burst(uint16_t q, mem::Mbuf **pkts, uint16_t max) override {
    return q < queues_.size() && queues_[q] ? queues_[q]->rx_burst(pkts, max) : 0;
  }
  uint16_t tx_burst(uint16_t q, mem::Mbuf **pkts, uint16_t n) override {
    return q < queues_.size() && queues_[q] ? queues_[q]->tx_burst(pkts, n) : 0;
  }

  QueueStats stats(uint16_t q) const override;
  // The kernel's XDP socket counters and the driver's wakeup counts for queue q.
  XdpQueueStats xdp_stats(uint16_t q) const;

  // What was actually bound (auto resolved): kNative or kSkb.
  XdpAttachMode attach_mode() const { return attach_; }
  uint32_t nic_queue(uint16_t q) const { return cfg_.start_queue + q; }
  uint32_t frame_size() const { return frame_size_; }
  const NetdevInfo &netdev() const { return info_; }
  // Pool buffers queue q has lent to the kernel (fill ring, TX in flight);
  // the queue's thread only.
  uint32_t pool_buffers_held(uint16_t q) const override {
    return q < queues_.size() && queues_[q] ? queues_[q]->lent_to_kernel() : 0;
  }

 private:
  void open_queues();
  std::unique_ptr<XskQueue> open_queue(uint16_t q, XdpAttachMode attach);
  void close_queues();

  XdpConfig cfg_;
  NetdevInfo info_;
  DeviceCaps caps_;
  uint32_t frame_size_ = 0;
  XdpAttachMode attach_ = XdpAttachMode::kAuto;
  std::vector<mem::MbufPool *> pools_;             // set_rx_pool, per queue
  std::vector<std::unique_ptr<XskQueue>> queues_;  // open sockets (after start)
};

}  // namespace ix::drivers
