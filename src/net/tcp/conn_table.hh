// The connections of one Tcp engine: a bounded array of slots, a free list,
// a hash of 4-tuples for received segments, and handles for the application.
//
// Handle layout (ConnHandle, 64 bits):
//   bits  0..23  slot index
//   bits 24..47  slot generation (never 0, so no valid handle is 0)
//   bits 48..63  left to the layer above (e.g. the owning flow group); ignored here
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

  // Per-slot array sizes come from the arguments; slots are created on first use.
  ConnTable(uint32_t max_connections, uint32_t ooo_segments, uint32_t rcv_buf);
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

  ConnHandle handle(const Tcb &t) const { return (uint64_t{t.generation} << 24) | t.slot; }
  // The live connection a handle names, or nullptr for a stale or bad one.
  Tcb *by_handle(ConnHandle h) const;

  uint32_t in_use() const { return in_use_; }
  uint32_t capacity() const { return max_; }

  template <class F>
  void for_each(F f) {
    for (auto &s : slots_)
      if (s && s->in_use) f(*s);
  }

 private:
  uint32_t bucket(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport) const;

  uint32_t max_;
  uint32_t ooo_segments_;
  uint32_t rcv_buf_;
  std::vector<std::unique_ptr<Tcb>> slots_;
  std::vector<uint32_t> free_;  // slot indexes, next to hand out at the back
  std::unique_ptr<uint32_t[]> buckets_;
  uint32_t bucket_mask_;
  uint64_t salt_;
  uint32_t in_use_ = 0;
};

}  // namespace ix::net::tcp
