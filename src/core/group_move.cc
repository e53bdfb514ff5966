// Runtime::move_group: the mover's side of a flow-group move (the protocol
// is in group_move.hh). Runs on a control thread; every change to a thread's
// state is a control task that thread runs itself between batches.
#include "core/group_move.hh"

#include <functional>
#include <memory>
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
  return move_groups_locked(from, {group}, to, timeout);
}

std::string Runtime::move_groups_locked(uint16_t from, std::vector<uint16_t> groups, uint16_t to,
                                        std::chrono::milliseconds timeout) {
  const unsigned n = threads();
  if (groups.empty() || from == to) return "";
  if (!started_.load() || !thread_running(from) || !thread_running(to))
    return "elastic threads " + std::to_string(from) + " and " + std::to_string(to) +
           " must both be running";
  if (parked(to)) return "elastic thread " + std::to_string(to) + " is parked; resume it first";

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Runs one task on thread `id` and waits for it; false on timeout or stop.
  auto run_on = [&](unsigned id, const std::function<bool(ElasticThread &)> &step) {
    return run_task(id, step, deadline);
  };
  const std::string where =
      (groups.size() == 1 ? "moving flow group " + std::to_string(groups[0])
                          : "moving " + std::to_string(groups.size()) + " flow groups") +
      " from thread " + std::to_string(from) + " to " + std::to_string(to) + ": ";
  const std::string late = " did not answer in time (its application is not calling run_io)";

  // Every step takes all the groups at once: one round of the protocol
  // whatever their number (a thread that joins takes half the groups in
  // about the time one took).
  // 1. The new owner holds the groups' frames.
  // (Steps capture by value or shared state: a step still posted when the
  // wait times out runs later, after this function returned.)
  const auto all = std::make_shared<const std::vector<uint16_t>>(std::move(groups));
  if (!run_on(to, [all, from](ElasticThread &t) {
        for (uint16_t g : *all) t.expect_group(g, from);
        return true;
      }))
    return where + "thread " + std::to_string(to) + late;
  // 2. Every other thread forwards the groups to the new owner.
  // A parked thread is told when it resumes (resume() gives it the table).
  for (unsigned c = 0; c < n; ++c) {
    if (c == from || c == to || !thread_running(c) || parked(c)) continue;
    // Done once what it had steered to the old owner is in their link, where
    // the old owner's marks (step 5) will see it.
    if (!run_on(c, [all, to, from](ElasticThread &t) {
          for (uint16_t g : *all) t.set_group_owner(g, to);
          return t.outbox_empty(from);
        }))
      return where + "thread " + std::to_string(c) + late + "; the move is half done";
  }
  // 3. The old owner hands the connections over, a parcel per group (a
  // full link takes the rest at its next step).
  struct Release {
    size_t next = 0;
    std::vector<uint16_t> moved, refused;
  };
  const auto rel = std::make_shared<Release>();
  if (!run_on(from, [all, rel, to](ElasticThread &t) {
        for (; rel->next < all->size(); ++rel->next) {
          const uint16_t g = (*all)[rel->next];
          bool no = false;
          if (t.release_group(g, to, &no)) {
            rel->moved.push_back(g);
          } else if (no) {
            rel->refused.push_back(g);
          } else {
            return false;  // the link is full: on at the next step
          }
        }
        return true;
      }))
    return where + "thread " + std::to_string(from) + late + "; the move is half done";
  const std::vector<uint16_t> refused = rel->refused;
  const auto moved = std::make_shared<const std::vector<uint16_t>>(rel->moved);
  if (!refused.empty()) {
    // Nothing of those was taken: put the others' views back and let the
    // new owner hand what it held to the old one.
    for (unsigned c = 0; c < n; ++c) {
      if (c == from || !thread_running(c) || parked(c)) continue;
      run_on(c, [refused, c, to, from](ElasticThread &t) {
        for (uint16_t g : refused) {
          if (c == to) t.abandon_group(g);
          t.set_group_owner(g, from);
        }
        return true;
      });
    }
  }
  const std::string refusal = refused.empty()
                                  ? ""
                                  : where + std::to_string(refused.size()) +
                                        " of the groups hold a connection "
                                        "whose application does not follow moves (those stay)";
  if (moved->empty()) {
    return refused.size() == 1 && all->size() == 1
               ? where + "a connection's application does not follow moves (nothing moved)"
               : refusal;
  }
  // 4. The device steers the groups to the new owner's queue.
  for (uint16_t g : *moved) flow_table_.assign(g, to);
  if (device_steers_ && !dev_.set_flow_groups(flow_table_))
    return where + std::string(dev_.name()) +
           " refused the new RSS table; frames of the groups reach the old owner, which forwards "
           "them";
  const uint64_t switched = clock_.now_ns() + cfg_.move_settle_ns;
  // 5. The old owner says when nothing more of the groups can come from it.
  if (!run_on(from, [moved, to, switched](ElasticThread &t) {
        return t.flush_groups(*moved, to, switched);
      }))
    return where + "thread " + std::to_string(from) + late + "; the move is half done";
  // 6. The new owner has processed the old owner's frames, then what it held.
  if (!run_on(to, [moved](ElasticThread &t) {
        for (uint16_t g : *moved)
          if (!t.group_settled(g)) return false;
        return true;
      }))
    return where + "thread " + std::to_string(to) + late + "; the move is half done";
  return refusal;
}

}  // namespace ix::core
