#include "control/elastic_controller.hh"

#include <bit>
#include <chrono>
#include <cstdio>
#include <sstream>

namespace ix::control {

ElasticController::ElasticController(core::Runtime &rt, const ElasticPolicyConfig &cfg,
                                     uint16_t batch, LogFn log)
    : rt_(rt),
      policy_(cfg),
      // CoreStats::record_batch puts a batch of n in bucket bit_width(n).
      full_bucket_(static_cast<unsigned>(std::bit_width(unsigned{batch}))),
      log_(std::move(log)),
      seen_(rt.threads()),
      active_(rt.threads()) {
  // Threads 0..n-1 are in service (run_on_threads keeps it so).
  unsigned running = 0;
  while (running < rt.threads() && !rt.parked(running)) ++running;
  active_ = running == 0 ? 1 : running;
}

ElasticController::~ElasticController() { stop(); }

void ElasticController::start() {
  loop_ = std::thread([this] {
    const auto window = std::chrono::nanoseconds(policy_.config().window_ns);
    auto next = std::chrono::steady_clock::now() + window;
    while (!stop_.load(std::memory_order_relaxed)) {
      std::this_thread::sleep_until(next);
      next += window;
      tick();
      // A decision's moves may take longer than a window: do not replay.
      if (std::chrono::steady_clock::now() > next) next = std::chrono::steady_clock::now() + window;
    }
  });
}

void ElasticController::stop() {
  stop_.store(true);
  if (loop_.joinable()) loop_.join();
}

std::vector<ThreadLoad> ElasticController::sample() {
  const auto snaps = rt_.snapshots();
  std::vector<ThreadLoad> loads;
  for (unsigned t = 0; t < active_ && t < snaps.size(); ++t) {
    const core::CoreStats &c = snaps[t].core;
    Seen now{c.busy_ns, c.loop_ns, c.iterations, 0};
    for (unsigned b = full_bucket_; b < c.batch_hist.size(); ++b) now.full += c.batch_hist[b];
    const Seen &was = seen_[t];
    ThreadLoad l;
    if (now.loop_ns > was.loop_ns)
      l.busy = static_cast<double>(now.busy_ns - was.busy_ns) /
               static_cast<double>(now.loop_ns - was.loop_ns);
    if (now.iterations > was.iterations)
      l.full_batches = static_cast<double>(now.full - was.full) /
                       static_cast<double>(now.iterations - was.iterations);
    seen_[t] = now;
    loads.push_back(l);
  }
  return loads;
}

ElasticPolicy::Decision ElasticController::tick() {
  if (!rt_.started()) return ElasticPolicy::Decision{active_, ""};
  const std::vector<ThreadLoad> loads = sample();
  ElasticPolicy::Decision d = policy_.observe(loads);
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_ = loads;
  }
  if (d.threads == active_ || d.threads == 0) return d;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string err = rt_.run_on_threads(d.threads);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  char took[32];
  std::snprintf(took, sizeof took, "%.1f ms", ms);
  std::string line = "ixcp: " + std::to_string(active_) + " -> " + std::to_string(d.threads) +
                     " threads: " + d.why + "; applied in " + took;
  if (!err.empty()) line += "; not all of it: " + err;
  // The threads in service are those the change left running.
  unsigned running = 0;
  while (running < rt_.threads() && !rt_.parked(running)) ++running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_ = running == 0 ? 1 : running;
  }
  for (Seen &s : seen_) s = Seen{};  // the next window starts afresh
  sample();
  if (log_) log_(line);
  std::lock_guard<std::mutex> lock(mu_);
  decisions_.push_back(line);
  if (decisions_.size() > 16) decisions_.pop_front();
  return d;
}

std::string ElasticController::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream os;
  os << "elastic: " << active_ << " of " << rt_.threads() << " threads in service; window "
     << policy_.config().window_ns / 1000 << " us, grow at busy " << policy_.config().grow_busy
     << " or full batches " << policy_.config().grow_full_batches << " for "
     << policy_.config().grow_after << " windows, shrink below " << policy_.config().shrink_target
     << " for " << policy_.config().shrink_after << " windows\n";
  for (size_t t = 0; t < last_.size(); ++t) {
    char line[96];
    std::snprintf(line, sizeof line, "thread %zu busy %.2f full_batches %.2f\n", t, last_[t].busy,
                  last_[t].full_batches);
    os << line;
  }
  for (const std::string &d : decisions_) os << d << "\n";
  return os.str();
}

}  // namespace ix::control
