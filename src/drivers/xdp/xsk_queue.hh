// One AF_XDP socket bound to one NIC queue. Its UMEM is the data area of the
// queue's mbuf pool (the owning elastic thread's), so frames are never copied
// in the driver: the kernel (copy mode) or the NIC (zero-copy mode) writes a
// received frame straight into a pool buffer, which the driver hands up as
// an mbuf; a frame the stack sends from a pool buffer goes out from where it
// lies and the buffer returns to the pool when the kernel completes it.
//
// Why one UMEM per queue rather than one shared UMEM: each queue belongs to
// one elastic thread, whose pool is private (no locks, no atomics), so the
// UMEM is private too; frames never move between queues.
//
// Buffer accounting: a pool buffer is either free in the pool, held by the
// stack or application, or lent to the kernel: posted on the fill ring (for
// a frame to arrive in) or on the TX ring (until its completion, which in
// copy mode comes when the kernel frees the skb: over veth, once the peer's
// application has read it). The pool keeps 2 * ring_size buffers for this
// on top of the stack's (MbufPoolConfig::device_share) and is told after
// every burst how many the queue holds. The fill ring is kept full
// (ring_size buffers taken with MbufPool::alloc_rx); RX hands
// each filled buffer up, so a buffer the stack holds is one the fill ring
// lacks until the pool has another.
// When the pool is empty the kernel finds the fill ring short and drops
// (XdpQueueStats::rx_fill_ring_empty_descs); reception resumes as soon as
// buffers come back.
//
// TX: a single-segment mbuf of this queue's pool is posted as is. Anything
// else (a chain, a segment in application memory, another pool's mbuf) is
// gathered into a fresh pool buffer first, and the original is freed at once,
// releasing external segments to their owners.
#pragma once

#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

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
  uint64_t tx_zero_copy = 0;              // frames sent from where they lay in the pool
  uint64_t tx_gathered = 0;               // frames copied into a pool buffer first
  uint64_t fill_short = 0;                // fill ring top-ups the empty pool cut short
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
  uint32_t frame_size = 2048;  // UMEM chunk: must equal the pool's buffer_stride
  uint32_t xdp_flags = 0;      // XDP_FLAGS_DRV_MODE / XDP_FLAGS_SKB_MODE / 0
  uint16_t bind_flags = 0;     // XDP_COPY / XDP_ZEROCOPY / 0 (kernel tries zero-copy first)
  bool use_need_wakeup = true;
};

class alignas(64) XskQueue {
 public:
  // Registers pool's data area as the UMEM and creates the socket (which
  // makes libxdp attach its default XDP program to the interface if none is
  // there yet), then posts the first fill buffers. Throws XskSetupError. The
  // pool's layout (buffer_stride == frame_size, device_share >= 2 * ring_size)
  // is XdpDevice::set_rx_pool's to check. The pool must outlive
  // the queue's bursts; the queue never touches it after destruction begins.
  XskQueue(const XskQueueParams &p, mem::MbufPool &pool);
  ~XskQueue();
  XskQueue(const XskQueue &) = delete;
  XskQueue &operator=(const XskQueue &) = delete;

  mem::MbufPool &pool() const { return *pool_; }

  uint16_t rx_burst(mem::Mbuf **pkts, uint16_t max);
  uint16_t tx_burst(mem::Mbuf **pkts, uint16_t n);

  QueueStats stats() const;         // any thread
  XdpQueueStats xdp_stats() const;  // any thread
  bool zero_copy() const { return zero_copy_; }
  int fd() const { return fd_; }
  // Pool buffers lent to the kernel: on the fill ring or waiting for a TX
  // completion (queue thread only).
  uint32_t lent_to_kernel() const { return fill_lent_ + tx_lent_; }

 private:
  void release();
  void drain_completions();
  void refill();
  void kick_rx();
  void kick_tx_if_pending();
  mem::Mbuf *gather(mem::Mbuf *m);  // a pool copy of chain m, or nullptr

  // Single writer (the queue's thread), any reader: relaxed load+store, no RMW.
  static void bump(std::atomic<uint64_t> &c, uint64_t v) {
    c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }

  // Hot state first.
  xsk_ring_cons rx_{};
  xsk_ring_prod tx_{};
  xsk_ring_prod fill_{};
  xsk_ring_cons comp_{};
  mem::MbufPool *pool_ = nullptr;
  uint32_t frame_size_ = 0;
  uint32_t ring_size_ = 0;
  uint32_t fill_lent_ = 0;  // buffers posted for reception, not yet received
  uint32_t tx_lent_ = 0;    // buffers posted for sending, not yet completed
  int fd_ = -1;
  uint16_t queue_index_ = 0;
  bool use_need_wakeup_ = true;
  bool zero_copy_ = false;

  xsk_umem *umem_ = nullptr;
  xsk_socket *xsk_ = nullptr;

  struct Counters {
    std::atomic<uint64_t> rx_packets{0}, rx_bytes{0}, rx_nombuf{0}, rx_dropped{0};
    std::atomic<uint64_t> tx_packets{0}, tx_bytes{0}, tx_dropped{0};
    std::atomic<uint64_t> tx_kicks{0}, rx_kicks{0}, kick_errors{0};
    std::atomic<uint64_t> tx_zero_copy{0}, tx_gathered{0}, fill_short{0};
  };
  Counters counters_;
};

}  // namespace ix::drivers
