// ix-memcached: a memcached-compatible key-value server on ixev. Every
// elastic thread runs its own event loop over its own connections; the store
// (and the counters' read side) is the one thing they share.
//
// Per connection: input is parsed straight out of the received packet
// buffers and copied into a connection buffer only when a request spans
// packets; replies are built in a Reply and sent in order, small text copied
// with send() and item values zero copy with sendv_zc (the Reply holding the
// items is kept until ixev reports the bytes acknowledged).
#include <arpa/inet.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ix/app.hh"
#include "ix/ixev.hh"
#include "memcached/binary_protocol.hh"
#include "memcached/context.hh"
#include "memcached/flags.hh"
#include "memcached/reply.hh"
#include "memcached/text_protocol.hh"

namespace {

using ix::ev::Bytes;
using ix::ev::Conn;
using ix::ev::Ixev;
using ix::mc::Context;
using ix::mc::Reply;
using C = ix::mc::ThreadCounters;

// Stop reading a connection's requests while this much reply data waits for
// acknowledgement: a client that pipelines without reading cannot make the
// server hold unbounded references.
constexpr uint64_t kMaxUnackedReply = 4u << 20;

// Connections open over all threads, for the -c limit. A shared write, but
// once per connection, never per request.
std::atomic<uint32_t> open_connections{0};

class McServer;

// This thread's server (set by serve): where a connection that moved here
// with its flow group counts and returns itself.
thread_local McServer *this_thread_server = nullptr;

class McConn final : public Conn {
 public:
  McConn(Ixev &ev, McServer &server, Context &ctx)
      : ev_(&ev), server_(&server), ctx_(ctx), row_(ctx.conn_table().add()) {}

  void start(bool over_limit, const ix_endpoint &remote, const ix_endpoint &local, uint32_t now) {
    in_.clear();
    text_ = {};
    binary_ = {};
    decided_ = is_binary_ = closing_ = false;
    over_limit_ = over_limit;
    unacked_ = 0;
    send_failed_ = false;
    counted_ = true;
    row_.opened(remote.addr, remote.port, local.addr, local.port, now);
  }
  // -o idle_timeout: memcached closes a connection whose last command is
  // more than `timeout` seconds old, if it is waiting for a command (not in
  // the middle of a data block or of sending replies).
  void kick_if_idle(uint32_t now, uint32_t timeout) {
    if (closing_ || row_.get_state() != ix::mc::ConnState::kRead || row_.idle_for(now) <= timeout)
      return;
    ctx_.counters().add(C::idle_kicks);
    if (ctx_.verbosity() > 1) std::fprintf(stderr, "Closing idle connection %u\n", row_.id);
    close_now();
  }
  void on_connected(int status) override {
    if (status != IX_OK || !over_limit_) return;
    // memcached 1.6 writes this (not a SERVER_ERROR) and hangs up.
    static constexpr char kMsg[] = "ERROR Too many open connections\r\n";
    ev_->send(*this, kMsg, sizeof kMsg - 1);
    close_now();
  }
  void on_readable() override { pump(); }
  void on_sent(uint64_t cookie) override {
    const uint32_t i = static_cast<uint32_t>(cookie);
    if (i >= held_.size() || held_[i].sends == 0) return;
    if (--held_[i].sends == 0) {
      unacked_ -= held_[i].bytes;
      release(i);
    }
    pump();  // reading may have paused on unacknowledged replies
  }
  void on_hangup(int status) override;
  // The flow group moved to another elastic thread: the connection is
  // served there now (the store, items and counters are shared already).
  void on_moved(Ixev &loop) override {
    ev_ = &loop;
    server_ = this_thread_server;
  }
  uint32_t now() const;
  uint64_t server_round() const;

