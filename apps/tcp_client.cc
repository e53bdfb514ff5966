// ix-tcp-client: a TCP client on ixev that drives an echo server (the Linux
// stack's, linux-tcp-echo, or any other), runs one test, verifies every byte
// that comes back and stops the dataplane by itself.
//
//   ix-tcp-client --dev ix0 --host-addr 10.77.0.2/24 --server 10.77.0.1:7
//                 --mode bulk --bytes N
//   ix-tcp-client ... --mode conns --count N --concurrency C
//
// bulk: one connection streams N bytes of a deterministic pattern zero copy
// (sendv_zc from a ring of chunks, each reused once the peer acknowledged it)
// while reading the echo; each received byte is compared with the pattern at
// its offset and SHA-256 digests of what was sent and of what came back are
// printed. conns: N short connections, C at a time, each sending one 64-byte
// message, checking its echo and closing.
//
// Elastic thread 0 runs the test; any other thread keeps polling its queue
// until the test is over. Prints one human line and one "json: {...}" line.
// Exit code: 0 when everything matched, 1 on a mismatch, failure or stall,
// 2 on bad options (or the dataplane's own non-zero code).
#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "../tools/stream_check.hh"
#include "ix/app.hh"
#include "ix/ixev.hh"

namespace {

using ix::ev::Bytes;
using ix::ev::Conn;
using ix::ev::Ixev;

// What thread 0 concluded, read by main after run_app returns.
enum Outcome : int { kPassed = 0, kFailed = 1, kBadOptions = 2, kNotRun = 3 };
std::atomic<int> g_outcome{kNotRun};
std::atomic<bool> g_test_over{false};

using stream_check::pattern_at;
using stream_check::Sha256;

struct Settings {
  ix_endpoint server{};
  std::string mode;
  uint64_t bytes = 0;
  uint64_t count = 0;
  uint32_t concurrency = 1;
  uint64_t stall_ns = 0;
};

// "A.B.C.D:PORT" into an endpoint (host byte order); false if malformed.
bool parse_endpoint(const std::string &s, ix_endpoint &ep) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size() || s.size() - colon > 6) return false;
  in_addr a{};
  if (inet_pton(AF_INET, s.substr(0, colon).c_str(), &a) != 1) return false;
  unsigned long port = 0;
  for (size_t i = colon + 1; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    port = port * 10 + static_cast<unsigned long>(s[i] - '0');
  }
  if (port < 1 || port > 65535) return false;
  ep.addr = ntohl(a.s_addr);
  ep.port = static_cast<uint16_t>(port);
  return true;
}

// The status's name, with its number when this build's ix_status_name does
// not know it (so a report never hides which error it was).
std::string status_text(int status) {
  const std::string name = ix_status_name(status);
  return name == "UNKNOWN" ? name + "(" + std::to_string(status) + ")" : name;
}

double seconds_between(uint64_t from_ns, uint64_t to_ns) {
  return static_cast<double>(to_ns - from_ns) / 1e9;
}

// ---------------------------------------------------------------- bulk

class BulkStream final : public Conn {
 public:
  static constexpr size_t kChunk = 64 * 1024;
  static constexpr size_t kChunks = 32;  // at most 2 MiB lent to the dataplane

  BulkStream(Ixev &ev, uint64_t total) : ev_(ev), total_(total), ring_(kChunk * kChunks) {
    for (size_t i = 0; i < kChunks; ++i) free_.push_back(i);
  }

  void on_connected(int status) override {
    progress();
    if (status != IX_OK) {
      connect_status_ = status;
      done_ = true;
      return;
    }
    connected_ = true;
    pump();
  }
  void on_sent(uint64_t chunk) override {
    free_.push_back(static_cast<size_t>(chunk));
    progress();
    pump();
  }
  void on_readable() override {
    for (;;) {
      const Bytes b = ev_.recv_zc(*this, SIZE_MAX);
      if (b.len == 0) break;
      if (first_bad_ == UINT64_MAX) {
        for (size_t i = 0; i < b.len; ++i)
          if (b.data[i] != pattern_at(received_ + i)) {
            first_bad_ = received_ + i;
            break;
          }
      }
      received_digest_.add(b.data, b.len);
      received_ += b.len;
      progress();
    }
    maybe_close();
  }
  void on_hangup(int status) override {
    hangup_status_ = status;
    done_ = true;
  }

