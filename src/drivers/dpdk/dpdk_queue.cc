#include "drivers/dpdk/dpdk_queue.hh"

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <cstring>

#include "drivers/dpdk/eal.hh"
#include "drivers/dpdk/peer_memory_guard.hh"

namespace ix::drivers {

namespace {

constexpr uint16_t kEthHeaderLen = 14;
constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint8_t kIpProtoTcp = 6;

// The private area of an attach rte_mbuf: the IX buffer it carries and the
// shared info DPDK keeps for an external buffer (its reference count and
// free callback). It stays valid during the callback: the rte_mbuf goes back
// to its mempool only after.
struct TxAttach {
  rte_mbuf_ext_shared_info shinfo;
  mem::Mbuf *ix;
  TxReturns *returns;
  uint32_t generation;
};

}  // namespace

DpdkQueue::DpdkQueue(const DpdkQueueParams &p)
    : p_(p),
      max_frame_(p.pool != nullptr
                     ? rte_pktmbuf_data_room_size(p.pool) - uint32_t{RTE_PKTMBUF_HEADROOM}
                     : 0) {}

size_t tx_attach_priv_size() { return RTE_ALIGN(sizeof(TxAttach), RTE_MBUF_PRIV_ALIGN); }

namespace {

// The PMD freed an rte_mbuf carrying an IX buffer (any thread): the buffer
// goes on its queue's return ring, untouched (TxReturns).
void tx_buffer_done(void * /*addr*/, void *opaque) {
  auto *a = static_cast<TxAttach *>(opaque);
  TxReturns *r = a->returns;
  if (a->generation != r->live.load(std::memory_order_acquire)) return;
  TxReturn e{a->ix, a->generation};
  if (rte_ring_mp_enqueue_elem(r->ring, &e, sizeof e) != 0)
    r->overflow.fetch_add(1, std::memory_order_relaxed);
}

// A frame the PMD refused: the caller keeps it, buffer and all.
void keep_tx_buffer(void *, void *) {}

// An IX mbuf that wrapped an rte_mbuf is freed: the rte_mbuf goes home.
void return_lent_rte_mbuf(mem::Mbuf *m, void *loans_arg) {
  auto *loans = static_cast<RxLoans *>(loans_arg);
  loans->lent.store(loans->lent.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  rte_pktmbuf_free(reinterpret_cast<rte_mbuf *>(m->cookie));
}

}  // namespace

bool DpdkQueue::link_up() const {
  rte_eth_link link{};
  return rte_eth_link_get_nowait(p_.port, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

uint16_t DpdkQueue::rx_burst(mem::Mbuf **pkts, uint16_t max) {
  register_eal_thread();
  // Buffers sent zero copy that the PMD let go of (owner-only fields: no
  // shared read while none is out).
  if (tx_attached_ != tx_taken_back_) take_returns();
  rte_mbuf *raw[kMaxBurst];
  uint16_t got = 0;
  if (!p_.peer_memory) {
    got = rte_eth_rx_burst(p_.port, p_.queue, raw, std::min(max, kMaxBurst));
  } else {
    if (!link_up()) return 0;
    if (!guarded(
            [&] { got = rte_eth_rx_burst(p_.port, p_.queue, raw, std::min(max, kMaxBurst)); })) {
      peer_memory_faults_.add();
      return 0;
    }
  }
  if (got == 0) return 0;
  rte_mbuf *done[kMaxBurst];  // back to the mempool at the end (copied or dropped)
  uint16_t ndone = 0;
  uint16_t out = 0;
  uint64_t bytes = 0, nombuf = 0, too_long = 0, bad_chain = 0, lent = 0;
  uint32_t on_loan =
      p_.loans != nullptr ? p_.loans->lent.load(std::memory_order_relaxed) : UINT32_MAX;
  const uint32_t loan_limit = p_.loans != nullptr ? p_.loans->limit : 0;
  for (uint16_t i = 0; i < got; ++i) {
    rte_mbuf *r = raw[i];
    const uint32_t len = rte_pktmbuf_pkt_len(r);
    mem::Mbuf *m = rx_pool_ != nullptr ? rx_pool_->alloc_rx() : nullptr;
    if (m == nullptr) {
      ++nombuf;
      done[ndone++] = r;
      continue;
    }
    if (r->nb_segs == 1 && on_loan < loan_limit && len == r->data_len) {
      // Lend: the IX mbuf's buffer is the rte_mbuf's, headroom included.
      m->buf = static_cast<uint8_t *>(r->buf_addr);
      m->buf_len = r->buf_len;
      m->data_off = r->data_off;
      m->data_len = static_cast<uint16_t>(len);
      m->pkt_len = len;
      m->ext_release = &return_lent_rte_mbuf;
      m->ext_arg = p_.loans;
      m->cookie = reinterpret_cast<uint64_t>(r);
      ++on_loan;
      ++lent;
    } else {
      done[ndone++] = r;
      uint8_t *dst = len <= m->tailroom() ? m->append(static_cast<uint16_t>(len)) : nullptr;
      if (dst == nullptr) {
        rx_pool_->free_one(m);
        ++too_long;
        continue;
      }
      // Chained, or the loan is used up: copy every segment into the IX mbuf.
      uint32_t copied = 0;
      unsigned segs = 0;
      for (const rte_mbuf *s = r; s != nullptr && segs < kMaxTxSegments; s = s->next, ++segs) {
        if (s->data_len > len - copied) break;
        std::memcpy(dst + copied, rte_pktmbuf_mtod(s, const uint8_t *), s->data_len);
        copied += s->data_len;
      }
      if (copied != len) {
        rx_pool_->free_one(m);
        ++bad_chain;
        continue;
      }
    }
    const uint64_t f = r->ol_flags;
    if (p_.trusted_link) m->ol_flags |= mem::kRxIpCsumGood | mem::kRxL4CsumGood;
    if ((f & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
      m->ol_flags |= mem::kRxIpCsumGood;
    if ((f & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
      m->ol_flags |= mem::kRxL4CsumGood;
    if ((f & RTE_MBUF_F_RX_RSS_HASH) != 0) {
      m->rss_hash = r->hash.rss;
      m->ol_flags |= mem::kRxRssHashValid;
    }
    m->rx_queue = p_.queue;
    pkts[out++] = m;
    bytes += len;
  }
  if (lent != 0) p_.loans->lent.store(on_loan, std::memory_order_relaxed);
  if (ndone != 0) rte_pktmbuf_free_bulk(done, ndone);
  rx_packets_.add(out);
  rx_bytes_.add(bytes);
  rx_lent_.add(lent);
  rx_copied_.add(out - lent);
  if (nombuf != 0) rx_nombuf_.add(nombuf);
  if (too_long + bad_chain != 0) {
    rx_dropped_.add(too_long + bad_chain);
    rx_too_long_.add(too_long);
    rx_bad_chain_.add(bad_chain);
  }
  return out;
}

uint32_t DpdkQueue::gather(const mem::Mbuf *m, void *raw) {
  auto *r = static_cast<rte_mbuf *>(raw);
  uint8_t *dst = rte_pktmbuf_mtod(r, uint8_t *);
  const uint32_t room = rte_pktmbuf_tailroom(r);
  uint32_t total = 0;
  unsigned segs = 0;
  for (const mem::Mbuf *s = m; s != nullptr; s = s->next) {
    if (++segs > kMaxTxSegments) {
      tx_bad_chain_.add();
      return 0;
    }
    if (s->data_len > room - total) {
      tx_too_long_.add();
      return 0;
    }
    // The one TX copy: header mbufs and application memory alike.
    std::memcpy(dst + total, s->data(), s->data_len);
    total += s->data_len;
  }
  if (total == 0 || total != m->pkt_len) {
    tx_bad_chain_.add();
    return 0;
  }
  r->data_len = static_cast<uint16_t>(total);
  r->pkt_len = total;
  request_offloads(m, r, dst, total);
  return total;
}

uint32_t DpdkQueue::attach(mem::Mbuf *m, void *raw) {
  auto *r = static_cast<rte_mbuf *>(raw);
  const uint32_t len = m->data_len;
  if (len == 0) {
    tx_bad_chain_.add();
    return 0;
  }
  if (len > max_frame_) {
    tx_too_long_.add();
    return 0;
  }
  auto *a = static_cast<TxAttach *>(rte_mbuf_to_priv(r));
  a->ix = m;
  a->returns = p_.returns;
  a->generation = p_.generation;
  a->shinfo.free_cb = &tx_buffer_done;
  a->shinfo.fcb_opaque = a;
  rte_mbuf_ext_refcnt_set(&a->shinfo, 1);
  // IOVA as VA (the device enables zero copy only then): the buffer's
  // address is its DMA address, mapped for the port by the device.
  rte_pktmbuf_attach_extbuf(r, m->buf, reinterpret_cast<rte_iova_t>(m->buf), m->buf_len,
                            &a->shinfo);
  r->data_off = m->data_off;
  r->data_len = static_cast<uint16_t>(len);
  r->pkt_len = len;
  request_offloads(m, r, m->data(), len);
  return len;
}

void DpdkQueue::request_offloads(const mem::Mbuf *m, void *raw, const uint8_t *frame,
                                 uint32_t len) const {
  // Checksum offload: the stack asked for it only if caps() offered it, and
  // left the IPv4 checksum zero and the pseudo-header sum in the TCP/UDP
  // checksum field, as DPDK's offload contract expects. Lengths come from the
  // frame itself rather than from the mbuf's l2/l3 fields.
  auto *r = static_cast<rte_mbuf *>(raw);
  const uint32_t want = m->ol_flags & (mem::kTxIpCsum | mem::kTxL4Csum);
  if (want == 0 || len < kEthHeaderLen + 20u ||
      ((uint16_t{frame[12]} << 8) | frame[13]) != kEtherTypeIpv4)
    return;
  const uint16_t l3 = static_cast<uint16_t>((frame[kEthHeaderLen] & 0x0f) * 4);
  r->l2_len = kEthHeaderLen;
  r->l3_len = l3;
  uint64_t f = RTE_MBUF_F_TX_IPV4;
  if ((want & mem::kTxIpCsum) != 0 && p_.tx_ip_csum) f |= RTE_MBUF_F_TX_IP_CKSUM;
  if ((want & mem::kTxL4Csum) != 0 && p_.tx_l4_csum)
    f |=
        frame[kEthHeaderLen + 9] == kIpProtoTcp ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM;
  r->ol_flags |= f;
}

void DpdkQueue::take_returns() {
  TxReturn back[kMaxBurst];
  unsigned n;
  while ((n = rte_ring_sc_dequeue_burst_elem(p_.returns->ring, back, sizeof(TxReturn), kMaxBurst,
                                             nullptr)) != 0) {
    uint32_t ours = 0;
    for (unsigned i = 0; i < n; ++i) {
      // A buffer of an earlier generation slipped in as that one ended: its
      // pool may be gone, so it is left alone.
      if (back[i].generation != p_.generation) continue;
      back[i].m->pool->free_one(back[i].m);
      ++ours;
    }
    tx_taken_back_ += ours;
    note_in_device();
  }
}

void DpdkQueue::start_generation(uint32_t generation) {
  p_.generation = generation;
  tx_attached_ = tx_taken_back_ = 0;
  tx_in_device_.store(0, std::memory_order_relaxed);
}

void DpdkQueue::note_in_device() {
  const uint64_t held = tx_attached_ - tx_taken_back_;
  tx_in_device_.store(held, std::memory_order_relaxed);
  // What the port holds beyond its share comes out of the stack's part.
  if (rx_pool_ != nullptr)
    rx_pool_->set_device_held(
        static_cast<uint32_t>(std::min<uint64_t>(held, rx_pool_->device_share())));
}

uint16_t DpdkQueue::tx_burst(mem::Mbuf **pkts, uint16_t n) {
  register_eal_thread();
  if (tx_attached_ != tx_taken_back_) take_returns();
  n = std::min(n, kMaxBurst);
  if (n == 0) return 0;
  if (p_.peer_memory && !link_up()) {
    // No link, no wire: dropped, as a NIC with its link down drops them.
    uint64_t dropped = 0;
    for (uint16_t i = 0; i < n; ++i)
      if (pkts[i] != nullptr) {
        mem::MbufPool::free_chain(pkts[i]);
        ++dropped;
      }
    tx_dropped_.add(dropped);
    return n;
  }

  enum : uint8_t { kSkipped, kDropped, kCopied, kAttached };
  rte_mbuf *out[kMaxBurst];
  uint16_t src_of[kMaxBurst];  // pkts index each out[] entry came from
  uint32_t len_of[kMaxBurst];
  uint8_t fate[kMaxBurst];
  uint16_t k = 0, i = 0;
  bool no_mbuf = false;
  for (; i < n; ++i) {
    fate[i] = kSkipped;
    mem::Mbuf *m = pkts[i];
    if (m == nullptr) continue;
    rte_mbuf *r = nullptr;
    uint32_t len = 0;
    if (zero_copy_fits(m) && (r = rte_pktmbuf_alloc(p_.attach_pool)) != nullptr) {
      len = attach(m, r);
      fate[i] = kAttached;
    } else {
      // A chain, foreign memory, or no attach rte_mbuf left: copy.
      if ((r = rte_pktmbuf_alloc(p_.pool)) == nullptr) {
        no_mbuf = true;
        break;  // this frame and the rest stay with the caller
      }
      len = gather(m, r);
      fate[i] = kCopied;
    }
    if (len == 0) {
      rte_pktmbuf_free(r);  // still blank: attach and gather refuse before writing it
      fate[i] = kDropped;
      continue;
    }
    len_of[k] = len;
    src_of[k] = i;
    out[k++] = r;
  }
  const uint16_t looked_at = i;  // frames [0, i) were looked at

  uint16_t sent = 0;
  bool faulted = false;
  if (k != 0 && !p_.peer_memory) {
    sent = rte_eth_tx_burst(p_.port, p_.queue, out, k);
  } else if (k != 0 && !guarded([&] { sent = rte_eth_tx_burst(p_.port, p_.queue, out, k); })) {
    // Cut off half way: which of out[] the PMD kept is unknown, so all are
    // left to it (freed or lost, never freed twice). IX buffers attached in
    // this burst stay counted as held by the device: lost if it never frees
    // them (the exit report says so).
    peer_memory_faults_.add();
    faulted = true;
    sent = k;
  }
  // The PMD owns out[0, sent). Frames it refused stay the caller's: their
  // attach rte_mbufs let go of the IX buffer without returning it.
  for (uint16_t j = sent; j < k; ++j)
    if (fate[src_of[j]] == kAttached)
      static_cast<TxAttach *>(rte_mbuf_to_priv(out[j]))->shinfo.free_cb = &keep_tx_buffer;
  if (sent < k) rte_pktmbuf_free_bulk(out + sent, k - sent);

  // Taken: the frames before the first one the PMD refused (or before the
  // first not looked at). Copied and dropped ones are freed; ones sent in
  // their own buffer belong to the PMD until it frees them (take_returns).
  const uint16_t taken = sent < k ? src_of[sent] : looked_at;
  uint64_t bytes = 0, drops = 0, zero_copy = 0;
  for (uint16_t j = 0; j < sent; ++j) bytes += len_of[j];
  for (uint16_t j = 0; j < taken; ++j) {
    switch (fate[j]) {
      case kSkipped:
        break;
      case kAttached:
        ++zero_copy;
        break;
      case kDropped:
        ++drops;
        [[fallthrough]];
      case kCopied:
        mem::MbufPool::free_chain(pkts[j]);
        break;
    }
  }
  if (zero_copy != 0) {
    tx_attached_ += zero_copy;
    note_in_device();
  }
  if (no_mbuf && taken < n) tx_no_mbuf_.add(1);
  if (faulted) {
    drops += sent;  // whether any reached the peer is unknown
  } else {
    tx_packets_.add(sent);
    tx_bytes_.add(bytes);
    tx_zero_copy_frames_.add(zero_copy);
    tx_copied_.add(sent - zero_copy);
  }
  if (drops != 0) tx_dropped_.add(drops);
  return taken;
}

QueueStats DpdkQueue::stats() const {
  QueueStats s;
  s.rx_packets = rx_packets_.get();
  s.rx_bytes = rx_bytes_.get();
  s.rx_nombuf = rx_nombuf_.get();
  s.rx_dropped = rx_dropped_.get();
  s.tx_packets = tx_packets_.get();
  s.tx_bytes = tx_bytes_.get();
  s.tx_dropped = tx_dropped_.get();
  return s;
}

DpdkQueueDrops DpdkQueue::drops() const {
  DpdkQueueDrops d;
  d.rx_lent = rx_lent_.get();
  d.rx_copied = rx_copied_.get();
  d.rx_too_long = rx_too_long_.get();
  d.rx_bad_chain = rx_bad_chain_.get();
  d.tx_too_long = tx_too_long_.get();
  d.tx_bad_chain = tx_bad_chain_.get();
  d.tx_no_mbuf = tx_no_mbuf_.get();
  d.tx_zero_copy = tx_zero_copy_frames_.get();
  d.tx_copied = tx_copied_.get();
  d.peer_memory_faults = peer_memory_faults_.get();
  d.tx_in_device = tx_in_device_.load(std::memory_order_relaxed);
  d.tx_returns_lost =
      p_.returns != nullptr ? p_.returns->overflow.load(std::memory_order_relaxed) : 0;
  return d;
}

}  // namespace ix::drivers
