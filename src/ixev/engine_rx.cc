// Receiving: the chunks IX_EV_TCP_RECV lent us, the application's copying and
// zero-copy reads of them, and how much may go back with recv_done.
#include <algorithm>
#include <cstring>

#include "ixev/engine.hh"

namespace ix::ev::detail {

void Engine::rx_append(Slot &s, const uint8_t *data, uint32_t len) {
  RxChunk *c = rx_pool_.get();
  c->data = data;
  c->len = len;
  c->next = nullptr;
  if (s.rx_tail != nullptr) {
    s.rx_tail->next = c;
  } else {
    s.rx_head = c;
    s.rx_off = 0;
  }
  s.rx_tail = c;
  s.rx_buffered += len;
}

// Marks n buffered bytes consumed (n <= rx_buffered).
void Engine::rx_consume(Slot &s, size_t n) {
  s.rx_read += n;
  s.rx_buffered -= n;
  while (n > 0) {
    RxChunk *c = s.rx_head;
    const size_t take = std::min<size_t>(n, c->len - s.rx_off);
    s.rx_off += static_cast<uint32_t>(take);
    n -= take;
    if (s.rx_off == c->len) {
      s.rx_head = c->next;
      if (s.rx_head == nullptr) s.rx_tail = nullptr;
      s.rx_off = 0;
      rx_pool_.put(c);
    }
  }
  // A dead connection has nothing to give back: its buffers go with it.
  if (!s.manual_release && s.state != SlotState::kDead) mark_dirty(s);
}

void Engine::rx_drop_all(Slot &s) {
  while (s.rx_head != nullptr) {
    RxChunk *c = s.rx_head;
    s.rx_head = c->next;
    rx_pool_.put(c);
  }
  s.rx_tail = nullptr;
  s.rx_off = 0;
  s.rx_buffered = 0;
}

uint64_t Engine::rx_release_mark(const Slot &s) const {
  return s.manual_release ? s.rx_app_released : s.rx_read;
}

int64_t Engine::recv(Conn &c, void *buf, size_t len) {
  Slot *s = slot_of(c);
  if (s == nullptr || !s->readable() || s->abort_requested) return IX_ECLOSED;
  if (len == 0) return 0;
  if (s->rx_buffered == 0) return s->peer_fin ? 0 : IX_EAGAIN;
  if (buf == nullptr) return IX_EINVAL;
  auto *out = static_cast<uint8_t *>(buf);
  size_t copied = 0;
  for (RxChunk *ch = s->rx_head; ch != nullptr && copied < len; ch = ch->next) {
    const uint32_t off = ch == s->rx_head ? s->rx_off : 0;
    const size_t n = std::min<size_t>(len - copied, ch->len - off);
    std::memcpy(out + copied, ch->data + off, n);
    copied += n;
  }
  rx_consume(*s, copied);
  return static_cast<int64_t>(copied);
}

Bytes Engine::recv_zc(Conn &c, size_t max) {
  Slot *s = slot_of(c);
  if (s == nullptr || !s->readable() || s->abort_requested || s->rx_head == nullptr || max == 0)
    return {};
  const Bytes b{s->rx_head->data + s->rx_off, std::min<size_t>(max, s->rx_head->len - s->rx_off)};
  rx_consume(*s, b.len);
  return b;
}

int Engine::set_manual_release(Conn &c, bool manual) {
  Slot *s = slot_of(c);
  if (s == nullptr || !s->live()) return IX_ECLOSED;
  if (manual == s->manual_release) return IX_OK;
  // Entering manual mode: what was consumed so far is released as before.
  // Leaving it: everything consumed goes back.
  s->manual_release = manual;
  s->rx_app_released = s->rx_read;
  mark_dirty(*s);
  return IX_OK;
}

int Engine::recv_release(Conn &c, size_t bytes) {
  Slot *s = slot_of(c);
  if (s == nullptr || !s->live()) return IX_ECLOSED;
  if (!s->manual_release || bytes > s->rx_read - s->rx_app_released) return IX_EINVAL;
  s->rx_app_released += bytes;
  if (bytes > 0) mark_dirty(*s);
  return IX_OK;
}

size_t Engine::readable_bytes(const Conn &c) const {
  const Slot *s = slot_of(c);
  return s != nullptr && s->readable() ? s->rx_buffered : 0;
}

bool Engine::peer_closed(const Conn &c) const {
  const Slot *s = slot_of(c);
  return s == nullptr || !s->live() || s->peer_fin;
}

}  // namespace ix::ev::detail
