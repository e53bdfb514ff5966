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
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "loop_pair.hh"

namespace {

using namespace ix;
using bench::kStallTurns;

// 16384 ephemeral ports per destination: 8 server ports hold 131072 connections.
constexpr uint16_t kPorts = 8;
constexpr size_t kOpenWave = 1024;

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

// Pools and RX rings deep enough for 4096 messages in flight, and a SYN
// backlog for two waves of connections being opened.
bench::LoopEchoConfig scale_config(uint32_t conns) {
  return {.conns = conns,
          .pool_buffers = 16384,
          .ring_depth = 8192,
          .syn_backlog = 2 * kOpenWave,
          .listen_ports = kPorts,
          .open_wave = kOpenWave};
}

// Returns false if the run failed (its line says why).
bool run_one(uint32_t conns, uint32_t in_flight, double seconds) {
  auto pair = std::make_unique<bench::LoopEchoPair>(scale_config(conns),
                                                    bench::NextMessage::kNextConnection);
  const double t_open = wall_s();
  const bool opened = pair->open();
  const double open_s = wall_s() - t_open;
  const double rss = rss_mib();
  bool ok = opened;
  double wall = 0, cpu = 0;
  uint64_t trips = 0, segs0 = 0, segs = 0;
  if (opened) {
    pair->start(in_flight);
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
