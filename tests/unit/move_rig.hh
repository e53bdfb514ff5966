// The rig of the flow-group move tests (group_move_test.cc: the engine's
// own receivers; ixev_move_test.cc: applications over run_io and ixev): a
// Runtime of four unpinned elastic threads on the loop wire, and a
// single-threaded peer that streams a checked pattern over 1,000 TCP
// connections and a set of UDP flows and checks every byte and datagram
// that comes back, while a test moves flow groups from thread to thread.
#pragma once

#include <gtest/gtest.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "control/control_commands.hh"
#include "core/elastic_thread.hh"
#include "core/runtime.hh"
#include "drivers/loop/loop_wire.hh"
#include "ix/syscall.h"
#include "net/rss.hh"
#include "net/stack.hh"
#include "net/tcp/tcp.hh"
#include "timing/clock.hh"

namespace ix::move_rig {

using net::tcp::ConnHandle;
using net::tcp::DeadReason;
using net::tcp::TcpEvents;

const net::MacAddr kIxMac{{0x02, 0, 0, 0, 0, 0x2b}}, kPeerMac{{0x02, 0, 0, 0, 0, 0x2a}};
const net::Ipv4Addr kIxIp = net::ipv4(10, 12, 0, 2), kPeerIp = net::ipv4(10, 12, 0, 1);
constexpr uint16_t kTcpPort = 7, kUdpPort = 9, kPeerUdpBase = 40000;
constexpr unsigned kThreads = 4;
constexpr uint64_t kLeastBytes = 2048;  // each connection carries at least this during the moves

// The byte stream of connection c: a fixed pattern read from an offset of
// its own, so every connection's bytes differ and a byte from the wrong
// place or connection shows.
struct Pattern {
  static constexpr size_t kLen = 1 << 16;
  std::array<uint8_t, kLen> bytes{};
  Pattern() {
    uint32_t x = 12345;
    for (auto &b : bytes) {
      x = x * 1103515245u + 12345u;
      b = static_cast<uint8_t>(x >> 16);
    }
  }
  size_t offset(unsigned conn, uint64_t i) const { return (conn * 977 + i) % kLen; }
};
const Pattern kPattern;

// ---- the IX side's UDP echo, the same for every kind of application ----

// Datagrams to kUdpPort, kept as they arrive and echoed between batches.
class UdpEcho final : public net::UdpReceiver {
 public:
  void on_udp(mem::Mbuf *m, const net::UdpDatagram &d) override { held_.push_back({m, d}); }
  // Sends every held datagram back; counts those it could not in *failures.
  void echo(core::ElasticThread &t, uint64_t *failures) {
    for (auto &[m, d] : held_) {
      mem::Mbuf *out = t.pool().alloc();
      if (out == nullptr) {
        ++*failures;
      } else {
        std::memcpy(out->append(d.len), d.payload, d.len);
        if (t.stack().udp_send(d.src, d.src_port, d.dst_port, out) != 0) ++*failures;
      }
      mem::MbufPool::free_chain(m);
    }
    held_.clear();
  }

 private:
  std::vector<std::pair<mem::Mbuf *, net::UdpDatagram>> held_;
};

// ---- the peer: streams to every connection and checks every echoed byte ----

class Peer final : public TcpEvents, public net::UdpReceiver {
 public:
  struct Conn {
    ConnHandle h = 0;
    bool up = false;
    uint64_t sent = 0, echoed = 0;
    uint32_t to_consume = 0;
  };
  struct Flow {
    uint32_t next_send = 0, next_echo = 0;
  };

  // Streams run until finish(): then each connection and flow stops
  // sending and is done when all it sent came back.
  Peer(core::ElasticThread &t, unsigned conns, unsigned flows)
      : t_(t), conns_(conns), flows_(flows) {
    for (unsigned f = 0; f < flows; ++f)
      EXPECT_TRUE(t.stack().udp_bind(static_cast<uint16_t>(kPeerUdpBase + f), this));
  }

  void connect_all() {
    for (unsigned i = warm_conn_ ? 1 : 0; i < conns_.size(); ++i) connect(i);
  }
  void connect(unsigned i) {
    const int64_t h = t_.stack().tcp().connect(kIxIp, kTcpPort, 0, i, this);
    if (h < 0) ++failures;
    conns_[i].h = static_cast<ConnHandle>(h);
  }

