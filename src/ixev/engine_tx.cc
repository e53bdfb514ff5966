// Sending: the queue of segments (copies in ixev's blocks or the
// application's own memory), what the dataplane took of them, and what the
// peer acknowledged.
#include <algorithm>
#include <cstring>

#include "ixev/engine.hh"

namespace ix::ev::detail {

namespace {
// Segments are at most this long so their counters fit 32 bits.
constexpr uint64_t kMaxSegment = uint64_t{1} << 30;
}  // namespace

void Engine::tx_push(Slot &s, const uint8_t *base, uint32_t len, CopyBlock *block) {
  TxSeg *g = seg_pool_.get();
  g->base = base;
  g->len = len;
  g->submitted = 0;
  g->acked = 0;
  g->has_cookie = false;
  g->block = block;
  g->cookie = 0;
  g->next = nullptr;
  if (block != nullptr) ++block->refs;
  if (s.tx_tail != nullptr) {
    s.tx_tail->next = g;
  } else {
    s.tx_head = g;
  }
  s.tx_tail = g;
  if (s.tx_next == nullptr) s.tx_next = g;
  s.tx_unsubmitted += len;
}

void Engine::block_unref(CopyBlock *b) {
  if (--b->refs == 0) block_pool_.put(b);
}

int64_t Engine::send(Conn &c, const void *buf, size_t len) {
  Slot *s = slot_of(c);
  if (s == nullptr || !s->live() || s->close_requested || s->abort_requested) return IX_ECLOSED;
  if (len == 0) return 0;
  if (buf == nullptr) return IX_EINVAL;
  const uint64_t space =
      cfg_.send_buffer > s->tx_copy_bytes ? cfg_.send_buffer - s->tx_copy_bytes : 0;
  const size_t n = static_cast<size_t>(std::min<uint64_t>(len, space));
  if (n < len) s->want_writable = true;
  if (n == 0) return IX_EAGAIN;
  const auto *src = static_cast<const uint8_t *>(buf);
  size_t left = n;
  while (left > 0) {
    CopyBlock *b = s->tx_block;
    if (b == nullptr || b->used == kCopyBlockSize) {
      if (b != nullptr) block_unref(b);  // the tail's own reference
      b = block_pool_.get();
      b->used = 0;
      b->refs = 1;
      b->next = nullptr;
      s->tx_block = b;
    }
    const uint32_t m = static_cast<uint32_t>(std::min<size_t>(left, kCopyBlockSize - b->used));
    uint8_t *dst = b->data + b->used;
    std::memcpy(dst, src, m);
    TxSeg *t = s->tx_tail;
    // Bytes appended right behind an untouched segment of the same block
    // join it: fewer iovecs, fewer segments.
    if (t != nullptr && t->block == b && t->submitted == 0 && t->base + t->len == dst) {
      t->len += m;
      s->tx_unsubmitted += m;
    } else {
      tx_push(*s, dst, m, b);
    }
    b->used += m;
    src += m;
    left -= m;
  }
  s->tx_copy_bytes += n;
  mark_dirty(*s);
  return static_cast<int64_t>(n);
}

size_t Engine::send_space(const Conn &c) const {
  const Slot *s = slot_of(c);
  if (s == nullptr || !s->live() || s->close_requested || s->abort_requested) return 0;
  return cfg_.send_buffer > s->tx_copy_bytes ? cfg_.send_buffer - s->tx_copy_bytes : 0;
}

int Engine::sendv_zc(Conn &c, const ix_iovec *iov, size_t iovcnt, uint64_t cookie) {
  Slot *s = slot_of(c);
  if (s == nullptr || !s->live() || s->close_requested || s->abort_requested) return IX_ECLOSED;
  if (iov == nullptr || iovcnt == 0) return IX_EINVAL;
  uint64_t total = 0;
  for (size_t i = 0; i < iovcnt; ++i) {
    if (iov[i].len > 0 && iov[i].base == nullptr) return IX_EINVAL;
    total += iov[i].len;
  }
  if (total == 0) return IX_EINVAL;
  for (size_t i = 0; i < iovcnt; ++i) {
    const auto *p = static_cast<const uint8_t *>(iov[i].base);
    for (uint64_t left = iov[i].len; left > 0;) {
      const uint32_t m = static_cast<uint32_t>(std::min(left, kMaxSegment));
      tx_push(*s, p, m, nullptr);
      p += m;
      left -= m;
    }
  }
  s->tx_tail->has_cookie = true;
  s->tx_tail->cookie = cookie;
  mark_dirty(*s);
  return IX_OK;
}

uint64_t Engine::tx_gather(Slot &s, ix_iovec *iov, uint32_t max_iov, uint32_t *n_iov) {
  uint64_t offered = 0;
  uint32_t n = 0;
  for (TxSeg *g = s.tx_next; g != nullptr && n < max_iov; g = g->next) {
    iov[n].base = g->base + g->submitted;
    iov[n].len = g->len - g->submitted;
    offered += iov[n].len;
    ++n;
  }
  *n_iov = n;
  return offered;
}

// The dataplane took the next n unsubmitted bytes.
void Engine::tx_submitted(Slot &s, uint64_t n) {
  s.tx_unsubmitted -= n;
  while (n > 0 && s.tx_next != nullptr) {
    TxSeg *g = s.tx_next;
    const uint64_t take = std::min<uint64_t>(n, g->len - g->submitted);
    g->submitted += static_cast<uint32_t>(take);
    n -= take;
    if (g->submitted == g->len) s.tx_next = g->next;
  }
}

// Queued bytes the dataplane will never take (the connection is closing or
// gone) are forgotten; the memory of zero-copy sends among them is the
// application's again, which on_hangup tells it.
void Engine::tx_drop_unsubmitted(Slot &s) {
  TxSeg *keep_tail = nullptr;
  for (TxSeg *g = s.tx_head; g != nullptr && g != s.tx_next; g = g->next) keep_tail = g;
  TxSeg *g = s.tx_next;
  if (g != nullptr && g->submitted > 0) {
    // Partly taken: keep the taken part.
    if (g->block != nullptr) s.tx_copy_bytes -= g->len - g->submitted;
    g->len = g->submitted;
    keep_tail = g;
    g = g->next;
    keep_tail->next = nullptr;
  } else if (keep_tail != nullptr) {
    keep_tail->next = nullptr;
  } else {
    s.tx_head = nullptr;
  }
  while (g != nullptr) {
    TxSeg *next = g->next;
    if (g->block != nullptr) {
      s.tx_copy_bytes -= g->len;
      block_unref(g->block);
    }
    seg_pool_.put(g);
    g = next;
  }
  s.tx_tail = keep_tail;
  s.tx_next = nullptr;
  s.tx_unsubmitted = 0;
}

void Engine::tx_acked(Slot &s, uint64_t bytes) {
  while (bytes > 0 && s.tx_head != nullptr) {
    TxSeg *g = s.tx_head;
    const uint64_t take = std::min<uint64_t>(bytes, g->submitted - g->acked);
    if (take == 0) break;  // more acknowledged than submitted: cannot happen; stop
    g->acked += static_cast<uint32_t>(take);
    bytes -= take;
    if (g->block != nullptr) s.tx_copy_bytes -= take;
    if (g->acked < g->len) break;
    s.tx_head = g->next;
    if (s.tx_head == nullptr) s.tx_tail = nullptr;
    if (s.tx_next == g) s.tx_next = g->next;
    if (g->block != nullptr) block_unref(g->block);
    if (g->has_cookie) {
      g->next = nullptr;
      if (s.done_tail != nullptr) {
        s.done_tail->next = g;
      } else {
        s.done_head = g;
      }
      s.done_tail = g;
      mark_ready(s, kPendSent);
    } else {
      seg_pool_.put(g);
    }
  }
}

void Engine::tx_drop_all(Slot &s) {
  while (s.tx_head != nullptr) {
    TxSeg *g = s.tx_head;
    s.tx_head = g->next;
    if (g->block != nullptr) block_unref(g->block);
    seg_pool_.put(g);
  }
  if (s.tx_block != nullptr) block_unref(s.tx_block);
  s.tx_block = nullptr;
  s.tx_tail = nullptr;
  s.tx_next = nullptr;
  s.tx_copy_bytes = 0;
  s.tx_unsubmitted = 0;
  s.tx_blocked = false;
}

}  // namespace ix::ev::detail
