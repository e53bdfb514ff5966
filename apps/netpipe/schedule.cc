#include "netpipe/schedule.hh"

#include <cstdint>
#include <limits>

namespace netpipe {

std::string check(const ScheduleOptions &o) {
  if (o.lower < 1) return "lower bound must be at least 1";
  if (o.lower > o.upper) return "lower bound must not exceed the upper bound";
  // Messages are sized in an int by NPtcp; keep upper + perturbation in range.
  constexpr uint64_t kMax = std::numeric_limits<int32_t>::max();
  if (uint64_t{o.upper} + o.perturbation > kMax)
    return "upper bound plus perturbation must stay below 2^31";
  return "";
}

SizeSchedule::SizeSchedule(const ScheduleOptions &o) : o_(o) {
  len_ = o.lower;
  inc_ = o.lower > 1 ? o.lower / 2 : 1;
  steps_ = o.lower > 1 ? 1 : 0;
}

bool SizeSchedule::perturbed() const {
  return o_.perturbation > 0 && inc_ > int64_t{o_.perturbation} + 1;
}

int64_t SizeSchedule::step() const {
  return perturbed() ? int64_t{o_.perturbation} : int64_t{o_.perturbation} + 1;
}

std::optional<SchedulePoint> SizeSchedule::next() {
  if (in_group_) {
    pert_ += step();
    if (pert_ <= int64_t{o_.perturbation}) {
      ++points_;
      return SchedulePoint{static_cast<uint32_t>(len_ + pert_), false};
    }
    in_group_ = false;
    len_ += inc_;
    ++steps_;
  }
  if (points_ >= kMaxSamples - 3 || len_ > int64_t{o_.upper}) return std::nullopt;
  if (steps_ > 2 && steps_ % 2 == 1) inc_ += inc_;
  pert_ = perturbed() ? -int64_t{o_.perturbation} : 0;
  in_group_ = true;
  ++points_;
  return SchedulePoint{static_cast<uint32_t>(len_ + pert_), true};
}

uint32_t SizeSchedule::max_size() const { return o_.upper + o_.perturbation; }

std::vector<uint32_t> SizeSchedule::all_sizes(const ScheduleOptions &o) {
  std::vector<uint32_t> sizes;
  SizeSchedule s(o);
  while (auto p = s.next()) sizes.push_back(p->size);
  return sizes;
}

}  // namespace netpipe
