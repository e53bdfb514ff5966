// Hierarchical timer wheel (Varghese & Lauck, scheme 7; the layout follows the
// classic one IX and older Linux kernels use).
//
// Time is counted in ticks of kGranularityNs. A timer armed for tick E sits in
// one slot chosen by how far E is from `next_tick` (the first tick not yet
// processed):
//
//   level 0: E - next_tick <  256            slot E mod 256 (one tick each)
//   level k: E - next_tick <  256 * 64^k     slot (E >> shift_k) mod 64
//
// A level-k slot is "cascaded" (its timers re-placed into lower levels) when
// time reaches the start of the block of 2^shift_k ticks it stands for; at that
// point every timer in it is less than one block away, so it lands lower. With
// five levels the wheel covers 2^32 ticks (~19.5 hours); a timer further away
// is parked in the top level at the furthest slot and re-placed each time that
// slot cascades until it comes into range.
//
// A timer's slot tick is never after its deadline (timer_wheel.hh: arm() may
// push the deadline later without moving it). When its slot comes due,
// advance() fires it if the deadline has come, drops it if it was disarmed,
// and otherwise re-places it at its deadline; a cascade re-places it at its
// deadline too (or drops it), so a timer whose deadline moved often is still
// placed once per cascade at most.
//
// Slots are circular lists around a sentinel Timer, so cancel() needs nothing
// but the timer itself. A bitmap per level records which slots are non-empty,
// which lets advance() jump over idle stretches (a big jump in time costs one
// step per non-empty slot passed, not one per tick).
#include "timing/timer_wheel.hh"

#include <algorithm>
#include <array>
#include <bit>
#include <functional>
#include <limits>

namespace ix::timing {
namespace {

constexpr unsigned kLevels = 5;
constexpr unsigned kLevel0Bits = 8;
constexpr unsigned kLevelBits = 6;
constexpr uint64_t kLevel0Slots = uint64_t{1} << kLevel0Bits;  // 256
constexpr uint64_t kLevelSlots = uint64_t{1} << kLevelBits;    // 64
constexpr unsigned kSlotCount = kLevel0Slots + (kLevels - 1) * kLevelSlots;
// Ticks from next_tick beyond which a timer is parked in the top level.
constexpr uint64_t kMaxSpanTicks = uint64_t{1} << (kLevel0Bits + (kLevels - 1) * kLevelBits);

constexpr unsigned level_shift(unsigned level) {
  return level == 0 ? 0 : kLevel0Bits + (level - 1) * kLevelBits;
}
// Ticks covered by the whole of level `level` (= one slot of level + 1).
constexpr uint64_t level_span(unsigned level) {
  return uint64_t{1} << (kLevel0Bits + level * kLevelBits);
}
constexpr unsigned level_first_slot(unsigned level) {
  return level == 0 ? 0 : kLevel0Slots + (level - 1) * kLevelSlots;
}

// Offset (0..63) from `start` to the first set bit of a 64-slot ring, or 64.
unsigned first_set_from(uint64_t bits, unsigned start) {
  uint64_t rotated = std::rotr(bits, static_cast<int>(start));
  return rotated == 0 ? 64 : static_cast<unsigned>(std::countr_zero(rotated));
}

void list_init(Timer &head) { head.prev = head.next = &head; }
bool list_empty(const Timer &head) { return head.next == &head; }
void list_push_back(Timer &head, Timer &t) {
  t.prev = head.prev;
  t.next = &head;
  head.prev->next = &t;
  head.prev = &t;
}
void list_unlink(Timer &t) {
  t.prev->next = t.next;
  t.next->prev = t.prev;
  t.prev = t.next = nullptr;
}
// Move all of `from` to the (empty) `to`, leaving `from` empty.
void list_splice_into_empty(Timer &from, Timer &to) {
  if (list_empty(from)) {
    list_init(to);
    return;
  }
  to.next = from.next;
  to.prev = from.prev;
  to.next->prev = &to;
  to.prev->next = &to;
  list_init(from);
}

}  // namespace

struct TimerWheel::Impl {
  std::array<Timer, kSlotCount> slots;  // sentinels
  std::array<uint64_t, kLevel0Slots / 64> level0_bits{};
  std::array<uint64_t, kLevels> upper_bits{};  // index 0 unused
  uint64_t next_tick = 0;                      // ticks before this one have been processed
  bool in_advance = false;
  unsigned linked = 0;      // timers in a slot list (armed or disarmed)
  uint64_t placements = 0;  // see TimerWheel::placements()

