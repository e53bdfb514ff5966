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

#include <string>

#include "ixev_echo_app.hh"

namespace ix {
namespace {

using namespace move_rig;  // NOLINT: the rig's names are this test's vocabulary

using Rig = MoveRig<IxevEchoApp>;

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
  const std::string changes = change_cores(rig);
  const bool finished = rig.finish_and_stop();
  rig.check_streams(finished, changes);
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