 private:
  // A Reply handed to the dataplane zero copy, kept (with its item
  // references) until every sendv that points into it is acknowledged. The
  // slot number is the sendv cookie. Slots are reused: their buffers keep
  // their capacity, so a warm connection does not allocate per reply.
  struct Held {
    Reply reply;
    uint64_t bytes = 0;  // bytes sent zero copy from it
    uint32_t sends = 0;  // sendv commands not yet acknowledged
  };

  void pump();
  size_t handle(const uint8_t *data, size_t len, bool *close_after);
  void flush();
  void flush_iov(uint32_t slot);
  void release(uint32_t i) {
    held_[i].reply.clear_and_trim();  // a long listing's buffers are not kept
    held_[i].bytes = 0;
    held_[i].sends = 0;
    free_held_.push_back(i);
  }
  void close_now() {
    if (closing_) return;
    closing_ = true;
    closed_round_ = server_round();
    row_.set_state(ix::mc::ConnState::kClosing);
    in_.clear();
    ev_->close(*this);
    // Like memcached closing its socket: the slot is free once the server is
    // done, even while the peer has not finished its side of the close.
    uncount();
  }
  void uncount();
  void note_state();
  // An unfinished lru_crawler metadump is given up and the crawler freed.
  void end_metadump() {
    if (!text_.dumping()) return;
    text_.metadump.active = false;
    ctx_.release_crawler();
  }

  Ixev *ev_;
  McServer *server_;
  Context &ctx_;
  ix::mc::ConnRow &row_;     // what stats conns shows of it
  std::vector<uint8_t> in_;  // only the part of a request that spans packets
  ix::mc::TextSession text_;
  ix::mc::BinarySession binary_;
  Reply reply_;
  // A deque: slots never move, so text a sendv points into stays put while
  // more slots are added.
  std::deque<Held> held_;
  std::vector<uint32_t> free_held_;
  std::vector<ix_iovec> iov_;
  bool decided_ = false, is_binary_ = false, closing_ = false, over_limit_ = false;
  bool counted_ = false;  // still counted against the connection limit
  uint64_t unacked_ = 0;
  bool send_failed_ = false;   // a send found the connection gone (reset)
  uint64_t closed_round_ = 0;  // McServer::round() when close_now ran
};

// Hands out connection contexts from a free list (no allocation per
// connection once warm) and enforces -l and -c.
class McServer final : public ix::ev::Listener {
 public:
  McServer(Ixev &ev, Context &ctx, uint32_t listen_addr, uint32_t conn_limit)
      : ev_(ev), ctx_(ctx), listen_addr_(listen_addr), conn_limit_(conn_limit) {}

  Conn *on_knock(const ix_endpoint &remote, const ix_endpoint &local) override {
    // -l: only connections to the configured address (0: any).
    if (listen_addr_ != 0 && local.addr != listen_addr_) return nullptr;
    if (free_.empty()) free_.push_back(make_conn());
    McConn *c = free_.back();
    free_.pop_back();
    // Over the limit the connection is still accepted, to be told why it is closed.
    const uint32_t open = open_connections.fetch_add(1, std::memory_order_relaxed) + 1;
    const bool over = open > conn_limit_;
    C &ctr = ctx_.counters();
    ctr.add(C::curr_connections);
    ctr.add(over ? C::rejected_connections : C::total_connections);
    c->start(over, remote, local, now_);
    return c;
  }
  // The store clock's reading, taken once per round of the serving loop
  // (connections stamp their last command with it).
  uint32_t now() const { return now_; }
  // Rounds of this thread's serving loop so far (set_now starts each).
  uint64_t round() const { return round_; }
  void set_now(uint32_t now) {
    now_ = now;
    ++round_;
  }
  void uncount() {
    open_connections.fetch_sub(1, std::memory_order_relaxed);
    ctx_.counters().sub(C::curr_connections);
  }
  void release(McConn *c) { free_.push_back(c); }

