// ixev's side of a connection moving between elastic threads, against two
// scripted contexts (the events each thread's dataplane would return): the
// Conn, with what it had received and not read, changes engines and hears
// on_moved on the new one; commands the old engine issued too late
// (IX_EMOVED) are reissued by the new one; and an arrival whose old engine
// never lets go is given up after IxevConfig::move_patience_ms, reset where
// it arrived, and ended on the old side when that engine gets there.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/context.hh"
#include "ix/ixev.hh"

namespace ix {
namespace {

// An ix_ctx whose run_io records the commands, answers them from `answer`
// (IX_OK by default), and returns the events queued in `events`.
class ScriptedCtx final : public ix_ctx {
 public:
  int run_io(ix_cmd *cmds, size_t ncmds, ix_event *events, size_t max_events) override {
    for (size_t i = 0; i < ncmds; ++i) {
      cmds[i].result = answer ? answer(cmds[i]) : IX_OK;
      log.push_back(cmds[i]);
    }
    size_t n = 0;
    for (; n < max_events && !queued.empty(); ++n) {
      events[n] = queued.front();
      queued.pop_front();
    }
    return static_cast<int>(n);
  }
  bool should_stop() const override { return false; }
  unsigned thread_id() const override { return 0; }
  unsigned thread_count() const override { return 2; }
  uint64_t now_ns() const override { return 0; }
  int follow_moves(bool) override { return IX_OK; }

  void push(uint16_t type, uint64_t cookie, ix_tcp_handle h, const uint8_t *data = nullptr,
            uint64_t len = 0, int result = IX_OK) {
    ix_event e{};
    e.type = type;
    e.result = result;
    e.cookie = cookie;
    e.u.tcp.handle = h;
    e.u.tcp.data = data;
    e.u.tcp.len = len;
    queued.push_back(e);
  }
  const ix_cmd *last(uint16_t op) const {
    for (auto it = log.rbegin(); it != log.rend(); ++it)
      if (it->op == op) return &*it;
    return nullptr;
  }

  std::deque<ix_event> queued;
  std::vector<ix_cmd> log;
  std::function<int(const ix_cmd &)> answer;
};

struct Moving final : ev::Conn {
  void on_readable() override {
    char buf[64];
    for (int64_t n; (n = loop->recv(*this, buf, sizeof buf)) > 0;)
      got.append(buf, static_cast<size_t>(n));
  }
  void on_moved(ev::Ixev &to) override {
    loop = &to;
    ++moves;
  }
  void on_hangup(int status) override { hangup = status; }
  ev::Ixev *loop = nullptr;
  std::string got;
  int moves = 0;
  int hangup = 1;  // 1: not heard
};

struct Accept final : ev::Listener {
  ev::Conn *on_knock(const ix_endpoint &, const ix_endpoint &) override { return conn; }
  Moving *conn = nullptr;
};

constexpr ix_tcp_handle kOld = 0x1001, kNew = 0x2002;

class IxevHandoff : public ::testing::Test {
 protected:
  void SetUp() override {
    ev::IxevConfig cfg;
    cfg.follow_moves = true;
    cfg.move_patience_ms = 20;
    a = std::make_unique<ev::Ixev>(&ca, cfg);
    b = std::make_unique<ev::Ixev>(&cb, cfg);
    ASSERT_TRUE(a->follows_moves());
    conn.loop = a.get();
    accept.conn = &conn;
    ASSERT_EQ(a->listen(80, accept), IX_OK);
    ca.push(IX_EV_TCP_KNOCK, ca.last(IX_CMD_TCP_LISTEN)->cookie, 0);
    ca.queued.back().u.tcp_knock.handle = kOld;
    a->poll();  // the knock: the Conn attaches, ACCEPT is queued
    a->poll();  // ACCEPT runs
    ASSERT_NE(ca.last(IX_CMD_TCP_ACCEPT), nullptr);
    cookie = ca.last(IX_CMD_TCP_ACCEPT)->cookie;
    ASSERT_TRUE(conn.attached());
  }
  void TearDown() override {
    a.reset();
    b.reset();
  }

