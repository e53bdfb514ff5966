// Elastic threads that come and go: park, resume, and running on the first
// n threads (Runtime::run_on_threads). A parked thread blocks inside a
// control task's step, i.e. between two batches of its own loop, on a
// condition variable: the control path, never the fast path.
#include <algorithm>
#include <memory>
#include <thread>

#include "core/runtime.hh"

namespace ix::core {

bool Runtime::parked(unsigned id) const {
  if (id >= threads()) return false;
  std::lock_guard<std::mutex> lock(park_[id].mu);
  return park_[id].parked;
}

void Runtime::park_here(unsigned id, ElasticThread &t) {
  ParkState &p = park_[id];
  std::unique_lock<std::mutex> lock(p.mu);
  if (p.cancel) {
    p.cancel = false;  // park() gave up waiting and said it stays in service
    return;
  }
  p.dropped = t.take_adopted();
  p.parked = true;
  p.thread = &t;
  p.cv.notify_all();
  // Woken by resume(); the stop flag is checked every 50 ms, so a parked
  // thread also ends with the runtime.
  while (!p.resume && !stop_.load(std::memory_order_relaxed))
    p.cv.wait_for(lock, std::chrono::milliseconds(50));
  const bool resumed = p.resume;
  p.resume = false;
  p.parked = false;
  p.thread = nullptr;
  if (resumed) {
    t.set_rx_wait(std::move(p.rx_wait));
    p.rx_wait.clear();
    // Moves went on while it slept: it takes the owners as they are now.
    t.set_flow_ownership(net::FlowOwnership(rss_key_, p.table, static_cast<uint16_t>(id)),
                         trust_nic_hash_);
  }
  p.cv.notify_all();
}

std::string Runtime::park(unsigned id, std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(moves_mu_);
  return park_locked(id, timeout);
}

std::string Runtime::resume(unsigned id, std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(moves_mu_);
  return resume_locked(id, timeout);
}

std::string Runtime::park_locked(unsigned id, std::chrono::milliseconds timeout) {
  const std::string who = "elastic thread " + std::to_string(id);
  if (id >= threads()) return who + " does not exist (there are " + std::to_string(threads()) + ")";
  if (!started_.load() || !thread_running(id)) return who + " is not running";
  if (parked(id)) return "";
  unsigned owned = 0;
  for (uint16_t g = 0; g < flow_table_.size(); ++g) owned += flow_table_.queue_of_group(g) == id;
  if (owned != 0) return who + " owns " + std::to_string(owned) + " flow groups; move them first";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // A device that does not steer keeps delivering frames to every queue: a
  // running thread polls the parked one's (and those it polled itself).
  int adopter = -1;
  if (!device_steers_) {
    adopter = pick_adopter(id);
    if (adopter < 0)
      return who + " is the last running thread: " + std::string(dev_.name()) +
             " delivers frames to its queue, and no other thread would poll it";
  }
  ControlSlot &slot = control_[id];
  while (!slot.post(std::make_unique<StepTask>([this, id](ElasticThread &t) {
    if (!t.may_park()) return false;  // its application has events to take first
    park_here(id, t);
    return true;
  }))) {
    if (std::chrono::steady_clock::now() >= deadline)
      return who + " is busy with an earlier request";
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  ParkState &p = park_[id];
  std::vector<ElasticThread::AdoptedRef> queues;
  {
    std::unique_lock<std::mutex> plock(p.mu);
    if (!p.cv.wait_until(plock, deadline, [&] { return p.parked; })) {
      // Called off: the posted park will not happen, and the thread goes on
      // polling its queue and those of parked siblings it polls.
      p.cancel = true;
      return who +
             " did not park in time (its application is not calling run_io, or has events "
             "to take first); it stays in service";
    }
    if (adopter < 0) return "";
    queues = std::move(p.dropped);
    p.dropped.clear();
    queues.push_back({static_cast<uint16_t>(id), p.thread->config().queue, &p.thread->pool()});
  }
  // Its queue, and those it polled, to the adopter, once what it forwarded
  // from them is taken (it forwards nothing more while parked).
  const std::vector<LinkMark> wait = out_link_marks(id);
  std::string errors;
  for (const auto &q : queues)
    if (std::string e = adopt_locked(q, static_cast<unsigned>(adopter), wait, deadline); !e.empty())
      errors += (errors.empty() ? "" : "; ") + e;
  return errors;
}

int Runtime::pick_adopter(unsigned except) const {
  for (unsigned t = 0; t < threads(); ++t)
    if (t != except && thread_running(t) && !parked(t)) return static_cast<int>(t);
  return -1;
}

std::string Runtime::adopt_locked(const ElasticThread::AdoptedRef &q, unsigned adopter,
                                  std::vector<LinkMark> wait,
                                  std::chrono::steady_clock::time_point deadline) {
  // The parked thread wrote its last to the queue and pool before it
  // published itself (p.mu); the adopter's task is posted after that.
  auto shared_wait = std::make_shared<std::vector<LinkMark>>(std::move(wait));
  if (!run_task(
          adopter,
          [q, shared_wait](ElasticThread &t) {
            t.adopt_queue(q.owner, q.queue, q.pool, *shared_wait);
            return true;
          },
          deadline))
    return "elastic thread " + std::to_string(adopter) + " did not take over the queue of parked " +
           "thread " + std::to_string(q.owner) + " in time; its frames wait in the ring";
  park_[q.owner].adopter = static_cast<int>(adopter);
  return "";
}

std::string Runtime::unadopt_locked(unsigned parked_id,
                                    std::chrono::steady_clock::time_point deadline) {
  ParkState &p = park_[parked_id];
  if (p.adopter < 0) return "";
  const unsigned adopter = static_cast<unsigned>(p.adopter);
  uint16_t queue;
  {
    std::lock_guard<std::mutex> plock(p.mu);
    if (p.thread == nullptr) return "";
    queue = p.thread->config().queue;
  }
  // Done only once the adopter has stopped using the queue and pool: the
  // owner may then take them back.
  if (!run_task(
          adopter,
          [queue](ElasticThread &t) {
            t.release_queue(queue);
            return t.outbox_empty();  // what it forwarded is in the links the marks see
          },
          deadline))
    return "elastic thread " + std::to_string(adopter) + " did not give back the queue of " +
           "thread " + std::to_string(parked_id) + " in time";
  p.adopter = -1;
  {
    std::lock_guard<std::mutex> plock(p.mu);
    p.rx_wait = out_link_marks(adopter);
  }
  return "";
}

std::vector<LinkMark> Runtime::out_link_marks(unsigned from) const {
  std::vector<LinkMark> marks;
  const unsigned n = threads();
  if (frame_links_.size() != size_t{n} * n) return marks;
  for (unsigned to = 0; to < n; ++to)
    if (const FrameLink *l = frame_links_[from * n + to].get(); l != nullptr)
      marks.push_back({l, l->pushed()});
  return marks;
}

std::string Runtime::resume_locked(unsigned id, std::chrono::milliseconds timeout) {
  const std::string who = "elastic thread " + std::to_string(id);
  if (id >= threads()) return who + " does not exist (there are " + std::to_string(threads()) + ")";
  ParkState &p = park_[id];
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (std::string e = unadopt_locked(id, deadline); !e.empty()) return who + " stays parked: " + e;
  {
    std::lock_guard<std::mutex> plock(p.mu);
    if (!p.parked) return "";
    p.table = flow_table_;
    p.resume = true;
    p.cv.notify_all();
  }
  while (!control_[id].idle()) {
    if (std::chrono::steady_clock::now() >= deadline) return who + " did not resume in time";
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  return "";
}

std::string Runtime::run_on_threads(unsigned n, std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(moves_mu_);
  const unsigned total = threads();
  if (n == 0 || n > total)
    return "cannot run on " + std::to_string(n) + " elastic threads: between 1 and " +
           std::to_string(total) + " (the threads started with --cpu)";
  std::string errors;
  auto note = [&](const std::string &e) {
    if (!e.empty()) errors += (errors.empty() ? "" : "; ") + e;
  };
  for (unsigned t = 0; t < n; ++t) note(resume_locked(t, timeout));
  // The plan first (gather the groups of threads n.. onto the active ones
  // with fewest, then spread from the one with most to the one with fewest
  // until the counts differ by at most one), then one move per pair of
  // threads, however many groups it takes.
  std::vector<uint16_t> owner(flow_table_.size());
  std::vector<unsigned> count(total, 0);
  for (uint16_t g = 0; g < flow_table_.size(); ++g) {
    owner[g] = flow_table_.queue_of_group(g);
    ++count[owner[g]];
  }
  auto least_loaded = [&] {
    unsigned best = 0;
    for (unsigned t = 1; t < n; ++t)
      if (count[t] < count[best]) best = t;
    return best;
  };
  std::vector<uint16_t> target = owner;
  for (uint16_t g = 0; g < flow_table_.size(); ++g) {
    if (target[g] < n) continue;
    const unsigned to = least_loaded();
    --count[target[g]];
    ++count[to];
    target[g] = static_cast<uint16_t>(to);
  }
  for (;;) {
    unsigned most = 0;
    for (unsigned t = 1; t < n; ++t)
      if (count[t] > count[most]) most = t;
    const unsigned fewest = least_loaded();
    if (count[most] <= count[fewest] + 1) break;
    // The group that came to `most` last goes first (gathered ones stay put
    // when they can: fewer moves).
    int pick = -1;
    for (uint16_t g = 0; g < flow_table_.size(); ++g)
      if (target[g] == most && (pick < 0 || owner[g] != most)) pick = g;
    if (pick < 0) break;
    --count[most];
    ++count[fewest];
    target[pick] = static_cast<uint16_t>(fewest);
  }
  for (unsigned from = 0; from < total; ++from)
    for (unsigned to = 0; to < total; ++to) {
      if (from == to) continue;
      std::vector<uint16_t> batch;
      for (uint16_t g = 0; g < flow_table_.size(); ++g)
        if (owner[g] == from && target[g] == to) batch.push_back(g);
      if (!batch.empty())
        note(move_groups_locked(static_cast<uint16_t>(from), std::move(batch),
                                static_cast<uint16_t>(to), timeout));
    }
  // What failed to move stays with its owner: count what each really owns.
  std::fill(count.begin(), count.end(), 0);
  for (uint16_t g = 0; g < flow_table_.size(); ++g) ++count[flow_table_.queue_of_group(g)];
  for (unsigned t = n; t < total; ++t)
    if (count[t] == 0) note(park_locked(t, timeout));
  return errors;
}

}  // namespace ix::core
