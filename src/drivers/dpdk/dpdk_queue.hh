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
//  - TX is zero copy for a frame in one buffer of the queue's own pool (every
//    ACK, and data segments whose payload TCP copied behind the header):
//    the IX buffer is attached to a bodiless rte_mbuf from a small attach
//    mempool as an external buffer (rte_pktmbuf_attach_extbuf), so the PMD
//    reads (or the NIC DMAs) the very bytes the stack wrote. The pool's data
//    area is registered with the EAL and mapped for the port's DMA
//    (DpdkDevice::set_rx_pool). The PMD frees the rte_mbuf whenever and on
//    whichever thread it likes (a NIC's PMD in a later tx_burst; net_ring
//    on the receiving port's thread), so the free callback only puts the
//    IX mbuf on the queue's return ring (TxReturns, a multi-producer
//    rte_ring); the owner takes them back into its pool at its next burst.
//    Chains, and buffers in application memory (not registered for DMA) or
//    in another pool, are gathered into one rte_mbuf from the queue's
//    mempool as before and released at once; so is a frame when the attach
//    mempool is empty.
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
struct rte_ring;

namespace ix::drivers {

// Per-queue reasons for drops, beyond QueueStats.
struct DpdkQueueDrops {
  uint64_t rx_lent = 0;          // frames handed up in their rte_mbuf (no copy)
  uint64_t rx_copied = 0;        // frames copied (chained, or the loan was used up)
  uint64_t rx_too_long = 0;      // frame larger than an IX mbuf's room
  uint64_t rx_bad_chain = 0;     // rte_mbuf segment lengths do not add up
  uint64_t tx_too_long = 0;      // chain larger than an rte_mbuf's room
  uint64_t tx_bad_chain = 0;     // empty, too many segments or inconsistent lengths
  uint64_t tx_no_mbuf = 0;       // the mempool was empty: frames left with the caller
  uint64_t tx_zero_copy = 0;     // frames sent in their IX buffer (no copy)
  uint64_t tx_copied = 0;        // frames gathered into an rte_mbuf
  uint64_t tx_in_device = 0;     // IX buffers the PMD holds now (sent, not yet freed)
  uint64_t tx_returns_lost = 0;  // buffers the full return ring could not take (never expected)
  // Bursts cut short by a fault in memory the peer maps to us (net_memif,
  // peer_memory_guard.hh); each may lose up to a burst of rte_mbufs.
  uint64_t peer_memory_faults = 0;
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

// The way home for IX buffers sent zero copy: the rte_mbuf's free callback
// enqueues the IX mbuf, tagged with the generation it was sent under (any
// thread: an rte_ring with multi-producer enqueue, the one atomic step per
// frame this path adds, because a PMD may free on any thread), and the
// queue's owner dequeues them at its next burst. The callback never touches
// IX memory. Like RxLoans it lives as long as its attach mempool (never
// freed): a PMD may free a frame after the device closed. Each opening of
// the queue, and each new pool it is given, is a generation; the owner takes
// back only buffers of its own generation (the others' pools may be gone),
// and the callback does not even enqueue those of a generation no longer
// live (0: closed).
struct TxReturn {
  mem::Mbuf *m;
  uint64_t generation;
};
struct TxReturns {
  // Multi-producer, single-consumer, of TxReturn. Between two of the
  // owner's bursts at most every attach rte_mbuf and one burst's worth more
  // can come back: twice the mempool's size never fills.
  rte_ring *ring = nullptr;
  std::atomic<uint32_t> live{0};
  uint32_t last = 0;                  // the last generation handed out (set-up only)
  std::atomic<uint64_t> overflow{0};  // returns the ring refused (buffers lost to the pool)
};

struct DpdkQueueParams {
  uint16_t port = 0;
  uint16_t queue = 0;
  rte_mempool *pool = nullptr;  // TX copies come from here (RX mbufs too, via the PMD)
  bool tx_ip_csum = false;      // the port fills IPv4 header checksums
  bool tx_l4_csum = false;      // the port fills TCP and UDP checksums
  bool trusted_link = false;    // mark every received frame's checksums good
  RxLoans *loans = nullptr;     // the mempool's loan account; null: always copy
  // Zero-copy TX: bodiless rte_mbufs with room for TxAttach in their private
  // area, and the return ring. Null: every frame is copied.
  rte_mempool *attach_pool = nullptr;
  TxReturns *returns = nullptr;
  uint32_t generation = 0;  // this opening's (TxReturns)
  // The PMD reads memory its peer maps to us and may unmap during a burst
  // (net_memif): bursts run only while the link is up (the teardown marks
  // it down before it unmaps), under the peer-memory guard.
  bool peer_memory = false;
};

// Private-area bytes each attach rte_mbuf needs (for its mempool).
size_t tx_attach_priv_size();

class alignas(64) DpdkQueue {
 public:
  // Most frames taken from or handed to the PMD per call; larger requests are
  // served in part (the Device contract allows fewer than asked).
  static constexpr uint16_t kMaxBurst = 64;

