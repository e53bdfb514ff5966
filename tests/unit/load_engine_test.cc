// ix-load's engine over a simulated transport: a manual clock and an
// in-memory memcached that answers each request a fixed delay after it was
// sent. Checks the open-loop accounting (issued, skipped at --depth,
// latency from the due time), preload, hits, and that a reply that does not
// match its request drops the connection as a protocol error.
#include "load/load_engine.hh"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "load/load_options.hh"

namespace ix::load {
namespace {

class SimulatedServer final : public Transport {
 public:
  explicit SimulatedServer(uint64_t delay_ns) : delay_ns_(delay_ns) {}

  void set_sink(TransportSink *sink) override { sink_ = sink; }
  std::string connect_all(size_t count, uint32_t) override {
    in_.assign(count, "");
    return "";
  }
  uint64_t now_ns() override { return now_; }
  void send(size_t conn, const uint8_t *data, size_t len) override {
    in_[conn].append(reinterpret_cast<const char *>(data), len);
    if (echo) {
      // An echo server: the bytes come back as they are, after the delay;
      // one byte of the echo_corrupt_at-th send is changed.
      std::string reply = std::move(in_[conn]);
      in_[conn].clear();
      if (++requests == echo_corrupt_at) reply[reply.size() / 2] ^= 0x20;
      replies_.push_back({now_ + delay_ns_, conn, std::move(reply)});
      return;
    }
    serve(conn);
  }
  // Jumps the clock to the next reply or the deadline, whichever is first.
  void poll(uint64_t deadline_ns) override {
    if (!replies_.empty() && replies_.front().due <= deadline_ns) {
      Pending r = replies_.front();
      replies_.pop_front();
      now_ = std::max(now_, r.due);
      if (!dropped_.count(r.conn))
        sink_->on_data(r.conn, reinterpret_cast<const uint8_t *>(r.text.data()), r.text.size());
      return;
    }
    now_ = std::max(now_, deadline_ns);
  }
  void drop(size_t conn) override { dropped_.insert({conn, true}); }
  void close_all() override {}
  bool should_stop() override { return false; }

  uint64_t requests = 0;
  bool answer_gets_with_stored = false;
  bool echo = false;
  uint64_t echo_corrupt_at = 0;                     // 1-based send to damage; 0 = none
  std::map<size_t, std::set<std::string>> keys_on;  // the keys each connection carried

 private:
  struct Pending {
    uint64_t due;
    size_t conn;
    std::string text;
  };
  void serve(size_t conn) {
    std::string &in = in_[conn];
    for (;;) {
      const size_t nl = in.find("\r\n");
      if (nl == std::string::npos) return;
      const std::string line = in.substr(0, nl);
      std::string reply;
      if (line.rfind("get ", 0) == 0) {
        const std::string key = line.substr(4);
        auto it = store_.find(key);
        reply = answer_gets_with_stored ? "STORED\r\n"
                : it == store_.end()    ? "END\r\n"
                                     : "VALUE " + key + " 0 " + std::to_string(it->second.size()) +
                                           "\r\n" + it->second + "\r\nEND\r\n";
        in.erase(0, nl + 2);
      } else {
        // set KEY 0 0 N
        const size_t last = line.rfind(' ');
        const size_t n = std::stoul(line.substr(last + 1));
        if (in.size() < nl + 2 + n + 2) return;
        const std::string key = line.substr(4, line.find(' ', 4) - 4);
        store_[key] = in.substr(nl + 2, n);
        in.erase(0, nl + 2 + n + 2);
        reply = "STORED\r\n";
      }
      ++requests;
      keys_on[conn].insert(line.substr(4, line.find(' ', 4) - 4));
      replies_.push_back({now_ + delay_ns_, conn, reply});
    }
  }

