// One AF_XDP socket bound to one NIC queue, with its own UMEM: the RX, TX,
// fill and completion rings and the frames that cycle through them.
//
// Why one UMEM per queue rather than one shared UMEM: each queue belongs to
// one elastic thread, and a private UMEM makes its frame bookkeeping (which
// frames are free for TX, which go back to the fill ring) private too: no
// locks, no atomics, no cross-core cache traffic. A shared UMEM would need
// exactly that partitioning anyway (with a fill/completion ring pair per
// queue) and only pays off when frames move between queues, which never
// happens here because RX frames are copied into mbufs.
//
// Frame accounting: the UMEM holds 2 * ring_size frames. The first half are
// RX frames: they live in the fill ring, in the kernel, or in the RX ring,
// and every RX frame we consume goes straight back to the fill ring, so the
// fill ring stays topped up. The second half are TX frames: they sit on a
// private free stack until a packet is copied into one and posted on the TX
// ring, and come back through the completion ring.
#pragma once

#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "drivers/device.hh"
#include "mem/mbuf.hh"
#include "mem/mbuf_pool.hh"

namespace ix::drivers {

// XDP socket counters: the kernel's (getsockopt XDP_STATISTICS) plus the
// driver's system call counts, which show need_wakeup at work.
struct XdpQueueStats {
  uint64_t rx_dropped = 0;                // kernel: no fill frame or frame too big
  uint64_t rx_invalid_descs = 0;          // kernel: bad descriptor on the fill ring
  uint64_t tx_invalid_descs = 0;          // kernel: bad descriptor on the TX ring
  uint64_t rx_ring_full = 0;              // kernel: RX ring full, frame dropped
  uint64_t rx_fill_ring_empty_descs = 0;  // kernel: found the fill ring empty
  uint64_t tx_ring_empty_descs = 0;       // kernel: found the TX ring empty on a kick
  uint64_t tx_kicks = 0;                  // sendto() wakeups issued
  uint64_t rx_kicks = 0;                  // recvfrom() wakeups issued
  uint64_t kick_errors = 0;               // wakeups that failed for a non-transient reason
};

// A setup step failed; `err` is the positive errno so callers can react
// (fall back to another mode, explain EPERM).
class XskSetupError : public std::runtime_error {
 public:
  XskSetupError(const std::string &what, int err) : std::runtime_error(what), err(err) {}
  int err;
};

struct XskQueueParams {
  std::string ifname;
  uint32_t nic_queue = 0;    // NIC queue id the socket binds to
  uint16_t queue_index = 0;  // our queue index (stamped into mbuf rx_queue)
  uint32_t ring_size = 2048;
  uint32_t frame_size = 2048;
  uint32_t xdp_flags = 0;   // XDP_FLAGS_DRV_MODE / XDP_FLAGS_SKB_MODE / 0
  uint16_t bind_flags = 0;  // XDP_COPY / XDP_ZEROCOPY / 0 (kernel tries zero-copy first)
  bool use_need_wakeup = true;
};

class alignas(64) XskQueue {
 public:
  // Creates the UMEM and the socket (which makes libxdp attach its default
  // XDP program to the interface if none is there yet). Throws XskSetupError.
  explicit XskQueue(const XskQueueParams &p);
  ~XskQueue();
  XskQueue(const XskQueue &) = delete;
  XskQueue &operator=(const XskQueue &) = delete;

  void set_rx_pool(mem::MbufPool *pool) { pool_ = pool; }
  mem::MbufPool *rx_pool() const { return pool_; }

  uint16_t rx_burst(mem::Mbuf **pkts, uint16_t max);
  uint16_t tx_burst(mem::Mbuf **pkts, uint16_t n);

  QueueStats stats() const;         // any thread
  XdpQueueStats xdp_stats() const;  // any thread
  bool zero_copy() const { return zero_copy_; }
  int fd() const { return fd_; }

 private:
  void release();
  void drain_completions();
  void refill();
  void kick_rx();
  void kick_tx_if_pending();
  uint32_t gather_into_frame(const mem::Mbuf *m, uint64_t frame);  // 0: cannot send

  // Single writer (the queue's thread), any reader: relaxed load+store, no RMW.
  static void bump(std::atomic<uint64_t> &c, uint64_t v) {
    c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }

  // Hot state first.
  xsk_ring_cons rx_{};
  xsk_ring_prod tx_{};
  xsk_ring_prod fill_{};
  xsk_ring_cons comp_{};
  uint8_t *umem_area_ = nullptr;
  uint64_t umem_bytes_ = 0;
  uint64_t frame_mask_ = 0;
  uint32_t frame_size_ = 0;
  uint32_t ring_size_ = 0;
  mem::MbufPool *pool_ = nullptr;
  uint64_t *tx_free_ = nullptr;  // free TX frame addresses (stack)
  uint32_t tx_free_n_ = 0;
  uint64_t *fill_backlog_ = nullptr;  // RX frames waiting for fill ring room
  uint32_t fill_backlog_n_ = 0;
  int fd_ = -1;
  uint16_t queue_index_ = 0;
  bool use_need_wakeup_ = true;
  bool zero_copy_ = false;

  std::vector<uint64_t> frame_lists_;  // storage behind tx_free_ and fill_backlog_
  xsk_umem *umem_ = nullptr;
  xsk_socket *xsk_ = nullptr;

  struct Counters {
    std::atomic<uint64_t> rx_packets{0}, rx_bytes{0}, rx_nombuf{0}, rx_dropped{0};
    std::atomic<uint64_t> tx_packets{0}, tx_bytes{0}, tx_dropped{0};
    std::atomic<uint64_t> tx_kicks{0}, rx_kicks{0}, kick_errors{0};
  };
  Counters counters_;
};

}  // namespace ix::drivers
