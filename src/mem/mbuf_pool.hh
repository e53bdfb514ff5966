// Per-core pool of fixed-size packet buffers.
//
// Each elastic thread owns its pool; allocation and free are a push/pop on a
// private LIFO array (hot buffers stay in cache) with no locks or atomics.
// Memory comes from one mapping, backed by huge pages when the system has them
// and ordinary pages otherwise. Exhaustion is counted; callers drop the packet
// and the pool recovers as buffers are freed.
//
// The mapping has two parts: the mbuf headers (128 bytes each), then, page
// aligned, the data area: buffer i (headroom + data) at i * buffer_stride().
// A device that receives and sends straight from pool memory (AF_XDP, whose
// UMEM is the data area) registers only the data area, so no header, free
// list or pointer the dataplane trusts is ever in memory a device writes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "mem/mbuf.hh"

namespace ix::mem {

// The share of a pool only reception may take by default: 1/16 of it, at
// least 8 (see MbufPoolConfig::rx_reserve), so that the ACKs that free
// buffers always get in.
inline uint32_t default_rx_reserve(uint32_t count) {
  return count <= 8 ? (count > 0 ? count - 1 : 0) : (count / 16 > 8 ? count / 16 : 8);
}

struct MbufPoolConfig {
  uint32_t count = 4096;       // number of buffers
  uint16_t data_size = 2048;   // bytes of data per buffer, after the headroom
  uint16_t headroom = 128;     // bytes reserved in front for prepended headers
  bool try_huge_pages = true;  // try MAP_HUGETLB first
  std::string name = "mbuf_pool";
  // Buffers only reception may take (alloc_rx). Everything else (TX
  // headers, application buffers) stops this far above empty, so that the
  // frames that free memory (ACKs of data the application holds buffers for)
  // can always get in: a pool that RX and TX share can otherwise fill with
  // held receive buffers and never again receive the ACKs that would free them.
  uint32_t rx_reserve = 0;
  // Bytes per buffer in the data area. 0: headroom + data_size rounded up
  // to a cache line. Otherwise a power of two from 1024 to 16384 that holds
  // the headroom; the buffer then has buffer_stride - headroom bytes of data
  // (data_size is not used) and every buffer starts at a multiple of the
  // stride from the page-aligned data area: the layout an AF_XDP UMEM in
  // aligned-chunk mode needs (drivers::DeviceCaps::pool_buffer_stride).
  uint32_t buffer_stride = 0;
  // Buffers a device may hold on top of `count`: posted for frames to arrive
  // in, or sent and not yet completed (an AF_XDP queue, whose UMEM is this
  // pool: DeviceCaps::pool_device_share). The pool has count + device_share
  // buffers; the stack's limits (the RX reserve alloc() keeps, the holding
  // limit, pressure) see only its own `count`, so buffers in the device, or
  // that the device may still take, never count as the stack's.
  uint32_t device_share = 0;
};

struct MbufPoolStats {
  uint64_t allocs = 0;
  uint64_t frees = 0;
  uint64_t alloc_failures = 0;  // pool was empty: the caller dropped a packet
  uint64_t double_frees = 0;    // caught misuse; the buffer was not freed twice
  uint64_t returned = 0;        // freed by another thread's stack after a flow-group move
};

class MbufPool {
 public:
  explicit MbufPool(const MbufPoolConfig &cfg);
  ~MbufPool();
  MbufPool(const MbufPool &) = delete;
  MbufPool &operator=(const MbufPool &) = delete;

  // Returns a reset, single-segment mbuf with `headroom` bytes free in front,
  // or nullptr when only the RX reserve is left (counted in
  // stats().alloc_failures).
  Mbuf *alloc() {
    if (stack_free() <= rx_reserve_) {
      ++stats_.alloc_failures;
      return nullptr;
    }
    return take();
  }
  // For a driver filling its receive ring: may use the RX reserve too.
  Mbuf *alloc_rx() {
    if (free_top_ == 0) {
      ++stats_.alloc_failures;
      return nullptr;
    }
    return take();
  }
  // True while only the RX reserve is left: whoever holds received buffers
  // (TCP data waiting for the application) should let this frame go.
  bool in_reserve() const { return stack_free() <= rx_reserve_; }
  // True once only twice the RX reserve is left: received data should no
  // longer be held for applications, so that the last share stays for
  // sending (an application that frees its receive buffers only when its
  // replies are acknowledged needs buffers to send those replies).
  bool holding_limit() const {
    return rx_reserve_ != 0 && stack_free() <= 2 * int64_t{rx_reserve_};
  }
  // True while less than half the pool is free (pools with a receive
  // reserve only): receive windows should open by small steps, so that
  // many connections share what is left rather than the first ones taking it.
  bool under_pressure() const {
    return rx_reserve_ != 0 && stack_free() < int64_t{stack_capacity()} / 2;
  }
  uint32_t rx_reserve() const { return rx_reserve_; }

  // What the device holds now (MbufPoolConfig::device_share): the device
  // that owns this pool's RX queue says so after every burst (same thread).
  void set_device_held(uint32_t n) { device_held_ = n; }
  uint32_t device_held() const { return device_held_; }
  uint32_t device_share() const { return device_share_; }
  // The stack's part of the pool: capacity() without the device's share.
  uint32_t stack_capacity() const { return count_ - device_share_; }
  // Free buffers that are the stack's: those the device may still take for
  // its share are not (negative while the device holds more than its share).
  int64_t stack_free() const { return int64_t{free_top_} + device_held_ - int64_t{device_share_}; }

