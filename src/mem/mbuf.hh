// Packet buffer (mbuf): a fixed-size data buffer with headroom so that each
// protocol layer can prepend its header without copying. Laid out like DPDK's
// rte_mbuf: fields the RX fast path reads sit in the first cache line, TX and
// external-buffer fields in the second. The data area follows the header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ix::mem {

class MbufPool;
struct Mbuf;

// Called when an mbuf that points at application memory is freed, i.e. when
// the stack and driver no longer reference that memory (zero-copy send).
using ExtReleaseFn = void (*)(Mbuf *m, void *arg);

// Offload flags (ol_flags).
enum MbufFlags : uint32_t {
  kRxIpCsumGood = 1u << 0,  // NIC verified the IPv4 header checksum
  kRxL4CsumGood = 1u << 1,  // NIC verified the TCP/UDP checksum
  kRxRssHashValid = 1u << 2,
  kTxIpCsum = 1u << 8,  // ask the NIC to fill the IPv4 header checksum
  kTxL4Csum = 1u << 9,  // ask the NIC to fill the TCP/UDP checksum (pseudo-header sum preset)
};

struct alignas(64) Mbuf {
  // ---- cache line 0: RX fast path ----
  uint8_t *buf;       // start of the buffer (headroom begins here)
  uint16_t data_off;  // offset of the first valid byte from buf
  uint16_t data_len;  // valid bytes in this segment
  uint32_t pkt_len;   // total bytes across the chain (first segment only)
  uint32_t rss_hash;  // Toeplitz hash, valid when kRxRssHashValid
  uint32_t ol_flags;
  uint16_t rx_queue;
  uint16_t nb_segs;  // segments in the chain (first segment only)
  uint16_t buf_len;  // capacity of buf
  uint8_t l2_len;    // header lengths, set by the parsers for later layers
  uint8_t l3_len;
  Mbuf *next;  // next segment, or nullptr
  MbufPool *pool;
  uint32_t index;       // position in the pool (stable identity for handles)
  uint16_t generation;  // bumped on every free; makes stale handles detectable
  uint8_t app_held;     // 1 while lent to the application (zero-copy receive)
  uint8_t in_use;       // 1 while allocated, 0 while in the free list
  // 1 while held by a stack other than its pool's owner (a flow-group move
  // took the connection holding it to another elastic thread): its free
  // goes back through the pool's return stack (MbufPool::give_back).
  uint8_t away;

  // ---- cache line 1: TX / external data ----
  alignas(64) ExtReleaseFn ext_release;  // non-null: data points to foreign memory
  void *ext_arg;
  uint64_t cookie;   // owner's tag (e.g. the application's command cookie)
  uint8_t *own_buf;  // the pool's data area for this mbuf (buf when not external)
  uint16_t own_buf_len;
  uint16_t l4_len;
  uint32_t reserved1;
  uint64_t user;  // scratch for the layer that currently owns the mbuf

  uint8_t *data() { return buf + data_off; }
  const uint8_t *data() const { return buf + data_off; }
  template <typename T>
  T *at(size_t off) {
    return reinterpret_cast<T *>(data() + off);
  }
  uint16_t headroom() const { return data_off; }
  uint16_t tailroom() const { return static_cast<uint16_t>(buf_len - data_off - data_len); }

  // Prepend n bytes (a header). Returns nullptr if there is not enough headroom.
  uint8_t *prepend(uint16_t n) {
    if (n > data_off) return nullptr;
    data_off = static_cast<uint16_t>(data_off - n);
    data_len = static_cast<uint16_t>(data_len + n);
    pkt_len += n;
    return data();
  }
  // Strip n bytes from the front. Returns nullptr if the segment is shorter.
  uint8_t *adj(uint16_t n) {
    if (n > data_len) return nullptr;
    data_off = static_cast<uint16_t>(data_off + n);
    data_len = static_cast<uint16_t>(data_len - n);
    pkt_len -= n;
    return data();
  }
  // Append n bytes at the end of this (single) segment; nullptr without tailroom.
  uint8_t *append(uint16_t n) {
    if (n > tailroom()) return nullptr;
    uint8_t *p = data() + data_len;
    data_len = static_cast<uint16_t>(data_len + n);
    pkt_len += n;
    return p;
  }
  // Cut the packet to n bytes total (single segment packets only shrink data_len).
  void trim_to(uint32_t n) {
    if (n >= pkt_len) return;
    if (next == nullptr) {
      data_len = static_cast<uint16_t>(n);
      pkt_len = n;
    }
  }
  bool is_external() const { return ext_release != nullptr; }

  // Attach application memory as this segment's data (zero-copy send).
  void attach_external(const void *data, uint16_t len, ExtReleaseFn fn, void *arg, uint64_t tag) {
    buf = const_cast<uint8_t *>(static_cast<const uint8_t *>(data));
    buf_len = len;
    data_off = 0;
    data_len = len;
    pkt_len = len;
    ext_release = fn;
    ext_arg = arg;
    cookie = tag;
  }

  // Append segment `seg` (and its chain) after the last segment of this packet.
  void chain(Mbuf *seg) {
    Mbuf *last = this;
    while (last->next != nullptr) last = last->next;
    last->next = seg;
    pkt_len += seg->pkt_len;
    nb_segs = static_cast<uint16_t>(nb_segs + seg->nb_segs);
  }

  // Copy the whole chain's bytes into dst (which holds at least pkt_len bytes).
  void copy_out(uint8_t *dst) const {
    for (const Mbuf *s = this; s != nullptr; s = s->next) {
      std::memcpy(dst, s->data(), s->data_len);
      dst += s->data_len;
    }
  }
};

static_assert(offsetof(Mbuf, ext_release) == 64, "TX fields start the second cache line");
static_assert(sizeof(Mbuf) == 128, "mbuf header is two cache lines");

}  // namespace ix::mem
