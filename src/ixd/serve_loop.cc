#include "ixd/serve_loop.hh"

#include <sched.h>

#include <memory>

#include "ixd/app_port.hh"

namespace ix::ixd {

namespace {

// One elastic thread's applications. Lives on that thread; the thread's
// flow-group moves call back into it (on the same thread) for the
// connections that arrive and before it parks.
class ThreadPorts {
 public:
  ThreadPorts(core::ElasticThread &thread, PortMailbox &mailbox)
      : thread_(thread), mailbox_(mailbox) {
    thread_.set_move_receivers(&ThreadPorts::receiver, this);
    thread_.set_park_guard(&ThreadPorts::may_park, this);
  }
  ~ThreadPorts() {
    thread_.set_move_receivers(nullptr, nullptr);
    thread_.set_park_guard(nullptr, nullptr);
  }
  ThreadPorts(const ThreadPorts &) = delete;
  ThreadPorts &operator=(const ThreadPorts &) = delete;

  // Slow path (an application attached): builds its context here, on the
  // thread that owns the stack.
  void take_new() {
    for (Session *s : mailbox_.take()) ports.push_back(std::make_unique<AppPort>(*s, thread_));
  }

  std::vector<std::unique_ptr<AppPort>> ports;

 private:
  // A connection of application `tag` arrives with its flow group: it goes
  // to the same application's context on this thread. An application that
  // attached a moment ago may not have its port here yet; one that is
  // leaving (or left) gets none, and the engine resets the connection.
  static net::tcp::TcpEvents *receiver(void *self, net::tcp::TcpEvents *, uint64_t tag) {
    auto *me = static_cast<ThreadPorts *>(self);
    for (int attempt = 0; attempt < 2; ++attempt) {
      for (auto &p : me->ports) {
        if (p->session().id() != tag) continue;
        if (p->session().gone.load(std::memory_order_relaxed)) return nullptr;
        return &p->context();
      }
      if (attempt == 0 && me->mailbox_.pending()) me->take_new();
    }
    return nullptr;
  }
  // Every application must have taken the events this thread owes it (the
  // MOVED_OUTs of connections that left among them) before the thread
  // parks: their new threads' applications wait for those.
  static bool may_park(void *self) {
    for (auto &p : static_cast<ThreadPorts *>(self)->ports)
      if (p->owes_events() && !p->session().gone.load(std::memory_order_relaxed)) return false;
    return true;
  }

  core::ElasticThread &thread_;
  PortMailbox &mailbox_;
};

}  // namespace

void serve_applications(core::ElasticThread &thread, const std::atomic<bool> &stop,
                        PortMailbox &mailbox) {
  ThreadPorts here(thread, mailbox);
  auto &ports = here.ports;
  while (!stop.load(std::memory_order_relaxed)) {
    if (mailbox.pending()) here.take_new();
    const uint64_t now = thread.refresh_clock();
    for (size_t i = 0; i < ports.size();) {
      if (ports[i]->session().gone.load(std::memory_order_relaxed)) {
        ports.erase(ports.begin() + static_cast<std::ptrdiff_t>(i));  // resets its connections
        continue;
      }
      ports[i]->take_request();
      ++i;
    }
    thread.flush_tx();
    thread.poll_at(now);
    bool yield = false;
    for (auto &p : ports) yield |= p->respond();
    // An application waiting off its CPU may share this core: let it read
    // its answer now (a system call per such batch, not per packet).
    if (yield) sched_yield();
    thread.maybe_publish();
    thread.serve_control();
  }
  for (auto &p : ports) p->signal_stop();
  ports.clear();
  thread.flush_tx();
}

}  // namespace ix::ixd
