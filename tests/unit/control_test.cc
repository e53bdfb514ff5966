// The control channel: the per-connection snapshot (taken a few table slots
// at a time) and its text and JSON forms; the slot that hands tasks to an
// elastic thread; the commands against a running Runtime whose threads hold
// real connections from a peer on the loop wire; and the Unix socket server.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/context_runner.hh"
#include "control/conn_report.hh"
#include "control/control_commands.hh"
#include "control/control_server.hh"
#include "control/control_tasks.hh"
#include "core/elastic_thread.hh"
#include "core/runtime.hh"
#include "net/tcp/conn_info.hh"
#include "tcp_fixture.hh"

namespace ix::control {
namespace {

using net::tcp::ConnHandle;
using net::tcp::ConnInfo;
using net::tcp::TcpState;

std::vector<std::string> lines_of(const std::string &s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

size_t count_of(const std::string &s, const std::string &what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// ---- snapshot and formats, on the loop wire with a manual clock ----

class ConnSnapshotTest : public net::tcp::test::TcpPairTest {};

TEST_F(ConnSnapshotTest, CopiesWhatTheConnectionStateSays) {
  latency_ns = 3'000'000;  // an RTT the millisecond timestamps can measure
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  ASSERT_TRUE(transfer(*A, ha, net::tcp::test::pattern(50'000), *B, hb));
  std::vector<ConnInfo> out;
  const auto &table = A->tcp().table();
  uint32_t cursor = 0, calls = 0;
  while (cursor < table.slots_made()) {
    cursor = net::tcp::collect_conn_info(table, cursor, 1, out);
    ++calls;
  }
  EXPECT_EQ(calls, table.slots_made()) << "one slot per call";
  ASSERT_EQ(out.size(), 1u);
  const net::tcp::Tcb *t = A->tcp().tcb_of(ha);
  const ConnInfo &c = out[0];
  EXPECT_EQ(c.state, TcpState::kEstablished);
  EXPECT_EQ(c.local, net::tcp::test::kIpA);
  EXPECT_EQ(c.remote, net::tcp::test::kIpB);
  EXPECT_EQ(c.lport, t->lport);
  EXPECT_EQ(c.rport, 80);
  EXPECT_EQ(c.mss, 1448);
  EXPECT_EQ(c.cwnd, t->cc.cwnd());
  EXPECT_EQ(c.ssthresh, ConnInfo::kNoSsthresh) << "no loss on this wire";
  EXPECT_EQ(c.in_flight, t->snd_max - t->snd_una);
  EXPECT_EQ(c.send_queue, t->sq_bytes);
  EXPECT_GE(c.srtt_ns, 6'000'000u);
  EXPECT_EQ(c.srtt_ns, t->rtt.srtt_ns());
  EXPECT_EQ(c.rto_ns, t->rtt.rto_ns());
  EXPECT_EQ(c.retransmits, 0u);
  EXPECT_EQ(c.snd_wnd, t->snd_wnd);

  std::ostringstream text;
  write_conns_text(text, {{3, out}});
  const std::string want = "ESTABLISHED 10.0.0.1:" + std::to_string(t->lport) +
                           " 10.0.0.2:80 thread:3 group:" + std::to_string(t->flow_group) +
                           " cc:cubic mss:1448 cwnd:" + std::to_string(t->cc.cwnd()) +
                           " ssthresh:- srtt_us:" + std::to_string(t->rtt.srtt_ns() / 1000);
  EXPECT_EQ(text.str().rfind(want, 0), 0u) << text.str();
  EXPECT_EQ(lines_of(text.str()).size(), 1u);
}

TEST_F(ConnSnapshotTest, WalksTheTableInChunksAndSeesEveryConnectionOnce) {
  start();
  for (uint16_t i = 0; i < 30; ++i)
    ASSERT_NE(connect_pair(static_cast<uint16_t>(100 + i)).second, 0u);
  // Some gaps: closed connections leave free slots behind.
  const auto &conns = A->app.conns;
  unsigned aborted = 0;
  for (const auto &[h, log] : conns)
    if (aborted < 5 && h % 3 == 0 && A->tcp().abort(h) == IX_OK) ++aborted;
  const uint32_t live = A->tcp().connections();
  ASSERT_EQ(live, 30u - aborted);

  std::vector<ConnInfo> out;
  const auto &table = A->tcp().table();
  uint32_t cursor = 0, calls = 0;
  while (cursor < table.slots_made()) {
    cursor = net::tcp::collect_conn_info(table, cursor, 7, out);
    ++calls;
  }
  EXPECT_EQ(calls, (table.slots_made() + 6) / 7);
  ASSERT_EQ(out.size(), live);
  std::set<uint16_t> ports;
  for (const ConnInfo &c : out) ports.insert(c.rport);
  EXPECT_EQ(ports.size(), live) << "no connection twice";
}

TEST(ConnReport, JsonHasEveryFieldAndEscapesErrors) {
  ConnInfo c;
  c.local = net::ipv4(10, 0, 0, 2);
  c.lport = 7;
  c.remote = net::ipv4(10, 0, 0, 1);
  c.rport = 40000;
  c.state = TcpState::kFinWait2;
  c.mss = 1448;
  c.cwnd = 14480;
  c.ssthresh = ConnInfo::kNoSsthresh;
  c.rto_ns = 200'000'000;
  ConnInfo d = c;
  d.ssthresh = 28960;
  d.in_recovery = true;
  d.rport = 40001;
  std::ostringstream os;
  write_conns_json(os, {{0, {c}}, {1, {d}}}, {"thread 2: \"odd\"\\\n"});
  const std::string j = os.str();
  EXPECT_EQ(j.rfind("{\"conns\":[{\"thread\":0,\"state\":\"FIN_WAIT_2\",\"local\":\"10.0.0.2:7\","
                    "\"remote\":\"10.0.0.1:40000\",",
                    0),
            0u)
      << j;
  EXPECT_EQ(count_of(j, "\"ssthresh\":null"), 1u);
  EXPECT_EQ(count_of(j, "\"ssthresh\":28960"), 1u);
  EXPECT_EQ(count_of(j, "\"in_recovery\":true"), 1u);
  EXPECT_EQ(count_of(j, "\"rto_ms\":200"), 2u);
  EXPECT_NE(j.find("\"errors\":[\"thread 2: \\\"odd\\\"\\\\\\u000a\"]}"), std::string::npos) << j;

  std::ostringstream text;
  write_conns_text(text, {{1, {d}}});
  EXPECT_NE(text.str().find(" ssthresh:28960 "), std::string::npos);
  EXPECT_NE(text.str().find(" recovery\n"), std::string::npos);
}

// ---- the slot between the control thread and an elastic thread ----

class StepsTask final : public core::ControlTask {
 public:
  explicit StepsTask(int steps) : left_(steps) {}
  bool step(core::ElasticThread &) override { return --left_ == 0; }
  int left() const { return left_; }

 private:
  int left_;
};

TEST(ControlSlot, OneTaskAtATimeServedStepByStep) {
  timing::ManualClock clock;
  drivers::LoopWire wire(clock);
  auto &port = wire.add_port({.name = "a", .mac = net::tcp::test::kMacA, .queues = 1});
  core::ElasticThreadConfig cfg;
  cfg.pool.count = 256;
  cfg.pool.try_huge_pages = false;
  cfg.stack.mac = net::tcp::test::kMacA;
  cfg.stack.addr = net::tcp::test::kIpA;
  cfg.stack.gratuitous_arp = false;
  core::ElasticThread thread(cfg, port, clock);
  core::ControlSlot slot;
  thread.serve_control();  // no slot yet: nothing to do
  thread.set_control_slot(&slot);
  thread.serve_control();  // nothing posted
  EXPECT_TRUE(slot.idle());
  EXPECT_EQ(slot.finished(), nullptr);

  ASSERT_TRUE(slot.post(std::make_unique<StepsTask>(3)));
  EXPECT_FALSE(slot.idle());
  EXPECT_FALSE(slot.post(std::make_unique<StepsTask>(1))) << "busy until the first is done";
  thread.serve_control();
  thread.serve_control();
  EXPECT_FALSE(slot.idle());
  thread.serve_control();
  ASSERT_TRUE(slot.idle());
  EXPECT_EQ(static_cast<StepsTask *>(slot.finished())->left(), 0);
  thread.serve_control();  // done: not stepped again
  EXPECT_EQ(static_cast<StepsTask *>(slot.finished())->left(), 0);

  // An empty connection table is copied in one step.
  ASSERT_TRUE(slot.post(std::make_unique<ConnSnapshotTask>()));
  thread.serve_control();
  ASSERT_TRUE(slot.idle());
  EXPECT_TRUE(static_cast<ConnSnapshotTask *>(slot.finished())->conns().empty());
}

// ---- the commands against a running dataplane ----

const net::MacAddr kIxMac{{0x02, 0, 0, 0, 0, 0x1b}}, kPeerMac{{0x02, 0, 0, 0, 0, 0x1a}};
const net::Ipv4Addr kIxIp = net::ipv4(10, 9, 0, 2), kPeerIp = net::ipv4(10, 9, 0, 1);

// Accepts every connection on port 7 and consumes what arrives, until stopped.
void accepting_app(ix_ctx *ctx) {
  std::vector<ix_cmd> cmds(1);
  cmds[0] = ix_cmd{};
  cmds[0].op = IX_CMD_TCP_LISTEN;
  cmds[0].u.tcp_listen.port = 7;
  std::vector<ix_event> evs(64);
  while (!ix_should_stop(ctx)) {
    const int n = ix_run_io(ctx, cmds.data(), cmds.size(), evs.data(), evs.size());
    cmds.clear();
    for (int i = 0; i < n; ++i) {
      const ix_event &e = evs[static_cast<size_t>(i)];
      ix_cmd c{};
      if (e.type == IX_EV_TCP_KNOCK) {
        c.op = IX_CMD_TCP_ACCEPT;
        c.u.tcp_conn.handle = e.u.tcp_knock.handle;
        cmds.push_back(c);
      } else if (e.type == IX_EV_TCP_RECV && e.u.tcp.len > 0) {
        c.op = IX_CMD_TCP_RECV_DONE;
        c.u.tcp_recv_done.handle = e.u.tcp.handle;
        c.u.tcp_recv_done.bytes = e.u.tcp.len;
        cmds.push_back(c);
      }
    }
  }
}

TEST(ControlCommands, ListTheConnectionsOfEveryThreadAndAnswerBadCommands) {
  timing::MonotonicClock clock;
  drivers::LoopWire wire(clock);
  auto &ix_port = wire.add_port({.name = "ix", .mac = kIxMac, .queues = 2});
  auto &peer_port = wire.add_port({.name = "peer", .mac = kPeerMac, .queues = 1});
  core::RuntimeConfig rc;
  rc.cores = {-1, -1};
  rc.mbufs_per_core = 2048;
  rc.stack.mac = kIxMac;
  rc.stack.addr = kIxIp;
  rc.stack.prefix_len = 24;
  core::Runtime runtime(ix_port, rc);
  // Stops and joins the dataplane however the test ends.
  struct Running {
    core::Runtime &rt;
    std::thread thread;
    void stop() {
      rt.request_stop();
      if (thread.joinable()) thread.join();
    }
    ~Running() { stop(); }
  } ix_side{runtime, std::thread([&] { api::run_contexts(runtime, accepting_app); })};

  net::tcp::TcpConfig tcfg;
  tcfg.max_connections = 64;
  net::tcp::test::Host peer(peer_port, clock, kPeerMac, kPeerIp, tcfg, 2048);
  constexpr unsigned kConns = 12;
  unsigned opened = 0;
  std::set<uint16_t> established_ports;
  // A guard against hanging, far above the milliseconds this takes.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (established_ports.size() < kConns && std::chrono::steady_clock::now() < give_up) {
    // Connections refused before the threads listened are opened again.
    unsigned refused = 0;
    for (const auto &[h, log] : peer.app.conns) refused += log.connect_result < 0 ? 1 : 0;
    while (opened - refused < kConns) {
      ASSERT_GT(peer.tcp().connect(kIxIp, 7, 0, ++opened, &peer.app), 0);
    }
    peer.receive();
    peer.timers.advance(clock.now_ns());
    established_ports.clear();
    for (const auto &[h, log] : peer.app.conns)
      if (log.connected && !log.dead) established_ports.insert(peer.tcp().tcb_of(h)->lport);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  ASSERT_EQ(established_ports.size(), kConns);

  ControlCommands commands(runtime, &ix_port);
  // The server side may still be finishing handshakes (the peer's last ACKs):
  // ask until every connection shows ESTABLISHED there too.
  std::string conns;
  std::vector<std::string> lines;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    conns = commands.execute("conns");
    lines = lines_of(conns);
    if (count_of(conns, "ESTABLISHED ") == kConns) break;
    peer.receive();
    peer.timers.advance(clock.now_ns());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(lines.size(), kConns) << conns;
  std::set<uint16_t> listed;
  std::set<std::string> threads_seen;
  for (const std::string &l : lines) {
    SCOPED_TRACE(l);
    ASSERT_EQ(l.rfind("ESTABLISHED 10.9.0.2:7 10.9.0.1:", 0), 0u);
    listed.insert(static_cast<uint16_t>(std::stoi(l.substr(32))));
    threads_seen.insert(l.substr(l.find(" thread:") + 8, 1));
    EXPECT_NE(l.find(" mss:1448 "), std::string::npos);
    EXPECT_NE(l.find(" in_flight:0 "), std::string::npos);
  }
  EXPECT_EQ(listed, established_ports) << "each connection once, by its port";
  EXPECT_EQ(threads_seen.size(), 2u) << "12 flows land on both threads (RSS)";

  const std::string json = commands.execute("conns json");
  EXPECT_EQ(count_of(json, "\"state\":\"ESTABLISHED\""), kConns);
  EXPECT_NE(json.find("\"errors\":[]"), std::string::npos);

  const std::string stats = commands.execute("stats");
  EXPECT_EQ(stats.rfind("{\"threads\":[{\"id\":0,", 0), 0u);
  EXPECT_NE(stats.find("{\"id\":1,"), std::string::npos);
  EXPECT_NE(stats.find("\"passive_opens\":"), std::string::npos);
  EXPECT_EQ(stats.back(), '\n');

  for (const char *bad : {"", "   ", "bogus", "conns xml", "stats now", "help me", "CONNS"}) {
    const std::string a = commands.execute(bad);
    EXPECT_EQ(a.rfind("error: ", 0), 0u) << "'" << bad << "': " << a;
    EXPECT_EQ(lines_of(a).size(), 1u) << a;
  }
  EXPECT_NE(commands.execute("bogus\x01\xff")
                .find("'bogus?"
                      "?'"),
            std::string::npos);
  EXPECT_EQ(commands.execute("help"),
            "commands: stats, conns, conns json, groups, move G T, park T, resume T, cores N, "
            "elastic, status, help\n");
  EXPECT_EQ(commands.execute("elastic"),
            "error: the control plane is off (start with --elastic on)\n");
  {
    const std::string status = commands.execute("status");
    EXPECT_EQ(status.rfind("thread 0 running groups ", 0), 0u) << status;
    EXPECT_NE(status.find("\npolicy: off (start with --elastic on)\n"), std::string::npos)
        << status;
    EXPECT_EQ(commands.execute("status now").rfind("error: ", 0), 0u);
  }
  EXPECT_EQ(count_of(commands.execute(" conns  json \r"), "\"state\":\"ESTABLISHED\""), kConns)
      << "words split on any blanks";

  ix_side.stop();
  // Every thread has left its loop: each is reported, nothing hangs.
  const std::string after = commands.execute("conns");
  EXPECT_EQ(lines_of(after).size(), 2u) << after;
  EXPECT_EQ(after.rfind("error: thread 0: not running", 0), 0u) << after;
  EXPECT_EQ(commands.execute("stats").rfind("{\"threads\":[", 0), 0u) << "the last counters";
}

// ---- the socket ----

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ix-control-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/ctl.sock";
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }

  // What ixctl does: one line, then read to EOF.
  std::string ask(const std::string &request) {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path_.c_str(), path_.size());
    if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
      close(fd);
      return "connect failed";
    }
    for (size_t off = 0; off < request.size();) {
      const ssize_t n = send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    shutdown(fd, SHUT_WR);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;)
      out.append(buf, static_cast<size_t>(n));
    close(fd);
    return out;
  }

  std::string dir_, path_;
};

TEST_F(ControlServerTest, AnswersOneCommandPerConnection) {
  std::atomic<int> calls{0};
  {
    ControlServer server(path_, [&](std::string_view line) {
      ++calls;
      return "got [" + std::string(line) + "]\n";
    });
    struct stat st {};
    ASSERT_EQ(stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 077, 0u) << "only its owner may ask";
    EXPECT_EQ(ask("conns\n"), "got [conns]\n");
    EXPECT_EQ(ask("stats"), "got [stats]\n") << "EOF ends a command too";
    EXPECT_EQ(ask("conns json\nignored\n"), "got [conns json]\n");
    EXPECT_EQ(ask(std::string(ControlServer::kMaxLine + 10, 'x')).rfind("error: command line", 0),
              0u);
    EXPECT_EQ(calls.load(), 3);
    // A second server on the same live socket is refused.
    EXPECT_THROW(ControlServer(path_, [](std::string_view) { return std::string(); }),
                 std::runtime_error);
  }
  struct stat st {};
  EXPECT_NE(stat(path_.c_str(), &st), 0) << "the socket file is removed at the end";
}

TEST_F(ControlServerTest, ReplacesAStaleSocketButNoOtherFile) {
  {
    // A socket file nobody listens on: what a dataplane that crashed leaves.
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path_.c_str(), path_.size());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
    close(fd);
  }
  {
    ControlServer server(path_, [](std::string_view) { return std::string("ok\n"); });
    EXPECT_EQ(ask("x\n"), "ok\n");
  }
  std::ofstream(path_) << "not a socket";
  try {
    ControlServer server(path_, [](std::string_view) { return std::string(); });
    ADD_FAILURE() << "a regular file was replaced";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("exists and is not a socket"), std::string::npos);
  }
  EXPECT_THROW(ControlServer(dir_ + "/" + std::string(200, 'p'),
                             [](std::string_view) { return std::string(); }),
               std::runtime_error)
      << "longer than a Unix socket path can be";
}

TEST_F(ControlServerTest, AHandlerThatThrowsGivesAnErrorLine) {
  ControlServer server(
      path_, [](std::string_view) -> std::string { throw std::runtime_error("out of memory"); });
  EXPECT_EQ(ask("stats\n"), "error: out of memory\n");
  EXPECT_EQ(ask("stats\n"), "error: out of memory\n") << "and keeps serving";
}

}  // namespace
}  // namespace ix::control