  Impl() {
    for (Timer &s : slots) list_init(s);
  }

  bool is_sentinel(const Timer *p) const {
    std::less<const Timer *> lt;
    return !lt(p, slots.data()) && lt(p, slots.data() + slots.size());
  }

  void mark(unsigned slot) {
    if (slot < kLevel0Slots) {
      level0_bits[slot / 64] |= uint64_t{1} << (slot % 64);
    } else {
      unsigned level = 1 + (slot - kLevel0Slots) / kLevelSlots;
      upper_bits[level] |= uint64_t{1} << ((slot - kLevel0Slots) % kLevelSlots);
    }
  }
  void unmark(unsigned slot) {
    if (slot < kLevel0Slots) {
      level0_bits[slot / 64] &= ~(uint64_t{1} << (slot % 64));
    } else {
      unsigned level = 1 + (slot - kLevel0Slots) / kLevelSlots;
      upper_bits[level] &= ~(uint64_t{1} << ((slot - kLevel0Slots) % kLevelSlots));
    }
  }

  // Put t (not linked; due at tick `tick`, which is >= next_tick) into its
  // slot.
  void place(Timer &t, uint64_t tick) {
    uint64_t distance = tick - next_tick;
    unsigned slot;
    if (distance < level_span(0)) {
      slot = static_cast<unsigned>(tick % kLevel0Slots);
    } else {
      if (distance >= kMaxSpanTicks) tick = next_tick + kMaxSpanTicks - 1;
      distance = tick - next_tick;
      unsigned level = 1;
      while (distance >= level_span(level)) ++level;
      slot = level_first_slot(level) +
             static_cast<unsigned>((tick >> level_shift(level)) % kLevelSlots);
    }
    list_push_back(slots[slot], t);
    mark(slot);
    t.slot_tick = tick;
    t.linked = true;
    ++linked;
    ++placements;
  }

  // Remove t from the slot list holding it, keeping the bitmaps exact.
  void unlink(Timer &t) {
    Timer *neighbour = t.next;
    bool slot_now_empty = t.prev == t.next && is_sentinel(neighbour);
    list_unlink(t);
    if (slot_now_empty) unmark(static_cast<unsigned>(neighbour - slots.data()));
    t.linked = false;
    --linked;
  }

  // Take the first timer off a detached batch list (see cascade, advance).
  Timer &take_first(Timer &batch) {
    Timer &t = *batch.next;
    list_unlink(t);
    t.linked = false;
    --linked;
    return t;
  }

  // First non-empty level-0 slot with index >= start (no wrap), or -1.
  int first_level0_slot_from(unsigned start) const {
    for (unsigned w = start / 64; w < level0_bits.size(); ++w) {
      uint64_t word = level0_bits[w];
      if (w == start / 64) word &= ~uint64_t{0} << (start % 64);
      if (word != 0)
        return static_cast<int>(w * 64 + static_cast<unsigned>(std::countr_zero(word)));
    }
    return -1;
  }

  // The earliest tick >= next_tick at which a timer fires or a non-empty
  // upper-level slot cascades. Requires at least one armed timer.
  uint64_t next_event_tick() const {
    uint64_t best = std::numeric_limits<uint64_t>::max();
    // Level-0 timers all expire within 256 ticks of next_tick, so the first
    // non-empty slot at or after next_tick's (wrapping) is the earliest.
    unsigned start0 = static_cast<unsigned>(next_tick % kLevel0Slots);
    int slot0 = first_level0_slot_from(start0);
    if (slot0 < 0) slot0 = first_level0_slot_from(0);
    if (slot0 >= 0)
      best = next_tick + (static_cast<unsigned>(slot0) + kLevel0Slots - start0) % kLevel0Slots;
    for (unsigned level = 1; level < kLevels; ++level) {
      if (upper_bits[level] == 0) continue;
      unsigned shift = level_shift(level);
      uint64_t block = next_tick >> shift;
      // A block that starts exactly at next_tick has not cascaded yet.
      if ((next_tick & ((uint64_t{1} << shift) - 1)) != 0) ++block;
      unsigned offset = first_set_from(upper_bits[level], static_cast<unsigned>(block % 64));
      best = std::min(best, (block + offset) << shift);
    }
    return best;
  }

