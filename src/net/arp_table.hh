// The ARP cache: a fixed number of entries allocated once, found through an
// open-addressing index (linear probing, backward-shift deletion). Entries
// never move, so their intrusive timers stay valid; nothing allocates after
// construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "mem/mbuf.hh"
#include "net/addr.hh"
#include "timing/timer_wheel.hh"

namespace ix::net {

struct ArpEntry {
  enum class State : uint8_t { kFree, kPending, kResolved };

  Ipv4Addr ip;
  MacAddr mac;
  State state = State::kFree;
  uint32_t retries = 0;     // requests re-sent while pending
  uint32_t held = 0;        // packets in the hold queue
  uint64_t expires_ns = 0;  // resolved: when the mapping stops being trusted
  // Packets waiting for the reply, oldest first, linked through the first
  // segment's `user` field (`next` belongs to the packet's own chain).
  mem::Mbuf *hold_head = nullptr;
  mem::Mbuf *hold_tail = nullptr;
  timing::Timer timer;    // pending: retry; resolved: expiry
  void *owner = nullptr;  // the protocol handling this entry's timer
  uint32_t next_free = 0;
};

class ArpTable {
 public:
  explicit ArpTable(unsigned capacity);
  ArpTable(const ArpTable &) = delete;
  ArpTable &operator=(const ArpTable &) = delete;

  ArpEntry *find(Ipv4Addr ip);
  const ArpEntry *find(Ipv4Addr ip) const;
  // A fresh kPending entry for ip (which must not be present), or nullptr
  // when every entry is in use.
  ArpEntry *insert(Ipv4Addr ip);
  // Returns the entry to the free list; its timer and hold queue must already
  // be empty.
  void remove(ArpEntry *e);

  size_t size() const { return used_; }
  size_t capacity() const { return capacity_; }
  bool full() const { return used_ == capacity_; }
  ArpEntry &at(size_t i) { return entries_[i]; }

  // Hold-queue helpers (the packet's `user` field links the queue).
  static void hold_push(ArpEntry *e, mem::Mbuf *m);
  static mem::Mbuf *hold_pop(ArpEntry *e);

 private:
  static constexpr uint32_t kEmpty = 0;  // slots hold entry index + 1
  uint32_t home(Ipv4Addr ip) const;
  // Slot holding ip's entry, or the empty slot where it would go.
  uint32_t probe(Ipv4Addr ip) const;

  size_t capacity_;
  size_t used_ = 0;
  std::unique_ptr<ArpEntry[]> entries_;
  std::unique_ptr<uint32_t[]> slots_;
  uint32_t slot_mask_;
  uint32_t free_head_;  // index + 1 of the first free entry, 0 if none
};

}  // namespace ix::net
