#include "ixd/serve_loop.hh"

#include <sched.h>

#include <memory>

#include "ixd/app_port.hh"

namespace ix::ixd {

void serve_applications(core::ElasticThread &thread, const std::atomic<bool> &stop,
                        PortMailbox &mailbox) {
  std::vector<std::unique_ptr<AppPort>> ports;
  while (!stop.load(std::memory_order_relaxed)) {
    if (mailbox.pending()) {
      // Slow path (an application attached): builds its context here, on
      // the thread that owns the stack.
      for (Session *s : mailbox.take()) ports.push_back(std::make_unique<AppPort>(*s, thread));
    }
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