  void on_knock(uint64_t, ConnHandle, net::Ipv4Addr, uint16_t, net::Ipv4Addr, uint16_t) override {
    ++failures;
  }
  void on_connected(uint64_t cookie, ConnHandle, int result) override {
    if (result != IX_OK) ++failures;
    conns_[cookie].up = result == IX_OK;
    connected += result == IX_OK;
  }
  void on_recv(uint64_t cookie, ConnHandle, const uint8_t *data, uint32_t len) override {
    Conn &c = conns_[cookie];
    for (uint32_t i = 0; i < len; ++i)
      if (data[i] != kPattern.bytes[kPattern.offset(static_cast<unsigned>(cookie), c.echoed + i)])
        ++corrupt_bytes;
    c.echoed += len;
    c.to_consume += len;
    if (len == 0) ++failures;  // IX never closes first here
  }
  void on_sent(uint64_t, ConnHandle, uint32_t) override {}
  void on_dead(uint64_t, ConnHandle, DeadReason) override { ++deaths; }
  void on_udp(mem::Mbuf *m, const net::UdpDatagram &d) override {
    uint32_t flow = 0, seq = 0;
    if (d.len == 8) {
      std::memcpy(&flow, d.payload, 4);
      std::memcpy(&seq, d.payload + 4, 4);
    }
    if (d.len != 8 || flow >= flows_.size() || d.dst_port != kPeerUdpBase + flow)
      ++udp_bad;
    else if (seq != flows_[flow].next_echo)
      ++udp_out_of_order;
    else
      ++flows_[flow].next_echo;
    mem::MbufPool::free_chain(m);
  }

  // Address resolution first: an ARP entry holds only a few frames while
  // it resolves, and UDP does not send again. One datagram and its echo
  // mean both ends know each other (the IX thread that hears the ARP reply
  // tells its siblings).
  bool warm() {
    if (flows_.empty()) {
      // TCP only: the first connection alone (its SYN waits for the
      // address), then the others.
      if (!warm_conn_) connect(0);
      warm_conn_ = true;
      return conns_[0].up;
    }
    if (flows_[0].next_echo > 0) return true;
    if (flows_[0].next_send == 0) send_datagram(0);
    return false;
  }

  // One round: consume what came, send more within the limits.
  void step() {
    auto &tcp = t_.stack().tcp();
    uint64_t outstanding = 0;
    for (Conn &c : conns_) outstanding += c.sent - c.echoed;
    // Round robin from a moving start, so that every connection gets its
    // turn under the global limit.
    rr_ = (rr_ + 97) % conns_.size();
    for (unsigned k = 0; k < conns_.size(); ++k) {
      const unsigned i = static_cast<unsigned>((rr_ + k) % conns_.size());
      Conn &c = conns_[i];
      if (c.to_consume != 0) {
        if (tcp.recv_done(c.h, c.to_consume) != IX_OK) ++failures;
        c.to_consume = 0;
      }
      if (!c.up || finishing_ || c.sent - c.echoed >= kPerConn || outstanding >= kOutstanding)
        continue;
      const size_t off = kPattern.offset(i, c.sent);
      const size_t len =
          std::min<uint64_t>({kChunk, kPerConn - (c.sent - c.echoed), Pattern::kLen - off});
      iovec iov{const_cast<uint8_t *>(kPattern.bytes.data() + off), len};
      const int64_t n = tcp.sendv(c.h, &iov, 1);
      if (n < 0) ++failures;
      if (n > 0) {
        c.sent += static_cast<uint64_t>(n);
        outstanding += static_cast<uint64_t>(n);
      }
    }
    for (unsigned f = 0; f < flows_.size(); ++f) {
      Flow &fl = flows_[f];
      if (finishing_ || fl.next_send - fl.next_echo >= 4) continue;
      send_datagram(f);
    }
  }

  void send_datagram(unsigned f) {
    Flow &fl = flows_[f];
    mem::Mbuf *m = t_.pool().alloc();
    if (m == nullptr) return;
    uint8_t *p = m->append(8);
    const uint32_t flow = f;
    std::memcpy(p, &flow, 4);
    std::memcpy(p + 4, &fl.next_send, 4);
    if (t_.stack().udp_send(kIxIp, kUdpPort, static_cast<uint16_t>(kPeerUdpBase + f), m) == 0)
      ++fl.next_send;
  }