  bool done() const { return done_; }
  uint64_t last_progress_ns() const { return last_progress_ns_; }
  void set_start(uint64_t ns) { last_progress_ns_ = ns; }

  // Prints the result lines; true when the echo matched in full.
  bool report(double secs, bool stalled) {
    const std::string sent_hex = sent_digest_.hex(), recv_hex = received_digest_.hex();
    const bool ok = !stalled && connect_status_ == IX_OK && hangup_status_ == IX_OK &&
                    queued_ == total_ && received_ == total_ && first_bad_ == UINT64_MAX &&
                    sent_hex == recv_hex;
    const double gbps = secs > 0 ? static_cast<double>(received_) * 8 / secs / 1e9 : 0;
    std::printf(
        "ix-tcp-client: bulk sent %llu received %llu bytes in %.2f s (%.3f Gbit/s echoed), "
        "sha256 sent %s received %s%s%s%s\n",
        (unsigned long long)queued_, (unsigned long long)received_, secs, gbps, sent_hex.c_str(),
        recv_hex.c_str(), ok ? "" : " FAILED", stalled ? " (stalled)" : "",
        first_bad_ != UINT64_MAX ? (" first mismatch at " + std::to_string(first_bad_)).c_str()
                                 : "");
    std::printf(
        "json: {\"mode\":\"bulk\",\"bytes\":%llu,\"sent\":%llu,\"received\":%llu,"
        "\"seconds\":%.4f,\"gbps\":%.4f,\"sha256_sent\":\"%s\",\"sha256_received\":\"%s\","
        "\"match\":%s,\"first_mismatch\":%lld,\"connect_status\":\"%s\",\"hangup_status\":"
        "\"%s\",\"stalled\":%s,\"failures\":%d}\n",
        (unsigned long long)total_, (unsigned long long)queued_, (unsigned long long)received_,
        secs, gbps, sent_hex.c_str(), recv_hex.c_str(), ok ? "true" : "false",
        first_bad_ == UINT64_MAX ? -1LL : static_cast<long long>(first_bad_),
        status_text(connect_status_).c_str(),
        hangup_status_ == kNoHangup ? "none" : status_text(hangup_status_).c_str(),
        stalled ? "true" : "false", ok ? 0 : 1);
    std::fflush(stdout);
    return ok;
  }

 private:
  static constexpr int kNoHangup = 1;  // no IX status is positive

  void progress() { last_progress_ns_ = ev_.now_ns(); }

  // Lends every free chunk, refilled with the next stretch of the pattern,
  // to the dataplane.
  void pump() {
    while (connected_ && !free_.empty() && queued_ < total_) {
      const size_t idx = free_.back();
      free_.pop_back();
      uint8_t *p = ring_.data() + idx * kChunk;
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, total_ - queued_));
      for (size_t i = 0; i < n; ++i) p[i] = pattern_at(queued_ + i);
      sent_digest_.add(p, n);
      const ix_iovec iov{p, n};
      if (const int rc = ev_.sendv_zc(*this, &iov, 1, idx); rc != IX_OK) {
        std::fprintf(stderr, "ix-tcp-client: sendv_zc: %s\n", ix_status_name(rc));
        free_.push_back(idx);
        ev_.abort(*this);
        return;
      }
      queued_ += n;
    }
    maybe_close();
  }

  // Closes only once the whole echo is in, not as soon as the stream is
  // queued: if our FIN were acknowledged early, the server's last data, its
  // FIN and our connection's end could all arrive in one round, and ixev
  // (mark_dead in src/ixev/engine_slots.cc) discards data that arrives in
  // the round a connection dies, before on_readable sees it.
  void maybe_close() {
    if (connected_ && queued_ == total_ && received_ == total_ && !closing_) {
      closing_ = true;
      ev_.close(*this);
    }
  }

  Ixev &ev_;
  const uint64_t total_;
  std::vector<uint8_t> ring_;
  std::vector<size_t> free_;
  Sha256 sent_digest_, received_digest_;
  uint64_t queued_ = 0, received_ = 0, first_bad_ = UINT64_MAX;
  uint64_t last_progress_ns_ = 0;
  int connect_status_ = IX_OK, hangup_status_ = kNoHangup;
  bool connected_ = false, closing_ = false, done_ = false;
};

