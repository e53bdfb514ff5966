// Flow-group moves under load on the loop wire: a Runtime of four unpinned
// elastic threads echoes 1,000 TCP connections and a set of UDP flows from a
// single-threaded peer while the test moves flow groups from thread to
// thread and back. Every byte must come back in order, no connection may
// break, no segment may be sent twice (the wire loses nothing, so any
// retransmission would be the move's), and the connections' timers must
// fire on the thread that owns them at the end (keep-alive probes).
#include <gtest/gtest.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "control/control_commands.hh"
#include "control/elastic_controller.hh"
#include "core/elastic_thread.hh"
#include "core/runtime.hh"
#include "drivers/loop/loop_wire.hh"
#include "ix/syscall.h"
#include "net/rss.hh"
#include "net/stack.hh"
#include "net/tcp/tcp.hh"
#include "timing/clock.hh"

namespace ix {
namespace {

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

// ---- the IX side: a TCP and UDP echo on every elastic thread ----

// One echoed connection; the record moves with the connection (cookie).
struct EchoConn {
  ConnHandle h = 0;
  static constexpr uint32_t kBuf = 4096;  // the peer keeps at most 1 KiB unechoed
  std::array<uint8_t, kBuf> buf{};
  uint64_t in = 0, sent = 0, acked = 0;  // bytes copied in, handed to sendv, acknowledged
  uint32_t to_consume = 0;               // recv_done still owed
};

class EchoApp final : public TcpEvents, public net::UdpReceiver {
 public:
  explicit EchoApp(unsigned id) : id_(id) {}

  void attach(core::ElasticThread &t) {
    thread_ = &t;
    t.set_move_receivers(
        [](void *self, TcpEvents *) -> TcpEvents * { return static_cast<EchoApp *>(self); }, this);
    EXPECT_EQ(t.stack().tcp().listen(kTcpPort, 0, this), IX_OK);
    EXPECT_TRUE(t.stack().udp_bind(kUdpPort, this));
  }

  bool follows_moves() const override { return true; }
  void on_moved(uint64_t cookie, ConnHandle, ConnHandle h) override {
    auto *c = reinterpret_cast<EchoConn *>(cookie);
    c->h = h;
    todo_.push_back({c, h});  // whatever it still owed, this thread does now
    ++moved_in;
  }
  void on_knock(uint64_t, ConnHandle h, net::Ipv4Addr, uint16_t, net::Ipv4Addr, uint16_t) override {
    knocks_.push_back(h);
  }
  void on_connected(uint64_t, ConnHandle, int) override { ++failures; }
  void on_recv(uint64_t cookie, ConnHandle h, const uint8_t *data, uint32_t len) override {
    auto *c = reinterpret_cast<EchoConn *>(cookie);
    if (len == 0) return;  // the peer's FIN: closed at the end of the test
    if (c->in + len - c->acked > EchoConn::kBuf) {
      ++failures;  // the peer broke its own limit
      return;
    }
    for (uint32_t i = 0; i < len; ++i) c->buf[(c->in + i) % EchoConn::kBuf] = data[i];
    c->in += len;
    c->to_consume += len;
    todo_.push_back({c, h});
  }
  void on_sent(uint64_t cookie, ConnHandle, uint32_t bytes) override {
    reinterpret_cast<EchoConn *>(cookie)->acked += bytes;
  }
  void on_dead(uint64_t, ConnHandle, DeadReason) override { ++deaths; }
  void on_udp(mem::Mbuf *m, const net::UdpDatagram &d) override { udp_.push_back({m, d}); }

  // Between batches: the engine calls made on behalf of the events.
  void react() {
    auto &tcp = thread_->stack().tcp();
    for (ConnHandle h : knocks_) {
      auto c = std::make_unique<EchoConn>();
      c->h = h;
      if (tcp.accept(h, reinterpret_cast<uint64_t>(c.get())) != IX_OK ||
          tcp.set_keepalive(h, true) != IX_OK)
        ++failures;
      created_.push_back(std::move(c));
    }
    knocks_.clear();
    for (const Todo &t : todo_) {
      // A connection that moved away since is not ours to touch: its old
      // handle is stale here (the new owner heard on_moved and does it).
      if (tcp.tcb_of(t.h) == nullptr) continue;
      EchoConn *c = t.c;
      if (c->to_consume != 0) {
        if (tcp.recv_done(t.h, c->to_consume) != IX_OK) ++failures;
        c->to_consume = 0;
      }
      while (c->sent < c->in) {
        const size_t at = c->sent % EchoConn::kBuf;
        const size_t len = std::min<uint64_t>(c->in - c->sent, EchoConn::kBuf - at);
        iovec iov{c->buf.data() + at, len};
        const int64_t n = tcp.sendv(t.h, &iov, 1);
        if (n <= 0) {
          if (n < 0) ++failures;
          break;
        }
        c->sent += static_cast<uint64_t>(n);
      }
      if (c->sent < c->in) retry_.push_back(t);
    }
    todo_.swap(retry_);
    retry_.clear();
    for (auto &[m, d] : udp_) {
      mem::Mbuf *out = thread_->pool().alloc();
      if (out == nullptr) {
        ++failures;
      } else {
        std::memcpy(out->append(d.len), d.payload, d.len);
        if (thread_->stack().udp_send(d.src, d.src_port, d.dst_port, out) != 0) ++failures;
      }
      mem::MbufPool::free_chain(m);
    }
    udp_.clear();
  }

