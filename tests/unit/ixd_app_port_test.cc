// The dataplane process's side of a channel (ixd::AppPort), driven by hand
// on one thread: the test plays the application, writing batches into the
// shared memory the way api::RemoteContext does (and the way a hostile one
// would), and a LocalContext on the other end of a loop wire plays the
// network peer.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "api/io_context.hh"
#include "core/elastic_thread.hh"
#include "drivers/loop/loop_wire.hh"
#include "ipc/channel.hh"
#include "ipc/log_arena.hh"
#include "ipc/shared_region.hh"
#include "ixd/app_port.hh"
#include "ixd/session.hh"
#include "net/tcp/moved_conn.hh"
#include "timing/clock.hh"

namespace ix {
namespace {

const net::MacAddr kDpMac{{0x02, 0, 0, 0, 0, 0x0d}}, kPeerMac{{0x02, 0, 0, 0, 0, 0x0e}};
const auto kDpIp = net::ipv4(10, 9, 0, 2), kPeerIp = net::ipv4(10, 9, 0, 1);

core::ElasticThreadConfig thread_config(net::MacAddr mac, net::Ipv4Addr addr) {
  core::ElasticThreadConfig c;
  c.pool.count = 2048;
  c.pool.try_huge_pages = false;
  c.stack.mac = mac;
  c.stack.addr = addr;
  c.stack.prefix_len = 24;
  c.stack.gratuitous_arp = false;
  return c;
}

ixd::SessionConfig small_session() {
  ixd::SessionConfig sc;
  sc.limits = {64, 256, 64};
  sc.send_region_bytes = 1 << 20;
  sc.recv_region_bytes = 64 << 10;
  return sc;
}

// The application's view of a session: its mappings, made from the
// descriptors the dataplane hands over, with the rights it gets.
struct AppSide {
  explicit AppSide(const ixd::Session &s) {
    const auto fds = s.fds_for_app();
    const auto &l = s.config().limits;
    layout = ipc::ChannelLayout::of(l);
    send = ipc::Mapping(fds[0], s.config().send_region_bytes, true);
    channel = ipc::Mapping(fds[1], layout.bytes, true);
    recv = ipc::Mapping(fds[2], s.config().recv_region_bytes, false);
  }
  ipc::ChannelHeader *hdr() { return reinterpret_cast<ipc::ChannelHeader *>(channel.data()); }
  ix_cmd *cmds() { return reinterpret_cast<ix_cmd *>(channel.data() + layout.cmds); }
  ix_iovec *iovs() { return reinterpret_cast<ix_iovec *>(channel.data() + layout.iovs); }
  ix_event *events() { return reinterpret_cast<ix_event *>(channel.data() + layout.events); }
  void post(const std::vector<ix_cmd> &batch, uint32_t events_wanted = 64) {
    for (size_t i = 0; i < batch.size(); ++i) cmds()[i] = batch[i];
    hdr()->ncmds = static_cast<uint32_t>(batch.size());
    hdr()->events_wanted = events_wanted;
    hdr()->request.store(hdr()->request.load() + 1);
  }
  std::vector<ix_event> answer() {
    EXPECT_EQ(hdr()->response.load(), hdr()->request.load()) << "no answer to the last batch";
    return std::vector<ix_event>(events(), events() + hdr()->nevents);
  }
  const uint8_t *data(const void *ref) {
    return recv.data() + ipc::ref_offset(reinterpret_cast<uintptr_t>(ref));
  }

  ipc::ChannelLayout layout{};
  ipc::Mapping send, channel, recv;
};

class AppPortTest : public ::testing::Test {
 protected:
  AppPortTest()
      : wire_(clock_),
        dp_port_(wire_.add_port({.name = "dp", .mac = kDpMac})),
        peer_port_(wire_.add_port({.name = "peer", .mac = kPeerMac})),
        dp_(thread_config(kDpMac, kDpIp), dp_port_, clock_),
        peer_(thread_config(kPeerMac, kPeerIp), peer_port_, clock_),
        peer_ctx_(peer_, nullptr) {
    dp_.stack().start();
    peer_.stack().start();
    idle_mbufs_ = dp_.pool().available();
  }

