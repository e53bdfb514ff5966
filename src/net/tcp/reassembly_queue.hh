// Out-of-order segments held by a receiver until the gap before them fills.
// Segments stay in the mbufs they arrived in (zero copy): each entry is a
// byte range [seq, seq + len) plus the pointer to those bytes inside its
// mbuf. Memory is bounded twice, in segments and in bytes, so a peer that
// sends many tiny or far-flung segments cannot tie up the pool. The entry
// array is allocated at the first out-of-order segment, small, and doubled
// as more gaps need it (up to max_segments), then kept until the queue dies:
// most connections never see one, so an idle connection's queue costs only
// this object, and one that did keeps its array for the next use of its
// slot. Allocating on loss, not per packet, is the one allocation here.
//
// Held ranges never overlap. A new segment is cut where it overlaps held
// ones (the bytes already held are kept); held segments that the new one
// covers entirely are freed and replaced by it, so a segment never has to
// be split in two.
//
// Segments that start at RCV.NXT are meant to be delivered directly by the
// caller, who then calls pop_ready() with the new RCV.NXT.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "mem/mbuf.hh"
#include "mem/mbuf_pool.hh"
#include "net/tcp/sack_scoreboard.hh"
#include "net/tcp/seq.hh"

namespace ix::net::tcp {

class ReassemblyQueue {
 public:
  explicit ReassemblyQueue(uint32_t max_segments = 64, uint32_t max_bytes = 256 * 1024);
  ~ReassemblyQueue();  // frees held mbufs
  ReassemblyQueue(const ReassemblyQueue &) = delete;
  ReassemblyQueue &operator=(const ReassemblyQueue &) = delete;
  ReassemblyQueue(ReassemblyQueue &&other) noexcept;
  ReassemblyQueue &operator=(ReassemblyQueue &&other) noexcept;

  // Takes ownership of m, whose payload [data, data + len) carries sequence
  // numbers [seq, seq + len), when it returns true. Returns false, leaving m
  // with the caller (who frees it and counts the drop), when len is 0, when
  // every byte is already held, or when keeping it would exceed the limits.
  bool insert(Seq seq, mem::Mbuf *m, const uint8_t *data, uint32_t len);

  // Removes, in order, the segments now contiguous with rcv_nxt, trimming
  // bytes below rcv_nxt (segments wholly below it are freed), and calls
  // f(mem::Mbuf *m, const uint8_t *data, uint32_t len) for each, passing
  // ownership of m. Returns the bytes delivered (RCV.NXT advances by that).
  template <class F>
  uint32_t pop_ready(Seq rcv_nxt, F &&f);

  // Up to max SACK blocks (RFC 2018 4): first the block holding the most
  // recently received segment, then the others, most recently changed first.
  size_t sack_blocks(SackBlock *out, size_t max) const;

  // Every byte of [seq, seq + len) is held already (a duplicate, to be
  // reported with a D-SACK block, RFC 2883).
  bool holds(Seq seq, uint32_t len) const;

  uint32_t segments() const { return count_; }
  uint32_t bytes() const { return bytes_; }
  bool empty() const { return count_ == 0; }
  uint32_t max_segments() const { return max_segments_; }
  uint32_t max_bytes() const { return max_bytes_; }
  // One past the highest byte held; meaningful only when not empty.
  Seq highest_end() const;
  // Frees up to n held segments, highest sequence first (the last to be
  // needed); returns how many. Data reported in SACK blocks may be given up
  // so (RFC 2018 8): the sender keeps it until cumulatively acknowledged.
  uint32_t prune_highest(uint32_t n);
  // Frees everything held (connection reset or closed).
  void clear();

  // A held segment, as a flow-group move carries it to another engine.
  struct Held {
    Seq seq;
    uint32_t len;
    const uint8_t *data;
    mem::Mbuf *m;
  };
  // Hands every held segment to f(const Held &), in sequence order, and
  // forgets them without freeing: f takes ownership of each mbuf.
  template <class F>
  void hand_over(F &&f) {
    for (uint32_t i = 0; i < count_; ++i)
      f(Held{entries_[i].seq, entries_[i].len, entries_[i].data, entries_[i].m});
    count_ = 0;
    bytes_ = 0;
  }

 private:
  struct Entry {
    Seq seq;
    uint32_t len;
    const uint8_t *data;
    mem::Mbuf *m;
    uint64_t arrival;  // insertion stamp: which data arrived last, for SACK order
  };

  void remove_front();
  void grow();

  static constexpr uint32_t kFirstCapacity = 16;

  std::unique_ptr<Entry[]> entries_;  // sorted by seq, disjoint; capacity_ of them
  uint32_t capacity_ = 0;
  uint32_t count_ = 0;
  uint32_t bytes_ = 0;
  uint32_t max_segments_;
  uint32_t max_bytes_;
  uint64_t arrivals_ = 0;
};

template <class F>
uint32_t ReassemblyQueue::pop_ready(Seq rcv_nxt, F &&f) {
  uint32_t delivered = 0;
  while (count_ > 0 && seq_leq(entries_[0].seq, rcv_nxt)) {
    Entry e = entries_[0];
    remove_front();
    const uint32_t below = rcv_nxt - e.seq;
    if (below >= e.len) {
      mem::MbufPool::free_chain(e.m);
      continue;
    }
    const uint32_t len = e.len - below;
    rcv_nxt += len;
    delivered += len;
    f(e.m, e.data + below, len);
  }
  return delivered;
}

}  // namespace ix::net::tcp
