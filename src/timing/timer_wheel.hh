// Hierarchical timer wheel (as in IX's dp/core/timer.c, after Varghese &
// Lauck): 16 µs granularity at the lowest level, coarser levels above it, O(1)
// arm/cancel, and advance() that cascades as time passes. One per elastic
// thread; timers are intrusive (no allocation when arming).
//
// Lazy by design, because TCP re-arms its timers on nearly every segment
// (the retransmission timer on each ACK, the delayed ACK on each data
// segment, cancelled again by the reply) and almost none ever fires. A
// timer's deadline (expires_ns) is kept apart from the slot it sits in:
//  - arm() for a deadline at or after the slot's only writes the deadline;
//    when the slot comes due, advance() finds the deadline later and puts
//    the timer where it now belongs. Only an earlier deadline moves it.
//  - disarm() only clears the armed flag; the timer stays linked and is
//    dropped from the wheel when its slot comes due (or re-armed in place).
//    For timers whose memory outlives that (TCP's, in slots that stay);
//    cancel() unlinks at once and is what an owner must call before a
//    timer's memory goes.
// So a connection touches the wheel's lists about once per timeout period,
// not once per segment, and not its neighbours' timers in the same slot.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>

namespace ix::timing {

class TimerWheel;

struct Timer {
  using Fn = void (*)(Timer *t, void *arg);
  Fn fn = nullptr;
  void *arg = nullptr;
  // Internal, owned by the wheel: the deadline while armed, the intrusive
  // list links, and the tick of the slot the timer sits in while linked
  // (never after the deadline: see the lazy rules above).
  Timer *prev = nullptr;
  Timer *next = nullptr;
  uint64_t expires_ns = 0;
  uint64_t slot_tick = 0;
  bool armed = false;
  bool linked = false;

  Timer() = default;
  Timer(Fn f, void *a) : fn(f), arg(a) {}
  Timer(const Timer &) = delete;
  Timer &operator=(const Timer &) = delete;
};

class TimerWheel {
 public:
  static constexpr uint64_t kGranularityNs = 16'384;  // ~16 µs: one tick of level 0

  explicit TimerWheel(uint64_t now_ns);
  ~TimerWheel();

  // Fire t at now + delay (rounded up to the next tick). Re-arming an armed
  // timer moves it. A timer fires at most once per arm. Inline: TCP re-arms
  // on nearly every segment, and most re-arms only write the deadline.
  void arm(Timer &t, uint64_t delay_ns) {
    // Saturate so that expires_ns (a whole number of ticks) still fits.
    constexpr uint64_t kLatest = UINT64_MAX - kGranularityNs;
    const uint64_t when =
        delay_ns > kLatest - std::min(now_ns_, kLatest) ? kLatest : now_ns_ + delay_ns;
    const uint64_t tick = std::max((when + kGranularityNs - 1) / kGranularityNs, *next_tick_);
    t.expires_ns = tick * kGranularityNs;
    if (!t.armed) ++pending_;
    t.armed = true;
    // Already in a slot no later than the deadline: it stays there, and
    // advance() moves it on when that slot comes due.
    if (t.linked && t.slot_tick <= tick) return;
    place(t, tick);
  }
  // Stop t and take it out of the wheel: afterwards its memory may go.
  void cancel(Timer &t);
  // Stop t but leave it linked until its slot comes due (no list work).
  // Its memory must stay until then or until cancel(): the owner keeps it.
  void disarm(Timer &t) {
    if (!t.armed) return;
    t.armed = false;
    --pending_;
  }
  static bool armed(const Timer &t) { return t.armed; }

  // Fire every timer whose expiry is <= now_ns; returns how many fired.
  // Callbacks may arm or cancel any timer, including the one firing. Delays
  // they arm count from now_ns, not from the expiry being processed, so a
  // periodic timer that fell behind does not replay every missed period.
  unsigned advance(uint64_t now_ns);

  // Nanoseconds until the next timer fires, or UINT64_MAX if none is armed.
  // A lower bound, for deciding how long the loop may idle: exact (to the
  // tick) when the earliest timer is within 256 ticks (~4.2 ms); otherwise the
  // time until the wheel must next cascade the slot holding it, which is at
  // most one slot width early (256 ticks at level 1, 64x more per level).
  // 0 means advance() has work to do now.
  uint64_t next_expiry_ns() const;
  // Timers armed (not counting disarmed ones still linked).
  unsigned pending() const { return pending_; }
  // Times a timer was put into a slot list (arm, cascade, a re-placement of a
  // deadline that moved later): the wheel's own work, for tests and
  // benchmarks of its laziness.
  uint64_t placements() const;
  uint64_t now_ns() const { return now_ns_; }

 private:
  // Slot lists and occupancy bitmaps (see timer_wheel.cc), allocated once in
  // the constructor; unique_ptr also makes the wheel non-copyable, as timers
  // point into it.
  struct Impl;
  // Puts armed timer t into the slot for `tick` (out of the one it is in).
  void place(Timer &t, uint64_t tick);

  std::unique_ptr<Impl> impl_;
  const uint64_t *next_tick_;  // Impl's: the first tick not yet processed
  uint64_t now_ns_;
  unsigned pending_ = 0;  // armed
};

}  // namespace ix::timing
