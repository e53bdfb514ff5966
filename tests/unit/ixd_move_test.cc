// Flow-group moves under the dataplane process: the elastic threads run
// ixd's serve loop, and the echo servers are an application attached to it
// (api::AttachedApp over the Unix socket and shared memory, one thread per
// elastic thread, each an ixev loop on a RemoteContext that follows moves).
// The move rig's peer streams its checked pattern over 1,000 connections
// while flow groups move from thread to thread and while the control
// commands gather every group onto one thread and spread them again: each
// connection must reach the same application's context on its new thread
// (found by the application's id, not by the old context), the data the old
// thread still owed the application must arrive there in order (copied out
// of the engine at the move, released by the new thread), and the client
// library's records of each connection (send-region copies, receive-region
// allocations) must follow it between the application's threads, so that
// no byte is lost, doubled or reordered and no connection breaks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>

#include "api/remote_app.hh"
#include "ixd/attach_server.hh"
#include "ixd/serve_loop.hh"
#include "ixev_echo_app.hh"

namespace ix {
namespace {

using namespace move_rig;  // NOLINT: the rig's names are this test's vocabulary

class AttachedEchoApp;

// The dataplane process's front door, and the application attached to it;
// shared by the rig's four AttachedEchoApp (one per elastic thread).
struct AttachedWorld {
  explicit AttachedWorld(ipc::ChannelLimits limits = {}) {
    socket = "/tmp/ixd-move-test-" + std::to_string(getpid()) + ".sock";
    ixd::SessionConfig sc;
    sc.limits = limits;
    sc.send_region_bytes = 32ull << 20;
    sc.recv_region_bytes = 8ull << 20;
    server = std::make_unique<ixd::AttachServer>(socket, kThreads, sc, mailboxes, log);
  }
  ~AttachedWorld() { server.reset(); }

  std::string socket;
  std::vector<ixd::PortMailbox> mailboxes = std::vector<ixd::PortMailbox>(kThreads);
  std::ostringstream log;
  std::unique_ptr<ixd::AttachServer> server;
  std::array<AttachedEchoApp *, kThreads> echo{};
  std::unique_ptr<api::AttachedApp> app;
  std::vector<std::thread> app_threads;
  std::string attach_error;
  size_t awaiting_at_end = 0, send_copies_at_end = 0;
  uint64_t records_out = 0, records_in = 0, awaited = 0, handed_back = 0;
};
AttachedWorld *g_world = nullptr;

// Elastic thread t of the rig runs ixd's serve loop; the application's
// thread t runs this object's echo server on the application's context t.
class AttachedEchoApp final : public IxevEchoApp {
 public:
  static constexpr bool kEchoesUdp = false;  // the application here speaks TCP only
  explicit AttachedEchoApp(unsigned id) : IxevEchoApp(id) { g_world->echo[id] = this; }

  void serve(core::ElasticThread &t, const std::atomic<bool> &stop,
             std::atomic<unsigned> &listening) {
    AttachedWorld &w = *g_world;
    const unsigned id = t.config().id;
    if (id == 0) start_application(w, stop, listening);
    ixd::serve_applications(t, stop, w.mailboxes[id]);
    if (id != 0) return;
    // Each application thread ends when its elastic thread's loop tells it
    // the dataplane stops.
    for (auto &th : w.app_threads) th.join();
    w.app_threads.clear();
    if (w.app != nullptr) {
      for (unsigned k = 0; k < w.app->threads(); ++k) {
        const auto &c = w.app->context(k);
        w.awaiting_at_end += c.awaiting_records();
        w.send_copies_at_end += c.send_copies_live();
        const auto &m = c.move_stats();
        w.records_out += m.records_out;
        w.records_in += m.records_in;
        w.awaited += m.awaited;
        w.handed_back += m.handed_back;
      }
    }
    w.app.reset();  // detaches
  }

