// The connections of one Tcp engine: a bounded set of slots made in blocks,
// a free list, a hash of 4-tuples for received segments, and handles for the
// application.
//
// Scale: nothing here is per-connection malloc. Slots come in blocks of
// kBlockSlots as the number of connections open at once reaches a new high
// (and stay: a warm engine allocates nothing); the bucket array is sized
// once, to the next power of two >= max_connections (load factor <= 1), so a
// lookup at 100k+ connections walks one short chain (a salted 64-bit mix of
// the whole 4-tuple: no port or address pattern lines tuples up in a bucket).
// The per-connection rings draw on arenas kept here (ring_arena.hh).
//
// Handle layout (ConnHandle, 64 bits):
//   bits  0..23  slot index (so at most 2^24 connections per engine)
//   bits 24..47  slot generation (never 0, so no valid handle is 0)
//   bits 48..59  the connection's flow group (Tcb::flow_group), so a handle
//                names the thread that owns it even after the slot is freed
//   bits 60..63  0 here, left to the layer above (the thread, api/io_context.cc)
// by_handle() looks only at bits 0..47.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "net/addr.hh"
#include "net/tcp/tcb.hh"

namespace ix::net::tcp {

using ConnHandle = uint64_t;

class ConnTable {
 public:
  static constexpr uint32_t kMaxSlots = 1u << 24;
  static constexpr unsigned kOwnerShift = 48;
  static constexpr unsigned kBlockShift = 10;
  static constexpr uint32_t kBlockSlots = 1u << kBlockShift;

  // Per-connection limits: out-of-order segments and bytes held (ooo_*),
  // send chunks and received chunks referenced (the rings' capacities).
  ConnTable(uint32_t max_connections, uint32_t ooo_segments, uint32_t ooo_bytes,
            uint32_t send_chunks, uint32_t recv_chunks, uint32_t tx_records);
  ~ConnTable();
  ConnTable(const ConnTable &) = delete;
  ConnTable &operator=(const ConnTable &) = delete;

  // A free slot, reset, not yet in the hash; nullptr when all are taken.
  Tcb *alloc();
  // Removes t from the hash (if there) and returns its slot to the free list.
  void free(Tcb *t);

  // Adds t under its 4-tuple. The tuple must not be present already.
  void insert(Tcb *t);
  void remove(Tcb *t);
  Tcb *lookup(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport) const;

  // Prefetching for a burst of segments (Tcp::prefetch_segments): the
  // bucket a tuple hashes to, a prefetch of that bucket, and later one of
  // the control block at the head of its chain. Done for the whole burst
  // before any segment is processed, the misses of different connections
  // overlap instead of stalling one after another.
  uint32_t bucket(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport) const;
  void prefetch_bucket(uint32_t b) const { __builtin_prefetch(&buckets_[b]); }
  void prefetch_chain_head(uint32_t b) const;
  // The slot a handle names (whether or not the handle is still valid).
  void prefetch_handle(ConnHandle h) const;

  ConnHandle handle(const Tcb &t) const {
    return (uint64_t{t.flow_group & 0xfffu} << kOwnerShift) | (uint64_t{t.generation} << 24) |
           t.slot;
  }
  // The live connection a handle names, or nullptr for a stale or bad one.
  Tcb *by_handle(ConnHandle h) const;

  uint32_t in_use() const { return in_use_; }
  uint32_t capacity() const { return max_; }
  // Slots made so far (a multiple of kBlockSlots, at most capacity()).
  uint32_t slots_made() const { return made_; }

  // Memory, for tests and the scale report: what the table holds beyond
  // its slots (buckets, free list, block index), and the ring arenas'.
  size_t index_bytes() const;
  size_t ring_bytes() const {
    return send_arena_.reserved_bytes() + recv_arena_.reserved_bytes() + tx_arena_.reserved_bytes();
  }
  // Longest hash chain and the mean chain length over non-empty buckets
  // (walks every bucket: tests only).
  struct ChainStats {
    uint32_t longest = 0;
    double mean = 0;
    uint32_t buckets = 0;
  };
  ChainStats chain_stats() const;

  // Slot i if a connection uses it (i below slots_made()), else nullptr:
  // lets a reader walk the table a few slots at a time.
  const Tcb *in_use_slot(uint32_t i) const {
    if (i >= made_) return nullptr;
    const Tcb &t = slot(i);
    return t.in_use ? &t : nullptr;
  }

  // Slot i (below slots_made()), in use or not.
  Tcb &at(uint32_t i) { return slot(i); }

  template <class F>
  void for_each(F f) {
    for (uint32_t i = 0; i < made_; ++i) {
      Tcb &t = slot(i);
      if (t.in_use) f(t);
    }
  }

 private:
  static uint32_t slot_index(ConnHandle h) { return static_cast<uint32_t>(h & 0xffffff); }
  Tcb &slot(uint32_t i) const { return blocks_[i >> kBlockShift][i & (kBlockSlots - 1)]; }
  bool add_block();

  uint32_t max_;
  uint32_t ooo_segments_;
  uint32_t ooo_bytes_;
  // The arenas outlive the slots whose rings point into them.
  RingArena<SendChunk> send_arena_;
  RingArena<RecvChunk> recv_arena_;
  RingArena<TxRecord> tx_arena_;
  std::vector<std::unique_ptr<Tcb[]>> blocks_;
  uint32_t made_ = 0;
  std::vector<uint32_t> free_;  // slot indexes, next to hand out at the back
  std::unique_ptr<uint32_t[]> buckets_;
  uint32_t bucket_mask_;
  uint64_t salt_;
  uint32_t in_use_ = 0;
};

}  // namespace ix::net::tcp
