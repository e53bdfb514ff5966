// TCP echo throughput as the number of concurrent connections grows: 10,
// 100, 1k, 10k, 100k connections between two IX elastic threads on the loop
// wire, one JSON line per connection count on stdout.
//
//   tcp_conn_scale_bench [--conns 10,100,1000,10000,100000] [--seconds S]
//                        [--in-flight W]
//
// A client thread and a server thread (each its own pool, stack and ix_ctx)
// take turns on the calling core, as in tcp_echo_bench. All connections are
// opened first (in waves, as a paced client would), then the client keeps
// `in_flight` 64-byte messages outstanding (default 1024, fewer if there are
// fewer connections), each on its own connection, and moves on to the next
// connection in round-robin order when an echo comes back: every connection
// carries traffic in turn, so the figure includes reaching any of N control
// blocks (table lookup, cache misses), not just the few that are hot. The
// server echoes zero copy (sendv from the received buffer, recv_done when
// the echo is acknowledged); the client checks every byte.
//
// Each line: conns, in_flight, msgs_per_sec (round trips per wall-clock
// second), cpu_msgs_per_sec (per CPU second of this thread), round_trips,
// seconds, open_seconds (to open all connections), rss_mib after opening,
// segments_per_msg (both directions: 2.0 while every connection has a
// message in flight, as each ACK rides on data; 3.0 once connections
// outnumber in_flight, as the client's ACK of an echo then waits for the
// delayed-ACK timer, its next message going to another connection), and
// retransmits / drops / errors (all 0 in a clean run). The process exits
// 1 if any run failed.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "api/io_context.hh"
#include "core/clock.hh"
#include "core/elastic_thread.hh"
#include "drivers/loop/loop_wire.hh"
#include "ix/syscall.h"

