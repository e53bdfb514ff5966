// The batched system-call interface, TCP part: two elastic threads over the
// loop wire, driven only through ix_run_io with a manual clock.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/io_context.hh"
#include "core/elastic_thread.hh"
#include "drivers/loop/loop_wire.hh"
#include "ix/ix.hh"
#include "timing/clock.hh"

namespace ix {
namespace {

constexpr uint32_t kAddrA = (10u << 24) | 1;
constexpr uint32_t kAddrB = (10u << 24) | 2;

core::ElasticThreadConfig config_for(unsigned id, net::MacAddr mac, uint32_t addr) {
  core::ElasticThreadConfig c;
  c.id = id;
  c.pool.count = 2048;
  c.pool.try_huge_pages = false;
  c.stack.mac = mac;
  c.stack.addr = net::Ipv4Addr{addr};
  c.stack.prefix_len = 8;
  c.stack.gratuitous_arp = false;
  c.stack.tcp.prefetch_min_conns = 0;  // every batch's commands prefetched
  return c;
}

class RunIoTcp : public ::testing::Test {
 protected:
  RunIoTcp()
      : wire_(clock_),
        pa_(wire_.add_port({.name = "a", .mac = mac_a_, .queues = 1})),
        pb_(wire_.add_port({.name = "b", .mac = mac_b_, .queues = 1})),
        ta_(config_for(0, mac_a_, kAddrA), pa_, clock_),
        tb_(config_for(1, mac_b_, kAddrB), pb_, clock_),
        a_(ta_, nullptr),
        b_(tb_, nullptr) {}