  void finish() { finishing_ = true; }
  bool done() const {
    if (!finishing_) return false;
    for (const Conn &c : conns_)
      if (!c.up || c.echoed < c.sent) return false;
    for (const Flow &f : flows_)
      if (f.next_echo < f.next_send) return false;
    return true;
  }
  uint64_t least_sent() const {
    uint64_t n = UINT64_MAX;
    for (const Conn &c : conns_) n = std::min(n, c.sent);
    return n;
  }
  uint32_t least_datagrams() const {
    uint32_t n = UINT32_MAX;
    for (const Flow &f : flows_) n = std::min(n, f.next_echo);
    return n;
  }
  std::string udp_state() const {
    uint64_t sent = 0, echoed = 0;
    for (const Flow &f : flows_) {
      sent += f.next_send;
      echoed += f.next_echo;
    }
    return std::to_string(echoed) + " of " + std::to_string(sent) + " echoed, " +
           std::to_string(udp_out_of_order) + " out of order";
  }
  uint64_t echoed_total() const {
    uint64_t n = 0;
    for (const Conn &c : conns_) n += c.echoed;
    return n;
  }

  uint64_t failures = 0, deaths = 0, corrupt_bytes = 0, connected = 0;
  uint64_t udp_bad = 0, udp_out_of_order = 0;

 private:
  static constexpr uint64_t kChunk = 512, kPerConn = 1024, kOutstanding = 384 * 1024;
  core::ElasticThread &t_;
  std::vector<Conn> conns_;
  std::vector<Flow> flows_;
  bool finishing_ = false;
  bool warm_conn_ = false;  // connection 0 opened by warm()
  size_t rr_ = 0;
};

// The IX runtime (four unpinned elastic threads, each running an App) and
// the peer (its own thread and stack), joined by the loop wire. App: built
// from the thread's index; serve(thread, stop, listening) runs the thread's
// loop (adding 1 to `listening` once it listens) until stop; counts
// `failures` and `deaths` (connections that broke on its side);
// kKeepalive: its connections probe an idle peer (then every thread that
// owns groups at the end must have sent probes: timers on the new owner).
// ThreadSanitizer runs every thread 5-15x slower: there, fewer streams.
#if defined(__SANITIZE_THREAD__)
constexpr bool kUnderTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kUnderTsan = true;
#else
constexpr bool kUnderTsan = false;
#endif
#else
constexpr bool kUnderTsan = false;
#endif

// An App may say it echoes no UDP (static constexpr bool kEchoesUdp = false):
// then the peer streams over TCP only.
template <class App>
constexpr bool echoes_udp() {
  if constexpr (requires { App::kEchoesUdp; })
    return App::kEchoesUdp;
  else
    return true;
}

template <class App>
class MoveRig {
 public:
  static constexpr unsigned kConns = kUnderTsan ? 250 : 1000, kUdpFlows = !echoes_udp<App>() ? 0
                                                                          : kUnderTsan       ? 16
                                                                                             : 64;

  // program_device false: the wire's RSS table stays as it is, so frames
  // reach every thread's queue whatever the flow groups say (as on veth):
  // threads forward in software, and a parked thread's queue is polled by
  // a running one.
  explicit MoveRig(bool program_device = true)
      : wire_(clock_),
        // Deep rings: the wire must lose nothing (the echoes of four
        // threads reach the peer's one queue; its thread may wait for a
        // CPU meanwhile).
        ix_port_(
            wire_.add_port({.name = "ix", .mac = kIxMac, .queues = kThreads, .ring_depth = 8192})),
        peer_port_(
            wire_.add_port({.name = "peer", .mac = kPeerMac, .queues = 1, .ring_depth = 16384})),
        runtime_(ix_port_, runtime_config(program_device)) {
    for (unsigned i = 0; i < kThreads; ++i) apps_.push_back(std::make_unique<App>(i));
  }

