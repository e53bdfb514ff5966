// The dataplane process's loop on one elastic thread: run to completion over
// every attached application's batch, then one poll of the NIC queue for
// all of them, then each application's answer. Applications come and go
// through the thread's mailbox (from the attach server) and their session's
// `gone` flag.
#pragma once

#include <atomic>
#include <mutex>
#include <vector>

#include "core/elastic_thread.hh"
#include "ixd/session.hh"

namespace ix::ixd {

// Sessions for one elastic thread to take up. The server posts rarely (an
// application attaches); the thread checks one relaxed flag per iteration.
class PortMailbox {
 public:
  void post(Session *s) {
    std::lock_guard<std::mutex> lock(mu_);
    incoming_.push_back(s);
    pending_.store(true, std::memory_order_release);
  }
  bool pending() const { return pending_.load(std::memory_order_acquire); }
  std::vector<Session *> take() {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.store(false, std::memory_order_relaxed);
    return std::move(incoming_);
  }

 private:
  std::mutex mu_;
  std::vector<Session *> incoming_;
  std::atomic<bool> pending_{false};
};

// Runs until `stop`; then tells every attached application to finish and
// lets go of them (their connections are reset).
void serve_applications(core::ElasticThread &thread, const std::atomic<bool> &stop,
                        PortMailbox &mailbox);

}  // namespace ix::ixd