  // Allocate up to n mbufs into out; returns how many were allocated.
  uint32_t alloc_bulk(Mbuf **out, uint32_t n);

  // Free a whole chain. Each segment returns to its own pool; external
  // segments first notify their owner through ext_release. A segment that
  // is away (held by another thread's stack) goes to its pool's return stack.
  static void free_chain(Mbuf *m) {
    while (m != nullptr) {
      Mbuf *next = m->next;
      if (m->away != 0) [[unlikely]]
        m->pool->give_back(m);
      else
        m->pool->free_one(m);
      m = next;
    }
  }

  // Buffers held by another elastic thread's stack after a flow-group move.
  // That thread may not touch this pool's free list (no atomics there), so
  // it pushes the buffer onto a lock-free return stack, and the owner takes
  // the whole stack back at its next reclaim(). The one cross-core write
  // per buffer happens only for buffers that moved with a connection, once
  // each; a pool whose buffers never move pays one relaxed load per poll.
  // Any thread:
  void give_back(Mbuf *m) {
    Mbuf *head = returned_.load(std::memory_order_relaxed);
    do {
      m->next = head;
    } while (!returned_.compare_exchange_weak(head, m, std::memory_order_release,
                                              std::memory_order_relaxed));
  }
  // The owner, between batches: frees what came back; returns how many.
  uint32_t reclaim() {
    if (returned_.load(std::memory_order_relaxed) == nullptr) return 0;
    return reclaim_slow();
  }
  // Marks every segment of chain m as away from this pool's owner when
  // `holder` is not this pool, or home again when it is (a connection that
  // moves back brings its buffers home).
  static void mark_held_by(Mbuf *m, const MbufPool *holder) {
    for (; m != nullptr; m = m->next) m->away = m->pool != holder ? 1 : 0;
  }

  // Free a single segment (ignores next).
  void free_one(Mbuf *m);

  uint32_t capacity() const { return count_; }
  uint32_t available() const { return free_top_; }
  bool huge_pages() const { return huge_; }
  const MbufPoolStats &stats() const { return stats_; }
  const std::string &name() const { return name_; }

  // Map an index (e.g. from a buffer handle) back to an mbuf; nullptr if out of range.
  Mbuf *by_index(uint32_t index) const {
    return index < count_
               ? reinterpret_cast<Mbuf *>(headers_ + static_cast<size_t>(index) * sizeof(Mbuf))
               : nullptr;
  }
  // True if p points inside one of this pool's buffers (its data area).
  bool owns(const void *p) const {
    auto *b = static_cast<const uint8_t *>(p);
    return b >= data_ && b < data_ + data_bytes();
  }

  // The data area: page aligned, capacity() buffers of buffer_stride() bytes.
  uint8_t *data_area() const { return data_; }
  size_t data_bytes() const { return static_cast<size_t>(count_) * buffer_stride_; }
  uint32_t buffer_stride() const { return buffer_stride_; }
  // The mbuf whose buffer holds byte `offset` of the data area; nullptr past its end.
  Mbuf *by_data_offset(uint64_t offset) const {
    return offset < data_bytes() ? by_index(static_cast<uint32_t>(offset / buffer_stride_))
                                 : nullptr;
  }
  // Offset of m's first valid byte in the data area (m must be this pool's
  // and not external).
  uint64_t data_offset_of(const Mbuf *m) const { return static_cast<uint64_t>(m->data() - data_); }

 private:
  Mbuf *take() {
    Mbuf *m = free_[--free_top_];
    reset(m);
    ++stats_.allocs;
    return m;
  }
  void reset(Mbuf *m) {
    m->buf = m->own_buf;
    m->buf_len = m->own_buf_len;
    m->data_off = headroom_;
    m->data_len = 0;
    m->pkt_len = 0;
    m->rss_hash = 0;
    m->ol_flags = 0;
    m->rx_queue = 0;
    m->nb_segs = 1;
    m->l2_len = m->l3_len = 0;
    m->l4_len = 0;
    m->next = nullptr;
    m->app_held = 0;
    m->ext_release = nullptr;
    m->ext_arg = nullptr;
    m->cookie = 0;
    m->user = 0;
    m->in_use = 1;
    m->away = 0;
  }

  std::string name_;
  uint8_t *base_ = nullptr;     // the mapping: headers, then the data area
  uint8_t *headers_ = nullptr;  // == base_
  uint8_t *data_ = nullptr;     // page aligned
  size_t map_bytes_ = 0;
  uint32_t buffer_stride_ = 0;
  uint32_t count_ = 0;
  uint16_t headroom_ = 0;
  bool huge_ = false;
  Mbuf **free_ = nullptr;
  uint32_t free_top_ = 0;
  uint32_t rx_reserve_ = 0;  // < count_
  uint32_t device_share_ = 0;
  uint32_t device_held_ = 0;
  MbufPoolStats stats_;
  uint32_t reclaim_slow();
  // Written by other threads (give_back): a line of its own.
  alignas(64) std::atomic<Mbuf *> returned_{nullptr};
};

}  // namespace ix::mem
