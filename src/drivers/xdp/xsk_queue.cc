#include "drivers/xdp/xsk_queue.hh"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ix::drivers {

namespace {

std::string errno_text(int err) { return std::string(std::strerror(err)); }

// Errors a wakeup may return that only mean "try again on a later burst".
bool transient_kick_error(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == EBUSY || err == ENOBUFS || err == ENETDOWN ||
         err == EINTR;
}

}  // namespace

XskQueue::XskQueue(const XskQueueParams &p, mem::MbufPool &pool)
    : pool_(&pool),
      frame_size_(p.frame_size),
      ring_size_(p.ring_size),
      queue_index_(p.queue_index),
      use_need_wakeup_(p.use_need_wakeup) {
  xsk_umem_config ucfg{};
  ucfg.fill_size = p.ring_size;
  ucfg.comp_size = p.ring_size;
  ucfg.frame_size = p.frame_size;
  ucfg.frame_headroom = 0;
  ucfg.flags = 0;
  int rc = xsk_umem__create(&umem_, pool.data_area(), pool.data_bytes(), &fill_, &comp_, &ucfg);
  if (rc != 0) {
    umem_ = nullptr;
    throw XskSetupError("cannot register the " + std::to_string(pool.data_bytes()) +
                            "-byte buffer pool as UMEM: " + errno_text(-rc),
                        -rc);
  }

  xsk_socket_config scfg{};
  scfg.rx_size = p.ring_size;
  scfg.tx_size = p.ring_size;
  scfg.libxdp_flags = 0;  // let libxdp load and attach its default redirect program
  scfg.xdp_flags = p.xdp_flags;
  scfg.bind_flags =
      static_cast<uint16_t>(p.bind_flags | (p.use_need_wakeup ? XDP_USE_NEED_WAKEUP : 0));
  rc = xsk_socket__create(&xsk_, p.ifname.c_str(), p.nic_queue, umem_, &rx_, &tx_, &scfg);
  if (rc != 0) {
    xsk_ = nullptr;
    release();
    throw XskSetupError("cannot bind an AF_XDP socket to " + p.ifname + " queue " +
                            std::to_string(p.nic_queue) + ": " + errno_text(-rc),
                        -rc);
  }
  fd_ = xsk_socket__fd(xsk_);

  xdp_options opts{};
  socklen_t optlen = sizeof opts;
  if (getsockopt(fd_, SOL_XDP, XDP_OPTIONS, &opts, &optlen) == 0)
    zero_copy_ = (opts.flags & XDP_OPTIONS_ZEROCOPY) != 0;
  refill();
}

XskQueue::~XskQueue() { release(); }

// Buffers still lent to the kernel stay allocated: the pool may already be
// gone (an elastic thread's pool ends with the thread, the device later),
// and until the socket is closed the kernel may still write into them.
void XskQueue::release() {
  // The socket goes first: it holds a reference on the UMEM, and deleting
  // the last socket of this process on the interface makes libxdp remove
  // the XDP program it attached.
  if (xsk_ != nullptr) xsk_socket__delete(xsk_);
  xsk_ = nullptr;
  if (umem_ != nullptr) xsk_umem__delete(umem_);
  umem_ = nullptr;
  fd_ = -1;
}

void XskQueue::refill() {
  if (fill_lent_ >= ring_size_) return;  // the fill ring is kept full
  const uint32_t want = ring_size_ - fill_lent_;
  const uint32_t room = xsk_prod_nb_free(&fill_, want);
  uint32_t idx = 0;
  if (room == 0 || xsk_ring_prod__reserve(&fill_, std::min(room, want), &idx) == 0) return;
  const uint32_t n = std::min(room, want);
  uint32_t posted = 0;
  for (; posted < n; ++posted) {
    mem::Mbuf *m = pool_->alloc_rx();
    if (m == nullptr) break;
    // Aligned-chunk mode: the kernel masks the address to its chunk and puts
    // the frame XDP_PACKET_HEADROOM bytes in.
    *xsk_ring_prod__fill_addr(&fill_, idx + posted) = pool_->data_offset_of(m) - m->data_off;
  }
  if (posted < n) {
    // libxdp has no cancel; reserve only moved the cached producer.
    fill_.cached_prod -= n - posted;
    bump(counters_.fill_short, 1);
  }
  xsk_ring_prod__submit(&fill_, posted);
  fill_lent_ += posted;
  pool_->set_device_held(fill_lent_ + tx_lent_);
}

