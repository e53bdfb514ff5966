// A connection leaving an engine and arriving again (Tcp::export_group and
// import_conns, the engine's part of a flow-group move), on two hosts under
// a manual clock: the receiver hears on_moved_out and on_moved with the same
// move number, the connection carries on under its new handle, and one that
// finds no free slot where it arrives is reset and still reaches the
// application (an arrival with handle 0, then its death), so that what the
// application kept for it is not left waiting for ever.
#include <gtest/gtest.h>

#include <vector>

#include "net/tcp/moved_conn.hh"
#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

class TcpMoveTest : public TcpPairTest {
 protected:
  static TcpEvents *to_app(void *app, TcpEvents *, uint64_t) {
    return static_cast<RecordingApp *>(app);
  }

  // A second connection from A to B's listener on port 80.
  std::pair<ConnHandle, ConnHandle> connect_more(uint64_t cookie) {
    const int64_t h = A->tcp().connect(kIpB, 80, 0, cookie, &A->app);
    EXPECT_GT(h, 0);
    const size_t knocks = B->app.knocks.size();
    EXPECT_TRUE(run_until([&] {
      return A->app.conns[static_cast<ConnHandle>(h)].connected && B->app.knocks.size() > knocks;
    }));
    return {static_cast<ConnHandle>(h), B->app.knocks.back().h};
  }

  // A connects to B's port 80 (listener cookie 77, B's application tagged
  // owner_tag), B not accepting: its knock is exported with its flow group.
  // A's handle and the knock's.
  std::pair<ConnHandle, ConnHandle> export_unaccepted_knock(std::vector<MovedConn> &out,
                                                            uint64_t owner_tag) {
    start();
    B->app.follow = true;
    B->app.tag = owner_tag;
    auto_accept = false;
    EXPECT_EQ(B->tcp().listen(80, 77, &B->app), IX_OK);
    const int64_t ha = A->tcp().connect(kIpB, 80, 0, 5, &A->app);
    EXPECT_GT(ha, 0);
    EXPECT_TRUE(run_until([&] { return !B->app.knocks.empty(); }));
    if (B->app.knocks.empty()) return {0, 0};
    const ConnHandle hb = B->app.knocks[0].h;
    EXPECT_EQ(B->tcp().export_group(B->tcp().facts_of(hb).flow_group, out), IX_OK);
    return {static_cast<ConnHandle>(ha), hb};
  }
};

TEST_F(TcpMoveTest, AConnectionLeavesAndArrivesWithItsMoveNumberAndGoesOn) {
  start();
  B->app.follow = true;
  const auto [ha, hb] = connect_pair(80);
  ASSERT_NE(hb, 0u);
  ASSERT_TRUE(transfer(*A, ha, pattern(3000, 1), *B, hb));
  const uint16_t group = B->tcp().facts_of(hb).flow_group;

  for (uint32_t round = 1; round <= 2; ++round) {
    std::vector<MovedConn> out;
    ASSERT_EQ(B->tcp().export_group(group, out), IX_OK);
    ASSERT_EQ(out.size(), 1u);
    // The next hop B's ARP table vouched for does not travel: the stack it
    // arrives at looks it up in its own table.
    EXPECT_EQ(out[0].vars.nh.arp_generation, 0u);
    ASSERT_EQ(B->app.moves_out.size(), round);
    EXPECT_EQ(B->app.moves_out.back().move, round);
    EXPECT_EQ(B->app.moves_out.back().cookie, 1000 + hb);  // as accepted
    EXPECT_EQ(B->tcp().import_conns(out, &TcpMoveTest::to_app, &B->app), 1u);
    ASSERT_EQ(B->app.moves_in.size(), round);
    EXPECT_EQ(B->app.moves_in.back().move, round);
    EXPECT_EQ(B->app.moves_in.back().cookie, 1000 + hb);
  }
  const ConnHandle now = B->app.moves_in.back().h;
  EXPECT_NE(now, 0u);
  EXPECT_EQ(B->tcp().stats().moved_out, 2u);
  EXPECT_EQ(B->tcp().stats().moved_in, 2u);
  // The stream goes on both ways under the new handle.
  const Bytes more = pattern(5000, 2);
  ASSERT_TRUE(transfer(*A, ha, more, *B, now));
  ASSERT_TRUE(transfer(*B, now, pattern(4000, 3), *A, ha));
  EXPECT_FALSE(A->app.conns[ha].dead);
}