  ix_cmd run(ix_ctx &ctx, ix_cmd c, std::vector<ix_event> &out) {
    ix_event evs[64];
    const int n = ix_run_io(&ctx, &c, 1, evs, 64);
    out.insert(out.end(), evs, evs + std::max(n, 0));
    return c;
  }
  void pump(int rounds = 20) {
    for (int i = 0; i < rounds; ++i) {
      clock_.advance(50'000);
      ix_event evs[64];
      int n = ix_run_io(&a_, nullptr, 0, evs, 64);
      ev_a_.insert(ev_a_.end(), evs, evs + n);
      n = ix_run_io(&b_, nullptr, 0, evs, 64);
      ev_b_.insert(ev_b_.end(), evs, evs + n);
    }
  }
  static std::vector<ix_event> take(std::vector<ix_event> &evs, uint16_t type) {
    std::vector<ix_event> out, rest;
    for (auto &e : evs) (e.type == type ? out : rest).push_back(e);
    evs.swap(rest);
    return out;
  }
  static ix_cmd cmd(uint16_t op, uint64_t cookie = 0) {
    ix_cmd c{};
    c.op = op;
    c.cookie = cookie;
    return c;
  }

  // Opens a connection a -> b:port; returns (a's handle, b's handle).
  std::pair<ix_tcp_handle, ix_tcp_handle> open(uint16_t port) {
    ix_cmd l = cmd(IX_CMD_TCP_LISTEN, 500);
    l.u.tcp_listen.port = port;
    EXPECT_EQ(run(b_, l, ev_b_).result, IX_OK);
    ix_cmd c = cmd(IX_CMD_TCP_CONNECT, 100);
    c.u.tcp_connect.dst = ix_endpoint{kAddrB, port, 0};
    c = run(a_, c, ev_a_);
    EXPECT_EQ(c.result, IX_OK);
    const ix_tcp_handle ha = c.u.tcp_conn.handle;
    pump();
    auto knocks = take(ev_b_, IX_EV_TCP_KNOCK);
    EXPECT_EQ(knocks.size(), 1u);
    if (knocks.empty()) return {ha, 0};
    EXPECT_EQ(knocks[0].cookie, 500u);
    EXPECT_EQ(knocks[0].u.tcp_knock.src.addr, kAddrA);
    EXPECT_EQ(knocks[0].u.tcp_knock.dst.port, port);
    const ix_tcp_handle hb = knocks[0].u.tcp_knock.handle;
    ix_cmd acc = cmd(IX_CMD_TCP_ACCEPT, 200);
    acc.u.tcp_conn.handle = hb;
    EXPECT_EQ(run(b_, acc, ev_b_).result, IX_OK);
    auto connected = take(ev_a_, IX_EV_TCP_CONNECTED);
    EXPECT_EQ(connected.size(), 1u);
    if (!connected.empty()) {
      EXPECT_EQ(connected[0].result, IX_OK);
      EXPECT_EQ(connected[0].cookie, 100u);
      EXPECT_EQ(connected[0].u.tcp.handle, ha);
    }
    return {ha, hb};
  }

  net::MacAddr mac_a_{{0x02, 0, 0, 0, 0, 0x0a}};
  net::MacAddr mac_b_{{0x02, 0, 0, 0, 0, 0x0b}};
  timing::ManualClock clock_;
  drivers::LoopWire wire_;
  drivers::LoopPort &pa_;
  drivers::LoopPort &pb_;
  core::ElasticThread ta_;
  core::ElasticThread tb_;
  api::LocalContext a_;
  api::LocalContext b_;
  std::vector<ix_event> ev_a_, ev_b_;
};

TEST_F(RunIoTcp, ConnectSendReceiveAndCloseThroughCommands) {
  auto [ha, hb] = open(80);
  ASSERT_NE(hb, 0u);

  // a sends two pieces with one sendv; the memory stays a's until SENT.
  const std::string part1 = "hello, ", part2 = "tcp over run_io";
  ix_iovec iov[2] = {{part1.data(), part1.size()}, {part2.data(), part2.size()}};
  ix_cmd s = cmd(IX_CMD_TCP_SENDV);
  s.u.tcp_sendv = {ha, iov, 2};
  EXPECT_EQ(run(a_, s, ev_a_).result, static_cast<int>(part1.size() + part2.size()));
  pump();

  std::string got;
  uint64_t bytes = 0;
  for (auto &e : take(ev_b_, IX_EV_TCP_RECV)) {
    EXPECT_EQ(e.cookie, 200u);
    EXPECT_EQ(e.u.tcp.handle, hb);
    got.append(reinterpret_cast<const char *>(e.u.tcp.data), e.u.tcp.len);
    bytes += e.u.tcp.len;
  }
  EXPECT_EQ(got, part1 + part2);
  ix_cmd done = cmd(IX_CMD_TCP_RECV_DONE);
  done.u.tcp_recv_done = {hb, bytes};
  EXPECT_EQ(run(b_, done, ev_b_).result, IX_OK);
  uint64_t acked = 0;
  for (auto &e : take(ev_a_, IX_EV_TCP_SENT)) acked += e.u.tcp.len;
  pump();
  for (auto &e : take(ev_a_, IX_EV_TCP_SENT)) acked += e.u.tcp.len;
  EXPECT_EQ(acked, part1.size() + part2.size());

  // Both close; each side hears the peer's FIN (recv len 0) and then DEAD(OK).
  ix_cmd close_a = cmd(IX_CMD_TCP_CLOSE);
  close_a.u.tcp_conn.handle = ha;
  EXPECT_EQ(run(a_, close_a, ev_a_).result, IX_OK);
  pump();
  auto fin = take(ev_b_, IX_EV_TCP_RECV);
  ASSERT_EQ(fin.size(), 1u);
  EXPECT_EQ(fin[0].u.tcp.len, 0u);
  ix_cmd close_b = cmd(IX_CMD_TCP_CLOSE);
  close_b.u.tcp_conn.handle = hb;
  EXPECT_EQ(run(b_, close_b, ev_b_).result, IX_OK);
  pump(40);
  auto dead_b = take(ev_b_, IX_EV_TCP_DEAD);
  ASSERT_EQ(dead_b.size(), 1u);
  EXPECT_EQ(dead_b[0].result, IX_OK);
  // a is in TIME_WAIT; it reports DEAD(OK) once both FINs are acknowledged.
  auto dead_a = take(ev_a_, IX_EV_TCP_DEAD);
  ASSERT_EQ(dead_a.size(), 1u);
  EXPECT_EQ(dead_a[0].result, IX_OK);

  // The handles are stale now.
  ix_cmd again = cmd(IX_CMD_TCP_SENDV);
  again.u.tcp_sendv = {ha, iov, 1};
  EXPECT_EQ(run(a_, again, ev_a_).result, IX_EBADH);
}

TEST_F(RunIoTcp, HandlesAreCheckedAndRefusalsReported) {
  auto [ha, hb] = open(81);
  ASSERT_NE(hb, 0u);
  // A handle from another thread (b's, used on a) is refused, as is garbage.
  ix_cmd wrong = cmd(IX_CMD_TCP_CLOSE);
  wrong.u.tcp_conn.handle = hb;
  EXPECT_EQ(run(a_, wrong, ev_a_).result, IX_EBADH);
  wrong.u.tcp_conn.handle = 0;
  EXPECT_EQ(run(a_, wrong, ev_a_).result, IX_EBADH);
  // Per-connection options: coalescing and keep-alive on a live handle.
  ix_cmd opt = cmd(IX_CMD_TCP_SET_COALESCING);
  opt.u.tcp_option = {ha, 1};
  EXPECT_EQ(run(a_, opt, ev_a_).result, IX_OK);
  opt.op = IX_CMD_TCP_SET_KEEPALIVE;
  EXPECT_EQ(run(a_, opt, ev_a_).result, IX_OK);
  opt.u.tcp_option = {hb, 1};  // b's handle on a
  EXPECT_EQ(run(a_, opt, ev_a_).result, IX_EBADH);
  ix_cmd bad_iov = cmd(IX_CMD_TCP_SENDV);
  bad_iov.u.tcp_sendv = {ha, nullptr, 3};
  EXPECT_EQ(run(a_, bad_iov, ev_a_).result, IX_EINVAL);
  // A batch naming slots that do not exist (far past the table, or every
  // bit set): prefetched without harm, each refused.
  ix_cmd batch[4] = {cmd(IX_CMD_TCP_SENDV), cmd(IX_CMD_TCP_RECV_DONE), cmd(IX_CMD_TCP_SENDV),
                     cmd(IX_CMD_TCP_RECV_DONE)};
  batch[0].u.tcp_sendv = {ha | 0xfffff0, nullptr, 0};
  batch[1].u.tcp_recv_done = {~uint64_t{0}, 1};
  batch[2].u.tcp_sendv = {hb, nullptr, 0};
  batch[3].u.tcp_recv_done = {ha ^ (uint64_t{1} << 24), 1};  // another generation
  ix_event evs[16];
  ASSERT_GE(ix_run_io(&a_, batch, 4, evs, 16), 0);
  for (const ix_cmd &b : batch) EXPECT_EQ(b.result, IX_EBADH);

  // Connecting to a port nobody listens on: CONNECTED with CONNREFUSED.
  ix_cmd c = cmd(IX_CMD_TCP_CONNECT, 7);
  c.u.tcp_connect.dst = ix_endpoint{kAddrB, 9999, 0};
  EXPECT_EQ(run(a_, c, ev_a_).result, IX_OK);
  pump();
  auto refused = take(ev_a_, IX_EV_TCP_CONNECTED);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].result, IX_ECONNREFUSED);
  EXPECT_EQ(refused[0].cookie, 7u);