 private:
  // Connections are the process's, not this thread's: one that moved to
  // another thread with its flow group ends there, into that thread's free
  // list, and must outlive this thread's server. A lock, but only when a
  // thread has more connections at once than it ever had.
  McConn *make_conn() {
    static std::mutex mu;
    static auto *all = new std::vector<std::unique_ptr<McConn>>;  // lives until exit
    std::lock_guard<std::mutex> lock(mu);
    all->push_back(std::make_unique<McConn>(ev_, *this, ctx_));
    return all->back().get();
  }

  Ixev &ev_;
  Context &ctx_;
  uint32_t listen_addr_;
  uint32_t conn_limit_;
  uint32_t now_ = 0;
  uint64_t round_ = 0;
  std::vector<McConn *> free_;
};

uint32_t McConn::now() const { return server_->now(); }
uint64_t McConn::server_round() const { return server_->round(); }

void McConn::uncount() {
  if (!counted_) return;
  counted_ = false;
  server_->uncount();
}

void McConn::on_hangup(int status) {
  // A knock withdrawn before it was accepted (its flow group moved): the
  // new thread's listener counts the connection when it knocks there.
  if (status == IX_EMOVED && counted_)
    ctx_.counters().sub(over_limit_ ? C::rejected_connections : C::total_connections);
  uncount();
  row_.closed();
  end_metadump();  // the connection went with its listing unfinished
  // The dataplane is done with every zero-copy byte: drop the references.
  for (uint32_t i = 0; i < held_.size(); ++i)
    if (held_[i].sends != 0) release(i);
  reply_.clear();
  in_.clear();
  server_->release(this);
}

size_t McConn::handle(const uint8_t *data, size_t len, bool *close_after) {
  if (!decided_) {
    // memcached picks the protocol from the connection's first byte, unless
    // -B binds every connection to one (then the other's bytes are errors).
    using P = ix::mc::BindingProtocol;
    const P bound = ctx_.settings().protocol;
    is_binary_ =
        bound == P::Binary || (bound == P::Auto && data[0] == ix::mc::binary::kRequestMagic);
    decided_ = true;
  }
  const std::span<const uint8_t> in(data, len);
  if (is_binary_) return ix::mc::handle_binary(in, ctx_, reply_, close_after, binary_);
  return ix::mc::handle_text(in, ctx_, reply_, close_after, text_);
}

void McConn::pump() {
  while (!closing_ && unacked_ < kMaxUnackedReply) {
    bool close_after = false;
    if (is_binary_ ? binary_.paused : text_.wants_turn()) {
      // A turn on what is buffered, before any more input is read: the rest
      // of a turn that stopped at kTurnReplyBudget, or the next step of an
      // lru_crawler metadump. Meanwhile new input waits in the dataplane,
      // whose window then closes: memory stays bounded however much a
      // request asks for, as the replies drain.
      const size_t used = handle(in_.data(), in_.size(), &close_after);
      if (used > 0) row_.touched(now());
      in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(used));
      flush();
      if (send_failed_) end_metadump();  // reset mid-listing: nothing more can be sent
      if (close_after || send_failed_) close_now();
      continue;
    }
    const Bytes b = ev_->recv_zc(*this, SIZE_MAX);
    if (b.len == 0) break;
    row_.set_state(ix::mc::ConnState::kParseCmd);
    if (in_.empty()) {
      // The common case: whole requests in this packet, parsed in place.
      const size_t used = handle(b.data, b.len, &close_after);
      if (used > 0) row_.touched(now());
      if (!close_after && used < b.len) in_.assign(b.data + used, b.data + b.len);
    } else {
      in_.insert(in_.end(), b.data, b.data + b.len);
      const size_t used = handle(in_.data(), in_.size(), &close_after);
      if (used > 0) row_.touched(now());
      in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(used));
    }
    flush();
    if (close_after) close_now();
  }
  if (closing_) {
    // Bytes after quit, an unrecoverable error or an idle kick meet a closed
    // socket in memcached, and Linux answers those with a reset: so here, for
    // bytes of a later round (the client learns at once that the connection
    // is gone). Bytes of the round that closed are dropped quietly, so that
    // what it queued (the last replies, the over-limit message) still goes.
    bool unread = false;
    while (ev_->recv_zc(*this, SIZE_MAX).len != 0) unread = true;
    if (unread && server_round() != closed_round_) ev_->abort(*this);
    return;
  }
  if (ev_->peer_closed(*this) && ev_->readable_bytes(*this) == 0) {
    close_now();
    return;
  }
  note_state();
}

