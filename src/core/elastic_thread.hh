// An elastic thread's dataplane: everything one core owns — its NIC queue,
// packet buffer pool, timer wheel, network stack, TCP connections and
// counters — and the run-to-completion step that moves one batch from the RX
// ring through the protocols and back to the TX ring.
//
// No sharing on the fast path. Per packet and per command, an elastic thread
// reads and writes only memory it owns: its queue's rings (the device's
// contract, drivers/device.hh), its pool (no atomics, mem/mbuf_pool.hh), its
// stack and connections, and its counters (plain stores). Its flow ownership
// view (which flow groups it owns, the RSS key) is its own read-only copy.
// The exceptions, each bounded and explained where it happens:
//  - counters are copied out through a seqlock every stats period
//    (core_stats.hh), not per packet;
//  - ARP bindings go to siblings through SPSC rings (rare: per binding);
//  - a frame the device delivered to the wrong thread (a device that cannot
//    steer by our flow groups) is copied to its owner through a FrameLink
//    (frame_link.hh); counted in fwd_out/fwd_in, zero with a programmed NIC;
//  - the loop wire's RX rings are the simulated NIC (drivers/loop);
//  - control-plane requests arrive through a ControlSlot (control_slot.hh),
//    checked with one load per loop iteration and served between batches.
// The runtime (runtime.hh) sets all of this up before traffic starts.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/control_slot.hh"
#include "core/core_stats.hh"
#include "core/frame_link.hh"
#include "core/spsc_ring.hh"
#include "core/tx_batcher.hh"
#include "drivers/device.hh"
#include "mem/mbuf_pool.hh"
#include "net/rss.hh"
#include "net/stack.hh"
#include "net/tcp/tcp.hh"
#include "net/tcp/tcp_stats.hh"
#include "timing/clock.hh"
#include "timing/timer_wheel.hh"

namespace ix::core {

struct ElasticThreadConfig {
  unsigned id = 0;                        // elastic thread index (also its queue by default)
  unsigned threads = 1;                   // elastic threads in the runtime (this one included)
  uint16_t queue = 0;                     // the NIC queue this thread owns
  uint16_t batch = 64;                    // adaptive batching bound: take what is there, up to this
  uint32_t tx_backlog = 1024;             // frames held when the TX ring is full
  uint64_t stats_period_ns = 50'000'000;  // how often counters are published
  // After this many consecutive empty polls, yield the CPU once (0: never).
  // IX owned its cores outright; here the kernel may need the same core for
  // softirq work that completes our own transmissions (AF_XDP copy mode
  // hands frames to the kernel's network stack, and that work runs in
  // ksoftirqd when it cannot run inline). A thread that never yields starves
  // ksoftirqd for a scheduler slice, which shows as millisecond latency
  // spikes. Yielding only when idle costs nothing under load, and little on
  // a quiet host; but where other jobs share the core, each yield hands it
  // to them for a scheduler slice while frames wait, so the runtime turns it
  // off where no kernel work is at stake, as IX owns its cores (--idle-yield
  // auto: DPDK on memif or a real NIC, the loop wire).
  uint32_t idle_polls_before_yield = 64;
  mem::MbufPoolConfig pool;
  net::StackConfig stack;
};

struct ThreadSnapshot;

// An ARP binding one elastic thread learned, for its siblings.
struct ArpNote {
  net::Ipv4Addr ip;
  net::MacAddr mac;
};
using ArpRing = SpscRing<ArpNote>;

// Counters a monitor thread may read while the dataplane runs.
struct ThreadSnapshot {
  CoreStats core;
  net::StackCounters net;
  net::tcp::TcpStats tcp;  // retransmissions, RTOs, recoveries, challenge ACKs, ...
  mem::MbufPoolStats pool;
  uint32_t pool_available = 0;
  uint32_t pool_capacity = 0;
  uint32_t pool_in_device = 0;  // lent to the device (Device::pool_buffers_held)
};

class ElasticThread {
 public:
  static constexpr uint16_t kMaxBatch = 1024;

