// Starts one elastic thread per configured core, each pinned to its CPU and
// owning one NIC queue, builds that thread's dataplane on the thread itself
// (so its memory is first touched there), and runs the application's
// per-thread main function on it. The calling thread becomes the monitor: it
// sleeps, watches for a stop request (signal or deadline), and can read every
// thread's published counters.
//
// Flow groups. The RSS indirection table maps a flow's hash to one of N flow
// groups (the NIC's RETA size when it has RSS, else flow_groups, 128 by
// default); the runtime gives each group to one elastic thread, round robin,
// and every TCP connection and UDP flow belongs to the thread owning its
// group. How frames reach the owner depends on the device, decided once here
// and said at start-up (steering_summary()):
//  - more elastic threads than queues: refused (the constructor throws and
//    names the fix), since a thread without a queue could not run;
//  - a device whose table we can program (the loop wire; a NIC with RSS):
//    the table is programmed from the flow groups and the NIC delivers each
//    frame to its owner; nothing crosses cores;
//  - a device we cannot program (AF_XDP on veth: the peer's TX queue
//    selection picks the RX queue; or no RSS at all): each thread checks the
//    group of every TCP/UDP frame it receives in software and hands frames of
//    another thread's group to that thread through a FrameLink (a copy; the
//    counters core.fwd_out / fwd_in show how many). Ephemeral ports of
//    outgoing connections are chosen by the same hash, so replies always end
//    up on the connecting thread.
//
// No sharing on the fast path (see also elastic_thread.hh): everything
// shared between threads is built here before they start, and during the
// run threads meet only through single-producer single-consumer rings (ARP
// bindings, forwarded frames), the stats mailboxes (a seqlock written every
// stats period), the control slots (one load per run_io call, see
// control_slot.hh) and the stop flag (a relaxed load per run_io call).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/elastic_thread.hh"
#include "drivers/device.hh"

namespace ix::core {

struct RuntimeConfig {
  std::vector<int> cores = {0};  // CPU per elastic thread; -1 leaves it unpinned
  uint16_t batch = 64;
  int32_t idle_yield = -1;  // empty polls before a yield; 0 never; -1 auto (see below)
  uint32_t mbufs_per_core = 8192;
  uint16_t flow_groups = net::FlowGroupTable::kDefaultSize;  // unless the NIC's RETA says otherwise
  // False: leave the device's RSS table as it is, as if it could not be
  // programmed (tests use this to exercise forwarding between threads).
  bool program_device = true;
  // Flow-group moves: how long after switching the device's steering the
  // old owner keeps taking frames of the group before it says it has no
  // more (frames the NIC had already steered may still land; the loop wire
  // delivers its frames after its latency).
  uint64_t move_settle_ns = 200'000;
  // Frames each link between two threads holds (a power of two): frames of
  // groups being moved and, on a device that does not steer, every frame
  // that reached the wrong thread's queue. Beyond it they are dropped
  // (fwd_dropped) and TCP recovers them.
  uint32_t frame_link_slots = 256;
  net::StackConfig stack;
  double run_seconds = 0;  // 0: until request_stop() or SIGINT/SIGTERM
  // How often each thread publishes its counters (the control plane's
  // signals are read from them).
  uint64_t stats_period_ns = 50'000'000;
};

// How many empty polls an idle elastic thread makes before yielding its CPU
// once: `configured` when it is 0 or more; in auto (-1), 64 when the
// device's frames pass through this host's kernel (its softirq work may need
// our CPU), else 0: never, since on a shared core a yield hands the CPU to
// other jobs for a scheduler slice while frames wait.
uint32_t idle_polls_before_yield(int32_t configured, const drivers::DeviceCaps &caps);

// What runs on each elastic thread once its stack has started: the API layer
// puts the application's loop here (api/context_runner.hh). It returns when
// the thread is done; `stop` turns true when the runtime asks it to finish.
using ThreadBody = std::function<void(ElasticThread &thread, const std::atomic<bool> &stop)>;

class Runtime {
 public:
  Runtime(drivers::Device &dev, const RuntimeConfig &cfg);
  ~Runtime();

  // Runs body on every elastic thread and returns when all have returned.
  // Throws std::runtime_error naming the thread and the cause if a thread
  // could not be set up (e.g. a CPU that does not exist).
  void run(const ThreadBody &body);
  void request_stop() { stop_.store(true, std::memory_order_relaxed); }

  // Counters of every thread, as last published (safe while running).
  std::vector<ThreadSnapshot> snapshots() const;
  // The control plane's channel to elastic thread `id` (see control_slot.hh),
  // served while the thread runs its application's loop. A slot has one
  // producer: hold control_mutex() while posting and waiting (moves, parks
  // and run_on_threads take it themselves).
  ControlSlot &control_slot(unsigned id) { return control_[id]; }
  std::mutex &control_mutex() { return moves_mu_; }
  // Whether thread `id` is in its application's loop or about to enter it
  // (false before it is built and once its application returned).
  bool thread_running(unsigned id) const { return running_[id].load(); }
  // The device is started and the threads are in their loops (or stopping).
  bool started() const { return started_.load(); }
  unsigned threads() const { return static_cast<unsigned>(cfg_.cores.size()); }
  // Group -> owning elastic thread, as assigned at construction and
  // changed by move_group (a copy: moves may change it meanwhile).
  net::FlowGroupTable flow_groups() const;

