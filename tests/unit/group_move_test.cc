// Flow-group moves under load on the loop wire: a Runtime of four unpinned
// elastic threads echoes 1,000 TCP connections and a set of UDP flows from a
// single-threaded peer while the test moves flow groups from thread to
// thread and back. Every byte must come back in order, no connection may
// break, no segment may be sent twice (the wire loses nothing, so any
// retransmission would be the move's), and the connections' timers must
// fire on the thread that owns them at the end (keep-alive probes).
#include <gtest/gtest.h>

#include "control/control_commands.hh"
#include "control/elastic_controller.hh"
#include "move_rig.hh"

namespace ix {
namespace {

using namespace move_rig;  // NOLINT: the rig's names are this test's vocabulary
using net::tcp::ConnHandle;
using net::tcp::DeadReason;
using net::tcp::TcpEvents;

// ---- the IX side: a TCP and UDP echo on every elastic thread ----

// One echoed connection; the record moves with the connection (cookie).
struct EchoConn {
  ConnHandle h = 0;
  static constexpr uint32_t kBuf = 4096;  // the peer keeps at most 1 KiB unechoed
  std::array<uint8_t, kBuf> buf{};
  uint64_t in = 0, sent = 0, acked = 0;  // bytes copied in, handed to sendv, acknowledged
  uint32_t to_consume = 0;               // recv_done still owed
};

class EchoApp final : public TcpEvents {
 public:
  static constexpr bool kKeepalive = true;
  explicit EchoApp(unsigned id) : id_(id) {}

  // The thread's loop: the engine's calls between batches, as run_io makes
  // them.
  void serve(core::ElasticThread &t, const std::atomic<bool> &stop,
             std::atomic<unsigned> &listening) {
    attach(t);
    listening.fetch_add(1);
    while (!stop.load(std::memory_order_relaxed)) {
      t.poll();
      react();
      t.flush_tx();
      t.serve_control();
      t.maybe_publish();
    }
  }

  void attach(core::ElasticThread &t) {
    thread_ = &t;
    t.set_move_receivers([](void *self, TcpEvents *,
                            uint64_t) -> TcpEvents * { return static_cast<EchoApp *>(self); },
                         this);
    EXPECT_EQ(t.stack().tcp().listen(kTcpPort, 0, this), IX_OK);
    EXPECT_TRUE(t.stack().udp_bind(kUdpPort, &udp_));
  }

  bool follows_moves() const override { return true; }
  void on_moved(uint64_t cookie, ConnHandle, ConnHandle h, uint32_t) override {
    auto *c = reinterpret_cast<EchoConn *>(cookie);
    c->h = h;
    todo_.push_back({c, h});  // whatever it still owed, this thread does now
    ++moved_in;
  }
  void on_knock(uint64_t, ConnHandle h, net::Ipv4Addr, uint16_t, net::Ipv4Addr, uint16_t) override {
    knocks_.push_back(h);
  }
  void on_connected(uint64_t, ConnHandle, int) override { ++failures; }
  void on_recv(uint64_t cookie, ConnHandle h, const uint8_t *data, uint32_t len) override {
    auto *c = reinterpret_cast<EchoConn *>(cookie);
    if (len == 0) return;  // the peer's FIN: closed at the end of the test
    if (c->in + len - c->acked > EchoConn::kBuf) {
      ++failures;  // the peer broke its own limit
      return;
    }
    for (uint32_t i = 0; i < len; ++i) c->buf[(c->in + i) % EchoConn::kBuf] = data[i];
    c->in += len;
    c->to_consume += len;
    todo_.push_back({c, h});
  }
  void on_sent(uint64_t cookie, ConnHandle, uint32_t bytes) override {
    reinterpret_cast<EchoConn *>(cookie)->acked += bytes;
  }
  void on_dead(uint64_t, ConnHandle, DeadReason) override { ++deaths; }

  // Between batches: the engine calls made on behalf of the events.
  void react() {
    auto &tcp = thread_->stack().tcp();
    for (ConnHandle h : knocks_) {
      auto c = std::make_unique<EchoConn>();
      c->h = h;
      if (tcp.accept(h, reinterpret_cast<uint64_t>(c.get())) != IX_OK ||
          tcp.set_keepalive(h, true) != IX_OK)
        ++failures;
      created_.push_back(std::move(c));
    }
    knocks_.clear();
    for (const Todo &t : todo_) {
      // A connection that moved away since is not ours to touch: its old
      // handle is stale here (the new owner heard on_moved and does it).
      if (tcp.tcb_of(t.h) == nullptr) continue;
      EchoConn *c = t.c;
      if (c->to_consume != 0) {
        if (tcp.recv_done(t.h, c->to_consume) != IX_OK) ++failures;
        c->to_consume = 0;
      }
      while (c->sent < c->in) {
        const size_t at = c->sent % EchoConn::kBuf;
        const size_t len = std::min<uint64_t>(c->in - c->sent, EchoConn::kBuf - at);
        iovec iov{c->buf.data() + at, len};
        const int64_t n = tcp.sendv(t.h, &iov, 1);
        if (n <= 0) {
          if (n < 0) ++failures;
          break;
        }
        c->sent += static_cast<uint64_t>(n);
      }
      if (c->sent < c->in) retry_.push_back(t);
    }
    todo_.swap(retry_);
    retry_.clear();
    udp_.echo(*thread_, &failures);
  }

