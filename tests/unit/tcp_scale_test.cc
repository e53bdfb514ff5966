// Connection scaling: two whole IX stacks on the loop wire hold 100,000
// concurrent TCP connections (client stack opens, server stack accepts),
// every one exchanges a message both ways and is checked, then all close
// with FINs both ways and TIME_WAIT drains on the manual clock, leaving the
// tables, timers and ring arenas empty. Also: the 4-tuple hash keeps short
// chains under tuple patterns that defeat weak hashes, and the memory an
// idle connection costs, printed for the record.
#include <gtest/gtest.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "config/dataplane_config.hh"
#include "config/option_table.hh"
#include "ixev/conn_slot.hh"
#include "net/tcp/conn_table.hh"
#include "tcp_fixture.hh"

#if defined(__SANITIZE_ADDRESS__)
#define IX_SCALE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IX_SCALE_SANITIZED 1
#endif
#endif

namespace ix::net::tcp::test {
namespace {

// Under AddressSanitizer every allocation and access costs several times
// more; the scale run there keeps the same shape with a fifth of the count.
#ifdef IX_SCALE_SANITIZED
constexpr uint32_t kConns = 20'000;
#else
constexpr uint32_t kConns = 100'000;
#endif
// Server ports: 16384 ephemeral ports per (address, port) on the client
// side, so 100k connections need at least 7 destinations.
constexpr uint16_t kFirstPort = 5000;
constexpr uint16_t kPorts = 8;
// Connections opened, messaged or closed per wave: bounded by the RX rings
// (4096 frames), the pools and the SYN backlog, as a real client would pace.
constexpr uint32_t kWave = 2048;
constexpr uint32_t kMsgLen = 8;

uint64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// One side's record of one connection (indexed by the cookie the engine
// passes back: the connect cookie on the client, the accept cookie on the
// server).
struct ScaleConn {
  ConnHandle h = 0;
  uint8_t rx[kMsgLen] = {};
  uint8_t tx[kMsgLen] = {};  // what this side sent: referenced until acknowledged
  uint8_t rx_len = 0;
  uint32_t unconsumed = 0;
  uint32_t acked = 0;
  int connect_result = 1;  // 1: not reported
  bool fin = false;
  bool dead = false;
  DeadReason why = DeadReason::kClosed;
  int events_after_dead = 0;
};

// Records events into ScaleConns and notes which connections need a
// reaction; reactions run between steps (the engine forbids calling back).
class ScaleApp final : public TcpEvents {
 public:
  void on_knock(uint64_t, ConnHandle h, Ipv4Addr, uint16_t, Ipv4Addr, uint16_t) override {
    knocks.push_back(h);
  }
  void on_connected(uint64_t cookie, ConnHandle h, int result) override {
    ScaleConn &c = conn(cookie, h);
    c.connect_result = result;
    ++connected;
  }
  void on_recv(uint64_t cookie, ConnHandle h, const uint8_t *data, uint32_t len) override {
    ScaleConn &c = conn(cookie, h);
    if (len == 0) {
      if (c.fin) ++errors;
      c.fin = true;
      fins.push_back(static_cast<uint32_t>(cookie));
      return;
    }
    if (c.rx_len + len > kMsgLen) {
      ++errors;
      return;
    }
    std::memcpy(c.rx + c.rx_len, data, len);
    c.rx_len = static_cast<uint8_t>(c.rx_len + len);
    c.unconsumed += len;
    if (c.rx_len == kMsgLen) received.push_back(static_cast<uint32_t>(cookie));
  }
  void on_sent(uint64_t cookie, ConnHandle h, uint32_t bytes) override {
    conn(cookie, h).acked += bytes;
  }
  void on_dead(uint64_t cookie, ConnHandle h, DeadReason why) override {
    ScaleConn &c = conn(cookie, h);
    if (c.dead) ++errors;
    c.dead = true;
    c.why = why;
    ++dead;
  }

  ScaleConn &conn(uint64_t cookie, ConnHandle h) {
    if (cookie >= conns.size() || conns[cookie].h != h) {
      ++errors;
      return stray;
    }
    if (conns[cookie].dead) ++conns[cookie].events_after_dead;
    return conns[cookie];
  }

