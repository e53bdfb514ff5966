// The echo server of the move tests over ixev (ixev_move_test.cc: library
// mode; ixd_move_test.cc: applications attached to the dataplane process):
// one IxevEchoApp per elastic thread, following moves, echoing every byte
// through a copying EchoConn, and the checks every such run must pass.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "api/io_context.hh"
#include "ix/ixev.hh"
#include "move_rig.hh"

namespace ix::move_rig {

class IxevEchoApp;
inline thread_local IxevEchoApp *this_thread_app = nullptr;

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

class IxevEchoApp : public ev::Listener {
 public:
  static constexpr bool kKeepalive = false;  // ixev does not ask for keep-alive
  explicit IxevEchoApp(unsigned id) : id_(id) {}

  // Library mode: the application's thread is the elastic thread.
  void serve(core::ElasticThread &t, const std::atomic<bool> &stop,
             std::atomic<unsigned> &listening) {
    api::LocalContext ctx(t, &stop);
    serve_on(&ctx, &t, listening);
  }

  // Runs the echo server on ctx until it should stop; `udp_thread`: the
  // elastic thread this one runs as, whose stack echoes the UDP flows
  // (library mode), or nullptr.
  void serve_on(ix_ctx *ctx, core::ElasticThread *udp_thread, std::atomic<unsigned> &listening) {
    this_thread_app = this;
    ev::IxevConfig cfg;
    cfg.follow_moves = true;
    // Few events per round: a move's MOVED_OUT events often wait for a later
    // round, and the commands built meanwhile get IX_EMOVED and are undone.
    cfg.max_events = 24;
    ev::Ixev loop(ctx, cfg);
    loop_ = &loop;
    if (!loop.follows_moves()) ++failures;
    if (loop.listen(kTcpPort, *this) != IX_OK) ++failures;
    if (udp_thread != nullptr && !udp_thread->stack().udp_bind(kUdpPort, &udp_)) ++failures;
    listening.fetch_add(1);
    while (!loop.should_stop()) {
      loop.poll();
      if (udp_thread != nullptr) udp_.echo(*udp_thread, &failures);
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

inline void EchoConn::pump() {
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

inline void EchoConn::on_moved(ev::Ixev &loop) {
  // The thread's own objects are rebound here, as an application must.
  IxevEchoApp *here = this_thread_app;
  if (here == nullptr || &here->loop() != &loop || here->id() == thread_) ++app_->failures;
  loop_ = &loop;
  app_ = here != nullptr ? here : app_;
  thread_ = app_->id();
  ++app_->moved_in;
}

inline void EchoConn::on_hangup(int status) {
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

template <class Rig>
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

}  // namespace ix::move_rig
