#include "core/runtime.hh"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "net/tcp/isn_generator.hh"

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
      running_(new std::atomic<bool>[cfg.cores.size()]),
      control_(new ControlSlot[cfg.cores.size()]),
      park_(new ParkState[cfg.cores.size()]) {
  if (cfg_.cores.empty()) throw std::invalid_argument("cpu: at least one core is needed");
  const auto &caps = dev.caps();
  // Each elastic thread owns one queue pair, and only its own: with fewer
  // queues than threads some thread would have nothing to poll (or two would
  // share a ring), so this is refused rather than run half-steered.
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
  // One set of TCP secrets for every thread: connections move between them.
  if (cfg_.stack.tcp.isn_key == std::array<uint8_t, 16>{})
    net::tcp::random_key(cfg_.stack.tcp.isn_key);
  if (cfg_.stack.tcp.cookie_key == std::array<uint8_t, 16>{})
    net::tcp::random_key(cfg_.stack.tcp.cookie_key);
  arp_rings_.resize(n * n);
  for (size_t from = 0; from < n; ++from)
    for (size_t to = 0; to < n; ++to)
      if (from != to) arp_rings_[from * n + to] = std::make_unique<ArpRing>(256);
  plan_flow_groups();
}

void Runtime::plan_flow_groups() {
  const auto &caps = dev_.caps();
  const size_t n = cfg_.cores.size();
  const std::string dev_name(dev_.name());
  const std::string_view key = dev_.rss_key();
  if (key.size() == rss_key_.size()) std::memcpy(rss_key_.data(), key.data(), key.size());
  // The NIC's table size wins: its hash % reta_size picks the group.
  const bool nic_rss = caps.rss && caps.reta_size > 0;
  const uint16_t groups = nic_rss ? caps.reta_size : cfg_.flow_groups;
  // TCP handles carry the flow group in 12 bits (api/io_context.cc).
  if (groups > 4096)
    throw std::invalid_argument("flow_groups: " + dev_name + "'s RSS table has " +
                                std::to_string(groups) + " entries; at most 4096 are supported");
  if (groups < n)
    throw std::invalid_argument("flow_groups: " + std::to_string(groups) + " flow groups" +
                                (nic_rss ? " (the RSS table size of " + dev_name + ")" : "") +
                                " cannot give each of the " + std::to_string(n) +
                                " elastic threads one; use fewer cores" +
                                (nic_rss ? "" : " or raise flow_groups"));
  flow_table_ = net::FlowGroupTable(groups, static_cast<uint16_t>(n));  // round robin
  steering_ = std::to_string(groups) + " flow groups, round robin over " + std::to_string(n) +
              (n == 1 ? " elastic thread" : " elastic threads");
  if (nic_rss && groups != cfg_.flow_groups)
    steering_ += " (" + dev_name + "'s RSS table has " + std::to_string(groups) +
                 " entries; flow_groups " + std::to_string(cfg_.flow_groups) + " does not apply)";
  if (caps.rx_queues > n)
    steering_ += "; " + std::to_string(caps.rx_queues - n) + " of " + dev_name + "'s " +
                 std::to_string(caps.rx_queues) +
                 " RX queues have no thread and are not polled (no flow group is steered there)";
  if (n == 1) {
    steering_ += "; one thread owns every flow, no steering needed.";
    return;
  }
  // Room for a full frame: the larger of the stack's and the device's MTU,
  // plus an Ethernet header with one VLAN tag. The links carry frames a
  // device could not steer, and frames of groups being moved.
  const uint16_t frame_cap = static_cast<uint16_t>(std::max(cfg_.stack.mtu, caps.mtu) + 18);
  frame_links_.resize(n * n);
  for (size_t from = 0; from < n; ++from)
    for (size_t to = 0; to < n; ++to)
      if (from != to)
        frame_links_[from * n + to] = std::make_unique<FrameLink>(cfg_.frame_link_slots, frame_cap);
  if (cfg_.program_device && nic_rss && dev_.set_flow_groups(flow_table_)) {
    // The NIC computes the same hash with the same key: threads trust it.
    trust_nic_hash_ = caps.rx_hash && key.size() == rss_key_.size();
    device_steers_ = true;
    steering_ += "; programmed into " + dev_name +
                 "'s RSS table: the NIC delivers every frame to the thread owning its flow group.";
    return;
  }
  steering_ += "; " + dev_name + " cannot be programmed (" +
               (!cfg_.program_device ? std::string("left alone by configuration")
                : nic_rss            ? std::string("its RSS table refused the flow groups")
                                     : std::string("no RSS table we can set: on veth the peer's "
                                                              "TX queue selection picks the RX queue")) +
               "): each thread checks the flow group of every TCP/UDP frame in software and "
               "forwards frames of another thread's group to it (counted in fwd_out/fwd_in); "
               "outgoing connections pick source ports whose replies hash to their own thread.";
}

uint32_t idle_polls_before_yield(int32_t configured, const drivers::DeviceCaps &caps) {
  if (configured >= 0) return static_cast<uint32_t>(configured);
  return caps.kernel_path ? 64 : 0;
}

Runtime::~Runtime() = default;

void Runtime::thread_main(unsigned id, const ThreadBody &body) {
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
    tc.threads = static_cast<unsigned>(cfg_.cores.size());
    tc.queue = static_cast<uint16_t>(id);
    tc.batch = cfg_.batch;
    tc.stats_period_ns = cfg_.stats_period_ns;
    tc.idle_polls_before_yield = idle_polls_before_yield(cfg_.idle_yield, dev_.caps());
    tc.pool.count = cfg_.mbufs_per_core;
    tc.pool.rx_reserve = mem::default_rx_reserve(cfg_.mbufs_per_core);
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
    {
      std::lock_guard<std::mutex> lock(moves_mu_);  // no move runs before start, but say so
      thread.set_flow_ownership(
          net::FlowOwnership(rss_key_, flow_table_, static_cast<uint16_t>(id)), trust_nic_hash_);
    }
    if (!frame_links_.empty()) {
      std::vector<FrameLink *> fwd_out(n, nullptr), fwd_in(n, nullptr);
      for (size_t other = 0; other < n; ++other) {
        if (other == id) continue;
        fwd_out[other] = frame_links_[id * n + other].get();
        fwd_in[other] = frame_links_[other * n + id].get();
      }
      thread.connect_forwarding(std::move(fwd_out), std::move(fwd_in));
    }
    thread.set_control_slot(&control_[id]);
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
    body(thread, stop_);
    thread.publish_now();
    running_[id].store(false);
  } catch (const std::exception &e) {
    std::lock_guard<std::mutex> lock(g_errors_mu);
    errors_.push_back("elastic thread " + std::to_string(id) + " (cpu " + std::to_string(cpu) +
                      "): " + e.what());
    request_stop();
  }
}

void Runtime::run(const ThreadBody &body) {
  std::vector<std::thread> threads;
  threads.reserve(cfg_.cores.size());
  for (unsigned i = 0; i < cfg_.cores.size(); ++i)
    threads.emplace_back([this, i, &body] { thread_main(i, body); });
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
    if (g_report_requested.exchange(false) && on_report_) {
      // Threads publish their counters once per stats period, but the
      // report reads the queues' counters live: read right away, a thread
      // could show rx 0 beside its queue's rx 400 when all 400 frames came
      // in the last period. Waiting one period makes the report include
      // every frame received before the signal.
      std::this_thread::sleep_for(
          std::chrono::nanoseconds(ElasticThreadConfig{}.stats_period_ns + 10'000'000));
      on_report_(snapshots());
    }
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
