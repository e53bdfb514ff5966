// The tasks the control socket's commands hand to elastic threads (see
// core/control_slot.hh): each runs on its thread between batches, in
// bounded steps, and leaves its result in the task for the control thread.
#pragma once

#include <cstdint>
#include <vector>

#include "core/control_slot.hh"
#include "net/tcp/conn_info.hh"

namespace ix::control {

// Publishes the thread's counters now, so that `stats` reads them as they
// are at the request rather than up to one stats period old.
class PublishCountersTask final : public core::ControlTask {
 public:
  bool step(core::ElasticThread &thread) override;
};

// Copies the thread's TCP connections (every state, TIME_WAIT included).
// A step visits at most kSlotsPerStep slots of the connection table: a
// copy is a few cache lines read per connection, so a step stays within
// tens of microseconds and 100,000 connections take about 400 loop
// iterations. Connections that come or go meanwhile may or may not be seen
// (as with a netlink dump); each one seen is consistent in itself.
class ConnSnapshotTask final : public core::ControlTask {
 public:
  static constexpr uint32_t kSlotsPerStep = 256;

  explicit ConnSnapshotTask(uint32_t slots_per_step = kSlotsPerStep)
      : slots_per_step_(slots_per_step == 0 ? 1 : slots_per_step) {}
  bool step(core::ElasticThread &thread) override;

  const std::vector<net::tcp::ConnInfo> &conns() const { return conns_; }
  // For the control thread once the task is finished.
  std::vector<net::tcp::ConnInfo> take_conns() { return std::move(conns_); }
  uint32_t steps() const { return steps_; }

 private:
  uint32_t slots_per_step_;
  uint32_t cursor_ = 0;
  uint32_t steps_ = 0;
  std::vector<net::tcp::ConnInfo> conns_;
};

}  // namespace ix::control
