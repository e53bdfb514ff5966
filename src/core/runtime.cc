#include "core/runtime.hh"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "api/io_context.hh"

namespace ix::core {

namespace {
std::atomic<bool> g_signalled{false};
std::atomic<bool> g_report_requested{false};
extern "C" void on_stop_signal(int) { g_signalled.store(true, std::memory_order_relaxed); }
extern "C" void on_report_signal(int) { g_report_requested.store(true, std::memory_order_relaxed); }
std::mutex g_errors_mu;  // thread set-up errors only; never on the fast path
}  // namespace

void Runtime::install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction report {};
  report.sa_handler = on_report_signal;
  sigemptyset(&report.sa_mask);
  sigaction(SIGUSR1, &report, nullptr);
}

Runtime::Runtime(drivers::Device &dev, const RuntimeConfig &cfg)
    : dev_(dev),
      cfg_(cfg),
      mailboxes_(new StatsMailbox<ThreadSnapshot>[cfg.cores.size()]),
      running_(new std::atomic<bool>[cfg.cores.size()]) {
  if (cfg_.cores.empty()) throw std::invalid_argument("cpu: at least one core is needed");
  const auto &caps = dev.caps();
  if (cfg_.cores.size() > caps.rx_queues || cfg_.cores.size() > caps.tx_queues)
    throw std::invalid_argument(
        "cpu: " + std::to_string(cfg_.cores.size()) + " elastic threads need as many queues, but " +
        std::string(dev.name()) + " has " + std::to_string(caps.rx_queues) + " RX / " +
        std::to_string(caps.tx_queues) + " TX queues; use fewer cores or add queues");
  const unsigned ncpu = std::thread::hardware_concurrency();
  for (int c : cfg_.cores)
    if (c >= 0 && ncpu != 0 && static_cast<unsigned>(c) >= ncpu)
      throw std::invalid_argument("cpu: core " + std::to_string(c) +
                                  " does not exist (this host has " + std::to_string(ncpu) +
                                  " CPUs: 0.." + std::to_string(ncpu - 1) + ")");
  const size_t n = cfg_.cores.size();
  for (size_t i = 0; i < n; ++i) running_[i].store(false);
  arp_rings_.resize(n * n);
  for (size_t from = 0; from < n; ++from)
    for (size_t to = 0; to < n; ++to)
      if (from != to) arp_rings_[from * n + to] = std::make_unique<ArpRing>(256);
}

Runtime::~Runtime() = default;

void Runtime::thread_main(unsigned id, const AppMain &app_main) {
  const int cpu = cfg_.cores[id];
  try {
    if (cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      if (int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set); rc != 0)
        throw std::runtime_error("cannot pin to CPU " + std::to_string(cpu) + ": " +
                                 std::strerror(rc));
    }
    ElasticThreadConfig tc;
    tc.id = id;
    tc.queue = static_cast<uint16_t>(id);
    tc.batch = cfg_.batch;
    tc.pool.count = cfg_.mbufs_per_core;
    tc.pool.name = "core" + std::to_string(id) + "_mbufs";
    tc.stack = cfg_.stack;
    // Only the first thread announces the address; the others would repeat it.
    if (id != 0) tc.stack.gratuitous_arp = false;
    ElasticThread thread(tc, dev_, clock_, &mailboxes_[id]);
    const size_t n = cfg_.cores.size();
    std::vector<ArpRing *> out, in;
    for (size_t other = 0; other < n; ++other) {
      if (other == id) continue;
      out.push_back(arp_rings_[id * n + other].get());
      in.push_back(arp_rings_[other * n + id].get());
    }
    thread.connect_siblings(std::move(out), std::move(in));
    ix_ctx ctx(thread, &stop_);
    running_[id].store(true);
    // The device starts once every queue has its pool (Device contract).
    ready_.fetch_add(1);
    while (!started_.load() && !stop_.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!started_.load()) {
      running_[id].store(false);
      return;
    }
    thread.stack().start();
    app_main(&ctx);
    thread.publish_now();
    running_[id].store(false);
  } catch (const std::exception &e) {
    std::lock_guard<std::mutex> lock(g_errors_mu);
    errors_.push_back("elastic thread " + std::to_string(id) + " (cpu " + std::to_string(cpu) +
                      "): " + e.what());
    request_stop();
  }
}

void Runtime::run(const AppMain &app_main) {
  std::vector<std::thread> threads;
  threads.reserve(cfg_.cores.size());
  for (unsigned i = 0; i < cfg_.cores.size(); ++i)
    threads.emplace_back([this, i, &app_main] { thread_main(i, app_main); });
  while (ready_.load() < threads.size() && !stop_.load())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!stop_.load()) {
    try {
      dev_.start();
      started_.store(true);
    } catch (const std::exception &e) {
      std::lock_guard<std::mutex> lock(g_errors_mu);
      errors_.push_back(std::string("starting ") + std::string(dev_.name()) + ": " + e.what());
      request_stop();
    }
  }

  const auto start = std::chrono::steady_clock::now();
  unsigned finished = 0;
  while (finished == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (g_signalled.load(std::memory_order_relaxed)) request_stop();
    // Counters while running: the monitor reads each thread's published
    // snapshot; the dataplane threads are not disturbed.
    if (g_report_requested.exchange(false) && on_report_) on_report_(snapshots());
    if (cfg_.run_seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >=
            cfg_.run_seconds)
      request_stop();
    if (stop_.load()) break;
    // An application may also finish by itself; stop when all have.
    bool any_live = ready_.load() < threads.size();
    for (size_t i = 0; i < threads.size(); ++i) any_live = any_live || running_[i].load();
    if (!any_live) break;
  }
  for (auto &t : threads) t.join();
  if (!errors_.empty()) {
    std::string all;
    for (auto &e : errors_) all += (all.empty() ? "" : "; ") + e;
    throw std::runtime_error(all);
  }
}

std::vector<ThreadSnapshot> Runtime::snapshots() const {
  std::vector<ThreadSnapshot> out(cfg_.cores.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = mailboxes_[i].read();
  return out;
}

}  // namespace ix::core
