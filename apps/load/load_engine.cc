#include "load/load_engine.hh"

#include <algorithm>
#include <cstdio>

#include "load/arrival.hh"

namespace ix::load {

namespace {

constexpr uint64_t kSecond = 1'000'000'000;
// Requests dispatched per loop turn at most when the schedule is behind, so
// replies keep being read while catching up.
constexpr int kMaxBurst = 256;
// Closed loop on a pool: keys drawn per server before giving up on finding
// one it owns (a server owns about 1/n of the keys, so 64 n tries fail only
// for a server that owns next to none of a small key space).
constexpr size_t kDrawsPerServer = 64;

std::optional<KetamaRing> pool_ring(const LoadConfig &config) {
  if (config.servers.size() < 2 || config.protocol != Protocol::kMemcacheText) return std::nullopt;
  std::vector<KetamaServer> servers;
  for (const ServerEndpoint &s : config.servers) servers.push_back({s.host, s.port});
  return KetamaRing(servers, config.distribution);
}

// Owner-only increment of a counter another thread reads.
inline void bump(std::atomic<uint64_t> &a, uint64_t by = 1) {
  a.store(a.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9e3779b97f4a7c15ull + b;
  return Rng::splitmix64(x);
}

}  // namespace

LoadEngine::LoadEngine(const LoadConfig &config, Transport &transport, unsigned thread_index,
                       unsigned threads, size_t conns, ProgressCounters &progress)
    : config_(config),
      transport_(transport),
      thread_index_(thread_index),
      threads_(threads),
      progress_(progress),
      keys_(config.workload.key_size, config.records),
      echo_pattern_(config.protocol == Protocol::kEcho ? config.echo_size : 0),
      rng_(mix(config.seed, thread_index)),
      servers_(std::max<size_t>(1, config.servers.size())),
      ring_(pool_ring(config)),
      conns_(conns * servers_),
      rr_(servers_, 0) {
  for (Connection &c : conns_) {
    c.ring.resize(config.depth);
    c.echo = EchoReplyParser(&echo_pattern_);
  }
  transport_.set_sink(this);
}

LoadEngine::~LoadEngine() { transport_.set_sink(nullptr); }

std::string LoadEngine::connect() {
  std::string err = transport_.connect_all(conns_.size(), config_.connect_timeout_ms);
  if (err.empty())
    for (Connection &c : conns_) c.alive = true;
  return err;
}

size_t LoadEngine::alive_connections() const {
  return static_cast<size_t>(
      std::count_if(conns_.begin(), conns_.end(), [](const Connection &c) { return c.alive; }));
}

void LoadEngine::count_error() { bump(progress_.errors); }

LoadEngine::Request LoadEngine::draw() {
  const bool is_set = rng_.uniform() < config_.workload.update_ratio;
  return Request{rng_.below(config_.records), is_set};
}

size_t LoadEngine::server_of_key(uint64_t key) {
  if (!ring_) return 0;
  const size_t len = keys_.format(key, key_buf_);
  return ring_->server_of(std::string_view(key_buf_, len));
}

std::optional<LoadEngine::Request> LoadEngine::draw_for(size_t server) {
  for (size_t tries = 0; tries < kDrawsPerServer * servers_; ++tries) {
    const Request r = draw();
    if (server_of_key(r.key) == server) return r;
  }
  return std::nullopt;
}

void LoadEngine::issue(size_t ci, uint64_t due_ns, uint64_t now_ns, bool measured,
                       Request request) {
  Connection &c = conns_[ci];
  bool is_set = false;
  if (config_.protocol == Protocol::kEcho) {
    transport_.send(ci, echo_pattern_.message(c.echo_sent++), echo_pattern_.size());
  } else {
    scratch_.clear();
    is_set = request.is_set;
    const uint64_t key = request.key;
    const size_t key_len = keys_.format(key, key_buf_);
    const std::string_view key_text(key_buf_, key_len);
    if (is_set)
      append_set(scratch_, key_text, sample_value_size(config_.workload.value_size, rng_));
    else
      append_get(scratch_, key_text);
    transport_.send(ci, scratch_.data(), scratch_.size());
  }
  const uint32_t tail = (c.head + c.size) % static_cast<uint32_t>(c.ring.size());
  c.ring[tail] = Pending{due_ns, run_id_, is_set, measured};
  ++c.size;
  bump(progress_.sent);
  if (measured) {
    ++result_.counters.issued;
    result_.counters.max_lag_ns = std::max(result_.counters.max_lag_ns, now_ns - due_ns);
  }
}

size_t LoadEngine::pick_connection(size_t server) {
  // Connections of one server are server, server + servers_, ...; "any
  // server" walks all of them with one cursor.
  const bool any = server == SIZE_MAX;
  const size_t stride = any ? 1 : servers_;
  const size_t first = any ? 0 : server;
  const size_t n = (conns_.size() - first + stride - 1) / stride;
  size_t &cursor = rr_[any ? 0 : server];
  for (size_t k = 0; k < n; ++k) {
    const size_t slot = (cursor + k) % n;
    const size_t ci = first + slot * stride;
    const Connection &c = conns_[ci];
    if (c.alive && c.size < c.ring.size()) {
      cursor = (slot + 1) % n;
      return ci;
    }
  }
  return SIZE_MAX;
}

void LoadEngine::fail_connection(size_t ci, const std::string &why, bool protocol) {
  Connection &c = conns_[ci];
  if (!c.alive) return;
  c.alive = false;
  std::fprintf(stderr, "ix-load: thread %u connection %zu: %s\n", thread_index_, ci, why.c_str());
  // Requests it still owed: a run's measured ones are counted unanswered.
  for (uint32_t k = 0; k < c.size; ++k) {
    const Pending &p = c.ring[(c.head + k) % c.ring.size()];
    if (phase_ == Phase::kPreload) ++preload_.errors;
    if ((phase_ == Phase::kRun || phase_ == Phase::kDrain) && p.run == run_id_ && p.measured)
      ++result_.counters.unanswered;
  }
  c.size = 0;
  if (phase_ == Phase::kPreload)
    ++preload_.errors;
  else if (phase_ == Phase::kIdle)
    ++idle_failures_;  // charged to the next run
  else if (protocol)
    ++result_.counters.protocol_errors;
  else
    ++result_.counters.conn_failures;
  count_error();
  if (protocol) transport_.drop(ci);
}

void LoadEngine::on_broken(size_t conn, const std::string &why) {
  if (conn < conns_.size()) fail_connection(conn, why, false);
}

void LoadEngine::on_data(size_t conn, const uint8_t *data, size_t len) {
  if (conn >= conns_.size() || !conns_[conn].alive) return;
  now_ = transport_.now_ns();
  current_ = conn;
  current_mismatch_ = false;
  Connection &c = conns_[conn];
  bool ok = true;
  if (config_.protocol == Protocol::kEcho)
    c.echo.feed(data, len, *this);
  else
    ok = c.parser.feed(data, len, *this);
  if (!ok)
    fail_connection(conn, "protocol error: " + c.parser.error(), true);
  else if (current_mismatch_)
    fail_connection(conn, "protocol error: " + mismatch_why_, true);
}

void LoadEngine::on_reply(const Reply &reply) {
  if (current_mismatch_) return;
  Connection &c = conns_[current_];
  if (c.size == 0) {
    current_mismatch_ = true;
    mismatch_why_ = std::string("a ") + reply_kind_name(reply.kind) + " reply to no request";
    return;
  }
  const Pending p = c.ring[c.head];
  c.head = (c.head + 1) % static_cast<uint32_t>(c.ring.size());
  --c.size;

  const bool echo = reply.kind == ReplyKind::kEcho;
  const bool is_error = reply.kind == ReplyKind::kError || reply.kind == ReplyKind::kClientError ||
                        reply.kind == ReplyKind::kServerError;
  if (!echo && !is_error && p.is_set != (reply.kind != ReplyKind::kEnd)) {
    current_mismatch_ = true;
    mismatch_why_ = std::string("a ") + reply_kind_name(reply.kind) + " reply to a " +
                    (p.is_set ? "set" : "get");
    return;
  }
  bump(progress_.replies);
  const size_t server = server_of_connection(current_);
  const bool failed = is_error || (p.is_set && reply.kind != ReplyKind::kStored) ||
                      (!p.is_set && reply.value_corrupt);
  if (failed) count_error();

  if (phase_ == Phase::kPreload) {
    if (failed) {
      ++preload_.errors;
    } else {
      ++preload_.stored;
      ++preload_.stored_per_server[server];
    }
    last_progress_ns_ = now_;
  } else if (p.run == run_id_ && p.measured && phase_ != Phase::kIdle) {
    RunCounters &rc = result_.counters;
    ServerCounters &sc = result_.per_server[server];
    ++rc.completed;
    ++sc.completed;
    result_.latency.record(now_ > p.due_ns ? now_ - p.due_ns : 0);
    if (echo) {
      if (reply.value_corrupt) ++rc.corrupt_values;
    } else if (p.is_set) {
      ++rc.sets;
      ++sc.sets;
      if (reply.kind == ReplyKind::kStored) ++rc.stored;
    } else if (!is_error) {
      ++rc.gets;
      ++sc.gets;
      if (reply.values > 0) {
        ++rc.hits;
        ++sc.hits;
      } else {
        ++rc.misses;
      }
      if (reply.value_corrupt) ++rc.corrupt_values;
    }
    if (is_error || (p.is_set && reply.kind != ReplyKind::kStored)) ++rc.error_replies;
  }

  // Closed loop: every reply makes room for the next request right away.
  if (phase_ == Phase::kRun && closed_loop_ && c.alive && now_ < measure_end_)
    if (const std::optional<Request> next = next_closed_loop_request(current_))
      issue(current_, now_, now_, now_ >= measure_start_, *next);
}

uint64_t LoadEngine::measured_outstanding() const {
  uint64_t n = 0;
  for (const Connection &c : conns_)
    for (uint32_t k = 0; k < c.size; ++k) {
      const Pending &p = c.ring[(c.head + k) % c.ring.size()];
      if (p.run == run_id_ && p.measured) ++n;
    }
  return n;
}

PreloadResult LoadEngine::preload() {
  preload_ = {};
  preload_.stored_per_server.assign(servers_, 0);
  phase_ = Phase::kPreload;
  uint64_t next_key = thread_index_;
  now_ = transport_.now_ns();
  last_progress_ns_ = now_;
  const uint64_t stall_ns = std::max<uint64_t>(uint64_t{config_.drain_ms} * 1'000'000, 5 * kSecond);
  auto outstanding = [&] {
    uint64_t n = 0;
    for (const Connection &c : conns_) n += c.size;
    return n;
  };
  for (;;) {
    // Keys in order, each on a connection to its server with room; the
    // first that finds none waits for replies.
    while (next_key < config_.records) {
      const size_t ci = pick_connection(server_of_key(next_key));
      if (ci == SIZE_MAX) break;
      issue(ci, now_, now_, false, Request{next_key, true});
      next_key += threads_;
      ++preload_.keys;
    }
    const bool all_sent = next_key >= config_.records || alive_connections() == 0;
    if (all_sent && outstanding() == 0) break;
    now_ = transport_.now_ns();
    if (transport_.should_stop() || now_ - last_progress_ns_ > stall_ns) {
      preload_.errors += outstanding();
      break;
    }
    transport_.poll(now_ + 10'000'000);
  }
  // Keys never sent because every connection was lost count as errors.
  for (; next_key < config_.records; next_key += threads_) {
    ++preload_.keys;
    ++preload_.errors;
  }
  phase_ = Phase::kIdle;
  return preload_;
}

ThreadResult LoadEngine::run(double total_rate, uint32_t run_id) {
  result_ = ThreadResult{};
  result_.per_server.assign(servers_, ServerCounters{});
  result_.counters.conn_failures = idle_failures_;
  idle_failures_ = 0;
  run_id_ = run_id;
  closed_loop_ = total_rate <= 0;
  const uint64_t start = transport_.now_ns();
  measure_start_ = start + static_cast<uint64_t>(config_.warmup_s * 1e9);
  measure_end_ = measure_start_ + static_cast<uint64_t>(config_.time_s * 1e9);
  phase_ = Phase::kRun;
  now_ = start;
  uint64_t next_progress = start + kSecond;

  OpenLoopSchedule schedule(config_.arrival, closed_loop_ ? 1 : total_rate / threads_, start,
                            mix(mix(config_.seed, thread_index_), run_id));
  if (closed_loop_) {
    for (size_t ci = 0; ci < conns_.size(); ++ci)
      while (conns_[ci].alive && conns_[ci].size < conns_[ci].ring.size()) {
        const std::optional<Request> r = next_closed_loop_request(ci);
        if (!r) break;
        issue(ci, now_, now_, false, *r);
      }
  }
  for (;;) {
    now_ = transport_.now_ns();
    if (transport_.should_stop() || alive_connections() == 0) break;
    // Past the window, requests that fell due inside it but were not yet
    // dispatched (the thread woke late) still go out, late and counted.
    const bool window_over = now_ >= measure_end_;
    if (window_over && (closed_loop_ || schedule.next_due_ns() >= measure_end_)) break;
    uint64_t deadline = measure_end_;
    if (!closed_loop_) {
      for (int burst = 0; burst < kMaxBurst && schedule.next_due_ns() <= now_ &&
                          schedule.next_due_ns() < measure_end_;
           ++burst) {
        const uint64_t due = schedule.next_due_ns();
        const bool measured = due >= measure_start_;
        const Request r = draw();
        // A pool: the key's server must take it; echo: any connection.
        const size_t ci = pick_connection(ring_ ? server_of_key(r.key) : SIZE_MAX);
        if (ci != SIZE_MAX) {
          issue(ci, due, now_, measured, r);
        } else {
          bump(progress_.skipped);
          if (measured) ++result_.counters.skipped;
        }
        schedule.advance();
      }
      deadline = std::min(deadline, schedule.next_due_ns());
    }
    if (progress_hook_) {
      if (now_ >= next_progress) {
        progress_hook_(now_);
        next_progress += kSecond;
      }
      deadline = std::min(deadline, next_progress);
    }
    transport_.poll(deadline);
  }
  const uint64_t end = std::min(now_, measure_end_);
  result_.seconds = end > measure_start_ ? static_cast<double>(end - measure_start_) / 1e9 : 0;

  // Drain: no new requests; wait for the measured ones still out.
  phase_ = Phase::kDrain;
  const uint64_t drain_end = now_ + uint64_t{config_.drain_ms} * 1'000'000;
  while (measured_outstanding() > 0 && alive_connections() > 0) {
    now_ = transport_.now_ns();
    if (now_ >= drain_end || transport_.should_stop()) break;
    transport_.poll(std::min(drain_end, now_ + 10'000'000));
  }
  result_.counters.unanswered += measured_outstanding();
  phase_ = Phase::kIdle;
  return result_;
}

void LoadEngine::idle(uint64_t ns) {
  now_ = transport_.now_ns();
  transport_.poll(now_ + ns);
}

void LoadEngine::close() { transport_.close_all(); }

}  // namespace ix::load