  // Re-place every timer of the level-`level` slot whose block starts at
  // next_tick (which is aligned to that block).
  void cascade(unsigned level) {
    unsigned slot = level_first_slot(level) +
                    static_cast<unsigned>((next_tick >> level_shift(level)) % kLevelSlots);
    if (list_empty(slots[slot])) return;
    Timer batch;
    list_splice_into_empty(slots[slot], batch);
    unmark(slot);
    while (!list_empty(batch)) {
      Timer &t = take_first(batch);
      if (t.armed) place(t, t.expires_ns / kGranularityNs);  // disarmed: dropped
    }
  }
};

TimerWheel::TimerWheel(uint64_t now_ns)
    : impl_(std::make_unique<Impl>()), next_tick_(&impl_->next_tick), now_ns_(now_ns) {
  // The tick containing now counts as processed: anything armed from here on
  // is due at a later tick, which keeps every expiry >= now.
  impl_->next_tick = now_ns / kGranularityNs + 1;
}

TimerWheel::~TimerWheel() {
  // Leave any still-armed timers in a state their owners can safely cancel.
  for (Timer &head : impl_->slots) {
    while (!list_empty(head)) {
      Timer &t = *head.next;
      list_unlink(t);
      t.armed = false;
      t.linked = false;
    }
  }
}

void TimerWheel::place(Timer &t, uint64_t tick) {
  if (t.linked) impl_->unlink(t);
  impl_->place(t, tick);
}

void TimerWheel::cancel(Timer &t) {
  if (t.linked) impl_->unlink(t);
  disarm(t);
}

uint64_t TimerWheel::placements() const { return impl_->placements; }

unsigned TimerWheel::advance(uint64_t now_ns) {
  Impl &w = *impl_;
  // A callback calling advance() again, or a clock stepping back, is ignored:
  // both would break the invariant that ticks before next_tick are done.
  if (w.in_advance || now_ns < now_ns_) return 0;
  now_ns_ = now_ns;
  const uint64_t target = now_ns / kGranularityNs;
  unsigned fired = 0;
  w.in_advance = true;
  while (w.next_tick <= target) {
    uint64_t tick = w.linked == 0 ? UINT64_MAX : w.next_event_tick();
    if (tick > target) break;
    w.next_tick = tick;
    for (unsigned level = kLevels - 1; level >= 1; --level) {
      if ((tick & ((uint64_t{1} << level_shift(level)) - 1)) == 0) w.cascade(level);
    }
    // Timers armed by callbacks below must land in later ticks.
    w.next_tick = tick + 1;
    unsigned slot = static_cast<unsigned>(tick % kLevel0Slots);
    if (list_empty(w.slots[slot])) continue;
    // Detach the slot first: callbacks may cancel or re-arm any timer,
    // including ones still waiting in this batch.
    Timer batch;
    list_splice_into_empty(w.slots[slot], batch);
    w.unmark(slot);
    while (!list_empty(batch)) {
      Timer &t = w.take_first(batch);
      if (!t.armed) continue;  // disarmed while linked: dropped now
      if (t.expires_ns / kGranularityNs > tick) {
        w.place(t, t.expires_ns / kGranularityNs);  // the deadline moved later
        continue;
      }
      t.armed = false;
      --pending_;
      ++fired;
      if (t.fn != nullptr) t.fn(&t, t.arg);
    }
  }
  w.next_tick = std::max(w.next_tick, target + 1);
  w.in_advance = false;
  return fired;
}

uint64_t TimerWheel::next_expiry_ns() const {
  if (pending_ == 0) return UINT64_MAX;
  uint64_t at = impl_->next_event_tick() * kGranularityNs;
  return at > now_ns_ ? at - now_ns_ : 0;
}

}  // namespace ix::timing