TEST_F(TcpMoveTest, AnArrivalWithoutASlotIsResetAndStillReachesTheApplication) {
  TcpConfig b = default_tcp();
  b.max_connections = 2;
  start({}, default_tcp(), b);
  B->app.follow = true;
  const auto [ha, hb] = connect_pair(80);
  ASSERT_NE(hb, 0u);
  const uint16_t group = B->tcp().facts_of(hb).flow_group;
  std::vector<MovedConn> out;
  ASSERT_EQ(B->tcp().export_group(group, out), IX_OK);
  ASSERT_EQ(out.size(), 1u);
  // Two other connections take both slots meanwhile.
  const auto y = connect_more(6);
  const auto z = connect_more(7);
  ASSERT_NE(y.second, 0u);
  ASSERT_NE(z.second, 0u);

  EXPECT_EQ(B->tcp().import_conns(out, &TcpMoveTest::to_app, &B->app), 0u);
  EXPECT_EQ(B->tcp().stats().moved_lost, 1u);
  // The application hears it arrive (handle 0) and die at once.
  ASSERT_EQ(B->app.moves_in.size(), 1u);
  EXPECT_EQ(B->app.moves_in[0].h, 0u);
  EXPECT_EQ(B->app.moves_in[0].cookie, 1000 + hb);
  EXPECT_EQ(B->app.moves_in[0].move, B->app.moves_out[0].move);
  ASSERT_TRUE(B->app.conns.count(0));
  EXPECT_TRUE(B->app.conns[0].dead);
  EXPECT_EQ(B->app.conns[0].why, DeadReason::kAborted);
  // The peer is told: its connection is reset, the others live on.
  EXPECT_TRUE(run_until([&] { return A->app.conns[ha].dead; }));
  EXPECT_EQ(A->app.conns[ha].why, DeadReason::kReset);
  EXPECT_FALSE(A->app.conns[y.first].dead);
  EXPECT_FALSE(A->app.conns[z.first].dead);
}

// Knocked, not yet accepted: it leaves with its listener's cookie and is
// knocked again where it arrives (that engine's listener on the port).
TEST_F(TcpMoveTest, AKnockNotYetAcceptedIsKnockedAgainWhereItArrives) {
  std::vector<MovedConn> out;
  const auto [ha, hb] = export_unaccepted_knock(out, 0);
  ASSERT_NE(hb, 0u);
  ASSERT_EQ(B->app.moves_out.size(), 1u);
  EXPECT_EQ(B->app.moves_out[0].cookie, 77u);   // the listener's: no accept yet
  EXPECT_EQ(B->tcp().accept(hb, 1), IX_EBADH);  // the old handle is gone
  EXPECT_EQ(B->tcp().import_conns(out, &TcpMoveTest::to_app, &B->app), 1u);
  EXPECT_TRUE(B->app.moves_in.empty());
  ASSERT_EQ(B->app.knocks.size(), 2u);
  EXPECT_EQ(B->app.knocks[1].listener_cookie, 77u);
  const ConnHandle again = B->app.knocks[1].h;
  EXPECT_NE(again, hb);
  ASSERT_EQ(B->tcp().accept(again, 9), IX_OK);
  ASSERT_TRUE(transfer(*A, static_cast<ConnHandle>(ha), pattern(2000, 4), *B, again));
}

// In the dataplane process another application may listen on the same port
// on the new thread: a knock not yet accepted goes only to its own owner's
// listener (TcpEvents::move_tag), or is reset.
TEST_F(TcpMoveTest, AKnockIsNotHandedToAnotherOwnersListener) {
  std::vector<MovedConn> out;
  const auto [ha, hb] = export_unaccepted_knock(out, 1);
  ASSERT_NE(hb, 0u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].owner_tag, 1u);
  B->app.tag = 2;  // the port's listener here is another owner's
  EXPECT_EQ(B->tcp().import_conns(out, &TcpMoveTest::to_app, &B->app), 0u);
  EXPECT_EQ(B->app.knocks.size(), 1u) << "knocked again at another owner's listener";
  EXPECT_EQ(B->tcp().stats().moved_lost, 1u);
  ASSERT_TRUE(run_until([&] { return A->app.conns[static_cast<ConnHandle>(ha)].dead; }));
  EXPECT_EQ(A->app.conns[static_cast<ConnHandle>(ha)].why, DeadReason::kReset);
}

}  // namespace
}  // namespace ix::net::tcp::test