bool run_bulk(Ixev &ev, const Settings &s) {
  BulkStream stream(ev, s.bytes);
  const uint64_t start = ev.now_ns();
  stream.set_start(start);
  if (const int rc = ev.dial(stream, s.server); rc != IX_OK) {
    std::fprintf(stderr, "ix-tcp-client: dial: %s\n", ix_status_name(rc));
    return false;
  }
  bool stalled = false;
  while (!stream.done()) {
    if (ev.should_stop() || ev.now_ns() - stream.last_progress_ns() > s.stall_ns) {
      stalled = true;
      break;
    }
    ev.poll();
  }
  return stream.report(seconds_between(start, ev.now_ns()), stalled);
}

// ---------------------------------------------------------------- conns

struct ConnTally {
  uint64_t started = 0, completed = 0;
  uint64_t connect_failed = 0, bad_echo = 0, bad_hangup = 0;
  uint64_t last_progress_ns = 0;
  uint64_t failures() const { return connect_failed + bad_echo + bad_hangup; }
};

// One short connection at a time: dial, one message, its echo, close.
class ShortConn final : public Conn {
 public:
  static constexpr size_t kMessage = 64;

  ShortConn(Ixev &ev, ConnTally &tally) : ev_(ev), tally_(tally) {}

  bool idle() const { return idle_; }

  // False if the dial was refused at once (counted as a failure).
  bool start(uint64_t seq, const ix_endpoint &server) {
    for (size_t i = 0; i < kMessage; ++i) msg_[i] = pattern_at(seq * kMessage + i);
    got_ = 0;
    echo_ok_ = false;
    closing_ = false;
    ++tally_.started;
    if (ev_.dial(*this, server) != IX_OK) {
      finish_failed(tally_.connect_failed);
      return false;
    }
    idle_ = false;
    return true;
  }

  void on_connected(int status) override {
    if (status != IX_OK) {
      finish_failed(tally_.connect_failed);  // detached: no on_hangup follows
      idle_ = true;
      return;
    }
    if (ev_.send(*this, msg_, kMessage) != static_cast<int64_t>(kMessage)) close_now();
  }
  void on_readable() override {
    for (;;) {
      uint8_t buf[kMessage + 1];
      const int64_t r = ev_.recv(*this, buf, sizeof buf);
      if (r <= 0) {
        // 0: the server closed; before the whole echo that is a failure,
        // which on_hangup sees as echo_ok_ still false.
        if (r == 0) close_now();
        break;
      }
      if (got_ + static_cast<size_t>(r) > kMessage) {
        got_ = kMessage + 1;  // more than was sent: never a good echo
        close_now();
        break;
      }
      std::memcpy(back_ + got_, buf, static_cast<size_t>(r));
      got_ += static_cast<size_t>(r);
      if (got_ == kMessage) {
        echo_ok_ = std::memcmp(back_, msg_, kMessage) == 0;
        close_now();
      }
    }
  }
  void on_hangup(int status) override {
    ++tally_.completed;
    tally_.last_progress_ns = ev_.now_ns();
    if (status != IX_OK)
      ++tally_.bad_hangup;
    else if (!echo_ok_)
      ++tally_.bad_echo;
    idle_ = true;
  }

 private:
  void close_now() {
    if (closing_) return;
    closing_ = true;
    ev_.close(*this);
  }
  void finish_failed(uint64_t &reason) {
    ++reason;
    ++tally_.completed;
    tally_.last_progress_ns = ev_.now_ns();
  }

  Ixev &ev_;
  ConnTally &tally_;
  uint8_t msg_[kMessage];
  uint8_t back_[kMessage];
  size_t got_ = 0;
  bool echo_ok_ = false, closing_ = false, idle_ = true;
};

