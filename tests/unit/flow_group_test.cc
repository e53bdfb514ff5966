// Flow groups across elastic threads on the loop wire: a Runtime with two
// pinned or four unpinned threads on a multi-queue port, a single-threaded
// peer on another port, and many TCP (both directions) and UDP flows. Every
// flow must be handled by the thread that owns its flow group, which the
// test computes on its own from the Toeplitz definition; replies to outgoing
// connections must come back to the connecting thread; port exhaustion and
// cross-thread handles give their errors.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "api/context_runner.hh"
#include "api/io_context.hh"
#include "core/elastic_thread.hh"
#include "core/frame_link.hh"
#include "core/runtime.hh"
#include "drivers/loop/loop_wire.hh"
#include "flow_group_app.hh"
#include "net/rss.hh"
#include "net/tcp/tcp.hh"
#include "timing/clock.hh"

namespace ix {
namespace {

using flow_test::FlowApp;
using flow_test::FlowAppConfig;
using flow_test::SeenFlow;

// Toeplitz from its definition, sharing nothing with net/rss.cc: for each
// set input bit i (MSB first), XOR in key bits [i, i + 32).
uint32_t toeplitz_by_definition(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport) {
  const auto &key = net::kDefaultRssKey;
  const uint8_t in[12] = {uint8_t(src >> 24), uint8_t(src >> 16),  uint8_t(src >> 8),
                          uint8_t(src),       uint8_t(dst >> 24),  uint8_t(dst >> 16),
                          uint8_t(dst >> 8),  uint8_t(dst),        uint8_t(sport >> 8),
                          uint8_t(sport),     uint8_t(dport >> 8), uint8_t(dport)};
  auto key_bit = [&](size_t i) -> uint32_t {
    return i / 8 < key.size() ? (key[i / 8] >> (7 - i % 8)) & 1u : 0u;
  };
  uint32_t h = 0;
  for (size_t i = 0; i < 96; ++i) {
    if (((in[i / 8] >> (7 - i % 8)) & 1u) == 0) continue;
    uint32_t w = 0;
    for (size_t j = 0; j < 32; ++j) w = (w << 1) | key_bit(i + j);
    h ^= w;
  }
  return h;
}

// The owner the design promises: group = hash % 128, groups round robin.
unsigned expected_owner(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                        unsigned threads) {
  return toeplitz_by_definition(src, dst, sport, dport) % 128 % threads;
}

const net::MacAddr kIxMac{{0x02, 0, 0, 0, 0, 0x0b}}, kPeerMac{{0x02, 0, 0, 0, 0, 0x0a}};
const net::Ipv4Addr kIxIp = net::ipv4(10, 9, 0, 2), kPeerIp = net::ipv4(10, 9, 0, 1);
constexpr uint16_t kIxTcpPort = 7, kIxUdpPort = 9, kPeerTcpPort = 80;

struct ThreadResult {
  std::vector<SeenFlow> tcp_seen, udp_seen;
  unsigned connected = 0, echoed = 0, failures = 0;
  int first_error = 0;
};

struct Scenario {
  std::vector<int> cores;
  bool program_device = true;
  unsigned ix_connects_per_thread = 12;
  unsigned peer_connects = 48;
  unsigned peer_datagrams = 96;
};

struct Outcome {
  std::vector<ThreadResult> ix;
  std::vector<core::ThreadSnapshot> snaps;
  std::vector<SeenFlow> peer_tcp_seen;
  unsigned peer_echoed = 0, peer_udp_echoes = 0, peer_failures = 0;
  int peer_first_error = 0;
  bool finished = false;
  std::vector<unsigned> thread_counts;  // ix_thread_count() as each thread saw it
};

Outcome run_scenario(const Scenario &sc) {
  const unsigned n = static_cast<unsigned>(sc.cores.size());
  timing::MonotonicClock clock;
  drivers::LoopWire wire(clock);
  auto &ix_port = wire.add_port({.name = "ix", .mac = kIxMac, .queues = static_cast<uint16_t>(n)});
  auto &peer_port = wire.add_port({.name = "peer", .mac = kPeerMac, .queues = 1});
  if (!sc.program_device) {
    // A NIC that steers by its own table: every flow to queue 0. The
    // threads must hand frames to their owners themselves.
    net::FlowGroupTable all_on_0(128, 1);
    EXPECT_TRUE(ix_port.set_flow_groups(all_on_0));
  }

  core::RuntimeConfig rc;
  rc.cores = sc.cores;
  rc.mbufs_per_core = 4096;
  rc.program_device = sc.program_device;
  rc.stack.mac = kIxMac;
  rc.stack.addr = kIxIp;
  rc.stack.prefix_len = 24;
  rc.stack.tcp.time_wait_ns = 1'000'000;  // the test opens and closes many connections
  core::Runtime runtime(ix_port, rc);
  EXPECT_EQ(runtime.flow_groups().size(), 128);

  Outcome out;
  out.ix.resize(n);
  out.thread_counts.assign(n, 0);
  std::atomic<unsigned> listening{0};
  std::atomic<bool> go_clients{false};
  std::thread ix_side([&] {
    api::run_contexts(runtime, [&](ix_ctx *ctx) {
      out.thread_counts[ix_thread_id(ctx)] = ix_thread_count(ctx);  // each its own slot
      FlowAppConfig cfg;
      cfg.tcp_listen_port = kIxTcpPort;
      cfg.udp_port = kIxUdpPort;
      cfg.connect_addr = kPeerIp.v;
      cfg.connect_port = kPeerTcpPort;
      cfg.connects = sc.ix_connects_per_thread;
      FlowApp app(ctx, cfg);
      app.step();
      listening.fetch_add(1);
      bool started = false;
      while (!ix_should_stop(ctx)) {
        if (!started && go_clients.load()) {
          app.start_clients();
          started = true;
        }
        app.step();
      }
      ThreadResult &r = out.ix[app.thread()];
      r.tcp_seen = app.tcp_seen();
      r.udp_seen = app.udp_seen();
      r.connected = app.connected();
      r.echoed = app.echoed();
      r.failures = app.failures();
      r.first_error = app.first_error();
    });
  });

  {
    core::ElasticThreadConfig pc;
    pc.id = 0;
    pc.pool.count = 4096;
    pc.pool.try_huge_pages = false;
    pc.stack.mac = kPeerMac;
    pc.stack.addr = kPeerIp;
    pc.stack.prefix_len = 24;
    pc.stack.tcp.time_wait_ns = 1'000'000;
    core::ElasticThread peer_thread(pc, peer_port, clock);
    api::LocalContext peer_ctx(peer_thread, nullptr);
    FlowAppConfig cfg;
    cfg.tcp_listen_port = kPeerTcpPort;
    cfg.connect_addr = kIxIp.v;
    cfg.connect_port = kIxTcpPort;
    cfg.connects = sc.peer_connects;
    for (unsigned i = 0; i < sc.peer_connects; ++i)
      cfg.src_ports.push_back(static_cast<uint16_t>(20000 + 7 * i));
    cfg.udp_sends = sc.peer_datagrams;
    cfg.udp_dst_addr = kIxIp.v;
    cfg.udp_dst_port = kIxUdpPort;
    cfg.udp_first_sport = 30000;
    FlowApp peer(&peer_ctx, cfg);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (listening.load() < n && std::chrono::steady_clock::now() < deadline) peer.step();
    // Resolve addresses first: an ARP entry holds only a few packets while
    // it resolves, and the bursts below are larger. One datagram to the UDP
    // echo and its echo back means the peer knows the IX host and the IX
    // threads know the peer (thread 0 hears the ARP reply and tells the rest).
    {
      static const char kProbe[] = "arp";
      ix_cmd cmds[2] = {};
      cmds[0].op = IX_CMD_UDP_BIND;
      cmds[0].u.udp_bind.port = 29999;
      cmds[1].op = IX_CMD_UDP_SEND;
      cmds[1].u.udp_send = {kProbe, sizeof kProbe, 29999, 0, ix_endpoint{kIxIp.v, kIxUdpPort, 0}};
      ix_event evs[16];
      bool echoed = false;
      int n_ev = ix_run_io(&peer_ctx, cmds, 2, evs, 16);
      while (!echoed && std::chrono::steady_clock::now() < deadline) {
        for (int i = 0; i < n_ev; ++i) {
          if (evs[i].type != IX_EV_UDP_RECV) continue;
          echoed = true;
          ix_cmd done{};
          done.op = IX_CMD_UDP_RECV_DONE;
          done.u.recv_done.buf = evs[i].u.udp_recv.buf;
          ix_run_io(&peer_ctx, &done, 1, nullptr, 0);
        }
        n_ev = ix_run_io(&peer_ctx, nullptr, 0, evs, 16);
      }
      EXPECT_TRUE(echoed) << "no answer to the ARP warm-up datagram";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // siblings apply the binding
    }
    peer.start_clients();
    go_clients.store(true);
    const unsigned ix_conns = sc.ix_connects_per_thread * n;
    while (std::chrono::steady_clock::now() < deadline) {
      peer.step();
      if (peer.echoed() == sc.peer_connects && peer.udp_echoes() == sc.peer_datagrams &&
          peer.tcp_seen().size() == ix_conns) {
        // Let the last closes finish (a few more rounds, bounded by time).
        const auto tail = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
        while (std::chrono::steady_clock::now() < tail) peer.step();
        out.finished = true;
        break;
      }
      if (peer.failures() != 0) break;
    }
    out.peer_tcp_seen = peer.tcp_seen();
    out.peer_echoed = peer.echoed();
    out.peer_udp_echoes = peer.udp_echoes();
    out.peer_failures = peer.failures();
    out.peer_first_error = peer.first_error();
    runtime.request_stop();
    ix_side.join();
  }
  out.snaps = runtime.snapshots();
  return out;
}

void check(const Scenario &sc, const Outcome &out) {
  const unsigned n = static_cast<unsigned>(sc.cores.size());
  ASSERT_TRUE(out.finished) << "peer: " << out.peer_echoed << "/" << sc.peer_connects << " echoed, "
                            << out.peer_udp_echoes << "/" << sc.peer_datagrams << " UDP echoes, "
                            << out.peer_tcp_seen.size() << " knocks, " << out.peer_failures
                            << " failures, first " << ix_status_name(out.peer_first_error);
  EXPECT_EQ(out.peer_failures, 0u);
  EXPECT_EQ(out.thread_counts, std::vector<unsigned>(n, n));

  // Passive opens and UDP flows on the IX side: each one on its owner.
  std::vector<unsigned> tcp_per_thread(n), udp_per_thread(n), want_tcp(n), want_udp(n);
  for (unsigned i = 0; i < sc.peer_connects; ++i)
    ++want_tcp[expected_owner(kPeerIp.v, kIxIp.v, uint16_t(20000 + 7 * i), kIxTcpPort, n)];
  for (unsigned i = 0; i < sc.peer_datagrams; ++i)
    ++want_udp[expected_owner(kPeerIp.v, kIxIp.v, uint16_t(30000 + i), kIxUdpPort, n)];
  ++want_udp[expected_owner(kPeerIp.v, kIxIp.v, 29999, kIxUdpPort, n)];  // the ARP warm-up
  for (unsigned t = 0; t < n; ++t) {
    const ThreadResult &r = out.ix[t];
    EXPECT_EQ(r.failures, 0u) << "thread " << t << ": " << ix_status_name(r.first_error);
    unsigned foreign = 0;
    for (const SeenFlow &f : r.tcp_seen) {
      foreign += expected_owner(f.remote, f.local, f.rport, f.lport, n) != t;
      EXPECT_EQ(f.claimed_thread, 0) << "the peer writes T000";
    }
    for (const SeenFlow &f : r.udp_seen)
      foreign += expected_owner(f.remote, f.local, f.rport, f.lport, n) != t;
    EXPECT_EQ(foreign, 0u) << "thread " << t << " saw flows of another thread's groups";
    tcp_per_thread[t] = static_cast<unsigned>(r.tcp_seen.size());
    udp_per_thread[t] = static_cast<unsigned>(r.udp_seen.size());
    // Outgoing connections: all answered on the connecting thread.
    EXPECT_EQ(r.connected, sc.ix_connects_per_thread) << "thread " << t;
    EXPECT_EQ(r.echoed, sc.ix_connects_per_thread) << "thread " << t;
  }
  // Spread exactly as the hash says, and over every thread.
  EXPECT_EQ(tcp_per_thread, want_tcp);
  EXPECT_EQ(udp_per_thread, want_udp);
  for (unsigned t = 0; t < n; ++t) EXPECT_GT(want_tcp[t] + want_udp[t], 0u) << "thread " << t;

  // The peer saw every IX connection with the thread id its port hashes to.
  std::vector<unsigned> active_per_thread(n);
  for (const SeenFlow &f : out.peer_tcp_seen) {
    ASSERT_GE(f.claimed_thread, 0);
    ASSERT_LT(f.claimed_thread, int(n));
    EXPECT_EQ(expected_owner(f.local, f.remote, f.lport, f.rport, n), unsigned(f.claimed_thread))
        << "reply flow of port " << f.rport << " does not hash to the connecting thread";
    ++active_per_thread[f.claimed_thread];
  }
  for (unsigned t = 0; t < n; ++t) EXPECT_EQ(active_per_thread[t], sc.ix_connects_per_thread);

  uint64_t fwd_out = 0, fwd_in = 0, fwd_dropped = 0, no_conn = 0;
  for (const auto &s : out.snaps) {
    fwd_out += s.core.fwd_out;
    fwd_in += s.core.fwd_in;
    fwd_dropped += s.core.fwd_dropped;
    no_conn += s.net.drops[static_cast<size_t>(net::DropReason::kTcpNoConnection)];
  }
  EXPECT_EQ(fwd_dropped, 0u);
  EXPECT_EQ(no_conn, 0u) << "a segment reached a thread without its connection";
  if (sc.program_device) {
    EXPECT_EQ(fwd_out, 0u) << "the programmed NIC steered a frame to the wrong thread";
    EXPECT_EQ(fwd_in, 0u);
  } else {
    // Everything arrived on queue 0: thread 0 handed the others' frames over.
    EXPECT_GT(fwd_out, 0u);
    EXPECT_EQ(fwd_in, fwd_out);
    EXPECT_EQ(out.snaps[0].core.fwd_in, 0u);
    for (unsigned t = 1; t < n; ++t) EXPECT_EQ(out.snaps[t].core.fwd_out, 0u);
  }
}

TEST(FlowGroups, TwoPinnedThreadsOwnTheirFlows) {
  const unsigned cpus = std::thread::hardware_concurrency();
  Scenario sc;
  sc.cores = cpus >= 2 ? std::vector<int>{0, 1} : std::vector<int>{-1, -1};
  check(sc, run_scenario(sc));
}

TEST(FlowGroups, FourUnpinnedThreadsOwnTheirFlows) {
  Scenario sc;
  sc.cores = {-1, -1, -1, -1};
  sc.ix_connects_per_thread = 8;
  check(sc, run_scenario(sc));
}

TEST(FlowGroups, UnprogrammedDeviceForwardsFramesToTheirOwner) {
  Scenario sc;
  sc.cores = {-1, -1, -1};
  sc.program_device = false;
  sc.ix_connects_per_thread = 8;
  check(sc, run_scenario(sc));
}

TEST(FlowGroups, RuntimeRefusesMoreThreadsThanQueuesAndSaysHowItSteers) {
  timing::MonotonicClock clock;
  drivers::LoopWire wire(clock);
  auto &port = wire.add_port({.name = "ix", .mac = kIxMac, .queues = 2});
  core::RuntimeConfig rc;
  rc.cores = {-1, -1, -1};
  try {
    core::Runtime r(port, rc);
    FAIL() << "three threads on two queues were accepted";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("use fewer cores or add queues"), std::string::npos)
        << e.what();
  }
  rc.cores = {-1, -1};
  core::Runtime programmed(port, rc);
  EXPECT_NE(programmed.steering_summary().find("programmed into ix's RSS table"), std::string::npos)
      << programmed.steering_summary();
  EXPECT_EQ(port.flow_groups().queue_of_group(5), 1);
  rc.program_device = false;
  core::Runtime unprogrammed(port, rc);
  EXPECT_NE(unprogrammed.steering_summary().find("forwards frames"), std::string::npos)
      << unprogrammed.steering_summary();
}

// ---- single elastic threads: ports, handles ----

core::ElasticThreadConfig thread_config(unsigned id, uint16_t lo, uint16_t hi) {
  core::ElasticThreadConfig c;
  c.id = id;
  c.queue = static_cast<uint16_t>(id);
  c.pool.count = 1024;
  c.pool.try_huge_pages = false;
  c.stack.mac = kIxMac;
  c.stack.addr = kIxIp;
  c.stack.prefix_len = 24;
  c.stack.gratuitous_arp = false;
  c.stack.tcp.ephemeral_lo = lo;
  c.stack.tcp.ephemeral_hi = hi;
  return c;
}

class TwoThreads : public ::testing::Test {
 protected:
  static constexpr uint16_t kLo = 40000, kHi = 40063;
  TwoThreads()
      : wire_(clock_),
        port_(wire_.add_port({.name = "ix", .mac = kIxMac, .queues = 2})),
        t0_(thread_config(0, kLo, kHi), port_, clock_),
        t1_(thread_config(1, kLo, kHi), port_, clock_) {
    const net::FlowGroupTable owners(128, 2);
    t0_.set_flow_ownership(net::FlowOwnership(net::kDefaultRssKey, owners, 0), true);
    t1_.set_flow_ownership(net::FlowOwnership(net::kDefaultRssKey, owners, 1), true);
    ctx0_ = std::make_unique<api::LocalContext>(t0_, nullptr);
    ctx1_ = std::make_unique<api::LocalContext>(t1_, nullptr);
  }
  ix_cmd connect_cmd(uint16_t rport, uint16_t sport = 0) {
    ix_cmd c{};
    c.op = IX_CMD_TCP_CONNECT;
    c.u.tcp_connect.dst = ix_endpoint{kPeerIp.v, rport, 0};
    c.u.tcp_connect.src_port = sport;
    return c;
  }
  int run(ix_ctx *ctx, ix_cmd &c) {
    ix_event evs[64];
    ix_run_io(ctx, &c, 1, evs, 64);
    return c.result;
  }
  unsigned owned_ports(unsigned thread, uint16_t rport) const {
    unsigned n = 0;
    for (uint32_t p = kLo; p <= kHi; ++p)
      n += expected_owner(kPeerIp.v, kIxIp.v, rport, uint16_t(p), 2) == thread;
    return n;
  }