  ScriptedCtx ca, cb;
  std::unique_ptr<ev::Ixev> a, b;
  Moving conn;
  Accept accept;
  uint64_t cookie = 0;
};

TEST_F(IxevHandoff, TheConnMovesWithWhatItHadNotReadAndGoesOnThere) {
  static const uint8_t kFirst[] = "first ", kSecond[] = "second";
  // Data arrives on A in the batch that also says the connection left: the
  // handler call it was owed happens on B, with the data.
  ca.push(IX_EV_TCP_RECV, cookie, kOld, kFirst, 6);
  ca.push(IX_EV_TCP_MOVED_OUT, cookie, kOld, nullptr, 1);
  a->poll();
  EXPECT_TRUE(conn.got.empty()) << "no handler ran on the old thread after the move";
  EXPECT_FALSE(conn.attached()) << "in transit: the old Ixev forgot it";
  EXPECT_EQ(a->stats().moved_out, 1u);

  cb.push(IX_EV_TCP_MOVED_IN, cookie, kNew, nullptr, 1);
  cb.push(IX_EV_TCP_RECV, cookie, kNew, kSecond, 6);
  b->poll();
  EXPECT_EQ(conn.moves, 1);
  EXPECT_EQ(conn.loop, b.get());
  EXPECT_TRUE(conn.attached());
  EXPECT_EQ(conn.got, "first second") << "what A had received reached the Conn on B";
  EXPECT_EQ(b->stats().moved_in, 1u);
  EXPECT_EQ(b->stats().move_waits, 0u);
  // B gives every byte back under the new handle.
  b->poll();
  const ix_cmd *done = cb.last(IX_CMD_TCP_RECV_DONE);
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->u.tcp_recv_done.handle, kNew);
  EXPECT_EQ(done->u.tcp_recv_done.bytes, 12u);
  // Sends go out on B, under the new handle.
  ASSERT_EQ(b->send(conn, "reply", 5), 5);
  b->poll();
  const ix_cmd *send = cb.last(IX_CMD_TCP_SENDV);
  ASSERT_NE(send, nullptr);
  EXPECT_EQ(send->u.tcp_sendv.handle, kNew);
  EXPECT_EQ(a->connections(), 0u);
  EXPECT_EQ(b->connections(), 1u);
}

TEST_F(IxevHandoff, CommandsAnsweredMovedAreIssuedAgainByTheNewEngine) {
  ASSERT_EQ(a->send(conn, "queued", 6), 6);
  ca.answer = [](const ix_cmd &c) { return c.op == IX_CMD_TCP_SENDV ? IX_EMOVED : IX_OK; };
  a->poll();  // the sendv is answered IX_EMOVED and undone
  EXPECT_EQ(a->stats().commands_moved, 1u);
  EXPECT_EQ(a->stats().command_errors, 0u);
  ca.push(IX_EV_TCP_MOVED_OUT, cookie, kOld, nullptr, 1);
  a->poll();
  cb.push(IX_EV_TCP_MOVED_IN, cookie, kNew, nullptr, 1);
  b->poll();
  b->poll();
  const ix_cmd *send = cb.last(IX_CMD_TCP_SENDV);
  ASSERT_NE(send, nullptr) << "the new engine sends what the old one could not";
  EXPECT_EQ(send->u.tcp_sendv.handle, kNew);
  ASSERT_EQ(send->u.tcp_sendv.iovcnt, 1u);
  EXPECT_EQ(std::string(static_cast<const char *>(send->u.tcp_sendv.iov[0].base),
                        send->u.tcp_sendv.iov[0].len),
            "queued");
}

TEST_F(IxevHandoff, AnArrivalWhoseOldEngineNeverLetsGoIsResetOnBothSides) {
  cb.push(IX_EV_TCP_MOVED_IN, cookie, kNew, nullptr, 1);
  b->poll();  // waits move_patience_ms, then gives up
  EXPECT_EQ(b->stats().moves_lost, 1u);
  EXPECT_EQ(b->connections(), 0u);
  cb.push(IX_EV_TCP_RECV, cookie, kNew, reinterpret_cast<const uint8_t *>("x"), 1);
  b->poll();  // the reset goes out; a late event for it is dropped
  const ix_cmd *abort = cb.last(IX_CMD_TCP_ABORT);
  ASSERT_NE(abort, nullptr);
  EXPECT_EQ(abort->u.tcp_conn.handle, kNew);
  EXPECT_EQ(conn.hangup, 1) << "nothing told on B: the slot was never B's";
  // The old engine gets to its MOVED_OUT late: it keeps the connection and
  // ends it there, so its Conn hears the end.
  ca.push(IX_EV_TCP_MOVED_OUT, cookie, kOld, nullptr, 1);
  a->poll();
  EXPECT_EQ(conn.hangup, IX_ECONNRESET);
  EXPECT_EQ(a->connections(), 0u);
}

}  // namespace
}  // namespace ix