void XskQueue::drain_completions() {
  uint32_t idx = 0;
  const uint32_t done = xsk_ring_cons__peek(&comp_, ring_size_, &idx);
  if (done == 0) return;
  for (uint32_t i = 0; i < done; ++i) {
    const uint64_t addr = *xsk_ring_cons__comp_addr(&comp_, idx + i);
    // Only buffers we posted can complete; anything else is ignored, not freed.
    mem::Mbuf *m = pool_->by_data_offset(addr);
    if (m == nullptr || m->in_use == 0 || tx_lent_ == 0) continue;
    --tx_lent_;
    pool_->free_one(m);
  }
  xsk_ring_cons__release(&comp_, done);
  pool_->set_device_held(fill_lent_ + tx_lent_);
}

void XskQueue::kick_rx() {
  bump(counters_.rx_kicks, 1);
  if (recvfrom(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr) < 0 && !transient_kick_error(errno))
    bump(counters_.kick_errors, 1);
}

// In copy mode the kernel transmits only inside a sendto() on the socket, and
// each call sends a bounded batch (32 frames in current kernels), so a kick is
// due whenever posted descriptors are still unconsumed, not only right after
// posting. With need_wakeup the kernel says when it wants one (always, in
// copy mode); zero-copy drivers clear the flag while their NAPI loop is
// already draining the ring, which saves the system call.
void XskQueue::kick_tx_if_pending() {
  if (*tx_.producer == __atomic_load_n(tx_.consumer, __ATOMIC_ACQUIRE)) return;
  if (use_need_wakeup_ && !xsk_ring_prod__needs_wakeup(&tx_)) return;
  bump(counters_.tx_kicks, 1);
  if (sendto(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, 0) < 0 && !transient_kick_error(errno))
    bump(counters_.kick_errors, 1);
}

// Each received descriptor names a pool buffer this queue posted on the fill
// ring: the mbuf goes up as it is, pointing at the frame inside its buffer.
uint16_t XskQueue::rx_burst(mem::Mbuf **pkts, uint16_t max) {
  drain_completions();
  uint32_t idx = 0;
  const uint32_t got = xsk_ring_cons__peek(&rx_, max, &idx);
  if (got == 0) {
    refill();
    if (use_need_wakeup_ && xsk_ring_prod__needs_wakeup(&fill_)) kick_rx();
    kick_tx_if_pending();
    return 0;
  }
  uint16_t out = 0;
  uint64_t bytes = 0, dropped = 0;
  for (uint32_t i = 0; i < got; ++i) {
    const xdp_desc *d = xsk_ring_cons__rx_desc(&rx_, idx + i);
    const uint64_t addr = d->addr;  // aligned mode: chunk base + offset of the frame
    const uint32_t len = d->len;
    mem::Mbuf *m = pool_->by_data_offset(addr);
    const uint64_t off = addr % frame_size_;
    if (m == nullptr || m->in_use == 0 || fill_lent_ == 0 || len == 0 || off + len > m->buf_len) {
      ++dropped;  // not a buffer we lent: never read it, never free it
      continue;
    }
    --fill_lent_;
    m->data_off = static_cast<uint16_t>(off);
    m->data_len = static_cast<uint16_t>(len);
    m->pkt_len = len;
    m->rx_queue = queue_index_;
    pkts[out++] = m;
    bytes += len;
  }
  xsk_ring_cons__release(&rx_, got);
  refill();  // also tells the pool what the device holds
  bump(counters_.rx_packets, out);
  bump(counters_.rx_bytes, bytes);
  if (dropped != 0) bump(counters_.rx_dropped, dropped);
  kick_tx_if_pending();
  return out;
}

mem::Mbuf *XskQueue::gather(mem::Mbuf *m) {
  mem::Mbuf *f = pool_->alloc();
  if (f == nullptr) return nullptr;
  unsigned segs = 0;
  for (const mem::Mbuf *s = m; s != nullptr; s = s->next) {
    uint8_t *dst = ++segs <= kMaxTxSegments ? f->append(s->data_len) : nullptr;
    if (dst == nullptr) {  // longer than a buffer, or a malformed chain
      pool_->free_one(f);
      return nullptr;
    }
    std::memcpy(dst, s->data(), s->data_len);
  }
  return f;
}

