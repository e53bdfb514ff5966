// Flow-group moves seen by applications: every elastic thread runs an echo
// server written with ixev over run_io (library mode, IxevConfig::
// follow_moves), and the move rig's peer streams its checked pattern over
// 1,000 connections while flow groups move from thread to thread and back,
// and while the control commands gather every group onto one thread (the
// others park) and spread them again. Each Conn must follow its connection
// (on_moved on the new thread), with the bytes it had received and not yet
// echoed, the bytes it had queued, and the copy buffers the dataplane still
// sends from; no byte may be lost, doubled or reordered, no connection may
// break, and no segment may be sent twice.
#include <gtest/gtest.h>

#include <cstring>
#include <mutex>

#include "api/io_context.hh"
#include "control/control_commands.hh"
#include "ix/ixev.hh"
#include "move_rig.hh"

namespace ix {
namespace {

using namespace move_rig;  // NOLINT: the rig's names are this test's vocabulary

class IxevEchoApp;
thread_local IxevEchoApp *this_thread_app = nullptr;

// One echoed connection. Copying receive and send: what send() could not
// take waits in `pending` for on_writable.
class EchoConn final : public ev::Conn {
 public:
  EchoConn(ev::Ixev &loop, IxevEchoApp &app) : loop_(&loop), app_(&app) {}
  void on_readable() override { pump(); }
  void on_writable() override { pump(); }
  void on_moved(ev::Ixev &loop) override;
  void on_hangup(int status) override;

 private:
  void pump();
  ev::Ixev *loop_;
  IxevEchoApp *app_;
  std::vector<uint8_t> pending_;
  unsigned thread_ = 0;
  friend class IxevEchoApp;
};

class IxevEchoApp final : public ev::Listener {
 public:
  static constexpr bool kKeepalive = false;  // ixev does not ask for keep-alive
  explicit IxevEchoApp(unsigned id) : id_(id) {}

  void serve(core::ElasticThread &t, const std::atomic<bool> &stop,
             std::atomic<unsigned> &listening) {
    this_thread_app = this;
    api::LocalContext ctx(t, &stop);
    ev::IxevConfig cfg;
    cfg.follow_moves = true;
    // Few events per round: a move's MOVED_OUT events often wait for a later
    // round, and the commands built meanwhile get IX_EMOVED and are undone.
    cfg.max_events = 24;
    ev::Ixev loop(&ctx, cfg);
    loop_ = &loop;
    if (!loop.follows_moves()) ++failures;
    if (loop.listen(kTcpPort, *this) != IX_OK) ++failures;
    if (!t.stack().udp_bind(kUdpPort, &udp_)) ++failures;
    listening.fetch_add(1);
    while (!loop.should_stop()) {
      loop.poll();
      udp_.echo(t, &failures);
    }
    stats = loop.stats();
    loop_ = nullptr;
  }

  ev::Conn *on_knock(const ix_endpoint &, const ix_endpoint &) override {
    std::lock_guard<std::mutex> lock(conns_mu());
    all_conns().push_back(std::make_unique<EchoConn>(*loop_, *this));
    EchoConn *c = all_conns().back().get();
    c->thread_ = id_;
    return c;
  }

  ev::Ixev &loop() { return *loop_; }
  unsigned id() const { return id_; }
  uint64_t failures = 0, deaths = 0, moved_in = 0, knocks_moved = 0;
  ev::IxevStats stats{};

  // Every thread's connections, freed with the test (a Conn that moved ends
  // on another thread than the one that made it).
  static std::mutex &conns_mu() {
    static std::mutex mu;
    return mu;
  }
  static std::vector<std::unique_ptr<EchoConn>> &all_conns() {
    static std::vector<std::unique_ptr<EchoConn>> v;
    return v;
  }