  // Builds the thread's pool, timers and stack; registers the pool with the
  // device's RX queue. Call on the thread that will run it.
  // Counters are published into `mailbox` when given (it must outlive the
  // thread: the runtime's monitor reads it), else into one of our own.
  ElasticThread(const ElasticThreadConfig &cfg, drivers::Device &dev, const timing::Clock &clock,
                StatsMailbox<ThreadSnapshot> *mailbox = nullptr);
  ~ElasticThread();

  // One run-to-completion step: fire due timers, take up to `batch` frames
  // from the RX queue (never waiting to fill the batch), run each through the
  // stack, and flush the frames produced to the TX ring. Returns frames taken.
  unsigned poll() { return poll_at(clock_.refresh()); }
  // The same, for a loop that already read the clock this iteration
  // (refresh_clock()'s value): one clock read per iteration, not two.
  unsigned poll_at(uint64_t now);
  // Transmit whatever the application's commands produced.
  void flush_tx() { tx_.flush(); }
  // Copy counters into the mailbox if the publication period has passed.
  void maybe_publish();
  void publish_now();
  // The control plane's requests to this thread (none: nothing is asked).
  // The slot must outlive the thread's loop. serve_control() runs one step
  // of a pending request; the loop calls it once per iteration, between
  // batches, whether or not frames came in.
  void set_control_slot(ControlSlot *slot) { control_ = slot; }
  void serve_control() {
    if (control_ != nullptr) control_->serve(*this);
  }

  net::NetStack &stack() { return *stack_; }
  mem::MbufPool &pool() { return *pool_; }
  timing::TimerWheel &timers() { return timers_; }
  // The iteration's time (see CachedClock); refresh_clock() reads the source.
  const timing::Clock &clock() const { return clock_; }
  uint64_t refresh_clock() { return clock_.refresh(); }
  CoreStats &stats() { return stats_; }
  const ElasticThreadConfig &config() const { return cfg_; }
  drivers::Device &device() { return dev_; }
  ThreadSnapshot snapshot() const;
  void set_batch(uint16_t b) { cfg_.batch = b == 0 ? 1 : (b > kMaxBatch ? kMaxBatch : b); }

  // Zero-copy sends: mbufs that carry application memory use
  // ext_release_fn()/this as their release hook. The thread forwards the
  // release (with the mbuf's cookie) to the current listener, if any, so a
  // buffer freed after the application context is gone reaches no one.
  using SendReleasedFn = void (*)(void *listener, uint64_t cookie);
  void set_send_listener(void *listener, SendReleasedFn fn) {
    send_listener_ = listener;
    send_listener_fn_ = fn;
  }
  static void ext_release_fn(mem::Mbuf *m, void *thread);

  // Joins this thread to its siblings: ARP bindings it learns go out on
  // every outbox; those in its inboxes are applied at each poll. One ring
  // per ordered pair of threads, so each has one writer and one reader.
  void connect_siblings(std::vector<ArpRing *> outboxes, std::vector<ArpRing *> inboxes);

  // Flow groups: which thread owns each group (this thread's own copy).
  // Until this is called the thread owns every flow (one default table of
  // 128 groups with the default key). When the view spans more than one
  // thread, every received TCP/UDP frame is checked against it: a frame of
  // a group another thread owns is forwarded to that thread (if
  // connect_forwarding gave a link to it) or dropped, and counted. With
  // `trust_nic_hash` the check uses the hash the NIC computed (the device's
  // key is the view's key and its table is programmed from the same
  // groups); otherwise it hashes the frame in software.
  void set_flow_ownership(net::FlowOwnership view, bool trust_nic_hash);
  const net::FlowOwnership &flows() const { return *flows_; }
  // out[t]: the link to thread t, in[t]: the link from thread t (nullptr
  // for this thread or none); the in-links are drained at each poll.
  void connect_forwarding(std::vector<FrameLink *> out, std::vector<FrameLink *> in);

