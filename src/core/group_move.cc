// Runtime::move_group: the mover's side of a flow-group move (the protocol
// is in group_move.hh). Runs on a control thread; every change to a thread's
// state is a control task that thread runs itself between batches.
#include "core/group_move.hh"

#include <functional>
#include <thread>

#include "core/runtime.hh"

namespace ix::core {

bool Runtime::run_task(unsigned id, const std::function<bool(ElasticThread &)> &step,
                       std::chrono::steady_clock::time_point deadline) {
  ControlSlot &slot = control_[id];
  while (!slot.post(std::make_unique<StepTask>(step))) {
    if (std::chrono::steady_clock::now() >= deadline || !thread_running(id)) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  while (!slot.idle()) {
    if (std::chrono::steady_clock::now() >= deadline || !thread_running(id)) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  return true;
}

net::FlowGroupTable Runtime::flow_groups() const {
  std::lock_guard<std::mutex> lock(moves_mu_);
  return flow_table_;
}

std::string Runtime::move_group(uint16_t group, uint16_t to, std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(moves_mu_);
  return move_group_locked(group, to, timeout);
}

std::string Runtime::move_group_locked(uint16_t group, uint16_t to,
                                       std::chrono::milliseconds timeout) {
  const unsigned n = threads();
  if (group >= flow_table_.size())
    return "flow group " + std::to_string(group) + " does not exist (there are " +
           std::to_string(flow_table_.size()) + ": 0.." + std::to_string(flow_table_.size() - 1) +
           ")";
  if (to >= n)
    return "elastic thread " + std::to_string(to) + " does not exist (there are " +
           std::to_string(n) + ")";
  const uint16_t from = flow_table_.queue_of_group(group);
  if (from == to) return "";
  if (!started_.load() || !thread_running(from) || !thread_running(to))
    return "elastic threads " + std::to_string(from) + " and " + std::to_string(to) +
           " must both be running";
  if (parked(to)) return "elastic thread " + std::to_string(to) + " is parked; resume it first";

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Runs one task on thread `id` and waits for it; false on timeout or stop.
  auto run_on = [&](unsigned id, const std::function<bool(ElasticThread &)> &step) {
    return run_task(id, step, deadline);
  };
  const std::string where = "moving flow group " + std::to_string(group) + " from thread " +
                            std::to_string(from) + " to " + std::to_string(to) + ": ";
  const std::string late = " did not answer in time (its application is not calling run_io)";

  // 1. The new owner holds the group's frames.
  if (!run_on(to, [=](ElasticThread &t) {
        t.expect_group(group, from);
        return true;
      }))
    return where + "thread " + std::to_string(to) + late;
  // 2. Every other thread forwards the group to the new owner.
  // A parked thread is told when it resumes (resume() gives it the table).
  for (unsigned c = 0; c < n; ++c) {
    if (c == from || c == to || !thread_running(c) || parked(c)) continue;
    if (!run_on(c, [=](ElasticThread &t) {
          t.set_group_owner(group, to);
          return true;
        }))
      return where + "thread " + std::to_string(c) + late + "; the move is half done";
  }
  // 3. The old owner hands the connections over.
  bool refused = false;
  if (!run_on(from, [group, to, &refused](ElasticThread &t) {
        return t.release_group(group, to, &refused) || refused;
      }))
    return where + "thread " + std::to_string(from) + late + "; the move is half done";
  if (refused) {
    // Nothing was taken: put the others' views back and let the new owner
    // hand what it held to the old one.
    for (unsigned c = 0; c < n; ++c) {
      if (c == from || !thread_running(c) || parked(c)) continue;
      run_on(c, [=](ElasticThread &t) {
        if (c == to) t.abandon_group(group);
        t.set_group_owner(group, from);
        return true;
      });
    }
    return where + "a connection's application does not follow moves (nothing moved)";
  }
  // 4. The device steers the group to the new owner's queue.
  flow_table_.assign(group, to);
  if (device_steers_ && !dev_.set_flow_groups(flow_table_))
    return where + std::string(dev_.name()) +
           " refused the new RSS table; frames of the group reach the old owner, which forwards "
           "them";
  const uint64_t switched = clock_.now_ns() + cfg_.move_settle_ns;
  // 5. The old owner says when nothing more of the group can come from it.
  if (!run_on(from, [=](ElasticThread &t) { return t.flush_group(group, to, switched); }))
    return where + "thread " + std::to_string(from) + late + "; the move is half done";
  // 6. The new owner has processed the old owner's frames, then what it held.
  if (!run_on(to, [=](ElasticThread &t) { return t.group_settled(group); }))
    return where + "thread " + std::to_string(to) + late + "; the move is half done";
  return "";
}

}  // namespace ix::core