  unsigned id() const { return id_; }
  uint64_t failures = 0, deaths = 0, moved_in = 0;

 private:
  struct Todo {
    EchoConn *c;
    ConnHandle h;
  };
  unsigned id_;
  core::ElasticThread *thread_ = nullptr;
  std::vector<ConnHandle> knocks_;
  std::vector<Todo> todo_, retry_;
  std::vector<std::pair<mem::Mbuf *, net::UdpDatagram>> udp_;
  std::vector<std::unique_ptr<EchoConn>> created_;  // freed with the app, after every thread
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
    for (unsigned i = 0; i < conns_.size(); ++i) {
      const int64_t h = t_.stack().tcp().connect(kIxIp, kTcpPort, 0, i, this);
      if (h < 0) ++failures;
      conns_[i].h = static_cast<ConnHandle>(h);
    }
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
  size_t rr_ = 0;
};

// The IX runtime (four unpinned elastic threads, each running an EchoApp)
// and the peer (its own thread and stack), joined by the loop wire.
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

class MoveRig {
 public:
  static constexpr unsigned kConns = kUnderTsan ? 250 : 1000, kUdpFlows = kUnderTsan ? 16 : 64;

  MoveRig()
      : wire_(clock_),
        // Deep rings: the wire must lose nothing (the echoes of four
        // threads reach the peer's one queue; its thread may wait for a
        // CPU meanwhile).
        ix_port_(
            wire_.add_port({.name = "ix", .mac = kIxMac, .queues = kThreads, .ring_depth = 8192})),
        peer_port_(
            wire_.add_port({.name = "peer", .mac = kPeerMac, .queues = 1, .ring_depth = 16384})),
        runtime_(ix_port_, runtime_config()) {
    for (unsigned i = 0; i < kThreads; ++i) apps_.push_back(std::make_unique<EchoApp>(i));
  }