  unsigned id() const { return id_; }
  uint64_t failures = 0, deaths = 0, moved_in = 0;

 private:
  struct Todo {
    EchoConn *c;
    ConnHandle h;
  };
  unsigned id_;
  core::ElasticThread *thread_ = nullptr;
  std::vector<ConnHandle> knocks_;
  std::vector<Todo> todo_, retry_;
  UdpEcho udp_;
  std::vector<std::unique_ptr<EchoConn>> created_;  // freed with the app, after every thread
};

TEST(GroupMoves, ConnectionsAndFlowsFollowTheirGroupsWithoutLossOrReordering) {
  constexpr unsigned kMinMoves = 160;
  MoveRig<EchoApp> rig;
  rig.start();
  unsigned failed_moves = 0;
  std::string first_error;
  const unsigned moves = move_groups_round_robin(rig, kMinMoves, &failed_moves, &first_error);
  const bool finished = rig.finish_and_stop();
  EXPECT_EQ(failed_moves, 0u) << first_error;
  EXPECT_GE(moves, kMinMoves);
  rig.check_streams(finished, std::to_string(moves) + " moves");
  EXPECT_EQ(rig.moves_seen, moves);
  EXPECT_GE(rig.moved_in, MoveRig<EchoApp>::kConns) << "every group moved, so every connection did";
}

// Elastic threads that come and go, through the control socket's commands:
// the dataplane gathers its groups onto fewer threads and parks the rest,
// then spreads them again, while the same streams run.
TEST(GroupMoves, CoresComeAndGoUnderLoadThroughTheControlCommands) {
  MoveRig<EchoApp> rig;
  rig.start();
  auto &rt = rig.runtime();
  control::ControlCommands cmd(rt, nullptr);
  auto owned = [&](unsigned t) {
    const auto table = rt.flow_groups();
    unsigned n = 0;
    for (uint16_t g = 0; g < table.size(); ++g) n += table.queue_of_group(g) == t;
    return n;
  };
  // Mistakes get one error line and change nothing.
  for (const char *bad : {"move 128 0", "move 1 4", "move x 1", "move 1", "park 0", "park 9",
                          "resume", "cores 0", "cores 5", "cores two"})
    EXPECT_EQ(cmd.execute(bad).rfind("error: ", 0), 0u) << bad;
  EXPECT_EQ(owned(0), 32u);

  const unsigned steps[] = {1, 2, 4, 3};
  for (const unsigned n : steps) {
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(cmd.execute("cores " + std::to_string(n)), "ok\n") << "cores " << n;
    // Informational (how long a change takes depends on the machine).
    std::printf(
        "cores %u: %.2f ms\n", n,
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    for (unsigned t = 0; t < kThreads; ++t) {
      const unsigned want_min = t < n ? 128 / n : 0, want_max = t < n ? (128 + n - 1) / n : 0;
      EXPECT_GE(owned(t), want_min) << "cores " << n << ", thread " << t;
      EXPECT_LE(owned(t), want_max) << "cores " << n << ", thread " << t;
      EXPECT_EQ(rt.parked(t), t >= n) << "cores " << n << ", thread " << t;
    }
    const std::string status = cmd.execute("groups");
    EXPECT_NE(status.find("thread " + std::to_string(n - 1) + " running"), std::string::npos)
        << status;
    if (n < kThreads) {
      EXPECT_NE(status.find("thread 3 parked groups 0"), std::string::npos) << status;
      // A parked thread cannot take a group.
      EXPECT_EQ(cmd.execute("move 5 3").rfind("error: ", 0), 0u);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // traffic on this allocation
  }
  EXPECT_EQ(cmd.execute("move 5 0"), "ok\n");
  EXPECT_EQ(rt.flow_groups().queue_of_group(5), 0);
  ASSERT_EQ(cmd.execute("cores 4"), "ok\n");

  // The control plane's loop does the same by itself. Thresholds that make
  // every window a decision: all load fits on fewer threads, then every
  // thread counts as overloaded.
  control::ElasticPolicyConfig shrink;
  shrink.shrink_target = 100;
  shrink.shrink_after = 1;
  shrink.grow_busy = shrink.grow_full_batches = 2;  // never
  shrink.cooldown = 0;
  shrink.max_threads = kThreads;
  std::vector<std::string> log;
  {
    control::ElasticController ec(rt, shrink, 64, [&](const std::string &l) { log.push_back(l); });
    for (unsigned i = 0; i < kThreads - 1; ++i) ec.tick();
    EXPECT_EQ(owned(0), 128u);
    for (unsigned t = 1; t < kThreads; ++t) EXPECT_TRUE(rt.parked(t)) << t;
    EXPECT_NE(ec.status().find("1 of 4 threads in service"), std::string::npos) << ec.status();
  }
  control::ElasticPolicyConfig grow = shrink;
  grow.shrink_target = 0;
  grow.grow_busy = 0;
  grow.grow_after = 1;
  {
    control::ElasticController ec(rt, grow, 64, [&](const std::string &l) { log.push_back(l); });
    for (unsigned i = 0; i < kThreads - 1; ++i) ec.tick();
    for (unsigned t = 0; t < kThreads; ++t) EXPECT_EQ(owned(t), 32u) << t;
  }
  ASSERT_EQ(log.size(), 2 * (kThreads - 1));
  EXPECT_EQ(log.front().rfind("ixcp: 4 -> 3 threads: total load", 0), 0u) << log.front();
  EXPECT_EQ(log.back().rfind("ixcp: 3 -> 4 threads: busiest thread", 0), 0u) << log.back();
  for (const auto &l : log) EXPECT_EQ(l.find("not all"), std::string::npos) << l;

  while (rig.least_sent() < kLeastBytes && rig.before_deadline())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const bool finished = rig.finish_and_stop();
  rig.check_streams(finished, "cores 1, 2, 4, 3, then the control plane 4 -> 1 -> 4");
  EXPECT_GT(rig.moves_seen, 128u);
}

// A park that cannot happen in time (here: the thread's application still
// has events to take, as its park guard says) is called off, not left to
// happen later with nobody polling the thread's queue; once the guard lets
// it, the thread parks, a running one polls its queue, and it comes back.
TEST(Parking, AParkThatTimesOutIsCalledOffAndTheThreadStaysInService) {
  timing::MonotonicClock clock;
  drivers::LoopWire wire(clock);
  auto &port = wire.add_port({.name = "ix", .mac = kIxMac, .queues = 2, .ring_depth = 256});
  core::RuntimeConfig rc;
  rc.cores.assign(2, -1);
  rc.mbufs_per_core = 1024;
  rc.idle_yield = 16;
  rc.program_device = false;  // a parked thread's queue needs a stand-in
  rc.stack.mac = kIxMac;
  rc.stack.addr = kIxIp;
  rc.stack.prefix_len = 24;
  core::Runtime rt(port, rc);
  std::atomic<bool> may_park{false};
  std::atomic<const core::ElasticThread *> polls_for_1{nullptr};
  std::thread ix([&] {
    rt.run([&](core::ElasticThread &t, const std::atomic<bool> &stop) {
      if (t.config().id == 1)
        t.set_park_guard([](void *a) { return static_cast<std::atomic<bool> *>(a)->load(); },
                         &may_park);
      while (!stop.load(std::memory_order_relaxed)) {
        t.poll();
        t.serve_control();
        if (t.config().id == 0 && t.adopted_queues() != 0) polls_for_1.store(&t);
      }
    });
  });
  while (!rt.started()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  const std::string err = rt.run_on_threads(1, std::chrono::milliseconds(200));
  EXPECT_NE(err.find("elastic thread 1 did not park in time"), std::string::npos) << err;
  EXPECT_NE(err.find("stays in service"), std::string::npos) << err;
  may_park.store(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(rt.parked(1)) << "the park that was called off happened later";
  EXPECT_EQ(polls_for_1.load(), nullptr);

  EXPECT_EQ(rt.park(1), "");
  EXPECT_TRUE(rt.parked(1));
  for (int i = 0; i < 1000 && polls_for_1.load() == nullptr; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_NE(polls_for_1.load(), nullptr) << "no running thread polls the parked one's queue";
  EXPECT_EQ(rt.resume(1), "");
  EXPECT_FALSE(rt.parked(1));
  EXPECT_EQ(rt.run_on_threads(2), "");
  rt.request_stop();
  ix.join();
}

}  // namespace
}  // namespace ix