 private:
  unsigned id_;
  ev::Ixev *loop_ = nullptr;
  UdpEcho udp_;
};

void EchoConn::pump() {
  if (!pending_.empty()) {
    const int64_t n = loop_->send(*this, pending_.data(), pending_.size());
    if (n == IX_EAGAIN) return;  // on_writable follows
    if (n < 0) {
      ++app_->failures;
      return;
    }
    pending_.erase(pending_.begin(), pending_.begin() + n);
    if (!pending_.empty()) return;
  }
  uint8_t buf[2048];
  for (;;) {
    const int64_t n = loop_->recv(*this, buf, sizeof buf);
    if (n == IX_EAGAIN || n == 0) return;  // 0: the peer's FIN (not sent here)
    if (n < 0) {
      ++app_->failures;
      return;
    }
    const int64_t m = loop_->send(*this, buf, static_cast<size_t>(n));
    const int64_t taken = m < 0 ? 0 : m;
    if (m < 0 && m != IX_EAGAIN) ++app_->failures;
    if (taken < n) {
      pending_.assign(buf + taken, buf + n);
      return;
    }
  }
}

void EchoConn::on_moved(ev::Ixev &loop) {
  // The thread's own objects are rebound here, as an application must.
  IxevEchoApp *here = this_thread_app;
  if (here == nullptr || &here->loop() != &loop || here->id() == thread_) ++app_->failures;
  loop_ = &loop;
  app_ = here != nullptr ? here : app_;
  thread_ = app_->id();
  ++app_->moved_in;
}

void EchoConn::on_hangup(int status) {
  // A knock whose connection moved before it was accepted: that thread's
  // listener took it (with another Conn). Otherwise nothing ends while the
  // test runs (the runtime's end detaches every Conn without handlers).
  if (status == IX_EMOVED) {
    ++app_->knocks_moved;
    return;
  }
  ++app_->deaths;
  if (status != IX_OK) ++app_->failures;
}

using Rig = MoveRig<IxevEchoApp>;

void check_ixev(Rig &rig) {
  uint64_t moved_in = 0, moved_out = 0, app_moved_in = 0, withdrawn = 0, knocks_moved = 0;
  for (unsigned t = 0; t < kThreads; ++t) {
    const IxevEchoApp &app = rig.app(t);
    const ev::IxevStats &s = app.stats;
    EXPECT_EQ(s.stale_events, 0u) << "thread " << t;
    EXPECT_EQ(s.stale_handles, 0u) << "thread " << t;
    EXPECT_EQ(s.command_errors, 0u) << "thread " << t;
    EXPECT_EQ(s.moves_lost, 0u) << "thread " << t;
    moved_in += s.moved_in;
    moved_out += s.moved_out;
    app_moved_in += app.moved_in;
    withdrawn += s.knocks_withdrawn;
    knocks_moved += app.knocks_moved;
  }
  EXPECT_LE(knocks_moved, withdrawn) << "a Conn heard IX_EMOVED for a knock that did not move";
  EXPECT_EQ(moved_in, moved_out) << "every connection that left one thread arrived at another";
  EXPECT_EQ(app_moved_in, moved_in) << "every arrival told its Conn (on_moved)";
  EXPECT_GE(moved_in, Rig::kConns) << "every group moved, so every connection did";
}

TEST(IxevMoves, ConnsFollowTheirConnectionsWithEverythingTheyHeld) {
  constexpr unsigned kMinMoves = 140;
  Rig rig;
  rig.start();
  unsigned failed_moves = 0;
  std::string first_error;
  const unsigned moves = move_groups_round_robin(rig, kMinMoves, &failed_moves, &first_error);
  const bool finished = rig.finish_and_stop();
  EXPECT_EQ(failed_moves, 0u) << first_error;
  rig.check_streams(finished, std::to_string(moves) + " moves");
  EXPECT_EQ(rig.moves_seen, moves);
  check_ixev(rig);
}

// On a device that does not steer (the wire's RSS table left alone, as on
// veth): frames keep reaching the parked threads' queues, which the running
// threads poll for them.
TEST(IxevMoves, ApplicationThreadsParkAndResumeOnADeviceThatDoesNotSteer) {
  Rig rig(/*program_device=*/false);
  rig.start();
  auto &rt = rig.runtime();
  control::ControlCommands cmd(rt, nullptr);
  for (const unsigned n : {1u, 4u, 2u, 4u}) {
    ASSERT_EQ(cmd.execute("cores " + std::to_string(n)), "ok\n") << "cores " << n;
    for (unsigned t = 0; t < kThreads; ++t)
      EXPECT_EQ(rt.parked(t), t >= n) << "cores " << n << ", thread " << t;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // traffic on this allocation
  }
  while (rig.least_sent() < kLeastBytes && rig.before_deadline())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const bool finished = rig.finish_and_stop();
  rig.check_streams(finished, "cores 1, 4, 2, 4");
  check_ixev(rig);
  uint64_t adopted = 0, adopted_nombuf = 0;
  for (const auto &s : rt.snapshots()) {
    adopted += s.core.adopted_rx;
    adopted_nombuf += s.core.adopted_nombuf;
  }
  EXPECT_GT(adopted, 0u) << "no frame reached a parked thread's queue";
  EXPECT_EQ(adopted_nombuf, 0u);
}

}  // namespace
}  // namespace ix