// What stats conns shows, after a turn: waiting for a command line (or the
// rest of one), for a data block, skipping one, or for replies to drain.
void McConn::note_state() {
  using S = ix::mc::ConnState;
  S st = S::kRead;
  if (!is_binary_ && text_.dumping()) {
    st = S::kWatch;  // memcached's state while its crawler writes the listing
  } else if (unacked_ >= kMaxUnackedReply) {
    st = S::kMwrite;
  } else if (text_.swallow != 0 || binary_.swallow != 0) {
    st = S::kSwallow;
  } else if (!in_.empty()) {
    // A whole command line (text) or header (binary) waits for its data.
    const bool line_done = is_binary_ ? in_.size() >= ix::mc::binary::kHeaderSize
                                      : std::find(in_.begin(), in_.end(), '\n') != in_.end();
    st = line_done ? S::kNread : S::kRead;
  }
  row_.set_state(st);
}

void McConn::flush_iov(uint32_t slot) {
  if (iov_.empty()) return;
  if (const int rc = ev_->sendv_zc(*this, iov_.data(), iov_.size(), slot); rc == IX_OK)
    ++held_[slot].sends;
  else if (rc == IX_ECLOSED)
    send_failed_ = true;
  iov_.clear();
}

void McConn::flush() {
  if (reply_.empty()) return;
  ctx_.counters().add(C::bytes_written, reply_.bytes());
  if (!reply_.has_items() && ev_->send_space(*this) >= reply_.bytes()) {
    // Text only and it fits: copy it (the usual small reply).
    for (const Reply::Piece &p : reply_.pieces())
      if (ev_->send(*this, reply_.text_bytes().data() + p.offset, p.len) == IX_ECLOSED)
        send_failed_ = true;
    reply_.clear();
    return;
  }
  uint32_t slot;
  if (free_held_.empty()) {
    held_.emplace_back();
    slot = static_cast<uint32_t>(held_.size() - 1);
  } else {
    slot = free_held_.back();
    free_held_.pop_back();
  }
  Held &h = held_[slot];
  h.reply.swap(reply_);  // reply_ takes the slot's empty buffers
  h.bytes = 0;
  h.sends = 0;
  iov_.clear();
  for (const Reply::Piece &p : h.reply.pieces()) {
    const char *base = p.item ? p.item.value().data() : h.reply.text_bytes().data() + p.offset;
    if (!p.item && ev_->send_space(*this) >= p.len) {
      flush_iov(slot);  // keeps the order: earlier zero-copy parts go first
      if (ev_->send(*this, base, p.len) == IX_ECLOSED) send_failed_ = true;
      continue;
    }
    iov_.push_back(ix_iovec{base, p.len});
    h.bytes += p.len;
  }
  flush_iov(slot);
  if (h.sends == 0)
    release(slot);  // everything was copied (or the connection is gone)
  else
    unacked_ += h.bytes;
}

// ---- options ----

struct Options {
  ix::mc::ServerSettings settings;
  uint32_t listen_addr = 0;  // host byte order; 0: any
};

std::once_flag context_once;
std::unique_ptr<Context> context;

// The shutdown command: stop the dataplane as SIGTERM would (every elastic
// thread finishes its loop and the counters are written).
void stop_process_once(const Context &c) {
  static std::atomic<bool> stopping{false};
  if (stopping.exchange(true)) return;
  if (c.verbosity() > 0)
    std::cerr << "ix-memcached: shutdown" << (c.shutdown_graceful() ? " graceful" : "")
              << " requested by a client\n";
  kill(getpid(), SIGTERM);
}