  std::vector<ScaleConn> conns;  // reserved up front: sends point into it
  std::vector<ConnHandle> knocks;
  std::vector<uint32_t> received;  // whole messages, to answer or check
  std::vector<uint32_t> fins;
  ScaleConn stray;
  uint64_t connected = 0;
  uint64_t dead = 0;
  uint64_t errors = 0;
};

void put_index(uint8_t *msg, uint32_t i, uint8_t tag) {
  msg[0] = tag;
  std::memcpy(msg + 1, &i, sizeof i);
  msg[5] = static_cast<uint8_t>(i * 7);
  msg[6] = static_cast<uint8_t>(i >> 3);
  msg[7] = static_cast<uint8_t>(~tag);
}

class TcpScaleTest : public TcpPairTest {
 protected:
  static TcpConfig scale_config() {
    TcpConfig c;                // the defaults (max_connections 262144, 60 s TIME_WAIT) ...
    c.syn_backlog = 2 * kWave;  // ... with room for a whole wave of SYNs at once
    return c;
  }

  void SetUp() override {
    start({}, scale_config(), scale_config(), 16384);
    client.conns.reserve(kConns);
    server.conns.reserve(kConns);
    on_step = [this] { react(); };
  }

  // The applications' reactions: the server accepts knocks, answers
  // complete messages and closes when the client did; both consume data.
  void react() {
    // Each list is taken before it is worked through: a call into the
    // engine (accept delivers queued data) may add to it.
    std::vector<ConnHandle> knocks;
    knocks.swap(server.knocks);
    for (ConnHandle h : knocks) {
      const uint32_t j = static_cast<uint32_t>(server.conns.size());
      server.conns.emplace_back().h = h;
      if (B->tcp().accept(h, j) != IX_OK) ++server.errors;
    }
    std::vector<uint32_t> todo;
    todo.swap(server.received);
    for (uint32_t j : todo) {
      ScaleConn &c = server.conns[j];
      consume(B->tcp(), c, server);
      uint32_t i = 0;
      std::memcpy(&i, c.rx + 1, sizeof i);
      uint8_t want[kMsgLen];
      put_index(want, i, 'C');
      if (i >= kConns || std::memcmp(c.rx, want, kMsgLen) != 0 || seen_[i]) {
        ++server.errors;
        continue;
      }
      seen_[i] = 1;
      put_index(c.tx, i, 'S');
      iovec iov{c.tx, kMsgLen};
      if (B->tcp().sendv(c.h, &iov, 1) != kMsgLen) ++server.errors;
    }
    todo.clear();
    todo.swap(client.received);
    for (uint32_t i : todo) {
      ScaleConn &c = client.conns[i];
      consume(A->tcp(), c, client);
      uint8_t want[kMsgLen];
      put_index(want, i, 'S');
      if (std::memcmp(c.rx, want, kMsgLen) != 0) ++client.errors;
    }
    todo.clear();
    todo.swap(server.fins);
    for (uint32_t j : todo)
      if (B->tcp().close(server.conns[j].h) != IX_OK) ++server.errors;
    client.fins.clear();  // the client closed first: nothing to answer
  }

  static void consume(Tcp &tcp, ScaleConn &c, ScaleApp &app) {
    if (c.unconsumed == 0) return;
    if (tcp.recv_done(c.h, c.unconsumed) != IX_OK) ++app.errors;
    c.unconsumed = 0;
  }

  // Runs until pred() holds, failing the test after `max_ns` of simulated
  // time (TIME_WAIT alone is 60 s).
  void run(const std::function<bool()> &pred, const char *what,
           uint64_t max_ns = 30'000'000'000ull) {
    ASSERT_TRUE(run_until(pred, max_ns)) << what;
    ASSERT_EQ(client.errors, 0u) << what;
    ASSERT_EQ(server.errors, 0u) << what;
  }