  std::unique_ptr<ixd::Session> attach(uint32_t id,
                                       const ixd::SessionConfig &config = small_session()) {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    close(sv[1]);
    auto s = std::make_unique<ixd::Session>(id, sv[0], 1, "test-app", 1, config);
    s->ports_live.store(1);
    return s;
  }

  // One iteration of the dataplane's loop (ixd::serve_applications) for the
  // given ports, and the peer's turn.
  void turn(std::initializer_list<ixd::AppPort *> ports) {
    clock_.advance(20'000);
    dp_.refresh_clock();
    for (auto *p : ports) p->take_request();
    dp_.flush_tx();
    dp_.poll();
    for (auto *p : ports) p->respond();
    peer_events_.clear();
    ix_event evs[64];
    const int n = ix_run_io(&peer_ctx_, peer_cmds_.data(), peer_cmds_.size(), evs, 64);
    for (size_t i = 0; i < peer_cmds_.size(); ++i) peer_results_.push_back(peer_cmds_[i]);
    peer_cmds_.clear();
    for (int i = 0; i < n; ++i) peer_events_.push_back(evs[i]);
    for (const ix_event &e : peer_events_) {
      if (e.type == IX_EV_TCP_RECV) {
        peer_rx_.append(reinterpret_cast<const char *>(e.u.tcp.data), e.u.tcp.len);
        ix_cmd d{};
        d.op = IX_CMD_TCP_RECV_DONE;
        d.u.tcp_recv_done.handle = e.u.tcp.handle;
        d.u.tcp_recv_done.bytes = e.u.tcp.len;
        peer_cmds_.push_back(d);
      }
      if (e.type == IX_EV_TCP_CONNECTED && e.result == IX_OK) {
        peer_conn_ = e.u.tcp.handle;
        peer_conns_.push_back(e.u.tcp.handle);
      }
      if (e.type == IX_EV_TCP_DEAD) peer_dead_result_ = e.result;
    }
  }

  void peer_connect(uint16_t port) {
    ix_cmd c{};
    c.op = IX_CMD_TCP_CONNECT;
    c.u.tcp_connect.dst = ix_endpoint{kDpIp.v, port, 0};
    peer_cmds_.push_back(c);
  }
  void peer_send(const std::string &s, uint64_t conn = 0) {
    peer_payloads_.push_back(s);
    iov_.push_back({peer_payloads_.back().data(), s.size()});
    ix_cmd c{};
    c.op = IX_CMD_TCP_SENDV;
    c.u.tcp_sendv.handle = conn != 0 ? conn : peer_conn_;
    c.u.tcp_sendv.iov = &iov_.back();
    c.u.tcp_sendv.iovcnt = 1;
    peer_cmds_.push_back(c);
  }

  static ix_cmd listen_cmd(uint16_t port) {
    ix_cmd c{};
    c.op = IX_CMD_TCP_LISTEN;
    c.u.tcp_listen.port = port;
    return c;
  }

  // A well-behaved echo application on `app`: accepts, echoes every byte
  // back by reference into its receive region, frees what was sent. Returns
  // the events it saw.
  std::vector<ix_event> echo_step(AppSide &app) {
    std::vector<ix_event> evs = app.answer();
    std::vector<ix_cmd> next;
    for (const ix_event &e : evs) {
      if (e.type == IX_EV_TCP_KNOCK) {
        ix_cmd a{};
        a.op = IX_CMD_TCP_ACCEPT;
        a.u.tcp_conn.handle = e.u.tcp_knock.handle;
        next.push_back(a);
        echo_conn_ = e.u.tcp_knock.handle;
      } else if (e.type == IX_EV_TCP_RECV && e.u.tcp.len > 0) {
        ix_iovec *iov = &app.iovs()[next.size()];
        *iov = ix_iovec{e.u.tcp.data, e.u.tcp.len};  // a Ref into the receive region
        ix_cmd s{};
        s.op = IX_CMD_TCP_SENDV;
        s.u.tcp_sendv.handle = e.u.tcp.handle;
        s.u.tcp_sendv.iov = reinterpret_cast<const ix_iovec *>(uintptr_t{next.size()});
        s.u.tcp_sendv.iovcnt = 1;
        next.push_back(s);
        pending_frees_.push_back(e.u.raw[ipc::kTcpRecvAllocWord]);
        app_rx_.append(reinterpret_cast<const char *>(app.data(e.u.tcp.data)), e.u.tcp.len);
      } else if (e.type == IX_EV_TCP_SENT) {
        // Echoed bytes acknowledged: their receive allocations are free.
        ix_cmd d{};
        d.op = IX_CMD_TCP_RECV_DONE;
        d.u.tcp_recv_done.handle = e.u.tcp.handle;
        d.u.tcp_recv_done.bytes = e.u.tcp.len;
        next.push_back(d);
        for (uint64_t id : pending_frees_) {
          ix_cmd f{};
          f.op = ipc::kCmdRxFree;
          f.u.raw[0] = id;
          next.push_back(f);
        }
        pending_frees_.clear();
      }
    }
    app.post(next);
    return evs;
  }

  timing::ManualClock clock_;
  drivers::LoopWire wire_;
  drivers::LoopPort &dp_port_, &peer_port_;
  core::ElasticThread dp_, peer_;
  api::LocalContext peer_ctx_;
  uint32_t idle_mbufs_ = 0;
  std::vector<ix_cmd> peer_cmds_, peer_results_;
  std::vector<ix_event> peer_events_;
  std::deque<std::string> peer_payloads_;  // stable addresses: sent zero copy
  std::vector<ix_iovec> iov_ = std::vector<ix_iovec>();
  std::string peer_rx_, app_rx_;
  uint64_t peer_conn_ = 0;
  std::vector<uint64_t> peer_conns_;
  int peer_dead_result_ = 1;
  uint64_t echo_conn_ = 0;
  std::vector<uint64_t> pending_frees_;
};

TEST_F(AppPortTest, EchoesThroughTheChannelWithDataInTheReadOnlyRegion) {
  iov_.reserve(64);
  auto s = attach(1);
  AppSide app(*s);
  auto port = std::make_unique<ixd::AppPort>(*s, dp_);
  app.post({listen_cmd(7)});
  turn({port.get()});
  ASSERT_EQ(app.cmds()[0].result, IX_OK);
  app.post({});
  peer_connect(7);
  for (int i = 0; i < 20 && peer_conn_ == 0; ++i) {
    turn({port.get()});
    echo_step(app);
  }
  ASSERT_NE(peer_conn_, 0u);
  std::string sent;
  for (int i = 0; i < 8; ++i) {
    const std::string msg = "message " + std::to_string(i) + std::string(100 * i, 'x');
    sent += msg;
    peer_send(msg);
    for (int k = 0; k < 6; ++k) {
      turn({port.get()});
      echo_step(app);
    }
  }
  for (int k = 0; k < 20 && peer_rx_.size() < sent.size(); ++k) {
    turn({port.get()});
    echo_step(app);
  }
  EXPECT_EQ(app_rx_, sent);   // read by the application in its read-only mapping
  EXPECT_EQ(peer_rx_, sent);  // and sent back by reference
  EXPECT_EQ(port->counters().rx_bytes_copied, sent.size());
  EXPECT_EQ(port->counters().bad_rx_frees, 0u);
  EXPECT_EQ(port->counters().rejected_bad_ref + port->counters().rejected_bad_handle, 0u);
}

TEST_F(AppPortTest, RegionsAreSealedAndTheReceiveRegionIsReadOnlyToTheApplication) {
  auto s = attach(1);
  const auto fds = s->fds_for_app();
  const size_t recv_bytes = s->config().recv_region_bytes;
  // A writable shared mapping of the receive region is refused outright...
  void *w = mmap(nullptr, recv_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fds[2], 0);
  EXPECT_EQ(w, MAP_FAILED);
  // ... and a read-only one cannot be made writable.
  void *r = mmap(nullptr, recv_bytes, PROT_READ, MAP_SHARED, fds[2], 0);
  ASSERT_NE(r, MAP_FAILED);
  EXPECT_NE(mprotect(r, recv_bytes, PROT_READ | PROT_WRITE), 0);
  munmap(r, recv_bytes);
  // No region can be shrunk under the dataplane's mappings.
  for (int fd : fds) EXPECT_NE(ftruncate(fd, 0), 0) << "fd " << fd;
  EXPECT_NE(ftruncate(fds[0], static_cast<off_t>(s->config().send_region_bytes) * 2), 0);
}

TEST_F(AppPortTest, AScribblerIsRejectedCommandByCommandWhileAnotherApplicationEchoes) {
  iov_.reserve(4096);
  auto good = attach(1), bad = attach(2);
  AppSide app(*good), scribbler(*bad);
  auto gp = std::make_unique<ixd::AppPort>(*good, dp_);
  auto bp = std::make_unique<ixd::AppPort>(*bad, dp_);
  app.post({listen_cmd(7)});
  turn({gp.get(), bp.get()});
  app.post({});
  peer_connect(7);
  for (int i = 0; i < 20 && (peer_conn_ == 0 || echo_conn_ == 0); ++i) {
    turn({gp.get(), bp.get()});
    echo_step(app);
  }
  ASSERT_NE(peer_conn_, 0u);
  ASSERT_NE(echo_conn_, 0u);

  std::mt19937_64 rng(12345);
  const uint16_t ops[] = {IX_CMD_TCP_SENDV,     IX_CMD_TCP_CLOSE,         IX_CMD_TCP_ABORT,
                          IX_CMD_TCP_RECV_DONE, IX_CMD_UDP_SEND,          IX_CMD_UDP_RECV_DONE,
                          IX_CMD_TCP_ACCEPT,    IX_CMD_TCP_SET_KEEPALIVE, ipc::kCmdRxFree,
                          IX_CMD_TCP_LISTEN,    IX_CMD_TCP_UNLISTEN,      999};
  std::string sent;
  for (int round = 0; round < 400; ++round) {
    // Garbage over every byte of the scribbler's channel, then commands that
    // look real: the other application's connection, iovecs and data
    // outside its regions, counts past the end.
    for (size_t i = 0; i < scribbler.channel.size(); i += 8) {
      const uint64_t v = rng();
      std::memcpy(scribbler.channel.data() + i, &v, 8);
    }
    auto *cmds = scribbler.cmds();
    for (uint32_t i = 0; i < 64; ++i) {
      ix_cmd c{};
      c.op = ops[rng() % std::size(ops)];
      c.u.raw[0] = rng() % 3 == 0 ? echo_conn_ : rng();  // the good application's handle
      c.u.raw[1] = rng() % 2 ? rng() : ipc::make_ref(ipc::Region::kSend, rng() % (2 << 20));
      c.u.raw[2] = rng() % 2 ? rng() % 300 : rng();
      if (c.op == IX_CMD_TCP_LISTEN || c.op == IX_CMD_TCP_UNLISTEN) c.u.raw[0] = 7;
      cmds[i] = c;
    }
    scribbler.hdr()->ncmds = static_cast<uint32_t>(rng());
    scribbler.hdr()->events_wanted = static_cast<uint32_t>(rng());
    scribbler.hdr()->request.store(static_cast<uint32_t>(rng()));
    if (round % 20 == 0) {
      const std::string msg = "round " + std::to_string(round) + " ";
      sent += msg;
      peer_send(msg);
    }
    turn({gp.get(), bp.get()});
    echo_step(app);
  }
  for (int k = 0; k < 50 && peer_rx_.size() < sent.size(); ++k) {
    turn({gp.get(), bp.get()});
    echo_step(app);
  }
  EXPECT_EQ(peer_rx_, sent) << "the good application's echo was disturbed";
  EXPECT_EQ(peer_dead_result_, 1) << "the good application's connection died";
  const auto &c = bp->counters();
  // Its batches ran turn after turn (a big one over several turns).
  EXPECT_GT(c.batches + c.turns_cut_short, 300u);
  EXPECT_GT(c.rejected_bad_handle, 0u);
  EXPECT_GT(c.rejected_bad_ref + c.rejected_invalid, 0u);
  EXPECT_GT(c.rejected_unknown_op, 0u);
  EXPECT_GT(c.bad_rx_frees, 0u);
  EXPECT_EQ(gp->counters().rejected_bad_handle + gp->counters().rejected_bad_ref, 0u);
}

// Ports belong to the application that took them: another one can neither
// stop its listener, unbind its UDP port, send datagrams from that port (the
// owner's peers would take them for its own) nor take the port over.
TEST_F(AppPortTest, AnotherApplicationCanNeitherReleaseNorUseAnApplicationsPorts) {
  auto owner = attach(1), other = attach(2);
  AppSide a(*owner), b(*other);
  auto ap = std::make_unique<ixd::AppPort>(*owner, dp_);
  auto bp = std::make_unique<ixd::AppPort>(*other, dp_);
  ix_cmd bind{};
  bind.op = IX_CMD_UDP_BIND;
  bind.u.udp_bind.port = 9;
  a.post({listen_cmd(7), bind});
  turn({ap.get(), bp.get()});
  ASSERT_EQ(a.cmds()[0].result, IX_OK);
  ASSERT_EQ(a.cmds()[1].result, IX_OK);
  a.answer();
  a.post({});

  ix_cmd unlisten{};
  unlisten.op = IX_CMD_TCP_UNLISTEN;
  unlisten.u.tcp_listen.port = 7;
  ix_cmd unbind = bind;
  unbind.op = IX_CMD_UDP_UNBIND;
  ix_cmd spoof{};
  spoof.op = IX_CMD_UDP_SEND;
  spoof.u.udp_send.data = reinterpret_cast<const void *>(ipc::make_ref(ipc::Region::kSend, 0));
  spoof.u.udp_send.len = 16;
  spoof.u.udp_send.src_port = 9;
  spoof.u.udp_send.dst = ix_endpoint{kPeerIp.v, 5000, 0};
  ix_cmd honest = spoof;
  honest.u.udp_send.src_port = 10;
  b.post({unlisten, unbind, spoof, listen_cmd(7), bind, honest});
  turn({ap.get(), bp.get()});
  EXPECT_EQ(b.cmds()[0].result, IX_EINVAL) << "stopped another application's listener";
  EXPECT_EQ(b.cmds()[1].result, IX_EINVAL) << "unbound another application's UDP port";
  EXPECT_EQ(b.cmds()[2].result, IX_EADDRINUSE) << "sent from another application's UDP port";
  EXPECT_EQ(b.cmds()[3].result, IX_EADDRINUSE);
  EXPECT_EQ(b.cmds()[4].result, IX_EADDRINUSE);
  EXPECT_EQ(b.cmds()[5].result, IX_OK) << "a port nobody is bound to is free to send from";
  b.post({});

  // The owner's listener still takes connections.
  peer_connect(7);
  for (int i = 0; i < 20 && echo_conn_ == 0; ++i) {
    turn({ap.get(), bp.get()});
    echo_step(a);
  }
  EXPECT_NE(echo_conn_, 0u) << "the owner's listener is gone";
  // And the owner may still release its own ports.
  turn({ap.get(), bp.get()});  // answers the accept
  a.answer();
  a.post({unlisten, unbind});
  turn({ap.get(), bp.get()});
  EXPECT_EQ(a.cmds()[0].result, IX_OK);
  EXPECT_EQ(a.cmds()[1].result, IX_OK);
}

// An application holds at most its quota of ports (listeners and UDP
// bindings together); beyond, LISTEN and UDP_BIND get IX_ENOMEM, while
// another application still gets ports, and a released one can be taken again.
TEST_F(AppPortTest, AnApplicationStopsAtItsPortQuotaWhileAnotherStillGetsPorts) {
  ixd::SessionConfig sc = small_session();
  sc.max_ports = 3;
  auto greedy = attach(1, sc), other = attach(2, sc);
  AppSide g(*greedy), o(*other);
  auto gp = std::make_unique<ixd::AppPort>(*greedy, dp_);
  auto op = std::make_unique<ixd::AppPort>(*other, dp_);
  auto bind = [](uint16_t port) {
    ix_cmd c{};
    c.op = IX_CMD_UDP_BIND;
    c.u.udp_bind.port = port;
    return c;
  };
  g.post({listen_cmd(7), listen_cmd(8), bind(9), listen_cmd(10), bind(11)});
  o.post({listen_cmd(20), bind(21), bind(22)});
  turn({gp.get(), op.get()});
  EXPECT_EQ(g.cmds()[0].result, IX_OK);
  EXPECT_EQ(g.cmds()[1].result, IX_OK);
  EXPECT_EQ(g.cmds()[2].result, IX_OK);
  EXPECT_EQ(g.cmds()[3].result, IX_ENOMEM) << "a listener beyond the quota";
  EXPECT_EQ(g.cmds()[4].result, IX_ENOMEM) << "a binding beyond the quota";
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(o.cmds()[i].result, IX_OK) << "the other application, " << i;
  g.answer();
  o.answer();

  ix_cmd unlisten{};
  unlisten.op = IX_CMD_TCP_UNLISTEN;
  unlisten.u.tcp_listen.port = 7;
  g.post({unlisten, listen_cmd(10), bind(11)});
  o.post({});
  turn({gp.get(), op.get()});
  EXPECT_EQ(g.cmds()[0].result, IX_OK);
  EXPECT_EQ(g.cmds()[1].result, IX_OK) << "the released port's place is free again";
  EXPECT_EQ(g.cmds()[2].result, IX_ENOMEM);
}

TEST_F(AppPortTest, AnApplicationThatGoesAwayHasItsConnectionsResetAndItsBuffersReturned) {
  iov_.reserve(64);
  auto s = attach(1);
  AppSide app(*s);
  auto port = std::make_unique<ixd::AppPort>(*s, dp_);
  app.post({listen_cmd(7)});
  turn({port.get()});
  app.post({});
  peer_connect(7);
  for (int i = 0; i < 20 && echo_conn_ == 0; ++i) {
    turn({port.get()});
    echo_step(app);
  }
  ASSERT_NE(echo_conn_, 0u);
  // Data the application never reads back: it sits in the engine and the
  // receive region when the application dies.
  peer_send(std::string(3000, 'y'));
  for (int k = 0; k < 5; ++k) turn({port.get()});
  EXPECT_LT(dp_.pool().available(), idle_mbufs_ + 1);
  port.reset();  // what the serve loop does when the session is gone
  for (int k = 0; k < 5; ++k) turn({});
  EXPECT_EQ(peer_dead_result_, IX_ECONNRESET);
  EXPECT_EQ(s->ports_live.load(), 0u);
  EXPECT_EQ(dp_.pool().available(), idle_mbufs_);
  // Its port is free for the next application.
  api::LocalContext next(dp_, nullptr, api::LocalContext::Options{true, 1024});
  ix_cmd l = listen_cmd(7);
  EXPECT_EQ(next.execute(l), IX_OK);
}

TEST_F(AppPortTest, AHoarderStopsAtItsBufferQuotaWhileAnotherApplicationEchoes) {
  iov_.reserve(4096);
  auto good = attach(1);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
  close(sv[1]);
  ixd::SessionConfig hc = small_session();
  hc.rx_buffers = 64;
  auto hoard = std::make_unique<ixd::Session>(2, sv[0], 2, "hoarder", 1, hc);
  hoard->ports_live.store(1);
  AppSide app(*good), hoarder(*hoard);
  auto gp = std::make_unique<ixd::AppPort>(*good, dp_);
  auto hp = std::make_unique<ixd::AppPort>(*hoard, dp_);
  app.post({listen_cmd(7)});
  hoarder.post({listen_cmd(8)});
  turn({gp.get(), hp.get()});
  app.post({});
  hoarder.post({});
  // The hoarder accepts everything and never gives a byte back.
  auto hoard_step = [&] {
    std::vector<ix_cmd> next;
    for (const ix_event &e : hoarder.answer()) {
      if (e.type != IX_EV_TCP_KNOCK) continue;
      ix_cmd a{};
      a.op = IX_CMD_TCP_ACCEPT;
      a.u.tcp_conn.handle = e.u.tcp_knock.handle;
      next.push_back(a);
    }
    hoarder.post(next);
  };
  for (int i = 0; i < 4; ++i) peer_connect(8);
  for (int i = 0; i < 30 && peer_conns_.size() < 4; ++i) {
    turn({gp.get(), hp.get()});
    hoard_step();
  }
  ASSERT_EQ(peer_conns_.size(), 4u);
  const std::vector<uint64_t> hoarded = peer_conns_;
  peer_conn_ = 0;
  peer_connect(7);
  for (int i = 0; i < 30 && peer_conns_.size() < 5; ++i) {
    turn({gp.get(), hp.get()});
    hoard_step();
    echo_step(app);
  }
  ASSERT_EQ(peer_conns_.size(), 5u);
  const uint64_t echo_peer = peer_conns_.back();
  std::string sent;
  for (int round = 0; round < 300; ++round) {
    if (round % 4 == 0)
      for (uint64_t h : hoarded) peer_send(std::string(8000, 'h'), h);
    if (round % 10 == 0) {
      const std::string msg = "echo " + std::to_string(round) + " ";
      sent += msg;
      peer_send(msg, echo_peer);
    }
    turn({gp.get(), hp.get()});
    hoard_step();
    echo_step(app);
    ASSERT_LE(dp_.pool().capacity() - dp_.pool().available(), 64u + 4 * 8 + 64)
        << "round " << round << ": the hoarder holds more than its quota";
  }
  for (int k = 0; k < 50 && peer_rx_.size() < sent.size(); ++k) {
    turn({gp.get(), hp.get()});
    hoard_step();
    echo_step(app);
  }
  EXPECT_EQ(peer_rx_, sent) << "the other application's echo stalled";
  EXPECT_GT(hp->counters().rx_region_full, 0u) << "the hoarder's region never filled";
  EXPECT_LE(hp->rx_buffers_held(), 64u);
  EXPECT_GT(hp->rx_buffers_held(), 32u) << "the quota was never reached";
}

TEST_F(AppPortTest, ABigBatchRunsInTurnsWhileAnotherApplicationIsAnsweredEveryTurn) {
  auto good = attach(1);
  ixd::SessionConfig hc = small_session();
  hc.cmds_per_turn = 10;
  auto big = attach(2, hc);
  AppSide app(*good), hog(*big);
  auto gp = std::make_unique<ixd::AppPort>(*good, dp_);
  auto hp = std::make_unique<ixd::AppPort>(*big, dp_);
  // 64 commands, the last a LISTEN: 7 turns of at most 10, in order.
  std::vector<ix_cmd> batch(63);
  for (ix_cmd &c : batch) c.op = IX_CMD_NOP;
  batch.push_back(listen_cmd(9));
  hog.post(batch);
  app.post({listen_cmd(7)});
  auto answered = [](AppSide &a) { return a.hdr()->response.load() == a.hdr()->request.load(); };
  for (int t = 1; t <= 7; ++t) {
    turn({gp.get(), hp.get()});
    EXPECT_TRUE(answered(app)) << "turn " << t << ": the other application waited";
    EXPECT_EQ(answered(hog), t == 7) << "turn " << t;
    EXPECT_EQ(hp->counters().commands, std::min(64u, 10u * t)) << "turn " << t;
    app.post({});
  }
  for (int i = 0; i < 64; ++i) EXPECT_EQ(hog.cmds()[i].result, IX_OK) << "command " << i;
  EXPECT_EQ(hp->counters().turns_cut_short, 6u);
  EXPECT_EQ(hp->counters().batches, 1u);
  EXPECT_EQ(gp->counters().batches, 7u);

  // A SENDV weighs one more per 16 iovecs: two of 160 take a turn each.
  for (uint32_t i = 0; i < 160; ++i) hog.iovs()[i] = ix_iovec{nullptr, 0};
  ix_cmd sv{};
  sv.op = IX_CMD_TCP_SENDV;
  sv.u.tcp_sendv.handle = 12345;  // nobody's: refused when it runs
  sv.u.tcp_sendv.iov = nullptr;   // iovecs from index 0
  sv.u.tcp_sendv.iovcnt = 160;
  hog.post({sv, sv});
  turn({gp.get(), hp.get()});
  EXPECT_FALSE(answered(hog));
  EXPECT_EQ(hp->counters().commands, 65u);
  turn({gp.get(), hp.get()});
  EXPECT_TRUE(answered(hog));
  EXPECT_EQ(hog.cmds()[0].result, IX_EBADH);
  EXPECT_EQ(hog.cmds()[1].result, IX_EBADH);
  EXPECT_EQ(hp->counters().turns_cut_short, 7u);
}

// A connection of a following application leaves the thread (its flow
// group is exported) while the application's run_io call is split over two
// exchanges: the second, built before the application saw the first's
// IX_EV_TCP_MOVED_OUT, gets IX_EMOVED for it; the next call gets IX_EBADH.
TEST_F(AppPortTest, ACommandOnAConnectionThatLeftIsEmovedUntilTheApplicationHasHeard) {
  iov_.reserve(64);
  auto s = attach(1);
  AppSide app(*s);
  auto port = std::make_unique<ixd::AppPort>(*s, dp_);
  ix_cmd follow{};
  follow.op = ipc::kCmdFollowMoves;
  follow.u.raw[0] = 1;
  app.post({listen_cmd(7), follow});
  turn({port.get()});
  ASSERT_EQ(app.cmds()[0].result, IX_OK);
  ASSERT_EQ(app.cmds()[1].result, IX_OK);
  app.post({});
  peer_connect(7);
  for (int i = 0; i < 20 && (peer_conn_ == 0 || echo_conn_ == 0); ++i) {
    turn({port.get()});
    echo_step(app);
  }
  ASSERT_NE(echo_conn_, 0u);
  turn({port.get()});
  app.answer();
  const uint64_t h = echo_conn_;
  std::vector<net::tcp::MovedConn> out;
  ASSERT_EQ(dp_.stack().tcp().export_group(static_cast<uint16_t>((h >> 48) & 0xfff), out), IX_OK);
  ASSERT_EQ(out.size(), 1u);
  ix_cmd done{};
  done.op = IX_CMD_TCP_RECV_DONE;
  done.u.tcp_recv_done.handle = h;
  done.u.tcp_recv_done.bytes = 0;
  app.post({done});  // the first exchange of a call
  turn({port.get()});
  EXPECT_EQ(app.cmds()[0].result, IX_EMOVED) << "it had not heard yet";
  const auto evs = app.answer();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].type, IX_EV_TCP_MOVED_OUT);
  app.hdr()->continues = 1;  // the same call's second exchange
  app.post({done});
  turn({port.get()});
  EXPECT_EQ(app.cmds()[0].result, IX_EMOVED) << "built before it heard";
  app.hdr()->continues = 0;  // the next call
  app.post({done});
  turn({port.get()});
  EXPECT_EQ(app.cmds()[0].result, IX_EBADH) << "it has heard: the handle is plainly stale";
  EXPECT_EQ(port->counters().conns_moved_out, 0u);  // counted when the port goes
  // The connection arrives nowhere: reset, its buffers back to the pool.
  dp_.stack().tcp().import_conns(out, nullptr, nullptr);
  dp_.flush_tx();
}

TEST(LogArena, TakesInOrderFreesInAnyOrderAndReclaimsFromTheOldest) {
  ipc::LogArena a(1000, 8);
  uint64_t o1, o2, o3, o4;
  const uint64_t a1 = a.alloc(400, &o1), a2 = a.alloc(400, &o2);
  ASSERT_NE(a1, 0u);
  ASSERT_NE(a2, 0u);
  EXPECT_EQ(o1, 0u);
  EXPECT_EQ(o2, 400u);
  EXPECT_EQ(a.alloc(400, &o3), 0u);  // 200 left: no room
  EXPECT_TRUE(a.free(a2));           // the newer first: nothing reclaimed yet
  EXPECT_EQ(a.used(), 800u);
  EXPECT_FALSE(a.free(a2));  // twice
  EXPECT_TRUE(a.free(a1));   // now both
  EXPECT_EQ(a.used(), 0u);
  const uint64_t a3 = a.alloc(300, &o3);  // continues at 800: 200 to the end, so it wraps
  ASSERT_NE(a3, 0u);
  EXPECT_EQ(o3, 0u);
  uint64_t off, len;
  ASSERT_TRUE(a.range(a3, &off, &len));
  EXPECT_EQ(off, 0u);
  EXPECT_EQ(len, 300u);
  EXPECT_NE(a.alloc(500, &o4), 0u);
  EXPECT_EQ(o4, 300u);
  EXPECT_FALSE(a.free(0));
  EXPECT_FALSE(a.free(12345));
  EXPECT_FALSE(a.free(~uint64_t{0}));
  EXPECT_EQ(a.alloc(0, &o4), 0u);
  EXPECT_EQ(a.alloc(1001, &o4), 0u);
}

TEST(LogArena, RecordLimitBoundsLiveAllocations) {
  ipc::LogArena a(1 << 20, 4);
  uint64_t off;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(a.alloc(10, &off));
  EXPECT_EQ(a.alloc(10, &off), 0u);
  EXPECT_TRUE(a.free(ids[0]));
  EXPECT_NE(a.alloc(10, &off), 0u);
  EXPECT_EQ(a.live(), 4u);
}

}  // namespace
}  // namespace ix