  // Abort resets the peer: b hears DEAD(CONNRESET).
  ix_cmd abort = cmd(IX_CMD_TCP_ABORT);
  abort.u.tcp_conn.handle = ha;
  EXPECT_EQ(run(a_, abort, ev_a_).result, IX_OK);
  pump();
  auto dead = take(ev_b_, IX_EV_TCP_DEAD);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].result, IX_ECONNRESET);
}

TEST_F(RunIoTcp, TheCppBatchBuildsTheSameCommands) {
  // ix::Batch (the thin C++ layer) drives a whole exchange.
  ix::Batch b(64), a(64);
  b.tcp_listen(90, 1);
  b.run(&b_);
  ASSERT_EQ(b.commands()[0].result, IX_OK);
  b.clear();
  a.tcp_connect(ix_endpoint{kAddrB, 90, 0}, 2);
  a.run(&a_);
  ASSERT_EQ(a.commands()[0].result, IX_OK);
  const ix_tcp_handle ha = a.commands()[0].u.tcp_conn.handle;
  a.clear();
  pump();
  auto knocks = take(ev_b_, IX_EV_TCP_KNOCK);
  ASSERT_EQ(knocks.size(), 1u);
  b.tcp_accept(knocks[0].u.tcp_knock.handle, 3);
  b.tcp_set_coalescing(knocks[0].u.tcp_knock.handle, true);
  for (const ix_event &e : b.run(&b_)) ev_b_.push_back(e);
  EXPECT_EQ(b.commands()[0].result, IX_OK);
  EXPECT_EQ(b.commands()[1].result, IX_OK);
  b.clear();
  static const char msg[] = "batch";
  const ix_iovec iov{msg, 5};
  a.tcp_sendv(ha, &iov, 1);
  a.run(&a_);
  EXPECT_EQ(a.commands()[0].result, 5);
  a.clear();
  pump();
  auto got = take(ev_b_, IX_EV_TCP_RECV);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(got[0].u.tcp.data), got[0].u.tcp.len),
            "batch");
  b.tcp_recv_done(got[0].u.tcp.handle, got[0].u.tcp.len);
  b.tcp_abort(got[0].u.tcp.handle);
  b.run(&b_);
  EXPECT_EQ(b.commands()[0].result, IX_OK);
  EXPECT_EQ(b.commands()[1].result, IX_OK);
}

}  // namespace
}  // namespace ix
