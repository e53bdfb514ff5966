#include "control/thread_requests.hh"

#include <thread>

namespace ix::control {

std::vector<ThreadAnswer> ask_every_thread(core::Runtime &rt, const TaskFactory &make,
                                           std::chrono::milliseconds timeout) {
  // One producer per control slot: moves and parks post too.
  std::lock_guard<std::mutex> lock(rt.control_mutex());
  const unsigned n = rt.threads();
  std::vector<ThreadAnswer> answers(n);
  std::vector<bool> waiting(n, false);
  for (unsigned i = 0; i < n; ++i) {
    answers[i].thread = i;
    if (!rt.thread_running(i)) {
      answers[i].error = "not running (its application returned, or it has not started)";
    } else if (rt.parked(i)) {
      answers[i].error = "parked (owns no flow group; `resume " + std::to_string(i) +
                         "` or `cores N` brings it back)";
    } else if (!rt.control_slot(i).post(make(i))) {
      answers[i].error = "busy with an earlier request it has not finished";
    } else {
      waiting[i] = true;
    }
  }
  // The elastic threads answer within a loop iteration or a few; this
  // thread is not a dataplane thread, so it polls with short sleeps.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool pending = false;
    for (unsigned i = 0; i < n; ++i) {
      if (!waiting[i]) continue;
      core::ControlSlot &slot = rt.control_slot(i);
      if (slot.idle()) {
        answers[i].task = slot.finished();
        waiting[i] = false;
      } else if (!rt.thread_running(i)) {
        // Checked after idle(): a thread that finished the task and then
        // stopped still answered.
        answers[i].error = slot.idle() ? "" : "stopped before answering";
        answers[i].task = slot.idle() ? slot.finished() : nullptr;
        waiting[i] = false;
      } else {
        pending = true;
      }
    }
    if (!pending) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      for (unsigned i = 0; i < n; ++i)
        if (waiting[i])
          answers[i].error = "did not answer within " + std::to_string(timeout.count()) +
                             " ms (its application is not calling run_io)";
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return answers;
}

}  // namespace ix::control
