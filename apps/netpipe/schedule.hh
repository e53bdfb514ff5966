// NetPIPE's message-size schedule, as the NPtcp transmitter (NetPIPE 3.7)
// walks it. The sizes are never sent on the wire: a receiver has to walk the
// same schedule to know how many bytes each round trip carries.
//
// The walk: len starts at the lower bound and grows by `inc`, which starts at
// max(1, lower / 2) and doubles on every second step once three steps are
// done (so sizes grow exponentially, two steps per doubling). Each len is
// one group of points: len - p, len, len + p when the increment exceeds
// p + 1 (p is the perturbation), otherwise len alone. A new group starts only
// while len <= upper bound (its len + p may exceed it) and fewer than
// NSAMP - 3 points were measured. The transmitter also stops when the last
// point took a second or more; that choice is its own and shows on the wire
// (QUIT instead of a sync), so it is not part of this schedule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace netpipe {

struct ScheduleOptions {
  uint32_t lower = 1;           // NPtcp -l (>= 1)
  uint32_t upper = 10'000'000;  // NPtcp -u (its default, MAXINT in netpipe.h)
  uint32_t perturbation = 3;    // NPtcp -p (0: none)
};

// Empty when the options are usable, else what is wrong with them (as NPtcp
// refuses them: lower >= 1 and lower <= upper), plus this receiver's own
// bound on upper so that a message and its perturbation fit in an int.
std::string check(const ScheduleOptions &o);

struct SchedulePoint {
  uint32_t size = 0;
  bool group_start = false;  // first point of a len group: the transmitter may quit before it
};

class SizeSchedule {
 public:
  // NetPIPE's NSAMP: the size of its result table.
  static constexpr uint32_t kMaxSamples = 8000;

  explicit SizeSchedule(const ScheduleOptions &o);

  // The next point, or nullopt once the schedule is over.
  std::optional<SchedulePoint> next();

  // The largest message the schedule can ask for (upper + perturbation).
  uint32_t max_size() const;
  // Every size of the schedule, in order.
  static std::vector<uint32_t> all_sizes(const ScheduleOptions &o);

 private:
  int64_t step() const;
  bool perturbed() const;

  ScheduleOptions o_;
  uint32_t points_ = 0;  // NetPIPE's n
  uint32_t steps_ = 0;   // NetPIPE's nq
  int64_t len_ = 0;
  int64_t inc_ = 0;
  int64_t pert_ = 0;
  bool in_group_ = false;
};

}  // namespace netpipe