namespace {

using namespace ix;

constexpr uint32_t kMsgLen = 64;
constexpr uint16_t kFirstPort = 7000;
// 16384 ephemeral ports per destination: 8 server ports hold 131072 connections.
constexpr uint16_t kPorts = 8;
constexpr size_t kOpenWave = 1024;
constexpr int kStallTurns = 2'000'000;

const net::MacAddr kClientMac{{0x02, 0, 0, 0, 0, 0xc1}};
const net::MacAddr kServerMac{{0x02, 0, 0, 0, 0, 0x5e}};
constexpr net::Ipv4Addr kClientIp = net::ipv4(10, 0, 0, 1);
constexpr net::Ipv4Addr kServerIp = net::ipv4(10, 0, 0, 2);

const std::array<uint8_t, kMsgLen> kMessage = [] {
  std::array<uint8_t, kMsgLen> m{};
  for (uint32_t i = 0; i < kMsgLen; ++i) m[i] = static_cast<uint8_t>('A' + i % 26);
  return m;
}();

double wall_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
double rss_mib() {
  std::ifstream f("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return static_cast<double>(resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE))) / (1 << 20);
}

core::ElasticThreadConfig thread_config(unsigned id, net::MacAddr mac, net::Ipv4Addr addr,
                                        uint32_t conns) {
  core::ElasticThreadConfig c;
  c.id = id;
  c.pool.count = 16384;
  c.pool.try_huge_pages = false;
  c.stack.mac = mac;
  c.stack.addr = addr;
  c.stack.gratuitous_arp = false;
  c.stack.tcp.max_connections = std::max<uint32_t>(conns + 1024, c.stack.tcp.max_connections);
  c.stack.tcp.syn_backlog = 2 * kOpenWave;
  c.idle_polls_before_yield = 0;  // both threads share this core
  return c;
}

struct IxApp {
  static constexpr size_t kMaxEvents = 512;
  explicit IxApp(core::ElasticThread &t) : ctx(t, nullptr) {
    cmds.reserve(4 * kMaxEvents);
    iovs.reserve(4 * kMaxEvents);
  }
  ix_ctx ctx;
  std::vector<ix_cmd> cmds;
  std::vector<ix_iovec> iovs;  // reserved: commands point into it until run()
  std::array<ix_event, kMaxEvents> events{};

  ix_cmd &add(uint16_t op, uint64_t cookie) {
    ix_cmd &c = cmds.emplace_back();
    c = ix_cmd{};
    c.op = op;
    c.cookie = cookie;
    return c;
  }
  std::span<const ix_event> run() {
    const int n = ix_run_io(&ctx, cmds.data(), cmds.size(), events.data(), events.size());
    return {events.data(), n > 0 ? static_cast<size_t>(n) : 0};
  }
};

class ScalePair {
 public:
  ScalePair(uint32_t conns, uint32_t in_flight)
      : wire_(clock_),
        client_port_(
            wire_.add_port({.name = "client", .mac = kClientMac, .queues = 1, .ring_depth = 8192})),
        server_port_(
            wire_.add_port({.name = "server", .mac = kServerMac, .queues = 1, .ring_depth = 8192})),
        client_thread_(thread_config(0, kClientMac, kClientIp, conns), client_port_, clock_),
        server_thread_(thread_config(1, kServerMac, kServerIp, conns), server_port_, clock_),
        client_(client_thread_),
        server_(server_thread_),
        conns_(conns),
        in_flight_(std::min(in_flight, conns)) {}

  bool open() {
    for (uint16_t p = 0; p < kPorts; ++p)
      server_.add(IX_CMD_TCP_LISTEN, 0).u.tcp_listen.port = kFirstPort + p;
    // The first connection alone: ARP holds only a few packets while resolving.
    size_t done = 0;
    while (done < conns_.size()) {
      const size_t wave = done == 0 ? 1 : std::min(kOpenWave, conns_.size() - done);
      for (size_t i = done; i < done + wave; ++i)
        client_.add(IX_CMD_TCP_CONNECT, i).u.tcp_connect.dst =
            ix_endpoint{kServerIp.v, static_cast<uint16_t>(kFirstPort + i % kPorts), 0};
      done += wave;
      for (int idle = 0; (connected_ < done || accepted_ < done) && errors_ == 0; ++idle) {
        if (step() != 0) idle = 0;
        if (idle > kStallTurns) return false;
      }
      if (errors_ != 0) return false;
    }
    return true;
  }

  void start() {
    for (uint32_t i = 0; i < in_flight_; ++i) send_message(i);
    next_ = in_flight_ % conns_.size();
  }

  // One turn of each side; returns whether anything happened.
  uint64_t step() {
    const uint64_t before = progress_;
    server_turn();
    client_turn();
    return progress_ - before;
  }

  uint64_t round_trips() const { return round_trips_; }
  uint64_t errors() const { return errors_; }
  uint64_t retransmits() {
    return client_thread_.stack().tcp().stats().retransmits +
           server_thread_.stack().tcp().stats().retransmits;
  }
  uint64_t segments() {
    return client_thread_.stack().tcp().stats().segments_tx +
           server_thread_.stack().tcp().stats().segments_tx;
  }
  uint64_t drops() {
    return client_thread_.stack().counters().total_drops() +
           server_thread_.stack().counters().total_drops();
  }

 private:
  struct ClientConn {
    ix_tcp_handle handle = 0;
    uint32_t received = 0;
  };

  template <class React>
  void turn(IxApp &app, React react) {
    for (int round = 0; round < 4; ++round) {
      auto events = app.run();
      check_results(app);
      app.cmds.clear();
      app.iovs.clear();
      progress_ += events.size();
      for (const ix_event &e : events) react(e);
      if (app.cmds.empty()) return;
    }
  }

  void check_results(IxApp &app) {
    for (const ix_cmd &c : app.cmds) {
      if (c.op == IX_CMD_TCP_SENDV) {
        if (c.result != static_cast<int64_t>(c.u.tcp_sendv.iov[0].len)) ++errors_;
      } else if (c.op == IX_CMD_TCP_CONNECT) {
        if (c.result != IX_OK)
          ++errors_;
        else
          conns_[c.cookie].handle = c.u.tcp_conn.handle;
      } else if (c.result != IX_OK) {
        ++errors_;
      }
    }
  }

  void server_turn() {
    turn(server_, [this](const ix_event &e) {
      switch (e.type) {
        case IX_EV_TCP_KNOCK:
          server_.add(IX_CMD_TCP_ACCEPT, 0).u.tcp_conn.handle = e.u.tcp_knock.handle;
          ++accepted_;
          break;
        case IX_EV_TCP_RECV: {
          if (e.u.tcp.len == 0) {
            ++errors_;
            break;
          }
          server_.iovs.push_back({e.u.tcp.data, e.u.tcp.len});
          ix_cmd &c = server_.add(IX_CMD_TCP_SENDV, 0);
          c.u.tcp_sendv = {e.u.tcp.handle, &server_.iovs.back(), 1};
          break;
        }
        case IX_EV_TCP_SENT: {
          ix_cmd &c = server_.add(IX_CMD_TCP_RECV_DONE, 0);
          c.u.tcp_recv_done = {e.u.tcp.handle, e.u.tcp.len};
          break;
        }
        case IX_EV_TCP_DEAD:
          ++errors_;
          break;
        default:
          break;
      }
    });
  }

  void client_turn() {
    turn(client_, [this](const ix_event &e) {
      switch (e.type) {
        case IX_EV_TCP_CONNECTED:
          if (e.result != IX_OK) ++errors_;
          ++connected_;
          break;
        case IX_EV_TCP_RECV: {
          ClientConn &cc = conns_[e.cookie];
          const uint32_t len = static_cast<uint32_t>(e.u.tcp.len);
          if (len == 0 || cc.received + len > kMsgLen ||
              std::memcmp(e.u.tcp.data, kMessage.data() + cc.received, len) != 0) {
            ++errors_;
            break;
          }
          ix_cmd &c = client_.add(IX_CMD_TCP_RECV_DONE, 0);
          c.u.tcp_recv_done = {cc.handle, len};
          cc.received += len;
          if (cc.received == kMsgLen) {
            cc.received = 0;
            ++round_trips_;
            // The next connection in turn carries the next message.
            send_message(next_);
            next_ = next_ + 1 == conns_.size() ? 0 : next_ + 1;
          }
          break;
        }
        case IX_EV_TCP_DEAD:
          ++errors_;
          break;
        default:
          break;
      }
    });
  }

  void send_message(size_t i) {
    client_.iovs.push_back({kMessage.data(), kMsgLen});
    ix_cmd &c = client_.add(IX_CMD_TCP_SENDV, i);
    c.u.tcp_sendv = {conns_[i].handle, &client_.iovs.back(), 1};
  }

  core::MonotonicClock clock_;
  drivers::LoopWire wire_;
  drivers::LoopPort &client_port_;
  drivers::LoopPort &server_port_;
  core::ElasticThread client_thread_;
  core::ElasticThread server_thread_;
  IxApp client_;
  IxApp server_;
  std::vector<ClientConn> conns_;
  uint32_t in_flight_;
  size_t next_ = 0;
  size_t connected_ = 0;
  size_t accepted_ = 0;
  uint64_t progress_ = 0;
  uint64_t round_trips_ = 0;
  uint64_t errors_ = 0;
};

// Returns false if the run failed (its line says why).
bool run_one(uint32_t conns, uint32_t in_flight, double seconds) {
  auto pair = std::make_unique<ScalePair>(conns, in_flight);
  const double t_open = wall_s();
  const bool opened = pair->open();
  const double open_s = wall_s() - t_open;
  const double rss = rss_mib();
  bool ok = opened;
  double wall = 0, cpu = 0;
  uint64_t trips = 0, segs0 = 0, segs = 0;
  if (opened) {
    pair->start();
    // Warm-up: every connection carries a message once (10 s at most).
    const double warm_end = wall_s() + 10;
    for (int idle = 0; pair->round_trips() < conns && wall_s() < warm_end; ++idle) {
      if (pair->step() != 0) idle = 0;
      if (idle > kStallTurns || pair->errors() != 0) {
        ok = false;
        break;
      }
    }
    const uint64_t trips0 = pair->round_trips();
    segs0 = pair->segments();
    const double w0 = wall_s(), c0 = cpu_s();
    for (int idle = 0; ok && wall_s() - w0 < seconds; ++idle) {
      for (int k = 0; k < 64; ++k)
        if (pair->step() != 0) idle = 0;
      if (idle > kStallTurns / 64 || pair->errors() != 0) ok = false;
    }
    wall = wall_s() - w0;
    cpu = cpu_s() - c0;
    trips = pair->round_trips() - trips0;
    segs = pair->segments() - segs0;
  }
  std::printf(
      "{\"bench\":\"tcp_conn_scale\",\"conns\":%u,\"in_flight\":%u,\"msgs_per_sec\":%.0f,"
      "\"cpu_msgs_per_sec\":%.0f,\"round_trips\":%llu,\"seconds\":%.3f,\"open_seconds\":%.3f,"
      "\"rss_mib\":%.1f,\"segments_per_msg\":%.3f,\"retransmits\":%llu,\"drops\":%llu,\"errors\":%"
      "llu,\"ok\":%s}\n",
      conns, std::min(in_flight, conns), wall > 0 ? static_cast<double>(trips) / wall : 0.0,
      cpu > 0 ? static_cast<double>(trips) / cpu : 0.0, static_cast<unsigned long long>(trips),
      wall, open_s, rss, trips > 0 ? static_cast<double>(segs) / trips : 0.0,
      static_cast<unsigned long long>(pair->retransmits()),
      static_cast<unsigned long long>(pair->drops()),
      static_cast<unsigned long long>(pair->errors()), ok ? "true" : "false");
  std::fflush(stdout);
  return ok;
}

[[noreturn]] void usage(const char *prog) {
  std::fprintf(stderr,
               "usage: %s [--conns N[,N...]] [--seconds S] [--in-flight W]\n"
               "  defaults: --conns 10,100,1000,10000,100000 --seconds 1 --in-flight 1024\n",
               prog);
  std::exit(2);
}

bool parse_count(const std::string &s, uint32_t max, uint32_t &out) {
  char *end = nullptr;
  const unsigned long v = std::strtoul(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v == 0 || v > max) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  std::vector<uint32_t> counts = {10, 100, 1000, 10000, 100000};
  double seconds = 1.0;
  uint32_t in_flight = 1024;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage(argv[0]);
    const std::string v = argv[++i];
    if (a == "--conns") {
      counts.clear();
      size_t pos = 0;
      while (pos <= v.size()) {
        const size_t comma = std::min(v.find(',', pos), v.size());
        uint32_t n = 0;
        // 8 server ports x 16384 ephemeral ports bound the count.
        if (!parse_count(v.substr(pos, comma - pos), uint32_t{kPorts} * 16384, n)) usage(argv[0]);
        counts.push_back(n);
        pos = comma + 1;
      }
    } else if (a == "--seconds") {
      seconds = std::atof(v.c_str());
      if (!(seconds > 0 && seconds <= 3600)) usage(argv[0]);
    } else if (a == "--in-flight") {
      // Within the pools (16384 buffers) and RX rings (8192 frames).
      if (!parse_count(v, 4096, in_flight)) usage(argv[0]);
    } else {
      usage(argv[0]);
    }
  }
  bool all_ok = true;
  for (uint32_t n : counts) all_ok = run_one(n, in_flight, seconds) && all_ok;
  return all_ok ? 0 : 1;
}