  timing::ManualClock clock_;
  drivers::LoopWire wire_;
  drivers::LoopPort &port_;
  core::ElasticThread t0_, t1_;
  std::unique_ptr<api::LocalContext> ctx0_, ctx1_;
};

TEST_F(TwoThreads, EphemeralPortsHashToTheConnectingThreadUntilExhausted) {
  for (unsigned t = 0; t < 2; ++t) {
    ix_ctx *ctx = t == 0 ? ctx0_.get() : ctx1_.get();
    auto &tcp = (t == 0 ? t0_ : t1_).stack().tcp();
    const unsigned want = owned_ports(t, 80);
    ASSERT_GT(want, 0u);
    ASSERT_LT(want, 64u);
    std::vector<ix_tcp_handle> handles;
    for (unsigned i = 0; i < want; ++i) {
      ix_cmd c = connect_cmd(80);
      ASSERT_EQ(run(ctx, c), IX_OK) << "thread " << t << " connection " << i;
      handles.push_back(c.u.tcp_conn.handle);
      ix::net::tcp::ConnHandle eh = c.u.tcp_conn.handle & ((uint64_t{1} << 60) - 1);
      const auto *tcb = tcp.tcb_of(eh);
      ASSERT_NE(tcb, nullptr);
      EXPECT_EQ(expected_owner(kPeerIp.v, kIxIp.v, 80, tcb->lport, 2), t) << tcb->lport;
      EXPECT_EQ((c.u.tcp_conn.handle >> 48) & 0xfff,
                toeplitz_by_definition(kPeerIp.v, kIxIp.v, 80, tcb->lport) % 128)
          << "the handle carries the connection's flow group";
    }
    // Every owned port for this remote is taken: the error, and again at once.
    ix_cmd more = connect_cmd(80);
    EXPECT_EQ(run(ctx, more), IX_EADDRINUSE);
    EXPECT_EQ(run(ctx, more = connect_cmd(80)), IX_EADDRINUSE);
    // Another remote port has its own tuples.
    ix_cmd other = connect_cmd(81);
    EXPECT_EQ(run(ctx, other), IX_OK);
    // A connection going away frees its port for the next connect.
    ix_cmd abort{};
    abort.op = IX_CMD_TCP_ABORT;
    abort.u.tcp_conn.handle = handles[0];
    EXPECT_EQ(run(ctx, abort), IX_OK);
    ix_cmd again = connect_cmd(80);
    EXPECT_EQ(run(ctx, again), IX_OK);
  }
}

TEST_F(TwoThreads, ExplicitSourcePortMustHashToTheCallingThread) {
  uint16_t mine = 0, theirs = 0;
  for (uint16_t p = 50000; p < 50100 && (mine == 0 || theirs == 0); ++p)
    (expected_owner(kPeerIp.v, kIxIp.v, 80, p, 2) == 0 ? mine : theirs) = p;
  ix_cmd c = connect_cmd(80, theirs);
  EXPECT_EQ(run(ctx0_.get(), c), IX_EINVAL);
  c = connect_cmd(80, mine);
  EXPECT_EQ(run(ctx0_.get(), c), IX_OK);
  c = connect_cmd(80, mine);
  EXPECT_EQ(run(ctx0_.get(), c), IX_EADDRINUSE);
}

TEST_F(TwoThreads, HandleOfAnotherThreadIsRefusedAndCounted) {
  ix_cmd c = connect_cmd(80);
  ASSERT_EQ(run(ctx0_.get(), c), IX_OK);
  const ix_tcp_handle h = c.u.tcp_conn.handle;
  ix_cmd close{};
  close.op = IX_CMD_TCP_CLOSE;
  close.u.tcp_conn.handle = h;
  EXPECT_EQ(run(ctx1_.get(), close), IX_EBADH);
  EXPECT_EQ(t1_.stats().foreign_handles, 1u);
  // Same slot bits, this thread's tag, but a flow group thread 1 owns.
  const uint64_t group = (h >> 48) & 0xfff;
  const uint64_t other_group = group + 1 < 128 ? group + 1 : group - 1;  // round robin: odd/even
  close.u.tcp_conn.handle = (h & ~(uint64_t{0xfff} << 48)) | (other_group << 48);
  EXPECT_EQ(run(ctx0_.get(), close), IX_EBADH);
  EXPECT_EQ(t0_.stats().foreign_handles, 1u);
  close.u.tcp_conn.handle = h;
  EXPECT_EQ(run(ctx0_.get(), close), IX_OK);
  EXPECT_EQ(t0_.stats().foreign_handles, 1u);
}

// ---- building blocks ----

TEST(FlowOwnership, PortSearchShortcutAgreesWithTheFullHash) {
  const net::FlowOwnership view(net::kDefaultRssKey, net::FlowGroupTable(128, 3), 2);
  const uint32_t base = view.reply_hash_base(kIxIp, kPeerIp, 443);
  for (uint32_t p = 1; p < 65536; p += 97) {
    const uint16_t port = static_cast<uint16_t>(p);
    EXPECT_EQ(view.owns_reply_port(base, port), view.owns_reply_flow(kIxIp, port, kPeerIp, 443));
    EXPECT_EQ(view.owns_reply_flow(kIxIp, port, kPeerIp, 443),
              expected_owner(kPeerIp.v, kIxIp.v, 443, port, 3) == 2);
  }
}

TEST(FrameLink, CarriesChainsInOrderAndRefusesWhenFullOrTooBig) {
  mem::MbufPoolConfig pc;
  pc.count = 64;
  pc.data_size = 256;
  pc.try_huge_pages = false;
  mem::MbufPool a(pc), b(pc);
  core::FrameLink link(4, 600);
  auto frame = [&](uint8_t tag, uint16_t len) {
    std::vector<uint8_t> bytes(len);
    for (uint16_t i = 0; i < len; ++i) bytes[i] = static_cast<uint8_t>(tag + i);
    return bytes;
  };
  for (uint8_t i = 0; i < 4; ++i) {
    mem::Mbuf *m = core::copy_frame_to_pool(a, frame(i, 500));  // 2 segments of 256
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->nb_segs, 2);
    // Odd frames carry their flow group, even ones none.
    EXPECT_TRUE(i % 2 ? link.push(m, static_cast<uint16_t>(100 + i)) : link.push(m));
    mem::MbufPool::free_chain(m);
  }
  mem::Mbuf *extra = core::copy_frame_to_pool(a, frame(9, 10));
  EXPECT_FALSE(link.push(extra));  // full
  bool dropped = false;
  for (uint8_t i = 0; i < 4; ++i) {
    mem::Mbuf *m = nullptr;
    core::FrameLink::Marker mk;
    uint16_t group = 0;
    ASSERT_EQ(link.pop_item(b, &m, &mk, &group), core::FrameLink::Item::kFrame);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(group, i % 2 ? 100 + i : core::FrameLink::kNoGroup);
    ASSERT_EQ(m->pkt_len, 500u);
    std::vector<uint8_t> got(500);
    m->copy_out(got.data());
    EXPECT_EQ(got, frame(i, 500));
    mem::MbufPool::free_chain(m);
  }
  EXPECT_EQ(link.pop(b, &dropped), nullptr);
  EXPECT_FALSE(dropped);
  EXPECT_TRUE(link.push(extra));
  mem::MbufPool::free_chain(extra);
  mem::Mbuf *big = core::copy_frame_to_pool(a, frame(1, 700));
  EXPECT_FALSE(link.push(big));  // larger than the link's frames
  mem::MbufPool::free_chain(big);
  EXPECT_EQ(a.available(), a.capacity());
}

}  // namespace
}  // namespace ix
