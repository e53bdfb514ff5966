#include "drivers/xdp/xsk_queue.hh"

#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ix::drivers {

namespace {

// A chain longer than this is malformed (or cyclic); it is dropped, not walked.
constexpr unsigned kMaxTxSegments = 256;

std::string errno_text(int err) { return std::string(std::strerror(err)); }

// Errors a wakeup may return that only mean "try again on a later burst".
bool transient_kick_error(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == EBUSY || err == ENOBUFS || err == ENETDOWN ||
         err == EINTR;
}

}  // namespace

XskQueue::XskQueue(const XskQueueParams &p)
    : frame_mask_(~static_cast<uint64_t>(p.frame_size - 1)),
      frame_size_(p.frame_size),
      ring_size_(p.ring_size),
      queue_index_(p.queue_index),
      use_need_wakeup_(p.use_need_wakeup) {
  const uint64_t frames = 2ull * p.ring_size;
  umem_bytes_ = frames * p.frame_size;
  void *area = mmap(nullptr, umem_bytes_, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (area == MAP_FAILED) {
    const int err = errno;
    throw XskSetupError("cannot map " + std::to_string(umem_bytes_) +
                            " bytes of UMEM: " + errno_text(err) + "; lower ring_size",
                        err);
  }
  umem_area_ = static_cast<uint8_t *>(area);
  frame_lists_.assign(2 * static_cast<size_t>(p.ring_size), 0);
  tx_free_ = frame_lists_.data();
  fill_backlog_ = frame_lists_.data() + p.ring_size;

  xsk_umem_config ucfg{};
  ucfg.fill_size = p.ring_size;
  ucfg.comp_size = p.ring_size;
  ucfg.frame_size = p.frame_size;
  ucfg.frame_headroom = 0;
  ucfg.flags = 0;
  int rc = xsk_umem__create(&umem_, umem_area_, umem_bytes_, &fill_, &comp_, &ucfg);
  if (rc != 0) {
    umem_ = nullptr;
    release();
    throw XskSetupError("cannot register the UMEM: " + errno_text(-rc), -rc);
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

  // RX frames: [0, ring_size) go to the fill ring; TX frames: the rest.
  for (uint32_t i = 0; i < p.ring_size; ++i)
    fill_backlog_[fill_backlog_n_++] = static_cast<uint64_t>(i) * p.frame_size;
  for (uint32_t i = 0; i < p.ring_size; ++i)
    tx_free_[tx_free_n_++] = static_cast<uint64_t>(p.ring_size + i) * p.frame_size;
  refill();
}

XskQueue::~XskQueue() { release(); }

void XskQueue::release() {
  // The socket goes first: it holds a reference on the UMEM, and deleting
  // the last socket of this process on the interface makes libxdp remove
  // the XDP program it attached.
  if (xsk_ != nullptr) xsk_socket__delete(xsk_);
  xsk_ = nullptr;
  if (umem_ != nullptr) xsk_umem__delete(umem_);
  umem_ = nullptr;
  if (umem_area_ != nullptr) munmap(umem_area_, umem_bytes_);
  umem_area_ = nullptr;
  fd_ = -1;
}

void XskQueue::refill() {
  if (fill_backlog_n_ == 0) return;
  const uint32_t room = std::min(fill_backlog_n_, xsk_prod_nb_free(&fill_, fill_backlog_n_));
  uint32_t idx = 0;
  if (room == 0 || xsk_ring_prod__reserve(&fill_, room, &idx) != room) return;
  for (uint32_t i = 0; i < room; ++i)
    *xsk_ring_prod__fill_addr(&fill_, idx + i) = fill_backlog_[--fill_backlog_n_];
  xsk_ring_prod__submit(&fill_, room);
}

void XskQueue::drain_completions() {
  uint32_t idx = 0;
  const uint32_t done = xsk_ring_cons__peek(&comp_, ring_size_, &idx);
  if (done == 0) return;
  for (uint32_t i = 0; i < done; ++i) {
    const uint64_t addr = *xsk_ring_cons__comp_addr(&comp_, idx + i);
    // Only frames we posted can complete; anything else is ignored, not reused.
    if (addr < umem_bytes_ && tx_free_n_ < ring_size_) tx_free_[tx_free_n_++] = addr & frame_mask_;
  }
  xsk_ring_cons__release(&comp_, done);
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

// RX copies each frame into an mbuf from the queue's pool and hands the UMEM
// frame straight back to the fill ring. This is the one copy the driver adds;
// lending UMEM frames out as mbufs (true zero-copy RX, returning frames to the
// fill ring when the stack frees them) is a later optimization.
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
  uint64_t bytes = 0, nombuf = 0, dropped = 0;
  for (uint32_t i = 0; i < got; ++i) {
    const xdp_desc *d = xsk_ring_cons__rx_desc(&rx_, idx + i);
    const uint64_t addr = d->addr;  // aligned mode: frame base + data offset
    const uint32_t len = d->len;
    if (addr >= umem_bytes_ || len > umem_bytes_ - addr || fill_backlog_n_ == ring_size_) {
      ++dropped;  // not a frame of ours: never read it, never recycle it
      continue;
    }
    fill_backlog_[fill_backlog_n_++] = addr & frame_mask_;
    mem::Mbuf *m = pool_ != nullptr ? pool_->alloc_rx() : nullptr;
    if (m == nullptr) {
      ++nombuf;
      continue;
    }
    uint8_t *dst = m->append(static_cast<uint16_t>(std::min<uint32_t>(len, 0xffff)));
    if (dst == nullptr || len > 0xffff) {  // frame larger than the pool's buffers
      pool_->free_one(m);
      ++dropped;
      continue;
    }
    std::memcpy(dst, umem_area_ + addr, len);
    m->rx_queue = queue_index_;
    pkts[out++] = m;
    bytes += len;
  }
  xsk_ring_cons__release(&rx_, got);
  refill();
  bump(counters_.rx_packets, out);
  bump(counters_.rx_bytes, bytes);
  if (nombuf != 0) bump(counters_.rx_nombuf, nombuf);
  if (dropped != 0) bump(counters_.rx_dropped, dropped);
  kick_tx_if_pending();
  return out;
}

uint32_t XskQueue::gather_into_frame(const mem::Mbuf *m, uint64_t frame) {
  uint8_t *dst = umem_area_ + frame;
  uint32_t total = 0;
  unsigned segs = 0;
  for (const mem::Mbuf *s = m; s != nullptr; s = s->next) {
    if (++segs > kMaxTxSegments || s->data_len > frame_size_ - total) return 0;
    std::memcpy(dst + total, s->data(), s->data_len);
    total += s->data_len;
  }
  return total;
}

// TX gathers each chain (segments may point into application memory) into
// one UMEM frame and frees the chain at once: the data now lives in the UMEM,
// so external-buffer owners get their release callback here.
uint16_t XskQueue::tx_burst(mem::Mbuf **pkts, uint16_t n) {
  drain_completions();
  uint32_t room = std::min<uint32_t>(n, tx_free_n_);
  room = std::min(room, xsk_prod_nb_free(&tx_, room));
  uint32_t idx = 0;
  if (room == 0 || xsk_ring_prod__reserve(&tx_, room, &idx) != room) {
    kick_tx_if_pending();
    return 0;
  }
  uint32_t used = 0;
  uint16_t taken = 0;
  uint64_t bytes = 0, dropped = 0;
  while (taken < n && used < room) {
    mem::Mbuf *m = pkts[taken++];
    if (m == nullptr) continue;
    const uint64_t frame = tx_free_[tx_free_n_ - 1];
    const uint32_t len = gather_into_frame(m, frame);
    if (len == 0) {
      ++dropped;  // empty, larger than a frame, or malformed chain
    } else {
      --tx_free_n_;
      xdp_desc *d = xsk_ring_prod__tx_desc(&tx_, idx + used++);
      d->addr = frame;
      d->len = len;
      d->options = 0;
      bytes += len;
    }
    mem::MbufPool::free_chain(m);
  }
  // Hand back reserved slots left unfilled because packets were dropped
  // (libxdp 1.3 has no prod cancel call; reserve only moved cached_prod).
  tx_.cached_prod -= room - used;
  xsk_ring_prod__submit(&tx_, used);
  bump(counters_.tx_packets, used);
  bump(counters_.tx_bytes, bytes);
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
  return s;
}

QueueStats XskQueue::stats() const {
  const XdpQueueStats k = xdp_stats();
  QueueStats s;
  s.rx_packets = counters_.rx_packets.load(std::memory_order_relaxed);
  s.rx_bytes = counters_.rx_bytes.load(std::memory_order_relaxed);
  s.rx_nombuf = counters_.rx_nombuf.load(std::memory_order_relaxed);
  // Frames the kernel could not deliver to the socket count as drops too.
  s.rx_dropped =
      counters_.rx_dropped.load(std::memory_order_relaxed) + k.rx_dropped + k.rx_ring_full;
  s.tx_packets = counters_.tx_packets.load(std::memory_order_relaxed);
  s.tx_bytes = counters_.tx_bytes.load(std::memory_order_relaxed);
  s.tx_dropped = counters_.tx_dropped.load(std::memory_order_relaxed) + k.tx_invalid_descs;
  return s;
}

}  // namespace ix::drivers