void serve(ix_ctx *ctx, const Options &o) {
  std::call_once(context_once, [&] { context = std::make_unique<Context>(o.settings); });
  context->thread_started();
  ix::ev::IxevConfig ev_cfg;
  ev_cfg.follow_moves = true;  // McConn::on_moved rebinds what is per thread
  Ixev ev(ctx, ev_cfg);
  McServer server(ev, *context, o.listen_addr, o.settings.max_connections);
  this_thread_server = &server;
  if (const int rc = ev.listen(o.settings.port, server); rc != IX_OK) {
    std::cerr << "ix-memcached: cannot listen on TCP port " << o.settings.port << ": "
              << ix_status_name(rc) << "\n";
    return;
  }
  if (ev.thread_id() == 0 && o.settings.verbosity > 0)
    std::cerr << "ix-memcached: port " << o.settings.port << " memory "
              << o.settings.store.memory_limit << " B item max " << o.settings.store.item_size_max
              << " B conns " << o.settings.max_connections << std::endl;
  if (ev.thread_id() == 0)
    context->conn_table().set_listener(o.listen_addr, o.settings.port, context->now());
  server.set_now(context->now());
  const uint32_t idle_timeout = o.settings.idle_timeout;
  uint32_t swept_at = 0;
  // lru_crawler crawl: the thread that takes a requested crawl sweeps the
  // store a bounded step per round, between its batches.
  constexpr uint32_t kCrawlBuckets = 4096;
  std::optional<ix::mc::Store::WalkCursor> crawl;
  while (!ev.should_stop()) {
    ev.poll();
    // One read of the store clock per round (a vDSO read, no system call).
    const uint32_t now = context->now();
    server.set_now(now);
    if (idle_timeout != 0 && now != swept_at) {
      // Once a second, as memcached's idle thread wakes: each thread looks
      // at its own connections (McServer hands out every Conn this Ixev has).
      swept_at = now;
      ev.for_each_conn([&](Conn &c) { static_cast<McConn &>(c).kick_if_idle(now, idle_timeout); });
    }
    if (!crawl && context->take_crawl()) crawl.emplace();
    if (crawl && context->store().crawl_step(now, *crawl, kCrawlBuckets)) {
      crawl.reset();
      context->release_crawler();
    }
    if (context->shutdown_requested()) stop_process_once(*context);
  }
  const auto &s = ev.stats();
  // One stdio call: the threads report at once as they stop.
  std::printf("ix-memcached: thread %u: ixev rounds %llu events %llu pool_growths %llu\n",
              ev.thread_id(), static_cast<unsigned long long>(s.rounds),
              static_cast<unsigned long long>(s.events),
              static_cast<unsigned long long>(s.pool_growths));
  std::fflush(stdout);
}

