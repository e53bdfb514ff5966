#include "net/arp_table.hh"

namespace ix::net {

ArpTable::ArpTable(unsigned capacity)
    : capacity_(capacity == 0 ? 1 : capacity), entries_(new ArpEntry[capacity_]) {
  // At most half the slots are used, so probe sequences stay short.
  uint32_t slots = 2;
  while (slots < 2 * capacity_) slots *= 2;
  slots_.reset(new uint32_t[slots]());
  slot_mask_ = slots - 1;
  for (size_t i = 0; i < capacity_; ++i)
    entries_[i].next_free = i + 1 < capacity_ ? static_cast<uint32_t>(i + 2) : 0;
  free_head_ = 1;
}

uint32_t ArpTable::home(Ipv4Addr ip) const {
  // Fibonacci hashing: neighbouring addresses land far apart.
  return static_cast<uint32_t>((uint64_t{ip.v} * 0x9e3779b97f4a7c15ull) >> 32) & slot_mask_;
}

uint32_t ArpTable::probe(Ipv4Addr ip) const {
  uint32_t s = home(ip);
  while (slots_[s] != kEmpty && entries_[slots_[s] - 1].ip != ip) s = (s + 1) & slot_mask_;
  return s;
}

ArpEntry *ArpTable::find(Ipv4Addr ip) {
  uint32_t s = probe(ip);
  return slots_[s] == kEmpty ? nullptr : &entries_[slots_[s] - 1];
}

const ArpEntry *ArpTable::find(Ipv4Addr ip) const {
  uint32_t s = probe(ip);
  return slots_[s] == kEmpty ? nullptr : &entries_[slots_[s] - 1];
}

ArpEntry *ArpTable::insert(Ipv4Addr ip) {
  if (free_head_ == 0) return nullptr;
  const uint32_t idx = free_head_ - 1;
  ArpEntry &e = entries_[idx];
  free_head_ = e.next_free;
  slots_[probe(ip)] = idx + 1;
  ++used_;
  e.ip = ip;
  e.mac = MacAddr{};
  e.state = ArpEntry::State::kPending;
  e.retries = 0;
  e.held = 0;
  e.expires_ns = 0;
  e.hold_head = e.hold_tail = nullptr;
  return &e;
}

void ArpTable::remove(ArpEntry *e) {
  const uint32_t idx = static_cast<uint32_t>(e - entries_.get());
  uint32_t hole = probe(e->ip);
  // Backward-shift deletion: pull later members of the probe run into the
  // hole whenever the hole lies on their path from their home slot.
  uint32_t j = hole;
  for (;;) {
    j = (j + 1) & slot_mask_;
    if (slots_[j] == kEmpty) break;
    const uint32_t k = home(entries_[slots_[j] - 1].ip);
    const bool reachable = hole <= j ? (k <= hole || k > j) : (k <= hole && k > j);
    if (reachable) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = kEmpty;
  e->state = ArpEntry::State::kFree;
  e->ip = Ipv4Addr{};
  e->next_free = free_head_;
  free_head_ = idx + 1;
  --used_;
}

void ArpTable::hold_push(ArpEntry *e, mem::Mbuf *m) {
  m->user = 0;
  if (e->hold_tail == nullptr) {
    e->hold_head = m;
  } else {
    e->hold_tail->user = reinterpret_cast<uint64_t>(m);
  }
  e->hold_tail = m;
  ++e->held;
}

mem::Mbuf *ArpTable::hold_pop(ArpEntry *e) {
  mem::Mbuf *m = e->hold_head;
  if (m == nullptr) return nullptr;
  e->hold_head = reinterpret_cast<mem::Mbuf *>(m->user);
  if (e->hold_head == nullptr) e->hold_tail = nullptr;
  m->user = 0;
  --e->held;
  return m;
}

}  // namespace ix::net