  static core::RuntimeConfig runtime_config(bool program_device = true) {
    core::RuntimeConfig rc;
    rc.program_device = program_device;
    // Without steering, a quarter of the frames reach their owner's queue:
    // the rest cross a link, which must not overflow here (a dropped frame
    // would be retransmitted, which the checks count as a move's fault).
    if (!program_device) rc.frame_link_slots = 4096;
    rc.cores.assign(kThreads, -1);
    rc.mbufs_per_core = 8192;
    rc.idle_yield = 16;  // six busy threads share two CPUs here
    rc.stack.mac = kIxMac;
    rc.stack.addr = kIxIp;
    rc.stack.prefix_len = 24;
    rc.stack.tcp.keepalive_idle_ns = 200'000'000;
    rc.stack.tcp.keepalive_interval_ns = 100'000'000;
    // Probes are the timers under test here; a slow run must not turn
    // unanswered ones into a timeout, nor lose the peer's ARP binding.
    rc.stack.tcp.keepalive_probes = 1'000'000;
    rc.stack.arp_timeout_ns = 3'600'000'000'000ull;
    // Six threads that poll without pause share two CPUs here (and run 10x
    // slower under ThreadSanitizer), so a thread may wait several scheduler
    // slices before it runs a move's step while the group's ACKs are held,
    // or before it ACKs at all; the default tail-loss-probe slack (2 ms
    // beyond 2 SRTT) and minimum RTO would call that a loss. With a second
    // of each, a retransmission here means a segment was really lost or
    // reordered (RACK and duplicate ACKs need no timer). On dedicated cores
    // a move holds frames for the settling time (0.2 ms) and a few polls.
    rc.stack.tcp.tlp_slack_ns = 1'000'000'000;
    rc.stack.tcp.tlp_max_ack_delay_ns = 1'000'000'000;  // one segment out: the probe's wait
    rc.stack.tcp.min_rto_ns = 1'000'000'000;
    return rc;
  }

  core::Runtime &runtime() { return runtime_; }
  App &app(unsigned t) { return *apps_[t]; }

