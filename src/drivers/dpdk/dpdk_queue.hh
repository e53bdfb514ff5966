// One RX/TX queue pair of a DPDK port, driven by exactly one elastic thread.
//
// Buffers:
//  - RX is zero copy while the queue's loan lasts: the PMD fills rte_mbufs
//    from the queue's rte_mempool, and each single-segment frame is handed up
//    as an IX mbuf (from the elastic thread's own pool, so handles,
//    generations and the pool's pressure signals work as for any frame) whose
//    buffer is the rte_mbuf's. Freeing the IX mbuf (always on the thread that
//    owns its pool) returns the rte_mbuf to the mempool. The mempool holds
//    the rings' worth plus the loan (RxLoans::limit frames); once that many
//    are lent, frames are copied into the IX mbuf's own buffer and the
//    rte_mbuf goes straight back, so the PMD can always refill its ring
//    however long the stack or the application holds data.
//  - TX: each IX chain (headers in pool mbufs, payload possibly in
//    application memory) is gathered into one rte_mbuf from the same mempool
//    and the chain is released at once. Attaching IX memory as external
//    buffers instead would need that memory registered for DMA
//    (rte_extmem_register) and would run IX's free callbacks on whichever
//    thread the PMD frees on (net_ring frees on the peer's thread).
//
// Nothing here includes DPDK headers: rte types are only named.
#pragma once

#include <atomic>
#include <cstdint>

#include "drivers/device.hh"
#include "drivers/loop/queue_counter.hh"
#include "mem/mbuf.hh"
#include "mem/mbuf_pool.hh"

struct rte_mempool;

namespace ix::drivers {

// Per-queue reasons for drops, beyond QueueStats.
struct DpdkQueueDrops {
  uint64_t rx_lent = 0;       // frames handed up in their rte_mbuf (no copy)
  uint64_t rx_copied = 0;     // frames copied (chained, or the loan was used up)
  uint64_t rx_too_long = 0;   // frame larger than an IX mbuf's room
  uint64_t rx_bad_chain = 0;  // rte_mbuf segment lengths do not add up
  uint64_t tx_too_long = 0;   // chain larger than an rte_mbuf's room
  uint64_t tx_bad_chain = 0;  // empty, too many segments or inconsistent lengths
  uint64_t tx_no_mbuf = 0;    // the mempool was empty: frames left with the caller
};

// rte_mbufs of one queue's mempool that IX mbufs wrap (zero-copy receive).
// It lives as long as the mempool (neither is ever freed), so an IX mbuf freed
// after its device closed still finds it. Only the thread that owns the queue
// (and the IX pool its frames are in) changes `lent`: a relaxed load and
// store, no read-modify-write.
struct RxLoans {
  std::atomic<uint32_t> lent{0};
  uint32_t limit = 0;  // at most this many lent; beyond, frames are copied
};

struct DpdkQueueParams {
  uint16_t port = 0;
  uint16_t queue = 0;
  rte_mempool *pool = nullptr;  // TX copies come from here (RX mbufs too, via the PMD)
  bool tx_ip_csum = false;      // the port fills IPv4 header checksums
  bool tx_l4_csum = false;      // the port fills TCP and UDP checksums
  bool trusted_link = false;    // mark every received frame's checksums good
  RxLoans *loans = nullptr;     // the mempool's loan account; null: always copy
};

class alignas(64) DpdkQueue {
 public:
  // Most frames taken from or handed to the PMD per call; larger requests are
  // served in part (the Device contract allows fewer than asked).
  static constexpr uint16_t kMaxBurst = 64;

  explicit DpdkQueue(const DpdkQueueParams &p);
  DpdkQueue(const DpdkQueue &) = delete;
  DpdkQueue &operator=(const DpdkQueue &) = delete;

  void set_rx_pool(mem::MbufPool *pool) { rx_pool_ = pool; }
  mem::MbufPool *rx_pool() const { return rx_pool_; }

  uint16_t rx_burst(mem::Mbuf **pkts, uint16_t max);
  uint16_t tx_burst(mem::Mbuf **pkts, uint16_t n);

  QueueStats stats() const;      // any thread
  DpdkQueueDrops drops() const;  // any thread

 private:
  // Copies chain m into a fresh rte_mbuf r (void * keeps rte types out of
  // this header); returns the frame length, or 0 if m cannot be sent.
  uint32_t gather(const mem::Mbuf *m, void *r);

  DpdkQueueParams p_;
  mem::MbufPool *rx_pool_ = nullptr;

  OwnerCounter rx_packets_, rx_bytes_, rx_nombuf_, rx_dropped_;
  OwnerCounter tx_packets_, tx_bytes_, tx_dropped_;
  OwnerCounter rx_too_long_, rx_bad_chain_, tx_too_long_, tx_bad_chain_, tx_no_mbuf_;
  OwnerCounter rx_lent_, rx_copied_;
};

}  // namespace ix::drivers
