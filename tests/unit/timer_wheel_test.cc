#include "timing/timer_wheel.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

namespace ix::timing {
namespace {

constexpr uint64_t kG = TimerWheel::kGranularityNs;
constexpr uint64_t kUs = 1'000;
constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;
constexpr uint64_t kStart = 1'000'000'000'123;  // deliberately not tick-aligned

// A timer that remembers what happened to it, checked against an oracle.
struct Probe {
  Timer timer;
  TimerWheel *wheel = nullptr;
  uint64_t due_ns = 0;        // armed-at time + delay: must not fire before this
  uint64_t fired_at_ns = 0;   // wheel time of the advance() that fired it
  uint64_t prev_advance = 0;  // wheel time before the advance() that fired it
  unsigned fires = 0;
  std::vector<uint64_t> *order = nullptr;
  const uint64_t *advanced_from = nullptr;  // the test's "time before this advance"

  Probe() : timer(&Probe::on_fire, this) {}
  static void on_fire(Timer *, void *arg) {
    auto *p = static_cast<Probe *>(arg);
    ++p->fires;
    p->fired_at_ns = p->wheel->now_ns();
    if (p->advanced_from != nullptr) p->prev_advance = *p->advanced_from;
    if (p->order != nullptr) p->order->push_back(p->timer.expires_ns);
  }
  void arm(TimerWheel &w, uint64_t delay) {
    wheel = &w;
    due_ns = w.now_ns() + delay;
    w.arm(timer, delay);
  }
};

// Checks the contract for a fired probe: the expiry is the due time rounded
// up by less than one tick (or exactly one, for a due time in an already
// processed tick), it fired on the first advance() that reached the expiry.
void expect_fired_on_time(const Probe &p, uint64_t prev_advance_ns) {
  EXPECT_EQ(p.fires, 1u);
  EXPECT_GE(p.timer.expires_ns, p.due_ns);
  EXPECT_LE(p.timer.expires_ns, p.due_ns + kG);
  EXPECT_GE(p.fired_at_ns, p.timer.expires_ns);
  EXPECT_LT(prev_advance_ns, p.timer.expires_ns) << "should have fired one advance earlier";
}

TEST(TimerWheel, SingleTimerFiresAtItsTickAndNotBefore) {
  TimerWheel w(kStart);
  Probe p;
  p.arm(w, 100 * kUs);
  EXPECT_TRUE(TimerWheel::armed(p.timer));
  EXPECT_EQ(p.timer.expires_ns % kG, 0u);
  EXPECT_GE(p.timer.expires_ns, kStart + 100 * kUs);
  EXPECT_LT(p.timer.expires_ns, kStart + 100 * kUs + kG);

  EXPECT_EQ(w.advance(p.timer.expires_ns - 1), 0u);
  EXPECT_EQ(p.fires, 0u);
  EXPECT_EQ(w.pending(), 1u);
  EXPECT_EQ(w.advance(p.timer.expires_ns), 1u);
  EXPECT_EQ(p.fires, 1u);
  EXPECT_FALSE(TimerWheel::armed(p.timer));
  EXPECT_EQ(w.pending(), 0u);
  EXPECT_EQ(w.advance(p.timer.expires_ns + 10 * kMs), 0u);
  EXPECT_EQ(p.fires, 1u);
}

TEST(TimerWheel, FineStepsNeverEarlyAndAtMostOneTickLate) {
  TimerWheel w(kStart);
  for (uint64_t delay : {uint64_t{0}, uint64_t{1}, kG - 1, kG, kG + 1, 255 * kG, 256 * kG,
                         257 * kG + 5, 5 * kMs, 70 * kMs}) {
    Probe p;
    p.arm(w, delay);
    uint64_t prev = w.now_ns();
    while (p.fires == 0) {
      prev = w.now_ns();
      w.advance(prev + 1 * kUs);
    }
    expect_fired_on_time(p, prev);
  }
}

TEST(TimerWheel, DelayZeroFiresOnNextAdvancePastTheTick) {
  TimerWheel w(5 * kG);  // exactly on a tick boundary
  Probe p;
  p.arm(w, 0);
  EXPECT_EQ(p.timer.expires_ns, 6 * kG);  // tick 5 is already reached
  EXPECT_EQ(w.advance(6 * kG - 1), 0u);
  EXPECT_EQ(w.advance(6 * kG), 1u);
}

TEST(TimerWheel, RandomDelaysFireWithinOneTickInExpiryOrder) {
  std::mt19937_64 rng(42);
  TimerWheel w(kStart);
  std::vector<uint64_t> order;
  constexpr int kTimers = 5000;
  auto probes = std::make_unique<Probe[]>(kTimers);
  for (int i = 0; i < kTimers; ++i) {
    // Mix of delays spanning levels 0..2 (up to ~20 s).
    uint64_t delay = rng() % (uint64_t{1} << (10 + rng() % 25));
    probes[i].order = &order;
    probes[i].arm(w, delay);
  }
  EXPECT_EQ(w.pending(), static_cast<unsigned>(kTimers));

  uint64_t prev = 0;
  for (int i = 0; i < kTimers; ++i) probes[i].advanced_from = &prev;
  unsigned total = 0;
  while (w.pending() > 0) {
    prev = w.now_ns();
    total += w.advance(prev + 1 + rng() % (2 * kMs));
  }
  EXPECT_EQ(total, static_cast<unsigned>(kTimers));
  for (int i = 0; i < kTimers; ++i) {
    SCOPED_TRACE(i);
    expect_fired_on_time(probes[i], probes[i].prev_advance);
  }
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST(TimerWheel, LongDelaysCascadeDownExactly) {
  TimerWheel w(kStart);
  const uint64_t delays[] = {1 * kSec,         37 * kSec,        60 * kSec,
                             10 * 60 * kSec,   60 * 60 * kSec,   3 * 3600 * kSec + 17,
                             19 * 3600 * kSec, 30 * 3600 * kSec, 80 * 3600 * kSec};
  constexpr size_t kN = std::size(delays);
  Probe probes[kN];
  for (size_t i = 0; i < kN; ++i) probes[i].arm(w, delays[i]);
  // Jump straight to one nanosecond before each expiry, then onto it.
  for (size_t i = 0; i < kN; ++i) {
    SCOPED_TRACE(delays[i]);
    w.advance(probes[i].timer.expires_ns - 1);
    EXPECT_EQ(probes[i].fires, 0u);
    uint64_t prev = w.now_ns();
    w.advance(probes[i].timer.expires_ns);
    expect_fired_on_time(probes[i], prev);
    for (size_t j = i + 1; j < kN; ++j) EXPECT_EQ(probes[j].fires, 0u);
  }
  EXPECT_EQ(w.pending(), 0u);
}

TEST(TimerWheel, LongDelayWithSteadySteps) {
  // Minutes of 10 ms steps: every cascade boundary in between is crossed.
  TimerWheel w(kStart);
  Probe a, b, c;
  a.arm(w, 2 * 60 * kSec + 3 * kMs);
  b.arm(w, 65 * kSec);
  c.arm(w, 4 * kSec + 7);
  uint64_t prev_a = 0, prev_b = 0, prev_c = 0;
  while (w.pending() > 0) {
    uint64_t prev = w.now_ns();
    w.advance(prev + 10 * kMs);
    if (a.fires && !prev_a) prev_a = prev;
    if (b.fires && !prev_b) prev_b = prev;
    if (c.fires && !prev_c) prev_c = prev;
  }
  expect_fired_on_time(a, prev_a);
  expect_fired_on_time(b, prev_b);
  expect_fired_on_time(c, prev_c);
}

TEST(TimerWheel, CancelBeforeFire) {
  TimerWheel w(kStart);
  Probe near, far, kept;
  near.arm(w, 1 * kMs);
  far.arm(w, 30 * kSec);
  kept.arm(w, 2 * kMs);
  EXPECT_EQ(w.pending(), 3u);
  w.cancel(near.timer);
  w.cancel(far.timer);
  w.cancel(far.timer);  // cancelling twice is harmless
  EXPECT_FALSE(TimerWheel::armed(near.timer));
  EXPECT_EQ(w.pending(), 1u);
  EXPECT_EQ(w.advance(kStart + 60 * kSec), 1u);
  EXPECT_EQ(near.fires, 0u);
  EXPECT_EQ(far.fires, 0u);
  EXPECT_EQ(kept.fires, 1u);
  EXPECT_EQ(w.next_expiry_ns(), UINT64_MAX);
}

TEST(TimerWheel, RearmMovesTheTimer) {
  TimerWheel w(kStart);
  Probe p;
  p.arm(w, 1 * kMs);
  p.arm(w, 5 * kMs);  // later
  EXPECT_EQ(w.pending(), 1u);
  EXPECT_EQ(w.advance(kStart + 4 * kMs), 0u);
  EXPECT_EQ(w.advance(kStart + 5 * kMs + kG), 1u);
  EXPECT_EQ(p.fires, 1u);

  p.fires = 0;
  p.arm(w, 10 * kSec);
  p.arm(w, 1 * kMs);  // earlier, and from a higher level to level 0
  uint64_t t0 = w.now_ns();
  EXPECT_EQ(w.advance(t0 + 1 * kMs + kG), 1u);
  EXPECT_EQ(w.advance(t0 + 20 * kSec), 0u);
  EXPECT_EQ(p.fires, 1u);
}

struct Periodic {
  Timer timer;
  TimerWheel *wheel;
  uint64_t period;
  unsigned fires = 0;
  unsigned limit;
  Periodic(TimerWheel &w, uint64_t p, unsigned l)
      : timer(&Periodic::on_fire, this), wheel(&w), period(p), limit(l) {}
  static void on_fire(Timer *t, void *arg) {
    auto *self = static_cast<Periodic *>(arg);
    ++self->fires;
    if (self->fires < self->limit) self->wheel->arm(*t, self->period);
  }
};

TEST(TimerWheel, CallbackRearmsItselfPeriodically) {
  TimerWheel w(kStart);
  Periodic p(w, 1 * kMs, 100);
  w.arm(p.timer, p.period);
  unsigned advances = 0;
  while (TimerWheel::armed(p.timer)) {
    uint64_t expiry = p.timer.expires_ns;
    EXPECT_EQ(w.advance(expiry - 1), 0u);
    EXPECT_EQ(w.advance(expiry), 1u);
    ++advances;
  }
  EXPECT_EQ(p.fires, 100u);
  EXPECT_EQ(advances, 100u);
}

TEST(TimerWheel, SelfRearmWithZeroDelayDuringBigJumpTerminates) {
  TimerWheel w(kStart);
  Periodic p(w, 0, 1'000'000);
  w.arm(p.timer, 0);
  // Delays armed from a callback count from the advance() time, so a
  // zero-delay re-arm lands after it: one fire per advance, no live-lock.
  EXPECT_EQ(w.advance(kStart + 10 * kSec), 1u);
  EXPECT_TRUE(TimerWheel::armed(p.timer));
  EXPECT_GE(p.timer.expires_ns, w.now_ns());
  EXPECT_LE(p.timer.expires_ns, w.now_ns() + kG);
  EXPECT_EQ(w.advance(w.now_ns() + kG), 1u);
  EXPECT_EQ(p.fires, 2u);
}

struct Canceller {
  Timer timer;
  TimerWheel *wheel;
  Timer *victim;
  Timer *to_arm = nullptr;
  uint64_t arm_delay = 0;
  Canceller(TimerWheel &w, Timer *v) : timer(&Canceller::on_fire, this), wheel(&w), victim(v) {}
  static void on_fire(Timer *, void *arg) {
    auto *self = static_cast<Canceller *>(arg);
    if (self->victim != nullptr) self->wheel->cancel(*self->victim);
    if (self->to_arm != nullptr) self->wheel->arm(*self->to_arm, self->arm_delay);
  }
};

TEST(TimerWheel, CallbackCancelsAnotherTimerOfTheSameSlot) {
  TimerWheel w(kStart);
  Probe victim, bystander;
  Canceller killer(w, &victim.timer);
  w.arm(killer.timer, 1 * kMs);  // armed first, so it fires first in the slot
  victim.arm(w, 1 * kMs);
  bystander.arm(w, 1 * kMs);
  EXPECT_EQ(killer.timer.expires_ns, victim.timer.expires_ns);
  EXPECT_EQ(w.pending(), 3u);
  EXPECT_EQ(w.advance(kStart + 2 * kMs), 2u);
  EXPECT_EQ(victim.fires, 0u);
  EXPECT_EQ(bystander.fires, 1u);
  EXPECT_FALSE(TimerWheel::armed(victim.timer));
  EXPECT_EQ(w.pending(), 0u);
}

TEST(TimerWheel, CallbackCancelsALaterDueTimerOfTheSameAdvance) {
  TimerWheel w(kStart);
  Probe victim;
  Canceller killer(w, &victim.timer);
  w.arm(killer.timer, 1 * kMs);
  victim.arm(w, 3 * kMs);
  EXPECT_EQ(w.advance(kStart + 10 * kMs), 1u);
  EXPECT_EQ(victim.fires, 0u);
  EXPECT_EQ(w.pending(), 0u);
}

TEST(TimerWheel, CallbackRearmsAnotherTimerOfTheSameSlotLater) {
  TimerWheel w(kStart);
  Probe moved;
  Canceller mover(w, nullptr);
  mover.to_arm = &moved.timer;
  mover.arm_delay = 50 * kMs;
  w.arm(mover.timer, 1 * kMs);
  moved.arm(w, 1 * kMs);
  EXPECT_EQ(w.advance(kStart + 2 * kMs), 1u);
  EXPECT_EQ(moved.fires, 0u);
  EXPECT_TRUE(TimerWheel::armed(moved.timer));
  EXPECT_EQ(w.advance(kStart + 2 * kMs + 50 * kMs + kG), 1u);
  EXPECT_EQ(moved.fires, 1u);
}

TEST(TimerWheel, DelaysArmedByCallbacksCountFromTheAdvanceTime) {
  TimerWheel w(kStart);
  Probe chained;
  chained.wheel = &w;
  Canceller starter(w, nullptr);
  starter.to_arm = &chained.timer;
  starter.arm_delay = 2 * kMs;
  w.arm(starter.timer, 1 * kMs);
  const uint64_t late = kStart + 50 * kMs;  // the loop woke up late
  EXPECT_EQ(w.advance(late), 1u);
  EXPECT_GE(chained.timer.expires_ns, late + 2 * kMs);
  EXPECT_LE(chained.timer.expires_ns, late + 2 * kMs + kG);
  EXPECT_EQ(w.advance(chained.timer.expires_ns - 1), 0u);
  EXPECT_EQ(w.advance(chained.timer.expires_ns), 1u);
  EXPECT_EQ(chained.fires, 1u);
}

TEST(TimerWheel, TimerArmedByCallbackForAnEarlierTickFiresInTheSameAdvance) {
  // With the advance time exactly on a tick boundary, a zero delay is due now.
  TimerWheel w(kStart);
  Probe chained;
  chained.wheel = &w;
  Canceller starter(w, nullptr);
  starter.to_arm = &chained.timer;
  w.arm(starter.timer, 1 * kMs);
  const uint64_t aligned = (kStart / kG + 1000) * kG;
  EXPECT_EQ(w.advance(aligned), 2u);
  EXPECT_EQ(chained.fires, 1u);
  EXPECT_EQ(chained.timer.expires_ns, aligned);
}

TEST(TimerWheel, OneBigJumpFiresEverythingInOrder) {
  std::mt19937_64 rng(7);
  TimerWheel w(kStart);
  std::vector<uint64_t> order;
  constexpr int kN = 2000;
  auto probes = std::make_unique<Probe[]>(kN);
  for (int i = 0; i < kN; ++i) {
    probes[i].order = &order;
    probes[i].arm(w, rng() % (3600 * kSec));
  }
  EXPECT_EQ(w.advance(kStart + 2 * 3600 * kSec), static_cast<unsigned>(kN));
  EXPECT_EQ(order.size(), static_cast<size_t>(kN));
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(w.pending(), 0u);
}

TEST(TimerWheel, PendingCounts) {
  TimerWheel w(kStart);
  Probe a, b, c;
  EXPECT_EQ(w.pending(), 0u);
  a.arm(w, 1 * kMs);
  b.arm(w, 1 * kSec);
  c.arm(w, 1 * 3600 * kSec);
  EXPECT_EQ(w.pending(), 3u);
  b.arm(w, 2 * kSec);  // re-arm does not count twice
  EXPECT_EQ(w.pending(), 3u);
  w.cancel(c.timer);
  EXPECT_EQ(w.pending(), 2u);
  w.advance(kStart + 1 * kSec);
  EXPECT_EQ(w.pending(), 1u);
  w.advance(kStart + 3 * kSec);
  EXPECT_EQ(w.pending(), 0u);
}

TEST(TimerWheel, NextExpiryIsALowerBoundAndExactNearby) {
  TimerWheel w(kStart);
  EXPECT_EQ(w.next_expiry_ns(), UINT64_MAX);
  Probe near;
  near.arm(w, 1 * kMs);  // within 256 ticks: exact
  EXPECT_EQ(w.next_expiry_ns(), near.timer.expires_ns - w.now_ns());
  w.cancel(near.timer);

  std::mt19937_64 rng(3);
  for (int round = 0; round < 200; ++round) {
    Probe p;
    p.arm(w, rng() % (uint64_t{1} << (12 + rng() % 34)));
    uint64_t bound = w.next_expiry_ns();
    uint64_t actual = p.timer.expires_ns - w.now_ns();
    EXPECT_LE(bound, actual);
    // Following the bound never skips the timer and eventually reaches it.
    int hops = 0;
    while (p.fires == 0) {
      ASSERT_LT(++hops, 20);
      uint64_t idle = w.next_expiry_ns();
      ASSERT_NE(idle, UINT64_MAX);
      EXPECT_LE(w.now_ns() + idle, p.timer.expires_ns);
      w.advance(w.now_ns() + std::max<uint64_t>(idle, 1));
    }
    EXPECT_EQ(p.fired_at_ns, p.timer.expires_ns);
  }
}

TEST(TimerWheel, HugeDelaySaturatesInsteadOfOverflowing) {
  TimerWheel w(kStart);
  Probe p;
  p.arm(w, UINT64_MAX);
  EXPECT_TRUE(TimerWheel::armed(p.timer));
  EXPECT_GT(p.timer.expires_ns, kStart);
  EXPECT_EQ(w.advance(kStart + 1000 * 3600 * kSec), 0u);
  EXPECT_EQ(p.fires, 0u);
  w.cancel(p.timer);
  EXPECT_EQ(w.pending(), 0u);
}

TEST(TimerWheel, TimeGoingBackwardsIsIgnored) {
  TimerWheel w(kStart);
  Probe p;
  p.arm(w, 1 * kMs);
  EXPECT_EQ(w.advance(kStart - 5 * kSec), 0u);
  EXPECT_EQ(w.now_ns(), kStart);
  EXPECT_EQ(w.advance(kStart + 2 * kMs), 1u);
}

TEST(TimerWheel, DestroyingTheWheelDisarmsItsTimers) {
  Probe p;
  {
    TimerWheel w(kStart);
    p.arm(w, 1 * kSec);
  }
  EXPECT_FALSE(TimerWheel::armed(p.timer));
  EXPECT_EQ(p.timer.next, nullptr);
}

// 100k timers with random delays, cancels and re-arms interleaved with
// random advances; every surviving arm fires exactly once, on time.
TEST(TimerWheel, Stress100kTimers) {
  std::mt19937_64 rng(12345);
  constexpr int kN = 100'000;
  TimerWheel w(kStart);
  auto probes = std::make_unique<Probe[]>(kN);
  uint64_t prev = 0;
  for (int i = 0; i < kN; ++i) {
    uint64_t delay = rng() % (uint64_t{1} << (8 + rng() % 32));  // up to ~18 min
    probes[i].advanced_from = &prev;
    probes[i].arm(w, delay);
  }
  unsigned expected_fires = kN;
  uint64_t total_fired = 0;
  int rounds = 0;
  while (w.pending() > 0) {
    ASSERT_LT(++rounds, 200'000);
    // Disturb a few timers: cancel some, re-arm others.
    for (int k = 0; k < 3; ++k) {
      int i = static_cast<int>(rng() % kN);
      if (!TimerWheel::armed(probes[i].timer)) continue;
      if (rng() % 2 == 0) {
        w.cancel(probes[i].timer);
        --expected_fires;
      } else {
        probes[i].arm(w, rng() % (60 * kSec));
      }
    }
    prev = w.now_ns();
    uint64_t step = rng() % 4 == 0 ? rng() % (10 * kSec) : rng() % (5 * kMs);
    total_fired += w.advance(prev + step);
  }
  EXPECT_EQ(total_fired, expected_fires);
  unsigned late_or_early = 0, double_fired = 0;
  for (int i = 0; i < kN; ++i) {
    const Probe &p = probes[i];
    if (p.fires > 1) ++double_fired;
    if (p.fires != 1) continue;
    bool ok = p.timer.expires_ns >= p.due_ns && p.timer.expires_ns <= p.due_ns + kG &&
              p.fired_at_ns >= p.timer.expires_ns && p.prev_advance < p.timer.expires_ns;
    if (!ok) ++late_or_early;
  }
  EXPECT_EQ(double_fired, 0u);
  EXPECT_EQ(late_or_early, 0u);
}

// ---- laziness (timer_wheel.hh): deadlines that move later and disarmed
// timers cost no list work until their slot comes due ----

TEST(TimerWheel, ArmingLaterKeepsTheSlotAndFiresAtTheNewDeadline) {
  TimerWheel w(kStart);
  Probe p;
  p.arm(w, 1 * kMs);
  const uint64_t placed = w.placements();
  for (uint64_t d = 2; d <= 50; ++d) p.arm(w, d * kMs);  // what TCP does on every ACK
  EXPECT_EQ(w.placements(), placed) << "a later deadline must not touch the lists";
  EXPECT_EQ(w.pending(), 1u);
  // The old slot comes due: the timer moves to its deadline instead of firing.
  EXPECT_EQ(w.advance(kStart + 2 * kMs), 0u);
  EXPECT_EQ(w.placements(), placed + 1);
  EXPECT_TRUE(TimerWheel::armed(p.timer));
  uint64_t prev = w.now_ns();
  while (p.fires == 0) {
    prev = w.now_ns();
    w.advance(prev + 100 * kUs);
  }
  expect_fired_on_time(p, prev);
}

TEST(TimerWheel, ArmingEarlierMovesTheTimer) {
  TimerWheel w(kStart);
  Probe p;
  p.arm(w, 50 * kMs);
  const uint64_t placed = w.placements();
  p.arm(w, 1 * kMs);
  EXPECT_EQ(w.placements(), placed + 1);
  EXPECT_EQ(w.advance(kStart + 1 * kMs + kG), 1u);
  EXPECT_EQ(p.fires, 1u);
  EXPECT_EQ(w.advance(kStart + 60 * kMs), 0u);
  EXPECT_EQ(p.fires, 1u);
}

TEST(TimerWheel, DisarmedTimerNeverFiresAndRearmsInPlace) {
  TimerWheel w(kStart);
  Probe p;
  p.arm(w, 1 * kMs);
  w.disarm(p.timer);
  EXPECT_FALSE(TimerWheel::armed(p.timer));
  EXPECT_EQ(w.pending(), 0u);
  EXPECT_EQ(w.next_expiry_ns(), UINT64_MAX);
  // Armed again for later before the slot came due: no list work.
  const uint64_t placed = w.placements();
  p.arm(w, 3 * kMs);
  EXPECT_EQ(w.placements(), placed);
  w.disarm(p.timer);
  EXPECT_EQ(w.advance(kStart + 10 * kMs), 0u);
  EXPECT_EQ(p.fires, 0u);
  EXPECT_FALSE(p.timer.linked) << "dropped from the wheel when its slot came due";
  EXPECT_EQ(p.timer.next, nullptr);
  // A disarmed timer whose slot passed is armed afresh.
  p.arm(w, 1 * kMs);
  EXPECT_EQ(w.placements(), placed + 1);
  EXPECT_EQ(w.advance(kStart + 12 * kMs), 1u);
}

TEST(TimerWheel, DisarmedTimersInUpperLevelsAreDroppedWhenTheyCascade) {
  TimerWheel w(kStart);
  Probe far, moved;
  far.arm(w, 10 * kSec);
  moved.arm(w, 10 * kSec);
  w.disarm(far.timer);
  moved.arm(w, 20 * kSec);  // later: stays, re-placed at 20 s when it cascades
  EXPECT_EQ(w.advance(kStart + 15 * kSec), 0u);
  EXPECT_FALSE(far.timer.linked);
  EXPECT_TRUE(moved.timer.linked);
  EXPECT_EQ(w.advance(kStart + 21 * kSec), 1u);
  EXPECT_EQ(moved.fires, 1u);
  EXPECT_EQ(far.fires, 0u);
}

// cancel() after disarm() unlinks, so the timer's memory may go: the wheel
// reaching the slot afterwards must not touch it (AddressSanitizer checks).
TEST(TimerWheel, CancelAfterDisarmLetsTheTimerGo) {
  TimerWheel w(kStart);
  auto p = std::make_unique<Probe>();
  Probe neighbour;
  p->arm(w, 1 * kMs);
  neighbour.arm(w, 1 * kMs);  // same slot
  w.disarm(p->timer);
  w.cancel(p->timer);
  EXPECT_FALSE(p->timer.linked);
  p.reset();
  EXPECT_EQ(w.advance(kStart + 2 * kMs), 1u);
  EXPECT_EQ(neighbour.fires, 1u);
}

// Random arms (earlier and later), disarms, cancels and advances against a
// model: a timer fires once per arm that was not disarmed or cancelled or
// superseded, never before its deadline and within a tick after it.
TEST(TimerWheel, LazyOperationsMatchTheModel) {
  std::mt19937_64 rng(777);
  constexpr int kN = 20'000;
  TimerWheel w(kStart);
  auto probes = std::make_unique<Probe[]>(kN);
  std::vector<bool> live(kN, false);
  uint64_t prev = 0;
  unsigned expected = 0, fired = 0;
  // Accounts for a probe that fired since we last looked.
  auto settle = [&](int i) {
    Probe &p = probes[i];
    if (p.fires == 0) return;
    SCOPED_TRACE(i);
    EXPECT_TRUE(live[i]) << "fired while disarmed or cancelled";
    expect_fired_on_time(p, p.prev_advance);
    live[i] = false;
    p.fires = 0;
    ++fired;
  };
  for (int round = 0; round < 3000; ++round) {
    for (int k = 0; k < 20; ++k) {
      const int i = static_cast<int>(rng() % kN);
      settle(i);
      Probe &p = probes[i];
      p.advanced_from = &prev;
      switch (rng() % 4) {
        case 0:
        case 1:
          if (!live[i]) ++expected;
          live[i] = true;
          p.arm(w, rng() % (uint64_t{1} << (8 + rng() % 26)));
          break;
        case 2:
          if (live[i]) --expected;
          live[i] = false;
          w.disarm(p.timer);
          break;
        default:
          if (live[i]) --expected;
          live[i] = false;
          w.cancel(p.timer);
          break;
      }
      ASSERT_EQ(TimerWheel::armed(p.timer), live[i]);
    }
    prev = w.now_ns();
    w.advance(prev + (rng() % 8 == 0 ? rng() % (2 * kSec) : rng() % (2 * kMs)));
  }
  for (int i = 0; i < kN; ++i) settle(i);
  const unsigned still_armed = w.pending();
  while (w.pending() > 0) {
    prev = w.now_ns();
    w.advance(prev + rng() % (200 * kMs));
  }
  for (int i = 0; i < kN; ++i) settle(i);
  EXPECT_GT(still_armed, 0u);
  EXPECT_EQ(fired, expected);
  for (int i = 0; i < kN; ++i) EXPECT_FALSE(live[i]) << "never fired: " << i;
}

}  // namespace
}  // namespace ix::timing