  static core::RuntimeConfig runtime_config() {
    core::RuntimeConfig rc;
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

  // Starts both sides; returns once the streams are flowing.
  void start() {
    ix_side_ = std::thread([this] {
      runtime_.run([this](core::ElasticThread &t, const std::atomic<bool> &stop) {
        EchoApp &app = *apps_[t.config().id];
        app.attach(t);
        listening_.fetch_add(1);
        while (!stop.load(std::memory_order_relaxed)) {
          t.poll();
          app.react();
          t.flush_tx();
          t.serve_control();
          t.maybe_publish();
        }
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
    EXPECT_GE(peer.least_datagrams(), 16u) << "a UDP flow carried too little to show anything";
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
    for (unsigned t = 0; t < kThreads; ++t) {
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
  std::vector<std::unique_ptr<EchoApp>> apps_;
  std::thread ix_side_, peer_side_;
  std::atomic<unsigned> listening_{0};
  std::atomic<bool> peer_finish_{false}, peer_done_{false}, peer_stop_{false};
  std::atomic<uint64_t> peer_progress_{0}, peer_least_{0};
  net::tcp::TcpStats peer_tcp_{};
  std::unique_ptr<Peer> peer_;
  const std::chrono::steady_clock::time_point deadline_ =
      std::chrono::steady_clock::now() + std::chrono::seconds(120);
};

TEST(GroupMoves, ConnectionsAndFlowsFollowTheirGroupsWithoutLossOrReordering) {
  // 37 is prime to 128: the first 128 moves take every group once, so every
  // connection moves at least once; the rest take groups back and on.
  constexpr unsigned kMinMoves = 160;
  MoveRig rig;
  rig.start();
  auto &rt = rig.runtime();
  unsigned moves = 0, failed_moves = 0;
  std::string first_error;
  // At least kMinMoves moves, and on until every connection has carried
  // some data (however fast this machine moves bytes).
  while ((moves < kMinMoves || rig.least_sent() < kLeastBytes) && rig.before_deadline()) {
    const uint16_t g = static_cast<uint16_t>((moves * 37) % 128);
    const uint16_t to = static_cast<uint16_t>(
        (rt.flow_groups().queue_of_group(g) + 1 + moves % (kThreads - 1)) % kThreads);
    const std::string err = rt.move_group(g, to);
    if (!err.empty()) {
      ++failed_moves;
      if (first_error.empty()) first_error = err;
    }
    ++moves;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // traffic between moves
  }
  const bool finished = rig.finish_and_stop();
  EXPECT_EQ(failed_moves, 0u) << first_error;
  EXPECT_GE(moves, kMinMoves);
  rig.check_streams(finished, std::to_string(moves) + " moves");
  EXPECT_EQ(rig.moves_seen, moves);
  EXPECT_GE(rig.moved_in, MoveRig::kConns) << "every group moved, so every connection did";
}

// Elastic threads that come and go, through the control socket's commands:
// the dataplane gathers its groups onto fewer threads and parks the rest,
// then spreads them again, while the same streams run.
TEST(GroupMoves, CoresComeAndGoUnderLoadThroughTheControlCommands) {
  MoveRig rig;
  rig.start();
  auto &rt = rig.runtime();
  control::ControlCommands cmd(rt, nullptr);
  auto owned = [&](unsigned t) {
    const auto table = rt.flow_groups();
    unsigned n = 0;
    for (uint16_t g = 0; g < table.size(); ++g) n += table.queue_of_group(g) == t;
    return n;
  };
  // Mistakes get one error line and change nothing.
  for (const char *bad : {"move 128 0", "move 1 4", "move x 1", "move 1", "park 0", "park 9",
                          "resume", "cores 0", "cores 5", "cores two"})
    EXPECT_EQ(cmd.execute(bad).rfind("error: ", 0), 0u) << bad;
  EXPECT_EQ(owned(0), 32u);

  const unsigned steps[] = {1, 2, 4, 3};
  for (const unsigned n : steps) {
    ASSERT_EQ(cmd.execute("cores " + std::to_string(n)), "ok\n") << "cores " << n;
    for (unsigned t = 0; t < kThreads; ++t) {
      const unsigned want_min = t < n ? 128 / n : 0, want_max = t < n ? (128 + n - 1) / n : 0;
      EXPECT_GE(owned(t), want_min) << "cores " << n << ", thread " << t;
      EXPECT_LE(owned(t), want_max) << "cores " << n << ", thread " << t;
      EXPECT_EQ(rt.parked(t), t >= n) << "cores " << n << ", thread " << t;
    }
    const std::string status = cmd.execute("groups");
    EXPECT_NE(status.find("thread " + std::to_string(n - 1) + " running"), std::string::npos)
        << status;
    if (n < kThreads) {
      EXPECT_NE(status.find("thread 3 parked groups 0"), std::string::npos) << status;
      // A parked thread cannot take a group.
      EXPECT_EQ(cmd.execute("move 5 3").rfind("error: ", 0), 0u);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // traffic on this allocation
  }
  EXPECT_EQ(cmd.execute("move 5 0"), "ok\n");
  EXPECT_EQ(rt.flow_groups().queue_of_group(5), 0);
  ASSERT_EQ(cmd.execute("cores 4"), "ok\n");

  // The control plane's loop does the same by itself. Thresholds that make
  // every window a decision: all load fits on fewer threads, then every
  // thread counts as overloaded.
  control::ElasticPolicyConfig shrink;
  shrink.shrink_target = 100;
  shrink.shrink_after = 1;
  shrink.grow_busy = shrink.grow_full_batches = 2;  // never
  shrink.cooldown = 0;
  shrink.max_threads = kThreads;
  std::vector<std::string> log;
  {
    control::ElasticController ec(rt, shrink, 64, [&](const std::string &l) { log.push_back(l); });
    for (unsigned i = 0; i < kThreads - 1; ++i) ec.tick();
    EXPECT_EQ(owned(0), 128u);
    for (unsigned t = 1; t < kThreads; ++t) EXPECT_TRUE(rt.parked(t)) << t;
    EXPECT_NE(ec.status().find("1 of 4 threads in service"), std::string::npos) << ec.status();
  }
  control::ElasticPolicyConfig grow = shrink;
  grow.shrink_target = 0;
  grow.grow_busy = 0;
  grow.grow_after = 1;
  {
    control::ElasticController ec(rt, grow, 64, [&](const std::string &l) { log.push_back(l); });
    for (unsigned i = 0; i < kThreads - 1; ++i) ec.tick();
    for (unsigned t = 0; t < kThreads; ++t) EXPECT_EQ(owned(t), 32u) << t;
  }
  ASSERT_EQ(log.size(), 2 * (kThreads - 1));
  EXPECT_EQ(log.front().rfind("ixcp: 4 -> 3 threads: total load", 0), 0u) << log.front();
  EXPECT_EQ(log.back().rfind("ixcp: 3 -> 4 threads: busiest thread", 0), 0u) << log.back();
  for (const auto &l : log) EXPECT_EQ(l.find("not all"), std::string::npos) << l;

  while (rig.least_sent() < kLeastBytes && rig.before_deadline())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const bool finished = rig.finish_and_stop();
  rig.check_streams(finished, "cores 1, 2, 4, 3, then the control plane 4 -> 1 -> 4");
  EXPECT_GT(rig.moves_seen, 128u);
}

}  // namespace
}  // namespace ix