  // ---- flow-group moves: this thread's steps (group_handoff.cc; the
  // protocol and why it keeps order are in group_move.hh) ----
  // Where the connections that come with a group report: this thread's
  // receiver for each of the old thread's (nullptr: the connection is reset).
  void set_move_receivers(net::tcp::Tcp::ReceiverMap map, void *arg) {
    move_map_ = map;
    move_map_arg_ = arg;
  }
  // A parked sibling's RX queue, polled here until released (a device that
  // does not steer keeps delivering frames to it). This thread stands in
  // for the sibling as the sole user of the queue and of `pool` (its RX
  // pool) meanwhile; frames are copied into this thread's own pool, so none
  // of the sibling's buffers outlives the adoption. Control path only.
  // Each frame of a flow comes through one queue, so per-flow order holds
  // as long as the frames the queue's previous poller forwarded are taken
  // before those of its next: `wait` marks the previous poller's out-links
  // (the queue is not polled until their consumers read that far).
  void adopt_queue(uint16_t owner, uint16_t queue, mem::MbufPool *pool, std::vector<LinkMark> wait);
  void release_queue(uint16_t queue);
  // Parking: the queues it polls for parked siblings go to another thread.
  struct AdoptedRef {
    uint16_t owner;  // the parked thread whose queue it is
    uint16_t queue;
    mem::MbufPool *pool;
  };
  std::vector<AdoptedRef> take_adopted();
  // The same for this thread's own queue, taken back after a parking.
  void set_rx_wait(std::vector<LinkMark> wait) { rx_wait_ = std::move(wait); }
  size_t adopted_queues() const { return adopted_.size(); }
  // Parking waits until `ready(arg)` says the application above has taken
  // everything this thread owes it (none: parks at once). An application
  // that follows moves must see the move events of the groups that left
  // before it sleeps, or their new owners would wait for it.
  using ParkGuard = bool (*)(void *arg);
  void set_park_guard(ParkGuard ready, void *arg) {
    park_guard_ = ready;
    park_guard_arg_ = arg;
  }
  bool may_park() const {
    return outboxed_ == 0 && (park_guard_ == nullptr || park_guard_(park_guard_arg_));
  }
  // Nothing waits here for a link to `to` (any sibling if `to` is -1).
  bool outbox_empty(int to = -1) const {
    return to < 0 ? outboxed_ == 0
                  : static_cast<size_t>(to) >= outbox_.size() || outbox_[to].count == 0;
  }
  // New owner, first: hold frames of `group` that do not come from `from`
  // (and those from `from` until its parcel arrives) instead of processing
  // or forwarding them.
  void expect_group(uint16_t group, uint16_t from);
  // Old owner: hand the group's TCP connections to `to` (a parcel on the
  // link to it, ahead of every frame of the group forwarded after it) and
  // give the group up in this thread's view. False when the link has no
  // room now (nothing done: try again); *refused set when a connection's
  // receiver cannot follow (nothing done, the move is off).
  bool release_group(uint16_t group, uint16_t to, bool *refused);
  // New owner, when the move is called off before the parcel: stop holding
  // and pass what was held to the owner in this thread's view.
  void abandon_group(uint16_t group);
  // Any thread: the group's owner changed (this thread's view only).
  void set_group_owner(uint16_t group, uint16_t owner);
  // Old owner, after the device steers `groups` (moving together) to `to`:
  // true once it has told `to` that no more of their frames will come from
  // here (a flushed marker each), which it does only after a poll that
  // began at or after `not_before_ns` and once it has read past marks taken
  // then on its queue (and those it polls for parked siblings) and its
  // in-links.
  bool flush_groups(std::span<const uint16_t> groups, uint16_t to, uint64_t not_before_ns);
  // New owner: the old owner's frames have all been processed and the held
  // ones after them; the group is this thread's like any other.
  bool group_settled(uint16_t group) const {
    return group >= hold_from_.size() || hold_from_[group] == 0;
  }
  // Held frames per group at most; beyond, frames are dropped and counted
  // (TCP retransmits them) rather than taking the whole pool.
  static constexpr uint32_t kMaxHeldPerGroup = 1024;

 private:
  // True when m belongs to another thread's flow group and was forwarded or
  // dropped (m is consumed); false when this thread should process it.
  bool steer_away(mem::Mbuf *m);
  void drain_forwarded();
  // Moves in progress: the group of m if this thread holds it now (frames
  // of it are held, not processed), else -1.
  int held_group_of(const mem::Mbuf *m) const;
  void hold(uint16_t group, mem::Mbuf *m);
  void on_marker(unsigned from, const FrameLink::Marker &mk);
  void release_held(uint16_t group);