  // Starts both sides; returns once the streams are flowing.
  void start() {
    ix_side_ = std::thread([this] {
      runtime_.run([this](core::ElasticThread &t, const std::atomic<bool> &stop) {
        apps_[t.config().id]->serve(t, stop, listening_);
      });
    });
    peer_side_ = std::thread([this] { run_peer(); });
    while (listening_.load() < kThreads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    while (peer_progress_.load() < 64 * 1024 && std::chrono::steady_clock::now() < deadline_)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  bool before_deadline() const { return std::chrono::steady_clock::now() < deadline_; }
  uint64_t least_sent() const { return peer_least_.load(); }

  // Lets the streams finish, waits for the keep-alive timers, stops both
  // sides; true when every stream finished.
  bool finish_and_stop() {
    peer_finish_.store(true);
    while (!peer_done_.load() && before_deadline())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const bool finished = peer_done_.load();
    // Idle time for the keep-alive timers: every connection is probed by
    // the thread that owns it now (probes start 200 ms after the last data).
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    peer_stop_.store(true);
    peer_side_.join();
    runtime_.request_stop();
    ix_side_.join();
    return finished;
  }

  // Everything the streams and counters must show after moves.
  void check_streams(bool finished, const std::string &context) {
    EXPECT_TRUE(finished) << "echoed " << peer_progress_.load() << " bytes; " << context
                          << "; UDP: " << (peer_ ? peer_->udp_state() : "?");
    ASSERT_NE(peer_, nullptr);
    const Peer &peer = *peer_;
    EXPECT_GE(peer.least_sent(), kLeastBytes) << "a connection carried too little";
    if (kUdpFlows > 0) {
      EXPECT_GE(peer.least_datagrams(), 16u) << "a UDP flow carried too little to show anything";
    }
    EXPECT_EQ(peer.connected, kConns);
    EXPECT_EQ(peer.failures, 0u);
    EXPECT_EQ(peer.deaths, 0u) << "a connection broke";
    EXPECT_EQ(peer.corrupt_bytes, 0u) << "bytes came back wrong or out of order";
    EXPECT_EQ(peer.udp_bad, 0u);
    EXPECT_EQ(peer.udp_out_of_order, 0u) << "a UDP flow's datagrams were lost or reordered";
    EXPECT_EQ(peer_tcp_.retransmits, 0u) << "the peer had to send segments again";

    const auto snaps = runtime_.snapshots();
    uint64_t groups_in = 0, groups_out = 0, held_dropped = 0, fwd_dropped = 0, ix_retransmits = 0,
             moved_lost = 0, no_conn = 0;
    for (unsigned t = 0; t < kThreads; ++t) {
      const auto &s = snaps[t];
      groups_in += s.core.groups_in;
      groups_out += s.core.groups_out;
      held_dropped += s.core.move_held_dropped;
      fwd_dropped += s.core.fwd_dropped;
      ix_retransmits += s.tcp.retransmits;
      moved_in += s.tcp.moved_in;
      moved_lost += s.tcp.moved_lost;
      no_conn += s.net.drops[static_cast<size_t>(net::DropReason::kTcpNoConnection)];
      EXPECT_EQ(apps_[t]->failures, 0u) << "thread " << t;
      EXPECT_EQ(apps_[t]->deaths, 0u) << "thread " << t;
    }
    EXPECT_EQ(groups_in, groups_out);
    moves_seen = groups_in;
    EXPECT_EQ(moved_lost, 0u);
    EXPECT_EQ(held_dropped, 0u);
    EXPECT_EQ(fwd_dropped, 0u);
    EXPECT_EQ(no_conn, 0u) << "a segment reached a thread without its connection";
    EXPECT_EQ(ix_retransmits, 0u) << "IX had to send segments again";
    uint64_t ring_drops = peer_port_.stats(0).rx_dropped;
    for (uint16_t q = 0; q < kThreads; ++q) ring_drops += ix_port_.stats(q).rx_dropped;
    EXPECT_EQ(ring_drops, 0u) << "the wire dropped frames (a full RX ring)";

    // Timers on the new owners: each thread that owns connections at the
    // end probed them (keep-alive), and the peer's answers kept every one
    // alive.
    const auto table = runtime_.flow_groups();
    for (unsigned t = 0; t < kThreads && App::kKeepalive; ++t) {
      unsigned groups = 0;
      for (uint16_t g = 0; g < table.size(); ++g) groups += table.queue_of_group(g) == t;
      if (groups > 0) {
        EXPECT_GT(snaps[t].tcp.keepalive_probes, 0u)
            << "thread " << t << " owns " << groups << " groups but no keep-alive fired";
      }
    }
    if (::testing::Test::HasFailure()) dump(snaps);
  }

  uint64_t moved_in = 0, moves_seen = 0;

 private:
  void run_peer() {
    core::ElasticThreadConfig pc;
    pc.pool.count = 16384;
    pc.pool.try_huge_pages = false;
    pc.idle_polls_before_yield = 16;
    pc.stack.mac = kPeerMac;
    pc.stack.addr = kPeerIp;
    pc.stack.prefix_len = 24;
    pc.stack.tcp.tlp_slack_ns = runtime_config().stack.tcp.tlp_slack_ns;
    pc.stack.tcp.min_rto_ns = runtime_config().stack.tcp.min_rto_ns;
    pc.stack.tcp.tlp_max_ack_delay_ns = runtime_config().stack.tcp.tlp_max_ack_delay_ns;
    core::ElasticThread t(pc, peer_port_, clock_);
    t.stack().start();
    auto peer = std::make_unique<Peer>(t, kConns, kUdpFlows);
    while (listening_.load() < kThreads) std::this_thread::yield();
    while (!peer->warm() && before_deadline()) {
      t.poll();
      t.flush_tx();
    }
    const auto settle = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
    while (std::chrono::steady_clock::now() < settle) t.poll();  // siblings learn the binding
    peer->connect_all();
    while (!peer_stop_.load()) {
      t.poll();
      peer->step();
      t.flush_tx();
      peer_progress_.store(peer->echoed_total(), std::memory_order_relaxed);
      peer_least_.store(peer->least_sent(), std::memory_order_relaxed);
      if (peer_finish_.load(std::memory_order_relaxed)) peer->finish();
      if (peer->done()) peer_done_.store(true);
    }
    peer_tcp_ = t.stack().tcp().stats();
    peer_ = std::move(peer);  // the results stay; the stack goes with the thread
  }

  void dump(const std::vector<core::ThreadSnapshot> &snaps) const {
    std::fprintf(stderr, "peer: tlp %lu rto %lu fast %lu rack_lost %lu\n",
                 (unsigned long)peer_tcp_.tlp_probes, (unsigned long)peer_tcp_.rto_expirations,
                 (unsigned long)peer_tcp_.fast_retransmits, (unsigned long)peer_tcp_.rack_lost);
    for (unsigned t = 0; t < kThreads; ++t) {
      const auto &s = snaps[t];
      std::fprintf(stderr,
                   "thread %u: groups in %lu out %lu, held %lu dropped %lu, fwd in %lu out %lu "
                   "dropped %lu, conns in %lu out %lu; tlp %lu rto %lu fast %lu rack_lost %lu\n",
                   t, (unsigned long)s.core.groups_in, (unsigned long)s.core.groups_out,
                   (unsigned long)s.core.move_held, (unsigned long)s.core.move_held_dropped,
                   (unsigned long)s.core.fwd_in, (unsigned long)s.core.fwd_out,
                   (unsigned long)s.core.fwd_dropped, (unsigned long)s.tcp.moved_in,
                   (unsigned long)s.tcp.moved_out, (unsigned long)s.tcp.tlp_probes,
                   (unsigned long)s.tcp.rto_expirations, (unsigned long)s.tcp.fast_retransmits,
                   (unsigned long)s.tcp.rack_lost);
#define IX_DUMP_COUNTER(name) \
  if (s.net.name != 0) std::fprintf(stderr, "  %s: %lu\n", #name, (unsigned long)s.net.name);
      IX_NET_COUNTERS(IX_DUMP_COUNTER)
#undef IX_DUMP_COUNTER
      std::fprintf(stderr, "  tx_full %lu tx_dropped %lu timers_fired %lu\n",
                   (unsigned long)s.core.tx_full, (unsigned long)s.core.tx_dropped,
                   (unsigned long)s.core.timers_fired);
      for (size_t r = 0; r < std::size(s.net.drops); ++r)
        if (s.net.drops[r] != 0)
          std::fprintf(stderr, "  drop %s: %lu\n",
                       net::drop_reason_name(static_cast<net::DropReason>(r)),
                       (unsigned long)s.net.drops[r]);
    }
  }

  timing::MonotonicClock clock_;
  drivers::LoopWire wire_;
  drivers::LoopPort &ix_port_;
  drivers::LoopPort &peer_port_;
  core::Runtime runtime_;
  std::vector<std::unique_ptr<App>> apps_;
  std::thread ix_side_, peer_side_;
  std::atomic<unsigned> listening_{0};
  std::atomic<bool> peer_finish_{false}, peer_done_{false}, peer_stop_{false};
  std::atomic<uint64_t> peer_progress_{0}, peer_least_{0};
  net::tcp::TcpStats peer_tcp_{};
  std::unique_ptr<Peer> peer_;
  const std::chrono::steady_clock::time_point deadline_ =
      std::chrono::steady_clock::now() + std::chrono::seconds(120);
};

// Moves groups one by one while the streams run: at least min_moves, and on
// until every connection has carried some data (however fast this machine
// moves bytes). 37 is prime to 128: the first 128 moves take every group
// once, so every connection moves at least once; the rest take groups back
// and on. Returns the moves made; failures are counted in *failed, the
// first one's message in *first_error.
template <class App>
unsigned move_groups_round_robin(MoveRig<App> &rig, unsigned min_moves, unsigned *failed,
                                 std::string *first_error) {
  auto &rt = rig.runtime();
  unsigned moves = 0;
  while ((moves < min_moves || rig.least_sent() < kLeastBytes) && rig.before_deadline()) {
    const uint16_t g = static_cast<uint16_t>((moves * 37) % 128);
    const uint16_t to = static_cast<uint16_t>(
        (rt.flow_groups().queue_of_group(g) + 1 + moves % (kThreads - 1)) % kThreads);
    const std::string err = rt.move_group(g, to);
    if (!err.empty()) {
      ++*failed;
      if (first_error->empty()) *first_error = err;
    }
    ++moves;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // traffic between moves
  }
  return moves;
}

// Changes the number of running threads through the control commands
// (cores 1, 4, 2, 4: every change moves groups, parks or resumes threads),
// checking which threads run after each, with traffic between changes; then
// lets every connection carry enough. Returns what the change list was.
template <class App>
std::string change_cores(MoveRig<App> &rig) {
  auto &rt = rig.runtime();
  control::ControlCommands cmd(rt, nullptr);
  for (const unsigned n : {1u, 4u, 2u, 4u}) {
    EXPECT_EQ(cmd.execute("cores " + std::to_string(n)), "ok\n") << "cores " << n;
    for (unsigned t = 0; t < kThreads; ++t)
      EXPECT_EQ(rt.parked(t), t >= n) << "cores " << n << ", thread " << t;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // traffic on this allocation
  }
  while (rig.least_sent() < kLeastBytes && rig.before_deadline())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return "cores 1, 4, 2, 4";
}

}  // namespace ix::move_rig