  // Moves flow group `group` to elastic thread `to` while the threads run
  // (group_move.hh says how and why no frame is lost or reordered). Blocks
  // until done, one move at a time; any thread but an elastic one may call
  // it. Returns "" or what went wrong (nothing moved, unless it says so).
  std::string move_group(uint16_t group, uint16_t to,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

  // Elastic threads that come and go (thread_parking.cc). park() takes a
  // thread that owns no flow group out of service: between two batches it
  // blocks (its CPU is Linux's again) until resume(). A parked thread polls
  // nothing and runs no timer: with no flow group steered to it, nothing
  // arrives for it (on a device that does not steer, the lowest running
  // thread polls its queue meanwhile). A park that does not happen within
  // the timeout is called off (the thread stays in service). Both return ""
  // or what went wrong.
  std::string park(unsigned id,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  std::string resume(unsigned id,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  bool parked(unsigned id) const;
  // Runs on elastic threads 0..n-1 only: resumes those parked, moves every
  // flow group of the others onto them (fewest groups first, moving as few
  // as it can), then, growing, takes groups from the busiest to the new
  // ones until the counts differ by at most one, and parks the rest. Returns
  // "" or every move or park that failed (the others stand).
  std::string run_on_threads(unsigned n,
                             std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  // The RSS key every thread hashes with (the device's, when it has one).
  std::span<const uint8_t> rss_key() const { return rss_key_; }
  // One paragraph for the start-up log: flow groups, how they are steered,
  // and what that means for frames that reach the wrong thread.
  const std::string &steering_summary() const { return steering_; }

  // Called on the monitor thread when SIGUSR1 asks for the counters.
  using ReportFn = std::function<void(const std::vector<ThreadSnapshot> &)>;
  void on_report(ReportFn fn) { on_report_ = std::move(fn); }

  // Route SIGINT/SIGTERM to request_stop() of the running runtime, and
  // SIGUSR1 to the report callback.
  static void install_signal_handlers();

 private:
  void thread_main(unsigned id, const ThreadBody &body);
  // Runs `step` on thread `id` as a control task and waits for it; false on
  // timeout, or when the thread stopped.
  bool run_task(unsigned id, const std::function<bool(ElasticThread &)> &step,
                std::chrono::steady_clock::time_point deadline);
  std::string move_group_locked(uint16_t group, uint16_t to, std::chrono::milliseconds timeout);
  // Moves `groups`, all owned by `from`, to `to` in one round of the
  // protocol (group_move.hh). "" or what failed (the rest stands).
  std::string move_groups_locked(uint16_t from, std::vector<uint16_t> groups, uint16_t to,
                                 std::chrono::milliseconds timeout);
  std::string park_locked(unsigned id, std::chrono::milliseconds timeout);
  std::string resume_locked(unsigned id, std::chrono::milliseconds timeout);
  // A parked thread's side: blocks until resumed or stopped, then takes the
  // flow table as it is now (moves went on without it).
  void park_here(unsigned id, ElasticThread &t);

  drivers::Device &dev_;
  RuntimeConfig cfg_;
  ReportFn on_report_;
  timing::MonotonicClock clock_;
  std::atomic<bool> stop_{false};
  // One mailbox per thread, owned here so the monitor can read counters
  // before, during and after the thread's dataplane exists.
  std::unique_ptr<StatsMailbox<ThreadSnapshot>[]> mailboxes_;
  std::unique_ptr<std::atomic<bool>[]> running_;
  std::unique_ptr<ControlSlot[]> control_;
  struct ParkState {
    std::mutex mu;
    std::condition_variable cv;
    bool parked = false;              // the thread is blocked in park_here
    bool resume = false;              // resume() asked it to go on
    net::FlowGroupTable table{};      // the owners as of the resume
    ElasticThread *thread = nullptr;  // set while parked (its queue and pool)
    bool cancel = false;              // park() gave up waiting: the posted park does not happen
    // Queues of parked siblings it polled until it parked: another takes them.
    std::vector<ElasticThread::AdoptedRef> dropped;
    // For the resume: how far the links of the thread that polled its queue
    // must be read before it polls the queue again (ElasticThread::set_rx_wait).
    std::vector<LinkMark> rx_wait;
    int adopter = -1;  // the running thread polling its queue (guarded by moves_mu_)
  };
  // A device that does not steer: a running thread polls a parked one's
  // queue (ElasticThread::adopt_queue). The lowest running thread other
  // than `except` (-1: none).
  int pick_adopter(unsigned except) const;
  // How far thread `from`'s out-links have been pushed now.
  std::vector<LinkMark> out_link_marks(unsigned from) const;
  // `adopter` polls `q` (owned by parked thread q.owner) once the frames
  // its previous poller forwarded (marks `wait`) are taken.
  std::string adopt_locked(const ElasticThread::AdoptedRef &q, unsigned adopter,
                           std::vector<LinkMark> wait,
                           std::chrono::steady_clock::time_point deadline);
  std::string unadopt_locked(unsigned parked_id, std::chrono::steady_clock::time_point deadline);
  std::unique_ptr<ParkState[]> park_;
  // arp_rings_[from * n + to]: ARP bindings from thread `from` to `to`.
  std::vector<std::unique_ptr<ArpRing>> arp_rings_;
  void plan_flow_groups();
  net::FlowGroupTable flow_table_;  // guarded by moves_mu_ once threads run
  mutable std::mutex moves_mu_;     // control path only: one move at a time
  bool device_steers_ = false;      // flow_table_ is programmed into the device
  std::array<uint8_t, 40> rss_key_ = net::kDefaultRssKey;
  bool trust_nic_hash_ = false;
  std::string steering_;
  // frame_links_[from * n + to]: frames thread `from` received for `to`'s
  // flow groups (a device that cannot steer; groups being moved).
  std::vector<std::unique_ptr<FrameLink>> frame_links_;
  std::vector<std::string> errors_;
  std::atomic<unsigned> ready_{0};    // threads whose dataplane is built
  std::atomic<bool> started_{false};  // the device is started; threads may run
};

}  // namespace ix::core