  uint64_t delay_ns_;
  uint64_t now_ = 1'000'000'000;
  TransportSink *sink_ = nullptr;
  std::vector<std::string> in_;
  std::deque<Pending> replies_;  // due times only grow: the delay is fixed
  std::map<std::string, std::string> store_;
  std::map<size_t, bool> dropped_;
};

LoadConfig config_with(const std::vector<std::string> &args) {
  std::vector<std::string> argv = {"ix-load", "--server", "10.0.0.1:11211"};
  argv.insert(argv.end(), args.begin(), args.end());
  OptionValues values;
  bool help = false;
  EXPECT_EQ(parse_args(argv, values, help), "");
  LoadConfig c;
  EXPECT_EQ(config_from(values, c), "");
  return c;
}

TEST(LoadEngine, OpenLoopMeasuresTheServersDelay) {
  const LoadConfig c =
      config_with({"--workload", "usr", "--records", "100", "--rate", "1000", "--arrival", "fixed",
                   "--conns", "4", "--warmup", "0.5", "--time", "2"});
  SimulatedServer server(100'000);  // 100 us
  ProgressCounters progress;
  LoadEngine engine(c, server, 0, 1, c.conns, progress);
  ASSERT_EQ(engine.connect(), "");
  const PreloadResult pre = engine.preload();
  EXPECT_EQ(pre.keys, 100u);
  EXPECT_EQ(pre.stored, 100u);
  EXPECT_EQ(pre.errors, 0u);
  const ThreadResult r = engine.run(1000, 1);
  EXPECT_NEAR(r.seconds, 2.0, 1e-6);
  // 1000/s for 2 s, fixed gaps: 2000 requests due in the window.
  EXPECT_NEAR(static_cast<double>(r.counters.issued), 2000, 1);
  EXPECT_EQ(r.counters.completed, r.counters.issued);
  EXPECT_EQ(r.counters.skipped, 0u);
  EXPECT_EQ(r.counters.unanswered, 0u);
  EXPECT_EQ(r.counters.errors(), 0u);
  EXPECT_EQ(r.counters.misses, 0u);  // preloaded
  EXPECT_EQ(r.counters.hits + r.counters.sets, r.counters.completed);
  // The simulated clock is exact: every latency is the delay (within the
  // histogram's 1/128).
  EXPECT_GE(r.latency.percentile(0.5), 100'000u);
  EXPECT_LE(r.latency.percentile(0.99), 100'000u + 100'000u / 128);
  EXPECT_EQ(r.latency.min(), 100'000u);
}

TEST(LoadEngine, RequestsBeyondTheDepthAreSkippedAndCounted) {
  // 2 connections x depth 1 with a 10 ms server: at most 200/s can be out;
  // at 1000/s about 800/s are skipped, never silently delayed.
  const LoadConfig c =
      config_with({"--workload", "usr", "--rate", "1000", "--arrival", "fixed", "--conns", "2",
                   "--depth", "1", "--warmup", "0", "--time", "1"});
  SimulatedServer server(10'000'000);
  ProgressCounters progress;
  LoadEngine engine(c, server, 0, 1, c.conns, progress);
  ASSERT_EQ(engine.connect(), "");
  const ThreadResult r = engine.run(1000, 1);
  EXPECT_NEAR(static_cast<double>(r.counters.issued + r.counters.skipped), 1000, 1);
  EXPECT_NEAR(static_cast<double>(r.counters.issued), 200, 3);
  EXPECT_NEAR(static_cast<double>(r.counters.skipped), 800, 3);
  EXPECT_EQ(r.counters.completed, r.counters.issued);
  EXPECT_EQ(r.latency.max(), 10'000'000u);  // sent on time, answered 10 ms later
}

TEST(LoadEngine, ClosedLoopKeepsDepthOutstanding) {
  // 2 connections x depth 4, 1 ms server: 8 requests per ms = 8000/s.
  const LoadConfig c = config_with({"--workload", "usr", "--rate", "0", "--conns", "2", "--depth",
                                    "4", "--warmup", "0.1", "--time", "1"});
  SimulatedServer server(1'000'000);
  ProgressCounters progress;
  LoadEngine engine(c, server, 0, 1, c.conns, progress);
  ASSERT_EQ(engine.connect(), "");
  const ThreadResult r = engine.run(0, 1);
  EXPECT_NEAR(static_cast<double>(r.counters.completed), 8000, 16);
  EXPECT_EQ(r.latency.percentile(0.99), 1'000'000u);
  EXPECT_EQ(r.counters.skipped, 0u);
}

TEST(LoadEngine, AMismatchedReplyIsAProtocolErrorAndDropsTheConnection) {
  const LoadConfig c = config_with({"--workload", "usr", "--update", "0", "--rate", "100",
                                    "--conns", "1", "--warmup", "0", "--time", "0.5"});
  SimulatedServer server(1000);
  server.answer_gets_with_stored = true;
  ProgressCounters progress;
  LoadEngine engine(c, server, 0, 1, c.conns, progress);
  ASSERT_EQ(engine.connect(), "");
  const ThreadResult r = engine.run(100, 1);
  EXPECT_EQ(r.counters.protocol_errors, 1u);
  EXPECT_EQ(engine.alive_connections(), 0u);
  EXPECT_EQ(r.counters.completed, 0u);
  EXPECT_GT(r.counters.errors(), 0u);
}

TEST(LoadEngine, EchoClosedLoopPingPongMeasuresTheRoundTrip) {
  // One connection, depth 1, a 20 us echo server: a ping-pong of 50,000
  // round trips a second, each measured at exactly the delay.
  const LoadConfig c = config_with({"--protocol", "echo", "--size", "64", "--rate", "0", "--conns",
                                    "1", "--depth", "1", "--warmup", "0.1", "--time", "1"});
  SimulatedServer server(20'000);
  server.echo = true;
  ProgressCounters progress;
  LoadEngine engine(c, server, 0, 1, c.conns, progress);
  ASSERT_EQ(engine.connect(), "");
  const ThreadResult r = engine.run(0, 1);
  EXPECT_NEAR(static_cast<double>(r.counters.completed), 50'000, 2);
  EXPECT_EQ(r.counters.errors(), 0u);
  EXPECT_EQ(r.counters.gets + r.counters.sets, 0u);  // no memcached requests
  EXPECT_EQ(r.latency.min(), 20'000u);
  EXPECT_LE(r.latency.percentile(0.99), 20'000u + 20'000u / 128);
}

TEST(LoadEngine, AnEchoThatComesBackChangedIsCountedCorrupt) {
  const LoadConfig c =
      config_with({"--protocol", "echo", "--size", "100", "--rate", "1000", "--arrival", "fixed",
                   "--conns", "2", "--warmup", "0", "--time", "0.1"});
  SimulatedServer server(1000);
  server.echo = true;
  server.echo_corrupt_at = 7;
  ProgressCounters progress;
  LoadEngine engine(c, server, 0, 1, c.conns, progress);
  ASSERT_EQ(engine.connect(), "");
  const ThreadResult r = engine.run(1000, 1);
  EXPECT_NEAR(static_cast<double>(r.counters.completed), 100, 1);
  EXPECT_EQ(r.counters.corrupt_values, 1u);
  EXPECT_EQ(r.counters.errors(), 1u);
  EXPECT_EQ(engine.alive_connections(), 2u);  // content, not framing: the stream goes on
}

TEST(LoadOptions, EchoProtocolOptionsAreChecked) {
  auto error_of = [](std::vector<std::string> args) {
    args.insert(args.begin(), {"ix-load", "--server", "10.0.0.1:7"});
    OptionValues values;
    bool help = false;
    EXPECT_EQ(parse_args(args, values, help), "");
    LoadConfig c;
    return config_from(values, c);
  };
  EXPECT_EQ(error_of({"--protocol", "echo", "--size", "64", "--spin", "1"}), "");
  EXPECT_NE(error_of({"--protocol", "http"}).find("protocol: 'http'"), std::string::npos);
  EXPECT_NE(error_of({"--protocol", "echo", "--size", "0"}).find("size"), std::string::npos);
  EXPECT_NE(error_of({"--protocol", "echo", "--preload", "1"}).find("preload"), std::string::npos);
  EXPECT_NE(error_of({"--spin", "maybe"}).find("spin"), std::string::npos);
}

}  // namespace
}  // namespace ix::load

namespace ix::load {
namespace {

LoadConfig pool_config(const std::vector<std::string> &args) {
  std::vector<std::string> argv = {"ix-load", "--servers",
                                   "10.78.1.2:11211,10.78.2.2:11211,10.78.3.2:11211"};
  argv.insert(argv.end(), args.begin(), args.end());
  OptionValues values;
  bool help = false;
  EXPECT_EQ(parse_args(argv, values, help), "");
  LoadConfig c;
  EXPECT_EQ(config_from(values, c), "");
  return c;
}

// A pool: --conns connections to each server (connection i to server
// i % 3), and every key, in preload, open and closed loop, on a connection
// to the server ketama gives it; the per-server counts add up.
void expect_keys_on_their_servers(const LoadConfig &c, SimulatedServer &server) {
  std::vector<KetamaServer> servers;
  for (const ServerEndpoint &e : c.servers) servers.push_back({e.host, e.port});
  const KetamaRing ring(servers, c.distribution);
  size_t checked = 0;
  for (const auto &[conn, keys] : server.keys_on)
    for (const std::string &key : keys) {
      ASSERT_EQ(ring.server_of(key), conn % 3) << "key " << key << " on connection " << conn;
      ++checked;
    }
  EXPECT_GT(checked, 100u);
}

TEST(LoadEnginePool, EveryKeyGoesToItsKetamaServer) {
  for (const char *distribution : {"ketama", "ketama-weighted"}) {
    for (const char *rate : {"2000", "0"}) {
      const LoadConfig c =
          pool_config({"--distribution", distribution, "--workload", "usr", "--records", "300",
                       "--rate", rate, "--conns", "2", "--warmup", "0", "--time", "0.2"});
      ASSERT_EQ(c.servers.size(), 3u);
      SimulatedServer server(50'000);
      ProgressCounters progress;
      LoadEngine engine(c, server, 0, 1, c.conns, progress);
      ASSERT_EQ(engine.connect(), "");
      EXPECT_EQ(engine.alive_connections(), 6u);
      const PreloadResult pre = engine.preload();
      EXPECT_EQ(pre.stored, 300u);
      ASSERT_EQ(pre.stored_per_server.size(), 3u);
      EXPECT_EQ(pre.stored_per_server[0] + pre.stored_per_server[1] + pre.stored_per_server[2],
                300u);
      const ThreadResult r = engine.run(std::stod(rate), 1);
      EXPECT_EQ(r.counters.errors(), 0u);
      EXPECT_EQ(r.counters.misses, 0u);
      ASSERT_EQ(r.per_server.size(), 3u);
      uint64_t sum = 0;
      for (const ServerCounters &p : r.per_server) {
        EXPECT_GT(p.completed, 0u);
        sum += p.completed;
      }
      EXPECT_EQ(sum, r.counters.completed);
      expect_keys_on_their_servers(c, server);
    }
  }
}

TEST(LoadEnginePool, ServerListIsChecked) {
  OptionValues values;
  bool help = false;
  LoadConfig c;
  ASSERT_EQ(parse_args({"ix-load", "--servers", "10.0.0.1:1,nonsense"}, values, help), "");
  EXPECT_NE(config_from(values, c).find("nonsense"), std::string::npos);
  ASSERT_EQ(
      parse_args({"ix-load", "--servers", "10.0.0.1:1", "--server", "10.0.0.1:1"}, values, help),
      "");
  EXPECT_NE(config_from(values, c), "");
  ASSERT_EQ(
      parse_args({"ix-load", "--servers", "10.0.0.1:1", "--distribution", "modula"}, values, help),
      "");
  EXPECT_NE(config_from(values, c).find("distribution"), std::string::npos);
}

}  // namespace
}  // namespace ix::load