  explicit DpdkQueue(const DpdkQueueParams &p);
  DpdkQueue(const DpdkQueue &) = delete;
  DpdkQueue &operator=(const DpdkQueue &) = delete;

  void set_rx_pool(mem::MbufPool *pool) { rx_pool_ = pool; }
  // A new generation of zero-copy sends (a new pool): buffers the port
  // still holds from the old one are not taken back, and the counts restart.
  void start_generation(uint32_t generation);
  mem::MbufPool *rx_pool() const { return rx_pool_; }
  // Frames in the pool's buffers go to the PMD as they lie (the pool's data
  // area is mapped for the port's DMA): set by the device once it is.
  void set_tx_zero_copy(bool on) { tx_zero_copy_ = on && p_.attach_pool != nullptr; }
  bool tx_zero_copy() const { return tx_zero_copy_; }
  TxReturns *returns() const { return p_.returns; }

  uint16_t rx_burst(mem::Mbuf **pkts, uint16_t max);
  uint16_t tx_burst(mem::Mbuf **pkts, uint16_t n);

  QueueStats stats() const;      // any thread
  DpdkQueueDrops drops() const;  // any thread

 private:
  // Copies chain m into a fresh rte_mbuf r (void * keeps rte types out of
  // this header); returns the frame length, or 0 if m cannot be sent.
  uint32_t gather(const mem::Mbuf *m, void *r);
  // Attaches m's buffer to r (an attach-mempool rte_mbuf) as an external
  // buffer; returns the frame length, or 0 if m is too long to send.
  uint32_t attach(mem::Mbuf *m, void *r);
  // Asks the port for the checksums the stack left to it (both TX paths).
  void request_offloads(const mem::Mbuf *m, void *r, const uint8_t *frame, uint32_t len) const;
  // Owner: takes back the IX buffers the PMD is done with.
  void take_returns();
  bool link_up() const;
  void note_in_device();  // tells the pool how many of its buffers the PMD holds
  bool zero_copy_fits(const mem::Mbuf *m) const {
    return tx_zero_copy_ && m->next == nullptr && m->pool == rx_pool_ && !m->is_external() &&
           m->data_len == m->pkt_len;
  }

  DpdkQueueParams p_;
  mem::MbufPool *rx_pool_ = nullptr;
  bool tx_zero_copy_ = false;
  uint32_t max_frame_ = 0;  // longest frame an rte_mbuf of the queue's mempool holds
  // Owner only: IX buffers attached, and taken back (their difference is
  // what the PMD holds, reported to the pool as its device share in use).
  uint64_t tx_attached_ = 0;
  uint64_t tx_taken_back_ = 0;

  OwnerCounter rx_packets_, rx_bytes_, rx_nombuf_, rx_dropped_;
  OwnerCounter tx_packets_, tx_bytes_, tx_dropped_;
  OwnerCounter rx_too_long_, rx_bad_chain_, tx_too_long_, tx_bad_chain_, tx_no_mbuf_;
  OwnerCounter rx_lent_, rx_copied_, tx_zero_copy_frames_, tx_copied_, peer_memory_faults_;
  std::atomic<uint64_t> tx_in_device_{0};  // owner stores, any thread reads
};

}  // namespace ix::drivers