// Process settings memcached applies before serving (-k, -r, -P).
bool apply_process_flags(const ix::mc::TranslatedArgs &t) {
  if (t.enable_coredumps) {
    rlimit rl{RLIM_INFINITY, RLIM_INFINITY};
    if (setrlimit(RLIMIT_CORE, &rl) != 0) {
      getrlimit(RLIMIT_CORE, &rl);
      rl.rlim_cur = rl.rlim_max;
      if (setrlimit(RLIMIT_CORE, &rl) != 0)
        std::cerr << "ix-memcached: -r: cannot raise the core file limit: " << std::strerror(errno)
                  << "\n";
    }
  }
  if (t.lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
    std::cerr << "ix-memcached: -k: warning: cannot lock memory (" << std::strerror(errno)
              << "); raise RLIMIT_MEMLOCK (ulimit -l) to lock it\n";
  if (!t.pid_file.empty()) {
    FILE *f = std::fopen(t.pid_file.c_str(), "w");
    if (f == nullptr) {
      std::cerr << "ix-memcached: -P: cannot write the pid file " << t.pid_file << ": "
                << std::strerror(errno) << "\n";
      return false;
    }
    std::fprintf(f, "%ld\n", static_cast<long>(getpid()));
    std::fclose(f);
  }
  return true;
}

bool parse_protocol(const std::string &v, ix::mc::BindingProtocol *out) {
  using P = ix::mc::BindingProtocol;
  if (v == "auto" || v == "negotiate")
    *out = P::Auto;
  else if (v == "ascii")
    *out = P::Ascii;
  else if (v == "binary")
    *out = P::Binary;
  else
    return false;
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  const ix::mc::TranslatedArgs t =
      ix::mc::translate_memcached_args(std::vector<std::string>(argv + 1, argv + argc));
  if (!t.error.empty()) {
    std::cerr << "ix-memcached: " << t.error << "\n";
    return 2;
  }
  if (t.print_version || t.print_license) {
    if (t.print_version) std::cout << "memcached " << ix::mc::kServerVersion << "\n";
    if (t.print_license)
      std::cout << "ix-memcached: a memcached-compatible server on the IX dataplane; it shares "
                   "no code with memcached or libevent\n";
    return 0;
  }
  for (const std::string &w : t.warnings) std::cerr << "ix-memcached: warning: " << w << "\n";
  for (size_t i = 0; i + 1 < t.args.size(); ++i) {
    ix::mc::BindingProtocol p;
    if (t.args[i] == "--protocol" && !parse_protocol(t.args[i + 1], &p)) {
      std::cerr << "ix-memcached: protocol: '" << t.args[i + 1]
                << "' is not one of ascii, binary, auto (memcached -B)\n";
      return 2;
    }
    if (t.args[i] == "--udp-port" && t.args[i + 1] != "0")
      std::cerr << "ix-memcached: warning: -U " << t.args[i + 1]
                << ": memcached's UDP protocol is not served (memcached too has it off by "
                   "default since 1.5.6); TCP only\n";
  }
  if (!apply_process_flags(t)) return 1;
  std::vector<std::string> args = t.args;
  std::vector<char *> new_argv{argv[0]};
  for (std::string &a : args) new_argv.push_back(a.data());
  new_argv.push_back(nullptr);

  const ix::AppOption options[] = {
      {"port", "11211", "TCP port (memcached -p)", true, 1, 65535},
      {"udp-port", "0", "UDP port (memcached -U); UDP is not served: only 0 is quiet", true, 0,
       65535},
      {"memory-limit", "64", "item memory in megabytes (memcached -m)", true, 1, 1 << 20},
      {"threads", "0", "elastic threads (memcached -t); must match --cpu; 0: as --cpu gives", true,
       0, ix::mc::Context::kMaxThreads},
      {"conn-limit", "1024", "simultaneous connections (memcached -c)", true, 1, 1 << 24},
      {"max-item-size", "1048576", "largest item in bytes, or with k/m (memcached -I)", true, 1024,
       1 << 30},
      {"listen", "", "IPv4 address to accept connections on (memcached -l); empty: any"},
      {"verbosity", "0", "log level (memcached -v, -vv)", true, 0, 3},
      {"enable-shutdown", "0", "1: the shutdown command stops the server (memcached -A)", true, 0,
       1},
      {"disable-evictions", "0",
       "1: a store that does not fit fails instead of evicting "
       "(memcached -M)",
       true, 0, 1},
      {"disable-cas", "0", "1: no cas values (memcached -C)", true, 0, 1},
      {"disable-flush-all", "0", "1: refuse flush_all (memcached -F)", true, 0, 1},
      {"debug-commands", "0",
       "1: answer memcached-debug's debugtime (moves the server's clock; memcached's own test "
       "suite uses it)",
       true, 0, 1},
      {"protocol", "auto",
       "ascii, binary or auto: protocols a connection may speak (memcached -B)"},
      {"listen-backlog", "1024",
       "memcached -b: shown in stats settings; the dataplane's SYN backlog bounds half-open "
       "connections",
       true, 0, INT32_MAX},
      {"idle-timeout", "0",
       "seconds without a command before a waiting connection is closed (memcached -o "
       "idle_timeout); 0: never",
       true, 0, INT32_MAX},
      {"lru-crawler", "1",
       "memcached -o [no_]lru_crawler: 0 refuses lru_crawler crawl and metadump until "
       "lru_crawler enable, and stats show it",
       true, 0, 1},
      {"lru-maintainer", "1",
       "memcached -o [no_]lru_maintainer: what stats show (this store has no maintainer "
       "thread)",
       true, 0, 1},
      {"disable-dumping", "0", "1: refuse stats cachedump (memcached -X)", true, 0, 1},
      {"prefix-delimiter", "",
       "memcached -D: the character that ends a key's prefix in per-prefix stats, which it "
       "turns on (stats detail on|off|dump); empty: ':' and off"},
  };
  return ix::run_app(
      "ix-memcached", static_cast<int>(new_argv.size() - 1), new_argv.data(), options,
      [](ix_ctx *ctx, const ix::AppOptions &opts) {
        Options o;
        ix::mc::ServerSettings &s = o.settings;
        s.port = static_cast<uint16_t>(std::stoi(opts.at("port")));
        s.udp_port = static_cast<uint16_t>(std::stoi(opts.at("udp-port")));
        s.store.memory_limit = std::stoull(opts.at("memory-limit")) << 20;
        s.store.item_size_max = static_cast<uint32_t>(std::stoul(opts.at("max-item-size")));
        s.store.evict = opts.at("disable-evictions") == "0";
        s.max_connections = static_cast<uint32_t>(std::stoul(opts.at("conn-limit")));
        s.threads = static_cast<uint32_t>(std::stoul(opts.at("threads")));
        s.verbosity = std::stoi(opts.at("verbosity"));
        s.listen = opts.at("listen");
        s.shutdown_enabled = opts.at("enable-shutdown") == "1";
        s.cas_enabled = opts.at("disable-cas") == "0";
        s.flush_enabled = opts.at("disable-flush-all") == "0";
        s.debug_commands = opts.at("debug-commands") == "1";
        s.tcp_backlog = static_cast<uint32_t>(std::stoul(opts.at("listen-backlog")));
        s.idle_timeout = static_cast<uint32_t>(std::stoul(opts.at("idle-timeout")));
        s.lru_crawler = opts.at("lru-crawler") == "1";
        s.lru_maintainer = opts.at("lru-maintainer") == "1";
        s.dump_enabled = opts.at("disable-dumping") == "0";
        if (const std::string &d = opts.at("prefix-delimiter"); !d.empty()) {
          // As memcached -D: its first character, and per-prefix stats on.
          s.prefix_delimiter = d[0];
          s.detail_enabled = true;
        }
        if (s.store.item_size_max > s.store.memory_limit / 2) {
          // memcached refuses this at start-up too: one item could take
          // more than half of the memory.
          std::cerr << "ix-memcached: max-item-size (memcached -I) " << s.store.item_size_max
                    << " B is more than half of memory-limit (-m " << opts.at("memory-limit")
                    << " MB): raise -m or lower -I\n";
          std::quick_exit(2);
        }
        if (!parse_protocol(opts.at("protocol"), &s.protocol)) {
          // Flags were checked before start; only a config file gets here.
          std::cerr << "ix-memcached: protocol: '" << opts.at("protocol")
                    << "' is not one of ascii, binary, auto (memcached -B)\n";
          std::quick_exit(2);
        }
        in_addr a{};  // checked in translate_memcached_args (or given by the config file)
        if (!s.listen.empty() && inet_pton(AF_INET, s.listen.c_str(), &a) == 1)
          o.listen_addr = ntohl(a.s_addr);
        serve(ctx, o);
      });
}
