#include "net/tcp/reassembly_queue.hh"

#include <algorithm>
#include <utility>

namespace ix::net::tcp {

ReassemblyQueue::ReassemblyQueue(uint32_t max_segments, uint32_t max_bytes)
    : max_segments_(max_segments), max_bytes_(max_bytes) {}

ReassemblyQueue::~ReassemblyQueue() { clear(); }

ReassemblyQueue::ReassemblyQueue(ReassemblyQueue &&other) noexcept
    : entries_(std::move(other.entries_)),
      capacity_(std::exchange(other.capacity_, 0)),
      count_(std::exchange(other.count_, 0)),
      bytes_(std::exchange(other.bytes_, 0)),
      max_segments_(std::exchange(other.max_segments_, 0)),
      max_bytes_(std::exchange(other.max_bytes_, 0)),
      arrivals_(other.arrivals_) {}

ReassemblyQueue &ReassemblyQueue::operator=(ReassemblyQueue &&other) noexcept {
  if (this != &other) {
    clear();
    entries_ = std::move(other.entries_);
    capacity_ = std::exchange(other.capacity_, 0);
    count_ = std::exchange(other.count_, 0);
    bytes_ = std::exchange(other.bytes_, 0);
    max_segments_ = std::exchange(other.max_segments_, 0);
    max_bytes_ = std::exchange(other.max_bytes_, 0);
    arrivals_ = other.arrivals_;
  }
  return *this;
}

void ReassemblyQueue::clear() {
  for (uint32_t i = 0; i < count_; ++i) mem::MbufPool::free_chain(entries_[i].m);
  count_ = 0;
  bytes_ = 0;
}

void ReassemblyQueue::remove_front() {
  bytes_ -= entries_[0].len;
  for (uint32_t i = 1; i < count_; ++i) entries_[i - 1] = entries_[i];
  --count_;
}

Seq ReassemblyQueue::highest_end() const {
  return count_ == 0 ? 0 : entries_[count_ - 1].seq + entries_[count_ - 1].len;
}

uint32_t ReassemblyQueue::prune_highest(uint32_t n) {
  uint32_t freed = 0;
  while (freed < n && count_ > 0) {
    const Entry &e = entries_[--count_];
    bytes_ -= e.len;
    mem::MbufPool::free_chain(e.m);
    ++freed;
  }
  return freed;
}

void ReassemblyQueue::grow() {
  // Doubling from a small array: a connection that sees the odd loss keeps
  // a few hundred bytes; only one whose window is full of gaps grows to
  // max_segments (a window's worth of segments).
  const uint32_t cap = std::min(max_segments_, std::max<uint32_t>(kFirstCapacity, capacity_ * 2));
  std::unique_ptr<Entry[]> next(new Entry[cap]);
  for (uint32_t k = 0; k < count_; ++k) next[k] = entries_[k];
  entries_ = std::move(next);
  capacity_ = cap;
}

bool ReassemblyQueue::holds(Seq seq, uint32_t len) const {
  if (len == 0) return false;
  const Seq end = seq + len;
  Seq covered = seq;  // bytes [seq, covered) are held
  for (uint32_t i = 0; i < count_ && seq_lt(covered, end); ++i) {
    const Entry &e = entries_[i];
    const Seq e_end = e.seq + e.len;
    if (seq_leq(e_end, covered)) continue;
    if (seq_gt(e.seq, covered)) return false;  // a gap
    covered = e_end;
  }
  return seq_geq(covered, end);
}

bool ReassemblyQueue::insert(Seq seq, mem::Mbuf *m, const uint8_t *data, uint32_t len) {
  // A range of 2^31 or more would make sequence comparisons ambiguous.
  if (len == 0 || len >= (1u << 31) || m == nullptr || data == nullptr) return false;
  if (max_segments_ == 0) return false;
  // The first out-of-order segment of this queue's life: see the header.
  const Seq end = seq + len;

  // Skip held segments that end at or before seq.
  uint32_t i = 0;
  while (i < count_ && seq_leq(entries_[i].seq + entries_[i].len, seq)) ++i;

  // A held segment starting before seq overlaps the new one's head: keep it, cut the head.
  Seq new_seq = seq;
  if (i < count_ && seq_lt(entries_[i].seq, seq)) {
    const Seq held_end = entries_[i].seq + entries_[i].len;
    if (seq_geq(held_end, end)) return false;
    new_seq = held_end;
    ++i;
  }
  // Held segments wholly inside the new one: [i, j), replaced by it.
  uint32_t j = i;
  uint32_t covered_bytes = 0;
  while (j < count_ && seq_leq(entries_[j].seq + entries_[j].len, end)) {
    covered_bytes += entries_[j].len;
    ++j;
  }
  // A held segment overlapping the new one's tail: keep it, cut the tail.
  Seq new_end = end;
  if (j < count_ && seq_lt(entries_[j].seq, end)) new_end = entries_[j].seq;
  if (!seq_lt(new_seq, new_end)) return false;
  const uint32_t new_len = new_end - new_seq;
  // The covered segments lie inside [new_seq, new_end): equal size means no new byte.
  if (covered_bytes == new_len) return false;

  const uint32_t replaced = j - i;
  if (count_ - replaced + 1 > max_segments_) return false;
  if (uint64_t{bytes_} - covered_bytes + new_len > max_bytes_) return false;
  if (count_ - replaced + 1 > capacity_) grow();

  for (uint32_t k = i; k < j; ++k) mem::MbufPool::free_chain(entries_[k].m);
  if (replaced == 0) {
    for (uint32_t k = count_; k > i; --k) entries_[k] = entries_[k - 1];
  } else {
    for (uint32_t k = j; k < count_; ++k) entries_[k - replaced + 1] = entries_[k];
  }
  count_ = count_ - replaced + 1;
  bytes_ = bytes_ - covered_bytes + new_len;
  entries_[i] = Entry{new_seq, new_len, data + (new_seq - seq), m, ++arrivals_};
  return true;
}

size_t ReassemblyQueue::sack_blocks(SackBlock *out, size_t max) const {
  // Runs of touching entries form blocks; a block is as recent as its newest
  // entry. Pick the max most recent blocks by repeated scans (max is at most 4
  // in practice), without scratch memory.
  size_t n = 0;
  uint64_t below = UINT64_MAX;  // only blocks less recent than the last pick qualify
  while (n < max) {
    SackBlock best{};
    uint64_t best_arrival = 0;
    uint32_t k = 0;
    while (k < count_) {
      SackBlock run{entries_[k].seq, entries_[k].seq + entries_[k].len};
      uint64_t newest = entries_[k].arrival;
      for (++k; k < count_ && entries_[k].seq == run.right; ++k) {
        run.right += entries_[k].len;
        if (entries_[k].arrival > newest) newest = entries_[k].arrival;
      }
      if (newest < below && newest > best_arrival) {
        best = run;
        best_arrival = newest;
      }
    }
    if (best_arrival == 0) break;
    out[n++] = best;
    below = best_arrival;
  }
  return n;
}

}  // namespace ix::net::tcp