uint16_t XskQueue::tx_burst(mem::Mbuf **pkts, uint16_t n) {
  drain_completions();
  const uint32_t room = xsk_prod_nb_free(&tx_, n);
  uint32_t idx = 0;
  if (room == 0 || xsk_ring_prod__reserve(&tx_, std::min<uint32_t>(room, n), &idx) == 0) {
    kick_tx_if_pending();
    return 0;
  }
  const uint32_t slots = std::min<uint32_t>(room, n);
  uint32_t used = 0;
  uint16_t taken = 0;
  uint64_t bytes = 0, dropped = 0, zero_copy = 0;
  while (taken < n && used < slots) {
    mem::Mbuf *m = pkts[taken++];
    if (m == nullptr) continue;
    mem::Mbuf *f = m;
    if (m->pool != pool_ || m->next != nullptr || m->is_external()) {
      f = gather(m);
      mem::MbufPool::free_chain(m);  // the data is in f now: release m's owners
    } else {
      ++zero_copy;
    }
    if (f == nullptr || f->data_len == 0) {
      ++dropped;  // empty, larger than a buffer, malformed, or no buffer to gather into
      if (f != nullptr) pool_->free_one(f);
      continue;
    }
    xdp_desc *d = xsk_ring_prod__tx_desc(&tx_, idx + used++);
    d->addr = pool_->data_offset_of(f);
    d->len = f->data_len;
    d->options = 0;
    bytes += f->data_len;
    ++tx_lent_;
  }
  // Hand back reserved slots left unfilled because packets were dropped
  // (libxdp 1.3 has no prod cancel call; reserve only moved cached_prod).
  tx_.cached_prod -= slots - used;
  xsk_ring_prod__submit(&tx_, used);
  pool_->set_device_held(fill_lent_ + tx_lent_);
  bump(counters_.tx_packets, used);
  bump(counters_.tx_bytes, bytes);
  bump(counters_.tx_zero_copy, zero_copy);
  bump(counters_.tx_gathered, used - zero_copy);
  if (dropped != 0) bump(counters_.tx_dropped, dropped);
  kick_tx_if_pending();
  return taken;
}

XdpQueueStats XskQueue::xdp_stats() const {
  XdpQueueStats s;
  xdp_statistics k{};
  socklen_t len = sizeof k;
  if (fd_ >= 0 && getsockopt(fd_, SOL_XDP, XDP_STATISTICS, &k, &len) == 0) {
    s.rx_dropped = k.rx_dropped;
    s.rx_invalid_descs = k.rx_invalid_descs;
    s.tx_invalid_descs = k.tx_invalid_descs;
    s.rx_ring_full = k.rx_ring_full;
    s.rx_fill_ring_empty_descs = k.rx_fill_ring_empty_descs;
    s.tx_ring_empty_descs = k.tx_ring_empty_descs;
  }
  s.tx_kicks = counters_.tx_kicks.load(std::memory_order_relaxed);
  s.rx_kicks = counters_.rx_kicks.load(std::memory_order_relaxed);
  s.kick_errors = counters_.kick_errors.load(std::memory_order_relaxed);
  s.tx_zero_copy = counters_.tx_zero_copy.load(std::memory_order_relaxed);
  s.tx_gathered = counters_.tx_gathered.load(std::memory_order_relaxed);
  s.fill_short = counters_.fill_short.load(std::memory_order_relaxed);
  return s;
}

QueueStats XskQueue::stats() const {
  const XdpQueueStats k = xdp_stats();
  QueueStats s;
  s.rx_packets = counters_.rx_packets.load(std::memory_order_relaxed);
  s.rx_bytes = counters_.rx_bytes.load(std::memory_order_relaxed);
  // The kernel drops a frame for want of a fill buffer (the pool was empty)
  // and counts it both as rx_dropped and as finding the fill ring empty.
  const uint64_t no_fill = std::min(k.rx_fill_ring_empty_descs, k.rx_dropped);
  s.rx_nombuf = no_fill;
  s.rx_dropped = counters_.rx_dropped.load(std::memory_order_relaxed) + (k.rx_dropped - no_fill) +
                 k.rx_ring_full;
  s.tx_packets = counters_.tx_packets.load(std::memory_order_relaxed);
  s.tx_bytes = counters_.tx_bytes.load(std::memory_order_relaxed);
  s.tx_dropped = counters_.tx_dropped.load(std::memory_order_relaxed) + k.tx_invalid_descs;
  return s;
}

}  // namespace ix::drivers
