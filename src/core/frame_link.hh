// Hands received frames from one elastic thread to another: the way out when
// a frame lands on a thread that does not own its flow group (a device whose
// queue selection we cannot program, e.g. AF_XDP on veth, where the peer's
// TX queue selection decides the RX queue). One link per ordered pair of
// threads, so each has exactly one producer and one consumer.
//
// Frames are copied into the link's own slots, and the consumer copies them
// into buffers from its own pool: neither thread ever frees a buffer of the
// other's pool, and a link outlives both threads (the runtime owns it), so
// a frame still in flight when one thread stops is never a dangling pointer.
//
// This is the one per-packet cross-core write in the dataplane, and it only
// happens for frames the device steered to the wrong core. With a device
// whose RSS table the runtime programs (the loop wire, a NIC), no frame
// takes this path (the counters core.fwd_out / fwd_in show it).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "mem/mbuf.hh"
#include "mem/mbuf_pool.hh"

namespace ix::core {

class FrameLink {
 public:
  // `slots` is rounded up to a power of two; frames longer than frame_cap
  // are refused.
  FrameLink(uint32_t slots, uint16_t frame_cap);
  FrameLink(const FrameLink &) = delete;
  FrameLink &operator=(const FrameLink &) = delete;

  // Producer: copies the frame (the whole chain) with the flow group the
  // producer found for it (kNoGroup: none), so that the consumer need not
  // parse and hash it again. False when the link is full or the frame does
  // not fit a slot; the caller keeps m either way.
  static constexpr uint16_t kNoGroup = 0xffff;
  bool push(const mem::Mbuf *m, uint16_t group = kNoGroup);

  // Consumer: copies the oldest frame into a buffer chain from `pool` and
  // removes it from the link. nullptr when the link is empty; when the pool
  // is exhausted the frame is consumed anyway and *dropped is set.
  // (For links that carry no markers; see pop_item.)
  mem::Mbuf *pop(mem::MbufPool &pool, bool *dropped);

  // A marker travels in order with the frames: a flow-group move hands the
  // group's connections over, and later says that no more of its frames
  // will follow, on the same link as the frames it forwards, so the new
  // owner sees them in the order the old one sent them (core/group_move.hh).
  struct Marker {
    uint8_t kind = 0;
    uint16_t group = 0;
    void *parcel = nullptr;  // the producer's object, now the consumer's
  };
  // Producer: false when the link is full (nothing is taken).
  bool push_marker(const Marker &mk);
  // Producer: whether a push would find a free slot now.
  bool has_room();
  enum class Item : uint8_t { kEmpty, kFrame, kDropped, kMarker };
  // Consumer: the oldest item. kFrame: *frame is a copy in `pool` (and
  // *group, if asked, the group it was pushed with); kDropped: a frame the
  // pool had no room for (consumed); kMarker: *marker.
  Item pop_item(mem::MbufPool &pool, mem::Mbuf **frame, Marker *marker, uint16_t *group = nullptr);

  uint16_t frame_cap() const { return frame_cap_; }
  // Items pushed so far (any thread), and taken so far (the consumer):
  // the consumer has seen every item pushed before a pushed() it read once
  // consumed() reaches it.
  size_t pushed() const { return tail_.load(std::memory_order_acquire); }
  size_t consumed() const { return head_.load(std::memory_order_relaxed); }

 private:
  uint8_t *slot(size_t i) { return bytes_.get() + (i & mask_) * stride_; }
  // A slot's length prefix; this value marks a marker (frame_cap_ is below it).
  static constexpr uint16_t kMarkerLen = 0xffff;

  const size_t mask_;
  const uint16_t frame_cap_;
  const size_t stride_;  // length prefix + frame_cap, rounded to a cache line
  std::unique_ptr<uint8_t[]> bytes_;
  alignas(64) std::atomic<size_t> head_{0};  // consumer's
  size_t tail_cache_ = 0;
  alignas(64) std::atomic<size_t> tail_{0};  // producer's
  size_t head_cache_ = 0;
};

// Copies `frame` into buffers from `pool` (chained when it does not fit one).
// nullptr when the pool runs dry (nothing is leaked).
mem::Mbuf *copy_frame_to_pool(mem::MbufPool &pool, std::span<const uint8_t> frame);

// A point in a link's stream of items (FrameLink::pushed() when taken).
struct LinkMark {
  const FrameLink *link;
  size_t mark;
};

}  // namespace ix::core