bool run_conns(Ixev &ev, const Settings &s) {
  ConnTally tally;
  std::vector<std::unique_ptr<ShortConn>> slots;
  for (uint32_t i = 0; i < s.concurrency; ++i)
    slots.push_back(std::make_unique<ShortConn>(ev, tally));
  const uint64_t start = ev.now_ns();
  tally.last_progress_ns = start;
  bool stalled = false;
  while (tally.completed < s.count) {
    // Refilled between rounds rather than from on_hangup, so a slot is
    // re-dialled only after ixev has fully let go of it.
    for (auto &c : slots)
      if (c->idle() && tally.started < s.count) c->start(tally.started, s.server);
    if (tally.completed >= s.count) break;
    if (ev.should_stop() || ev.now_ns() - tally.last_progress_ns > s.stall_ns) {
      stalled = true;
      break;
    }
    ev.poll();
  }
  const double secs = seconds_between(start, ev.now_ns());
  const uint64_t failures = tally.failures() + (s.count - tally.completed);
  const double rate = secs > 0 ? static_cast<double>(tally.completed) / secs : 0;
  std::printf(
      "ix-tcp-client: conns %llu of %llu completed (%u at a time), %llu failed (connect %llu, "
      "bad echo %llu, reset/other %llu)%s, %.2f s (%.0f conn/s)\n",
      (unsigned long long)tally.completed, (unsigned long long)s.count, s.concurrency,
      (unsigned long long)failures, (unsigned long long)tally.connect_failed,
      (unsigned long long)tally.bad_echo, (unsigned long long)tally.bad_hangup,
      stalled ? " STALLED" : "", secs, rate);
  std::printf(
      "json: {\"mode\":\"conns\",\"count\":%llu,\"concurrency\":%u,\"completed\":%llu,"
      "\"failures\":%llu,\"connect_failed\":%llu,\"bad_echo\":%llu,\"bad_hangup\":%llu,"
      "\"stalled\":%s,\"seconds\":%.4f,\"per_second\":%.1f}\n",
      (unsigned long long)s.count, s.concurrency, (unsigned long long)tally.completed,
      (unsigned long long)failures, (unsigned long long)tally.connect_failed,
      (unsigned long long)tally.bad_echo, (unsigned long long)tally.bad_hangup,
      stalled ? "true" : "false", secs, rate);
  std::fflush(stdout);
  // Deleting a slot still attached (only after a stall) resets its connection.
  return failures == 0 && !stalled;
}

// ---------------------------------------------------------------- main

bool settings_from(const ix::AppOptions &o, Settings &s) {
  if (!parse_endpoint(o.at("server"), s.server)) {
    std::cerr << "ix-tcp-client: server: '" << o.at("server") << "' is not IPv4:PORT\n";
    return false;
  }
  s.mode = o.at("mode");
  if (s.mode != "bulk" && s.mode != "conns") {
    std::cerr << "ix-tcp-client: mode: '" << s.mode << "' is not bulk or conns\n";
    return false;
  }
  s.bytes = std::stoull(o.at("bytes"));
  s.count = std::stoull(o.at("count"));
  s.concurrency = static_cast<uint32_t>(std::stoul(o.at("concurrency")));
  s.stall_ns = std::stoull(o.at("timeout-ms")) * 1'000'000ull;
  return true;
}

void thread_main(ix_ctx *ctx, const ix::AppOptions &opts) {
  Ixev ev(ctx);
  if (ev.thread_id() != 0) {
    while (!g_test_over.load(std::memory_order_relaxed) && !ev.should_stop()) ev.poll();
    return;
  }
  Settings s;
  if (!settings_from(opts, s)) {
    g_outcome.store(kBadOptions);
  } else {
    const bool ok = s.mode == "bulk" ? run_bulk(ev, s) : run_conns(ev, s);
    g_outcome.store(ok ? kPassed : kFailed);
  }
  g_test_over.store(true);
}

}  // namespace

int main(int argc, char **argv) {
  const ix::AppOption options[] = {
      {"server", "", "echo server to test, IPv4:PORT"},
      {"mode", "bulk", "bulk (one long stream) or conns (many short connections)"},
      {"bytes", "100000000", "bulk: bytes to stream and verify", true, 1, 1LL << 40},
      {"count", "10000", "conns: connections to open and close", true, 1, 100'000'000},
      {"concurrency", "16", "conns: connections open at a time", true, 1, 4096},
      {"timeout-ms", "10000", "give up after this long without progress", true, 1, 3'600'000},
  };
  const int rc = ix::run_app("ix-tcp-client", argc, argv, options, thread_main);
  if (rc != 0) return rc;
  const int outcome = g_outcome.load();
  if (outcome != kNotRun) return outcome;
  // The test never ran: fine only when the dataplane merely printed --help.
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help" || a.starts_with("--help=")) return 0;
  }
  std::cerr << "ix-tcp-client: the test did not run (stopped before it started)\n";
  return kFailed;
}
