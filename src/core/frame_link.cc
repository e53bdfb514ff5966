#include "core/frame_link.hh"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ix::core {

namespace {
// A slot: length (kMarkerLen: a marker follows), then for a frame its flow
// group and its bytes.
constexpr size_t kFrameOffset = 2 * sizeof(uint16_t);

size_t round_up_pow2(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}
}  // namespace

FrameLink::FrameLink(uint32_t slots, uint16_t frame_cap)
    : mask_(round_up_pow2(std::max<uint32_t>(slots, 1)) - 1),
      frame_cap_(frame_cap),
      stride_((kFrameOffset + size_t{frame_cap} + 63) / 64 * 64),
      bytes_(std::make_unique_for_overwrite<uint8_t[]>((mask_ + 1) * stride_)) {
  if (frame_cap == 0 || frame_cap == kMarkerLen)
    throw std::invalid_argument("frame link needs a frame size below 65535");
  static_assert(sizeof(uint16_t) + sizeof(Marker) <= 64, "a marker fits the smallest slot");
}

bool FrameLink::has_room() {
  const size_t tail = tail_.load(std::memory_order_relaxed);
  if (tail - head_cache_ > mask_) head_cache_ = head_.load(std::memory_order_acquire);
  return tail - head_cache_ <= mask_;
}

bool FrameLink::push_marker(const Marker &mk) {
  if (!has_room()) return false;
  const size_t tail = tail_.load(std::memory_order_relaxed);
  uint8_t *s = slot(tail);
  std::memcpy(s, &kMarkerLen, sizeof kMarkerLen);
  std::memcpy(s + sizeof(uint16_t), &mk, sizeof mk);
  tail_.store(tail + 1, std::memory_order_release);
  return true;
}

bool FrameLink::push(const mem::Mbuf *m, uint16_t group) {
  if (m == nullptr || m->pkt_len > frame_cap_) return false;
  const size_t tail = tail_.load(std::memory_order_relaxed);
  if (tail - head_cache_ > mask_) {
    head_cache_ = head_.load(std::memory_order_acquire);
    if (tail - head_cache_ > mask_) return false;
  }
  uint8_t *s = slot(tail);
  uint32_t len = 0;
  for (const mem::Mbuf *seg = m; seg != nullptr; seg = seg->next) {
    if (len + seg->data_len > frame_cap_) return false;  // chain longer than pkt_len says
    std::memcpy(s + kFrameOffset + len, seg->data(), seg->data_len);
    len += seg->data_len;
  }
  const uint16_t len16 = static_cast<uint16_t>(len);
  std::memcpy(s, &len16, sizeof len16);
  std::memcpy(s + sizeof(uint16_t), &group, sizeof group);
  tail_.store(tail + 1, std::memory_order_release);
  return true;
}

mem::Mbuf *FrameLink::pop(mem::MbufPool &pool, bool *dropped) {
  mem::Mbuf *m = nullptr;
  Marker ignored;
  *dropped = pop_item(pool, &m, &ignored) == Item::kDropped;
  return m;
}

FrameLink::Item FrameLink::pop_item(mem::MbufPool &pool, mem::Mbuf **frame, Marker *marker,
                                    uint16_t *group) {
  *frame = nullptr;
  const size_t head = head_.load(std::memory_order_relaxed);
  if (head == tail_cache_) {
    tail_cache_ = tail_.load(std::memory_order_acquire);
    if (head == tail_cache_) return Item::kEmpty;
  }
  const uint8_t *s = slot(head);
  uint16_t len;
  std::memcpy(&len, s, sizeof len);
  Item item = Item::kMarker;
  if (len == kMarkerLen) {
    std::memcpy(marker, s + sizeof(uint16_t), sizeof *marker);
  } else {
    if (group != nullptr) std::memcpy(group, s + sizeof(uint16_t), sizeof *group);
    *frame = copy_frame_to_pool(pool, {s + kFrameOffset, len});
    item = *frame != nullptr ? Item::kFrame : Item::kDropped;
  }
  head_.store(head + 1, std::memory_order_release);
  return item;
}

mem::Mbuf *copy_frame_to_pool(mem::MbufPool &pool, std::span<const uint8_t> frame) {
  mem::Mbuf *head = pool.alloc_rx();
  if (head == nullptr) return nullptr;
  size_t done = 0;
  mem::Mbuf *seg = head;
  for (;;) {
    const uint16_t part =
        static_cast<uint16_t>(std::min<size_t>(frame.size() - done, seg->tailroom()));
    std::memcpy(seg->append(part), frame.data() + done, part);
    done += part;
    if (seg != head) head->chain(seg);
    if (done == frame.size()) return head;
    seg = pool.alloc_rx();
    if (seg == nullptr || seg->tailroom() == 0) {
      if (seg != nullptr) mem::MbufPool::free_chain(seg);
      mem::MbufPool::free_chain(head);
      return nullptr;
    }
  }
}

}  // namespace ix::core