  ElasticThreadConfig cfg_;
  drivers::Device &dev_;
  timing::CachedClock clock_;
  std::unique_ptr<mem::MbufPool> pool_;
  timing::TimerWheel timers_;
  CoreStats stats_;
  TxBatcher tx_;
  std::unique_ptr<net::NetStack> stack_;
  std::vector<mem::Mbuf *> rx_batch_;
  uint64_t next_publish_ns_ = 0;
  uint32_t idle_streak_ = 0;
  uint64_t first_poll_ns_ = 0, last_poll_ns_ = 0;  // for CoreStats busy_ns / loop_ns
  bool last_poll_busy_ = false;
  std::vector<ArpRing *> arp_out_;
  std::vector<ArpRing *> arp_in_;
  std::unique_ptr<net::FlowOwnership> flows_;
  bool steer_ = false;           // more than one thread owns flow groups
  bool trust_nic_hash_ = false;  // mbuf rss_hash is the hash flows_ would compute
  std::vector<FrameLink *> fwd_out_;
  std::vector<FrameLink *> fwd_in_;  // by sibling id (nullptr: self or none)
  // Frames for a sibling whose link was full, in order, kept in this
  // thread's pool until the link takes them (its owner may be descheduled
  // for a while): a burst waits instead of being dropped. Everything for
  // that sibling (frames and move markers) goes behind them.
  struct Outbox {
    struct Entry {
      mem::Mbuf *m;
      uint16_t group;
    };
    std::vector<Entry> frames;  // a ring of kOutboxFrames
    size_t head = 0, count = 0;
  };
  static constexpr size_t kOutboxFrames = 4096;
  std::vector<Outbox> outbox_;
  size_t outboxed_ = 0;  // frames in all outboxes
  // Hands m, of flow group `group`, to sibling `to` in order (false: the
  // caller keeps m, to drop it).
  bool forward(uint16_t to, mem::Mbuf *m, uint16_t group);
  void drain_outboxes();
  bool drained_all_ = false;  // the last poll left its queue and in-links empty
  // A flush in progress (flush_groups): the first group, and the marks on the RX
  // queue and the in-links taken after the steering switch.
  int flush_group_ = -1;  // the first of the groups
  uint64_t flush_not_before_ = 0;
  size_t flush_pushed_ = 0;  // flushed markers pushed so far
  uint64_t flush_rx_mark_ = 0;
  std::vector<std::pair<uint16_t, uint64_t>> flush_adopted_marks_;
  std::vector<size_t> flush_link_marks_;
  uint64_t last_poll_start_ns_ = 0;
  // Moves in progress (group_handoff.cc): for each group this thread is
  // taking over, its old owner + 1 (0: not held), and whether that owner's
  // parcel has come; the frames held meanwhile, in arrival order.
  std::vector<uint16_t> hold_from_;
  std::vector<uint8_t> parcel_in_;
  std::vector<std::vector<mem::Mbuf *>> held_;
  unsigned holding_ = 0;  // groups being held
  net::tcp::Tcp::ReceiverMap move_map_ = nullptr;
  void *move_map_arg_ = nullptr;
  ParkGuard park_guard_ = nullptr;
  void *park_guard_arg_ = nullptr;
  struct AdoptedQueue {
    uint16_t owner;
    uint16_t queue;
    mem::MbufPool *pool;
    std::vector<LinkMark> wait;
  };
  std::vector<LinkMark> rx_wait_;
  static bool passed(std::vector<LinkMark> &wait);
  std::vector<AdoptedQueue> adopted_;
  std::vector<uint8_t> adopt_scratch_;  // a chained frame, flattened for the copy
  void poll_adopted();
  void *send_listener_ = nullptr;
  SendReleasedFn send_listener_fn_ = nullptr;
  StatsMailbox<ThreadSnapshot> own_mailbox_;
  StatsMailbox<ThreadSnapshot> *mailbox_;
  ControlSlot *control_ = nullptr;
};

}  // namespace ix::core