  ScaleApp client;
  ScaleApp server;
  std::vector<uint8_t> seen_ = std::vector<uint8_t>(kConns, 0);
};

TEST_F(TcpScaleTest, HoldsOneHundredThousandConnectionsAndClosesThemAll) {
  for (uint16_t p = 0; p < kPorts; ++p)
    ASSERT_EQ(B->tcp().listen(kFirstPort + p, p, &server), IX_OK);
  Tcp &ta = A->tcp();
  Tcp &tb = B->tcp();

  // ---- open, in waves; the first connection alone resolves ARP ----
  const uint64_t rss_before = rss_bytes();
  const unsigned timers_before = A->timers.pending() + B->timers.pending();
  uint32_t opened = 0;
  while (opened < kConns) {
    const uint32_t wave = opened == 0 ? 1 : std::min(kWave, kConns - opened);
    for (uint32_t k = 0; k < wave; ++k, ++opened) {
      const int64_t h =
          ta.connect(kIpB, static_cast<uint16_t>(kFirstPort + opened % kPorts), 0, opened, &client);
      ASSERT_GT(h, 0) << "connect " << opened << ": " << h;
      client.conns.emplace_back().h = static_cast<ConnHandle>(h);
    }
    run([&] { return client.connected == opened && server.conns.size() == opened; }, "open");
  }
  ASSERT_EQ(ta.connections(), kConns);
  ASSERT_EQ(tb.connections(), kConns);
  ASSERT_EQ(tb.half_open(), 0u);
  EXPECT_EQ(ta.stats().retransmits + tb.stats().retransmits, 0u);
  for (const ScaleConn &c : client.conns) {
    ASSERT_EQ(c.connect_result, IX_OK);
    ASSERT_EQ(ta.tcb_of(c.h)->state, TcpState::kEstablished);
  }
  for (const ScaleConn &c : server.conns) ASSERT_EQ(tb.tcb_of(c.h)->state, TcpState::kEstablished);

  // Memory of the idle connections (established, nothing in flight): both
  // stacks' slots, hash and timers, plus this test's records (2 x ~40 B).
  const uint64_t rss_idle = rss_bytes();
  const double per_conn = static_cast<double>(rss_idle - rss_before) / kConns;
  std::printf(
      "[scale] %u idle connections: RSS +%.1f MiB = %.0f B per connection for both stacks "
      "together (sizeof Tcb %zu B; ixev Slot %zu B; index %zu B per side)\n",
      kConns, static_cast<double>(rss_idle - rss_before) / (1 << 20), per_conn, sizeof(Tcb),
      sizeof(ev::detail::Slot), ta.table().index_bytes());
  RecordProperty("rss_bytes_per_idle_connection_pair", static_cast<int>(per_conn));
  EXPECT_EQ(ta.table().ring_bytes() + tb.table().ring_bytes(), 0u)
      << "idle connections hold no ring storage";
#ifndef IX_SCALE_SANITIZED
  // Two control blocks (~0.9 KiB each) and change; an idle connection
  // holding a window's worth of ring entries would cost 16 KiB per side.
  EXPECT_LT(per_conn, 3.0 * 1024);
#endif

  // ---- one message each way on every connection, in waves ----
  for (uint32_t first = 0; first < kConns; first += kWave) {
    const uint32_t last = std::min(first + kWave, kConns);
    for (uint32_t i = first; i < last; ++i) {
      ScaleConn &c = client.conns[i];
      put_index(c.tx, i, 'C');
      iovec iov{c.tx, kMsgLen};
      ASSERT_EQ(ta.sendv(c.h, &iov, 1), kMsgLen);
    }
    run(
        [&] {
          for (uint32_t i = first; i < last; ++i) {
            const ScaleConn &c = client.conns[i];
            if (c.rx_len != kMsgLen || c.acked != kMsgLen) return false;
          }
          return true;
        },
        "exchange");
  }
  // Every server connection answered once and heard its answer acknowledged.
  run(
      [&] {
        for (const ScaleConn &c : server.conns)
          if (c.acked != kMsgLen) return false;
        return true;
      },
      "server acks");
  for (uint32_t i = 0; i < kConns; ++i) ASSERT_EQ(seen_[i], 1) << i;
  for (const ScaleConn &c : client.conns) {
    const Tcb *t = ta.tcb_of(c.h);
    ASSERT_EQ(t->state, TcpState::kEstablished);
    ASSERT_EQ(t->snd_una, t->snd_max);
    ASSERT_EQ(t->rq.allocated() + t->sq.allocated() + t->txr.allocated(), 0u);
  }
  for (const ScaleConn &c : server.conns) {
    const Tcb *t = tb.tcb_of(c.h);
    ASSERT_EQ(t->state, TcpState::kEstablished);
    ASSERT_EQ(t->rq.allocated() + t->sq.allocated() + t->txr.allocated(), 0u);
  }
  // The arenas hold what the connections with unacknowledged data needed at
  // once (a send chunk and a sent-segment record each, for the replies whose
  // delayed ACKs are still due), not a ring per connection: that would be
  // 2 x 100,000 x (64 + 96 + 96) B, about 50 MiB.
  EXPECT_LT(ta.table().ring_bytes() + tb.table().ring_bytes(), size_t{12} << 20);
  EXPECT_EQ(ta.stats().retransmits + tb.stats().retransmits, 0u);

  // ---- close: the client's FIN, the server's FIN, in waves ----
  for (uint32_t first = 0; first < kConns; first += kWave) {
    const uint32_t last = std::min(first + kWave, kConns);
    for (uint32_t i = first; i < last; ++i) ASSERT_EQ(ta.close(client.conns[i].h), IX_OK);
    run(
        [&] {
          for (uint32_t i = first; i < last; ++i)
            if (!client.conns[i].dead) return false;
          return true;
        },
        "close");
  }
  run([&] { return server.dead == kConns; }, "server close");
  for (const ScaleConn &c : client.conns) {
    ASSERT_EQ(c.why, DeadReason::kClosed);
    ASSERT_TRUE(c.fin);
    ASSERT_EQ(c.events_after_dead, 0);
  }
  for (const ScaleConn &c : server.conns) {
    ASSERT_EQ(c.why, DeadReason::kClosed);
    ASSERT_TRUE(c.fin);
    ASSERT_EQ(c.events_after_dead, 0);
  }
  // The active closer keeps every tuple in TIME_WAIT; the passive one is empty.
  EXPECT_EQ(ta.connections(), kConns);
  EXPECT_EQ(tb.connections(), 0u);

  // ---- TIME_WAIT (60 s) drains on the manual clock ----
  run([&] { return ta.connections() == 0; }, "time wait", 90'000'000'000ull);
  EXPECT_EQ(ta.table().in_use(), 0u);
  EXPECT_EQ(tb.table().in_use(), 0u);
  // No connection timer is left: only ARP's, one per entry learned since.
  EXPECT_EQ(A->timers.pending() + B->timers.pending(),
            timers_before + A->stack->arp_entries() + B->stack->arp_entries());
  EXPECT_EQ(ta.stats().conn_table_full + tb.stats().conn_table_full, 0u);
  EXPECT_EQ(ta.stats().retransmits + tb.stats().retransmits, 0u);
  EXPECT_EQ(client.errors + server.errors, 0u);
}

// Fills a table to capacity with tuples from `make`, checks that every one
// is found and that no bucket chain is long, then empties it.
template <class Make>
void fill_and_check(ConnTable &table, uint32_t n, Make make, const char *pattern) {
  std::vector<Tcb *> all;
  all.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    Tcb *t = table.alloc();
    ASSERT_NE(t, nullptr) << pattern << " " << i;
    make(i, *t);
    ASSERT_EQ(table.lookup(t->local, t->lport, t->remote, t->rport), nullptr)
        << pattern << ": duplicate tuple " << i;
    table.insert(t);
    all.push_back(t);
  }
  EXPECT_EQ(table.alloc(), nullptr) << "capacity is a hard limit";
  const ConnTable::ChainStats st = table.chain_stats();
  // n keys in n buckets under a random hash: mean over non-empty buckets
  // about 1.58, the longest chain about 8. A hash that folds the tuple
  // badly puts thousands in one chain.
  EXPECT_LE(st.longest, 16u) << pattern;
  EXPECT_LT(st.mean, 2.0) << pattern;
  for (Tcb *t : all) ASSERT_EQ(table.lookup(t->local, t->lport, t->remote, t->rport), t);
  for (Tcb *t : all) table.free(t);
  EXPECT_EQ(table.in_use(), 0u);
}

TEST(TcpScaleHash, ShortChainsForTuplePatternsThatBreakWeakHashes) {
  constexpr uint32_t kN = 1u << 18;  // 262144: the default max_connections
  ConnTable table(kN, 64, 256 * 1024, 256, 512, 512);
  // Many clients' ports to one service: only the remote port's low bits vary
  // within each remote address.
  fill_and_check(
      table, kN,
      [](uint32_t i, Tcb &t) {
        t.local = ipv4(10, 0, 0, 2);
        t.lport = 80;
        t.remote = Ipv4Addr{ipv4(10, 1, 0, 0).v + (i >> 16)};
        t.rport = static_cast<uint16_t>(i);
      },
      "ports");
  // Remote addresses that differ only in their high bits (a hash of the
  // low bits or of a 16-bit fold sees one address).
  fill_and_check(
      table, kN,
      [](uint32_t i, Tcb &t) {
        t.local = ipv4(10, 0, 0, 2);
        t.lport = 443;
        t.remote = Ipv4Addr{(i & 0x3fff) << 18 | 0x1234};
        t.rport = static_cast<uint16_t>(1024 + (i >> 14) * 4096);
      },
      "high address bits, ports a multiple of 4096");
  // Symmetric tuples: local ^ remote and lport ^ rport are the same for
  // every connection, which defeats a hash that XOR-folds the fields.
  fill_and_check(
      table, kN,
      [](uint32_t i, Tcb &t) {
        const uint32_t a = ipv4(10, 0, 0, 0).v + (i >> 10);
        t.local = Ipv4Addr{a};
        t.remote = Ipv4Addr{a ^ 0x00ff00ffu};
        t.lport = static_cast<uint16_t>(1000 + (i & 1023));
        t.rport = t.lport;
      },
      "symmetric");
  // Source port and address moving together (one port per client), as
  // a NAT or a load generator spreading over addresses produces.
  fill_and_check(
      table, kN,
      [](uint32_t i, Tcb &t) {
        t.local = ipv4(192, 168, 0, 1);
        t.lport = 8080;
        t.remote = Ipv4Addr{ipv4(172, 16, 0, 0).v + i};
        t.rport = static_cast<uint16_t>(i * 256);
      },
      "address and port in step");
  EXPECT_EQ(table.slots_made(), kN);
  EXPECT_EQ(table.ring_bytes(), 0u);
}

TEST(TcpScaleHash, SlotsAreMadeInBlocksAsConnectionsOpen) {
  ConnTable table(10'000, 64, 256 * 1024, 256, 512, 512);
  EXPECT_EQ(table.slots_made(), 0u);
  Tcb *t = table.alloc();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(table.slots_made(), ConnTable::kBlockSlots);
  std::vector<Tcb *> all{t};
  while (Tcb *u = table.alloc()) all.push_back(u);
  EXPECT_EQ(all.size(), 10'000u);  // a limit that ends inside a block holds
  EXPECT_EQ(table.slots_made(), 10'000u);
  // A freed slot's handle goes stale; the slot itself is reused.
  const ConnHandle h = table.handle(*all[5]);
  EXPECT_EQ(table.by_handle(h), all[5]);
  table.free(all[5]);
  EXPECT_EQ(table.by_handle(h), nullptr);
  Tcb *again = table.alloc();
  EXPECT_EQ(again, all[5]);
  EXPECT_NE(table.handle(*again), h);
  EXPECT_EQ(table.by_handle(ConnHandle{20'000}), nullptr) << "slot beyond those made";
}

TEST(TcpScaleRing, StorageFollowsContentsAndGrowsByClasses) {
  RingArena<SendChunk> arena(256);
  ASSERT_EQ(arena.classes(), 4u);  // 4, 16, 64, 256
  Ring<SendChunk> r;
  r.init(&arena);
  EXPECT_EQ(r.capacity(), 256u);
  EXPECT_EQ(r.allocated(), 0u);
  static const uint8_t bytes[256] = {};
  // Wrap around inside the smallest class, then grow through every class
  // while the ring has wrapped, checking FIFO order throughout.
  uint32_t pushed = 0, popped = 0;
  for (int k = 0; k < 3; ++k) r.push({bytes + pushed++, 1});
  r.pop();
  ++popped;
  for (; pushed < 256 + popped; ++pushed) {
    ASSERT_GT(r.free(), 0u);
    r.push({bytes + pushed, 1});
  }
  EXPECT_EQ(r.free(), 0u);
  EXPECT_EQ(r.allocated(), 256u);
  for (uint32_t i = 0; i < r.size(); ++i) ASSERT_EQ(r.at(i).data, bytes + popped + i);
  while (!r.empty()) {
    ASSERT_EQ(r.front().data, bytes + popped++);
    r.pop();
  }
  EXPECT_EQ(r.allocated(), 0u) << "an empty ring gives its array back";
  EXPECT_EQ(arena.arrays_in_use(), 0u);
  // A second round reuses the arena's arrays: nothing new is reserved.
  const size_t reserved = arena.reserved_bytes();
  for (int k = 0; k < 200; ++k) r.push({bytes, 1});
  r.clear();
  EXPECT_EQ(arena.reserved_bytes(), reserved);
  EXPECT_EQ(arena.arrays_in_use(), 0u);
}

TEST(TcpScaleConfig, MaxConnectionsOptionReachesTheEngineConfig) {
  config::DataplaneConfig c;
  EXPECT_EQ(c.tcp_max_conns, TcpConfig{}.max_connections);
  const config::OptionSpec *o = config::find_option("tcp-max-conns");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->set("500000", c), "");
  EXPECT_EQ(c.tcp_max_conns, 500'000u);
  EXPECT_NE(o->set("0", c), "");
  EXPECT_NE(o->set("16777217", c), "") << "beyond the handle's 24 slot bits";
  EXPECT_NE(o->set("lots", c), "");
  EXPECT_EQ(c.tcp_max_conns, 500'000u);
}

}  // namespace
}  // namespace ix::net::tcp::test
