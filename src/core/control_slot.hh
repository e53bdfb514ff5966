// Requests from the control plane to one elastic thread, carried out by that
// thread between batches. The elastic thread owns its connections, timers
// and stack outright (no locks, no shared writes on the fast path), so
// whoever wants to see or change them — the control socket's `conns`, and
// later control-plane commands such as flow-group moves — hands the thread a
// task and waits for it to be done, instead of reaching in.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

namespace ix::core {

class ElasticThread;

// Work for one elastic thread. step() runs on that thread between batches
// (never inside one), once per loop iteration, until it returns true. Each
// step must be bounded (tens of microseconds), so that a big job (a
// snapshot of 100,000 connections) is spread over iterations instead of
// stalling one; a job that takes several steps sees the thread's state as
// it is at each step, not as one atomic picture.
class ControlTask {
 public:
  virtual ~ControlTask() = default;
  virtual bool step(ElasticThread &thread) = 0;
};

// A task given as one step function (run until it returns true).
class StepTask final : public ControlTask {
 public:
  explicit StepTask(std::function<bool(ElasticThread &)> step) : step_(std::move(step)) {}
  bool step(ElasticThread &t) override { return step_(t); }

 private:
  std::function<bool(ElasticThread &)> step_;
};

// One task at a time between the control thread and one elastic thread.
// The control thread posts a task and later sees it done; the elastic thread
// checks once per loop iteration: one acquire load of a cache line that only
// the control thread writes, and only when it posts, so an idle channel
// costs the loop a read of a line that stays in its cache. Neither side
// waits for the other and there is no lock: the task object is written by
// the control thread only while no task is pending, and by the elastic
// thread only while one is.
class alignas(64) ControlSlot {
 public:
  // Control thread. Hands `task` over, unless the previous one is still
  // pending (then returns false and keeps nothing). A finished previous task
  // is destroyed here.
  bool post(std::unique_ptr<ControlTask> task) {
    const uint64_t posted = posted_.load(std::memory_order_relaxed);
    if (done_.load(std::memory_order_acquire) != posted) return false;
    task_ = std::move(task);
    posted_.store(posted + 1, std::memory_order_release);
    return true;
  }
  // Control thread: no task is pending; the last one posted (if any) is
  // finished and its results may be read through finished().
  bool idle() const {
    return done_.load(std::memory_order_acquire) == posted_.load(std::memory_order_relaxed);
  }
  // Control thread, when idle(): the last task posted, finished.
  ControlTask *finished() const { return task_.get(); }

  // Elastic thread, once per loop iteration: one step of the pending task.
  void serve(ElasticThread &thread) {
    const uint64_t posted = posted_.load(std::memory_order_acquire);
    if (posted == done_.load(std::memory_order_relaxed)) return;
    if (task_->step(thread)) done_.store(posted, std::memory_order_release);
  }

 private:
  // Written by the control thread; read by the elastic thread every iteration.
  alignas(64) std::atomic<uint64_t> posted_{0};
  std::unique_ptr<ControlTask> task_;
  // Written by the elastic thread when a task finishes.
  alignas(64) std::atomic<uint64_t> done_{0};
};

}  // namespace ix::core
