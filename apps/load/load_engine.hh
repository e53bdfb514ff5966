// One load thread's engine: its share of the connections and of the rate,
// the open-loop (or closed-loop) schedule, the requests outstanding on each
// connection, and the matching of replies to them. Transport independent.
//
// Requests on a connection are answered in order (memcached's text protocol
// has no request ids), so each connection keeps a FIFO of what it sent:
// the due time, whether it was a set, and which run it belongs to. A reply
// pops the head. Latency is the time from the request's due time to its
// reply: in open loop the due time is its place in the schedule, so a
// client running late adds to the figure rather than hiding it (max_lag
// shows how late it ran); in closed loop it is the send time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "load/echo_codec.hh"
#include "load/ketama.hh"
#include "load/load_options.hh"
#include "load/memcache_text.hh"
#include "load/rng.hh"
#include "load/run_stats.hh"
#include "load/transport.hh"
#include "load/workload.hh"

namespace ix::load {

// Running totals one thread publishes for the once-a-second progress line;
// written only by the owning thread, read by thread 0.
struct alignas(64) ProgressCounters {
  std::atomic<uint64_t> sent{0}, replies{0}, skipped{0}, errors{0};
};

struct PreloadResult {
  uint64_t keys = 0, stored = 0, errors = 0;
  std::vector<uint64_t> stored_per_server;  // indexed like LoadConfig::servers
};

class LoadEngine final : public TransportSink, private ReplySink {
 public:
  // `conns` connections to each server of config.servers; connection i
  // goes to server i % servers (the transport's rule).
  LoadEngine(const LoadConfig &config, Transport &transport, unsigned thread_index,
             unsigned threads, size_t conns, ProgressCounters &progress);
  ~LoadEngine() override;

  std::string connect();
  PreloadResult preload();
  // One run at total_rate requests/s over all threads (0: closed loop):
  // warm-up, the measured window, then draining outstanding replies.
  ThreadResult run(double total_rate, uint32_t run_id);
  // Keeps the transport serviced for `ns` while the thread waits for others.
  void idle(uint64_t ns);
  void close();

  // Called about once a second during runs (thread 0 prints progress).
  void set_progress_hook(std::function<void(uint64_t now_ns)> hook) {
    progress_hook_ = std::move(hook);
  }
  size_t alive_connections() const;
  Transport &transport() { return transport_; }

 private:
  struct Pending {
    uint64_t due_ns;
    uint32_t run;
    bool is_set;
    bool measured;
  };
  struct Connection {
    ReplyParser parser;         // --protocol memcache
    EchoReplyParser echo;       // --protocol echo
    uint64_t echo_sent = 0;     // messages sent (the next one's pattern seed)
    std::vector<Pending> ring;  // capacity --depth
    uint32_t head = 0, size = 0;
    bool alive = false;
  };
  enum class Phase { kIdle, kPreload, kRun, kDrain };

  void on_data(size_t conn, const uint8_t *data, size_t len) override;
  void on_broken(size_t conn, const std::string &why) override;
  void on_reply(const Reply &reply) override;

  struct Request {
    uint64_t key;
    bool is_set;
  };
  // A random request: a uniformly chosen key, a set with probability --update.
  Request draw();
  // Closed loop on a pool: a random request for a key that `server` owns
  // (drawn until one falls there; nullopt if none did in many tries).
  std::optional<Request> draw_for(size_t server);
  // The server of a key: its ketama server in a pool, else 0.
  size_t server_of_key(uint64_t key);
  size_t server_of_connection(size_t ci) const { return ci % servers_; }
  // Closed loop: the request connection ci sends next (one for its server).
  std::optional<Request> next_closed_loop_request(size_t ci) {
    if (!ring_) return draw();
    return draw_for(server_of_connection(ci));
  }
  // Sends `request` (with --protocol echo, the connection's next message)
  // on connection ci.
  void issue(size_t ci, uint64_t due_ns, uint64_t now_ns, bool measured, Request request);
  // The next connection with room to `server` (any server: SIZE_MAX), or
  // SIZE_MAX when all are full.
  size_t pick_connection(size_t server = SIZE_MAX);
  void fail_connection(size_t ci, const std::string &why, bool protocol);
  void count_error();
  uint64_t measured_outstanding() const;

  const LoadConfig &config_;
  Transport &transport_;
  const unsigned thread_index_, threads_;
  ProgressCounters &progress_;
  KeySpace keys_;
  EchoPattern echo_pattern_;  // --protocol echo: every message, precomputed
  Rng rng_;
  const size_t servers_;
  std::optional<KetamaRing> ring_;  // a pool of more than one server
  std::vector<Connection> conns_;
  std::vector<uint8_t> scratch_;
  char key_buf_[kMaxKeyLength];
  std::vector<size_t> rr_;  // per server: where the round robin resumes

  Phase phase_ = Phase::kIdle;
  uint32_t run_id_ = 0;
  bool closed_loop_ = false;
  uint64_t measure_start_ = 0, measure_end_ = 0;
  uint64_t now_ = 0;
  ThreadResult result_;
  PreloadResult preload_;
  uint64_t last_progress_ns_ = 0;  // preload stall detection
  uint64_t idle_failures_ = 0;     // connections lost between runs
  // The connection whose bytes are being parsed and whether a reply on it
  // did not match its request (it is dropped once parsing returns).
  size_t current_ = 0;
  bool current_mismatch_ = false;
  std::string mismatch_why_;
  std::function<void(uint64_t)> progress_hook_;
};

}  // namespace ix::load