 private:
  static void start_application(AttachedWorld &w, const std::atomic<bool> &stop,
                                std::atomic<unsigned> &listening) {
    w.app = api::AttachedApp::attach(w.socket, "ixd-move-test", &stop, &w.attach_error);
    if (w.app == nullptr) {
      ++w.echo[0]->failures;
      listening.fetch_add(kThreads);  // lets the rig go on to fail
      return;
    }
    EXPECT_EQ(w.app->threads(), kThreads);
    for (unsigned k = 0; k < w.app->threads(); ++k) {
      w.app_threads.emplace_back(
          [&w, k, &listening] { w.echo[k]->serve_on(&w.app->context(k), nullptr, listening); });
    }
  }
};

using Rig = MoveRig<AttachedEchoApp>;

// A counter of the application's detach line in ixd's log.
uint64_t logged(const std::string &log, const std::string &name) {
  const size_t at = log.find(" " + name + " ");
  return at == std::string::npos ? UINT64_MAX : std::stoull(log.substr(at + name.size() + 2));
}

void check_attached(AttachedWorld &w) {
  // The server's thread logs the application's counters as it leaves;
  // stopping it (after the elastic threads) makes that line final.
  w.server.reset();
  EXPECT_TRUE(w.attach_error.empty()) << w.attach_error;
  EXPECT_EQ(w.awaiting_at_end, 0u)
      << "a moved connection's record never reached its new application thread";
  EXPECT_EQ(w.records_in, w.records_out) << "every record deposited was taken";
  // The dataplane's side, from the application's detach line.
  const std::string log = w.log.str();
  const uint64_t out = logged(log, "conns_moved_out"), in = logged(log, "conns_moved_in");
  EXPECT_NE(out, UINT64_MAX) << log;
  // Knocks withdrawn before their accept leave, and are knocked again.
  EXPECT_LE(in, out) << log;
  EXPECT_EQ(logged(log, "rejected_bad_handle"), 0u) << log;
  EXPECT_EQ(logged(log, "rejected_invalid"), 0u) << log;
  EXPECT_EQ(logged(log, "bad_rx_frees"), 0u) << log;
  // Every stream finished: what the engine received was copied to the
  // application and released, on whichever thread the connection was.
  EXPECT_EQ(logged(log, "rx_held_at_detach"), 0u) << log;
  // ... and the application freed every piece of its regions, on whichever
  // thread it had been allocated.
  EXPECT_EQ(logged(log, "rx_region_live_at_detach"), 0u) << log;
  EXPECT_EQ(w.send_copies_at_end, 0u) << "copies of acknowledged bytes were not freed";
  EXPECT_EQ(w.records_out, in) << "the library kept a record of every accepted connection";
  std::printf(
      "moves: %lu connections moved; %lu arrived before their record; %lu pieces "
      "freed by another thread; %lu received bytes copied at a move\n",
      (unsigned long)out, (unsigned long)w.awaited, (unsigned long)w.handed_back,
      (unsigned long)logged(log, "rx_copied_at_move"));
}

// Small channels: a run_io call of the application with more than 16
// commands takes several exchanges, the later ones built before the
// application saw the events of the first (MOVED_OUTs among them), and the
// dataplane's answer to those must still be IX_EMOVED.
TEST(IxdMoves, AttachedApplicationsFollowTheirConnectionsAcrossThreads) {
  AttachedWorld world(ipc::ChannelLimits{.max_cmds = 16, .max_iovs = 2048, .max_events = 4096});
  g_world = &world;
  {
    constexpr unsigned kMinMoves = 140;  // every one of the 128 groups moves
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
  check_attached(world);
  g_world = nullptr;
}

// On a device that does not steer (as veth): threads park and resume under
// the attached application; a parking thread first hands the application
// every event it owes it.
TEST(IxdMoves, ThreadsParkAndResumeUnderAnAttachedApplication) {
  AttachedWorld world;
  g_world = &world;
  {
    Rig rig(/*program_device=*/false);
    rig.start();
    const std::string changes = change_cores(rig);
    const bool finished = rig.finish_and_stop();
    rig.check_streams(finished, changes);
    check_ixev(rig);
  }
  check_attached(world);
  g_world = nullptr;
}

}  // namespace
}  // namespace ix
