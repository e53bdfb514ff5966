// One RX descriptor ring of the simulated NIC: a bounded ring of frame copies
// that many senders (other ports' TX queues, possibly on other threads) fill
// and the one elastic thread owning the RX queue drains.
//
// This is the simulated wire (the "NIC"), not the dataplane fast path: on a
// real NIC the DMA ring is the one point shared between the wire and a core,
// and this ring plays that role. It is lock-free for producers and consumer
// (bounded MPSC with a sequence number per slot): a producer claims a slot by
// advancing `tail_`, writes the frame, then publishes it by storing the
// slot's sequence; the consumer sees a slot only once it is published.
// Single-threaded use is fully deterministic.
//
// Frames are stored as bytes rather than mbufs so that the receiving queue's
// buffer pool is touched only by its owner thread (in rx_burst), exactly as a
// NIC writes into buffers its core posted.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>

namespace ix::drivers {

class FrameRing {
 public:
  // A frame as the consumer sees it; `data` stays valid until pop().
  struct Frame {
    const uint8_t *data = nullptr;
    uint16_t len = 0;
    uint64_t due_ns = 0;  // 0: deliverable now; else not before this clock time
    uint32_t rss_hash = 0;
    bool hash_valid = false;
  };

  FrameRing(uint32_t depth, uint16_t frame_cap)
      : depth_(depth),
        frame_cap_(frame_cap),
        slots_(std::make_unique<Slot[]>(depth)),
        bytes_(std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(depth) * frame_cap)) {
    if (depth == 0 || frame_cap == 0)
      throw std::invalid_argument("frame ring needs a depth and a frame size");
    for (uint32_t i = 0; i < depth; ++i) slots_[i].seq.store(i, std::memory_order_relaxed);
  }
  FrameRing(const FrameRing &) = delete;
  FrameRing &operator=(const FrameRing &) = delete;

  // Any thread. Returns false if the ring is full or the frame does not fit a
  // slot; the caller counts the drop.
  bool push(std::span<const uint8_t> frame, uint64_t due_ns, uint32_t rss_hash, bool hash_valid) {
    if (frame.size() > frame_cap_) return false;
    uint64_t pos = tail_.load(std::memory_order_relaxed);
    Slot *slot;
    for (;;) {
      slot = &slots_[pos % depth_];
      const uint64_t seq = slot->seq.load(std::memory_order_acquire);
      const auto diff = static_cast<int64_t>(seq - pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (diff < 0) {
        return false;  // the slot still holds a frame from one lap ago: full
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
    std::memcpy(slot_bytes(pos), frame.data(), frame.size());
    slot->len = static_cast<uint16_t>(frame.size());
    slot->due_ns = due_ns;
    slot->rss_hash = rss_hash;
    slot->hash_valid = hash_valid;
    slot->seq.store(pos + 1, std::memory_order_release);
    return true;
  }

  // Consumer only. False if there is no published frame at the head.
  bool front(Frame &out) const {
    const Slot &slot = slots_[head_ % depth_];
    if (slot.seq.load(std::memory_order_acquire) != head_ + 1) return false;
    out.data = slot_bytes(head_);
    out.len = slot.len;
    out.due_ns = slot.due_ns;
    out.rss_hash = slot.rss_hash;
    out.hash_valid = slot.hash_valid;
    return true;
  }

  // Consumer only; call after front() returned true. Hands the slot back to
  // producers for the next lap.
  void pop() {
    slots_[head_ % depth_].seq.store(head_ + depth_, std::memory_order_release);
    ++head_;
  }

  uint32_t depth() const { return depth_; }
  uint16_t frame_cap() const { return frame_cap_; }
  // Positions: every frame claimed so far is below claimed(); the consumer
  // has taken every frame below taken() (consumer only).
  uint64_t claimed() const { return tail_.load(std::memory_order_acquire); }
  uint64_t taken() const { return head_; }

 private:
  struct Slot {
    std::atomic<uint64_t> seq{0};
    uint64_t due_ns = 0;
    uint32_t rss_hash = 0;
    uint16_t len = 0;
    bool hash_valid = false;
  };

  uint8_t *slot_bytes(uint64_t pos) const {
    return bytes_.get() + static_cast<size_t>(pos % depth_) * frame_cap_;
  }

  const uint32_t depth_;
  const uint16_t frame_cap_;
  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<uint8_t[]> bytes_;
  alignas(64) std::atomic<uint64_t> tail_{0};  // next position a producer claims
  alignas(64) uint64_t head_ = 0;              // next position the consumer reads
};

}  // namespace ix::drivers
