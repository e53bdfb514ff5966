#include "api/io_context.hh"

#include <sys/uio.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

using ix::mem::Mbuf;

namespace ix::api {

LocalContext::LocalContext(ix::core::ElasticThread &thread, const std::atomic<bool> *stop,
                           const Options &options)
    : thread_(thread),
      stop_(stop),
      opts_(options),
      ev_(4096),
      rx_pause_threshold_(std::max<size_t>(1024, 4u * thread.config().batch)),
      udp_bound_(65536, 0),
      tcp_listening_(65536, 0),
      timers_(kMaxAppTimers) {
  for (auto &t : timers_) {
    t.ctx = this;
    t.timer.fn = &LocalContext::on_timer;
    t.timer.arg = &t;
    t.next_free = free_timers_;
    free_timers_ = &t;
  }
  if (!opts_.shared_thread) thread_.set_send_listener(this, &LocalContext::on_send_released);
}

LocalContext::~LocalContext() {
  if (!opts_.shared_thread) thread_.set_send_listener(nullptr, nullptr);
  if (follow_moves_) follow_moves(false);
  // The connections go with their owner (RST to each peer), as a process's
  // sockets do when it exits: the engine must not call into this context
  // once it is gone.
  if (thread_.stack().tcp().abort_all(*this) != 0) thread_.flush_tx();
  for (uint32_t p = 0; p < udp_bound_.size(); ++p)
    if (udp_bound_[p]) thread_.stack().udp_unbind(static_cast<uint16_t>(p));
  for (uint32_t p = 0; p < tcp_listening_.size(); ++p)
    if (tcp_listening_[p]) thread_.stack().tcp().unlisten(static_cast<uint16_t>(p), this);
  for (auto &t : timers_) thread_.timers().cancel(t.timer);
  // Received buffers still lent to the application go back to the pool.
  for (size_t i = 0; i < ev_count_; ++i) {
    const ix_event &e = ev_[(ev_head_ + i) % ev_.size()];
    if (e.type == IX_EV_UDP_RECV) {
      if (Mbuf *m = mbuf_of(e.u.udp_recv.buf)) ix::mem::MbufPool::free_chain(m);
    }
    if (e.flags & kCopiedAtMove) delete[] e.u.tcp.data;
  }
}

void LocalContext::begin_batch() {
  if (moved_delivered_ == 0) return;
  moved_away_.erase(moved_away_.begin(),
                    moved_away_.begin() + static_cast<std::ptrdiff_t>(moved_delivered_));
  moved_delivered_ = 0;
}

int LocalContext::check_handle(ix_tcp_handle h) const {
  ix::net::tcp::ConnHandle engine;
  ix::net::tcp::Tcb *tcb;
  if (engine_handle(h, &engine, &tcb) == HandleCheck::kOk) return IX_OK;
  return moved_away(h) ? IX_EMOVED : IX_EBADH;
}

int LocalContext::run_io(ix_cmd *cmds, size_t ncmds, ix_event *events, size_t max_events) {
  auto &stats = thread_.stats();
  // Receive buffers of connections that died stay readable until every
  // event that points into them has reached the application and it has had
  // one round to read them: i.e. until a call starts with no events left
  // over from before (see Tcp::free_deferred).
  if (ev_count_ == 0) thread_.stack().tcp().free_deferred(*this);
  // The application has seen these moves (this batch was built after it
  // took their events): their handles are plainly stale from now on.
  begin_batch();
  // The iteration's one clock read: commands, timers and the poll below
  // all see this time.
  const uint64_t now = thread_.refresh_clock();
  if (cmds == nullptr) ncmds = 0;
  prefetch_connections(cmds, ncmds);
  for (size_t i = 0; i < ncmds; ++i) cmds[i].result = execute(cmds[i]);
  stats.commands += ncmds;
  thread_.flush_tx();

  // Backpressure: while the application lags behind on events, leave frames
  // in the NIC ring (where they are dropped and counted by the device if it
  // overflows) instead of growing our queue.
  if (ev_count_ < rx_pause_threshold_) {
    thread_.poll_at(now);
  } else {
    ++stats.rx_paused;
    thread_.timers().advance(now);
    thread_.flush_tx();
  }
  thread_.maybe_publish();
  // Between batches, also while paused above: a thread whose application
  // lags still answers the control plane.
  thread_.serve_control();

  if (events == nullptr) max_events = 0;
  const size_t n = std::min(max_events, ev_count_);
  for (size_t i = 0; i < n; ++i) {
    events[i] = ev_[ev_head_];
    moved_delivered_ += events[i].type == IX_EV_TCP_MOVED_OUT;
    ev_head_ = (ev_head_ + 1) % ev_.size();
  }
  ev_count_ -= n;
  stats.events += n;
  return static_cast<int>(n);
}

int LocalContext::execute(ix_cmd &c) {
  switch (c.op) {
    case IX_CMD_NOP:
      return IX_OK;
    case IX_CMD_UDP_BIND:
      return udp_bind(c.u.udp_bind.port);
    case IX_CMD_UDP_UNBIND:
      return udp_unbind(c.u.udp_bind.port);
    case IX_CMD_UDP_SEND:
      return udp_send(c);
    case IX_CMD_UDP_RECV_DONE:
      return recv_done(c.u.recv_done.buf);
    case IX_CMD_TIMER_ARM:
      return timer_arm(c);
    case IX_CMD_TCP_LISTEN:
    case IX_CMD_TCP_UNLISTEN:
    case IX_CMD_TCP_CONNECT:
    case IX_CMD_TCP_ACCEPT:
    case IX_CMD_TCP_REJECT:
    case IX_CMD_TCP_SENDV:
    case IX_CMD_TCP_RECV_DONE:
    case IX_CMD_TCP_CLOSE:
    case IX_CMD_TCP_ABORT:
    case IX_CMD_TCP_SET_COALESCING:
    case IX_CMD_TCP_SET_KEEPALIVE:
      return tcp_command(c);
    default:
      return IX_EOPNOTSUPP;
  }
}

int LocalContext::udp_bind(uint16_t port) {
  if (port == 0) return IX_EINVAL;
  if (at_port_quota()) return IX_ENOMEM;
  if (!thread_.stack().udp_bind(port, this)) return IX_EADDRINUSE;
  udp_bound_[port] = 1;
  ++ports_held_;
  return IX_OK;
}

int LocalContext::udp_unbind(uint16_t port) {
  if (port == 0 || !udp_bound_[port]) return IX_EINVAL;
  thread_.stack().udp_unbind(port);
  udp_bound_[port] = 0;
  --ports_held_;
  return IX_OK;
}

int LocalContext::udp_send(const ix_cmd &c) {
  const auto &s = c.u.udp_send;
  if (s.data == nullptr && s.len != 0) return IX_EINVAL;
  if (s.dst.port == 0 || s.src_port == 0 || s.dst.addr == 0) return IX_EINVAL;
  if (s.len > 0xffff - 8 - 20) return IX_EMSGSIZE;
  // A source port some other receiver is bound to is not ours to send from:
  // in the dataplane process that receiver is another application, whose
  // peers would take the datagram for its own.
  const ix::net::UdpReceiver *bound = thread_.stack().udp_owner(s.src_port);
  if (bound != nullptr && bound != this) return IX_EADDRINUSE;
  auto &caps = thread_.device().caps();
  Mbuf *m = thread_.pool().alloc();
  if (m == nullptr) return IX_ENOBUFS;

  bool zero_copy = caps.tx_external && caps.tx_multi_seg && s.len > 0 && !opts_.shared_thread;
  if (zero_copy) {
    // The payload stays in the application's memory; the stack puts headers
    // in front and the driver reads it in place. on_send_released reports
    // IX_EV_UDP_SENT when the last reference goes.
    m->attach_external(s.data, static_cast<uint16_t>(s.len),
                       &ix::core::ElasticThread::ext_release_fn, &thread_, c.cookie);
  } else {
    if (s.len > m->tailroom()) {
      ix::mem::MbufPool::free_chain(m);
      return IX_EMSGSIZE;
    }
    std::memcpy(m->append(static_cast<uint16_t>(s.len)), s.data, s.len);
  }
  const int rc = thread_.stack().udp_send(ix::net::Ipv4Addr{s.dst.addr}, s.dst.port, s.src_port, m);
  if (rc != IX_OK) {
    m->ext_release = nullptr;  // failed: no IX_EV_UDP_SENT, the result says it all
    ix::mem::MbufPool::free_chain(m);
    return rc;
  }
  if (!zero_copy) {
    // The data was copied: the application's buffer is free already.
    ix_event &e = push_event();
    e.type = IX_EV_UDP_SENT;
    e.result = IX_OK;
    e.cookie = c.cookie;
  }
  return IX_OK;
}

int LocalContext::recv_done(ix_buf_handle h) {
  Mbuf *m = mbuf_of(h);
  if (m == nullptr) return IX_EBADH;
  ix::mem::MbufPool::free_chain(m);
  return IX_OK;
}

int LocalContext::timer_arm(const ix_cmd &c) {
  AppTimer *t = free_timers_;
  if (t == nullptr) return IX_ENOMEM;
  free_timers_ = t->next_free;
  t->cookie = c.cookie;
  thread_.timers().arm(t->timer, c.u.timer_arm.delay_ns);
  return IX_OK;
}

void LocalContext::on_timer(ix::timing::Timer *, void *arg) {
  auto *t = static_cast<AppTimer *>(arg);
  LocalContext *ctx = t->ctx;
  ix_event &e = ctx->push_event();
  e.type = IX_EV_TIMER;
  e.result = IX_OK;
  e.cookie = t->cookie;
  t->next_free = ctx->free_timers_;
  ctx->free_timers_ = t;
}

void LocalContext::on_udp(Mbuf *m, const ix::net::UdpDatagram &d) {
  if (opts_.shared_thread && ev_count_ >= opts_.event_backlog_cap) {
    ++udp_backlog_drops_;
    ix::mem::MbufPool::free_chain(m);
    return;
  }
  m->app_held = 1;
  ix_event &e = push_event();
  e.type = IX_EV_UDP_RECV;
  e.result = IX_OK;
  e.cookie = 0;
  e.u.udp_recv.data = d.payload;
  e.u.udp_recv.len = d.len;
  e.u.udp_recv.src = ix_endpoint{d.src.v, d.src_port, 0};
  e.u.udp_recv.dst = ix_endpoint{d.dst.v, d.dst_port, 0};
  e.u.udp_recv.buf = handle_of(m);
}

void LocalContext::on_send_released(void *arg, uint64_t cookie) {
  auto *ctx = static_cast<LocalContext *>(arg);
  ix_event &e = ctx->push_event();
  e.type = IX_EV_UDP_SENT;
  e.result = IX_OK;
  e.cookie = cookie;
}

ix_event &LocalContext::push_tcp_event(uint16_t type, uint64_t cookie, ix::net::tcp::ConnHandle h) {
  ix_event &e = push_event();
  e.type = type;
  e.cookie = cookie;
  e.u.tcp.handle = app_handle(h);
  return e;
}

ix_event &LocalContext::push_event() {
  if (ev_count_ == ev_.size()) {
    // Slow path (see the member comment): unroll the ring into a larger one.
    std::vector<ix_event> bigger(ev_.size() * 2);
    for (size_t i = 0; i < ev_count_; ++i) bigger[i] = ev_[(ev_head_ + i) % ev_.size()];
    ev_.swap(bigger);
    ev_head_ = 0;
  }
  ix_event &e = ev_[(ev_head_ + ev_count_) % ev_.size()];
  ++ev_count_;
  std::memset(&e, 0, sizeof e);
  return e;
}

ix_buf_handle LocalContext::handle_of(const Mbuf *m) const {
  return (uint64_t{thread_.config().id & 0xffff} << 48) | (uint64_t{m->generation} << 32) |
         m->index;
}

Mbuf *LocalContext::mbuf_of(ix_buf_handle h) const {
  if ((h >> 48) != (thread_.config().id & 0xffff)) return nullptr;
  Mbuf *m = thread_.pool().by_index(static_cast<uint32_t>(h));
  if (m == nullptr || !m->in_use || !m->app_held) return nullptr;
  if (m->generation != static_cast<uint16_t>(h >> 32)) return nullptr;
  return m;
}

// ---- TCP ----

static_assert(sizeof(ix_iovec) == sizeof(struct iovec) &&
                  offsetof(ix_iovec, base) == offsetof(struct iovec, iov_base) &&
                  offsetof(ix_iovec, len) == offsetof(struct iovec, iov_len),
              "ix_iovec is passed to the engine as struct iovec");

namespace {
constexpr int kGroupShift = 48;  // the engine's flow group bits (conn_table.hh)
constexpr int kThreadShift = 60;
constexpr uint64_t kEngineMask = IX_HANDLE_SANS_THREAD;
static_assert(kEngineMask == (uint64_t{1} << kThreadShift) - 1);
}  // namespace

ix_tcp_handle LocalContext::app_handle(ix::net::tcp::ConnHandle h) const {
  return (h & kEngineMask) | (uint64_t{thread_.config().id & 0xfu} << kThreadShift);
}

void LocalContext::prefetch_connections(const ix_cmd *cmds, size_t ncmds) const {
  // The per-message commands of a batch name connections the application
  // chose, often cold ones (a client moving on to its next connection):
  // their control blocks are fetched together before the first command
  // runs (Tcp::prefetch_segments does the same for a burst of frames).
  const auto &tcp = thread_.stack().tcp();
  if (ncmds < 2 || !tcp.prefetch_pays()) return;
  for (size_t i = 0; i < ncmds; ++i)
    if (cmds[i].op == IX_CMD_TCP_SENDV || cmds[i].op == IX_CMD_TCP_RECV_DONE)
      tcp.prefetch_handle(cmds[i].u.tcp_conn.handle & kEngineMask);
}

LocalContext::HandleCheck LocalContext::engine_handle(ix_tcp_handle h,
                                                      ix::net::tcp::ConnHandle *out,
                                                      ix::net::tcp::Tcb **tcb) const {
  const auto &flows = thread_.flows();
  const uint16_t group = static_cast<uint16_t>((h >> kGroupShift) & 0xfffu);
  if ((h >> kThreadShift) != (thread_.config().id & 0xfu) || group >= flows.groups() ||
      !flows.owns_group(group))
    return h == 0 ? HandleCheck::kBad : HandleCheck::kForeign;
  *out = h & kEngineMask;
  // The slot must hold a live connection of that very flow group, and the
  // connection must be this context's: in the dataplane process several
  // applications share a thread, and a handle of another application's
  // connection is refused like one of another thread's.
  const auto &tcp = thread_.stack().tcp();
  const auto facts = tcp.facts_of(*out);
  if (facts.flow_group != group) return HandleCheck::kBad;
  if (facts.owner != this) return HandleCheck::kForeign;
  *tcb = facts.tcb;
  return HandleCheck::kOk;
}

int LocalContext::tcp_command(ix_cmd &c) {
  auto &tcp = thread_.stack().tcp();
  switch (c.op) {
    case IX_CMD_TCP_LISTEN: {
      if (at_port_quota() && c.u.tcp_listen.port != 0) return IX_ENOMEM;
      const int rc = tcp.listen(c.u.tcp_listen.port, c.cookie, this);
      if (rc == IX_OK) {
        tcp_listening_[c.u.tcp_listen.port] = 1;
        ++ports_held_;
      }
      return rc;
    }
    case IX_CMD_TCP_UNLISTEN: {
      // Only a port this context listens on (in the dataplane process the
      // others' are other applications').
      const int rc = tcp.unlisten(c.u.tcp_listen.port, this);
      if (rc == IX_OK) {
        tcp_listening_[c.u.tcp_listen.port] = 0;
        --ports_held_;
      }
      return rc;
    }
    case IX_CMD_TCP_CONNECT: {
      const auto &a = c.u.tcp_connect;
      if (a.dst.addr == 0 || a.dst.port == 0) return IX_EINVAL;
      const int64_t h =
          tcp.connect(ix::net::Ipv4Addr{a.dst.addr}, a.dst.port, a.src_port, c.cookie, this);
      if (h < 0) return static_cast<int>(h);
      // The handle goes back in the command; IX_EV_TCP_CONNECTED follows.
      c.u.tcp_conn.handle = app_handle(static_cast<ix::net::tcp::ConnHandle>(h));
      return IX_OK;
    }
    default:
      break;
  }
  ix::net::tcp::ConnHandle h;
  ix::net::tcp::Tcb *tcb = nullptr;
  switch (engine_handle(c.u.tcp_conn.handle, &h, &tcb)) {
    case HandleCheck::kOk:
      break;
    case HandleCheck::kForeign:
      if (moved_away(c.u.tcp_conn.handle)) return IX_EMOVED;
      ++thread_.stats().foreign_handles;
      return IX_EBADH;
    case HandleCheck::kBad:
      return moved_away(c.u.tcp_conn.handle) ? IX_EMOVED : IX_EBADH;
  }
  switch (c.op) {
    case IX_CMD_TCP_ACCEPT:
      return tcp.accept(h, c.cookie);
    case IX_CMD_TCP_REJECT:
      return tcp.reject(h);
    case IX_CMD_TCP_SENDV: {
      const auto &s = c.u.tcp_sendv;
      if (s.iovcnt > 1024 || (s.iov == nullptr && s.iovcnt != 0)) return IX_EINVAL;
      const int64_t n = tcp.sendv(*tcb, reinterpret_cast<const struct iovec *>(s.iov),
                                  static_cast<int>(s.iovcnt));
      // Bytes accepted (a send buffer is far below 2 GiB) or a status.
      return static_cast<int>(n);
    }
    case IX_CMD_TCP_RECV_DONE:
      if (c.u.tcp_recv_done.bytes > UINT32_MAX) return IX_EINVAL;
      return tcp.recv_done(*tcb, static_cast<uint32_t>(c.u.tcp_recv_done.bytes));
    case IX_CMD_TCP_CLOSE:
      return tcp.close(h);
    case IX_CMD_TCP_ABORT:
      return tcp.abort(h);
    case IX_CMD_TCP_SET_COALESCING:
      return tcp.set_coalescing(h, c.u.tcp_option.on != 0);
    case IX_CMD_TCP_SET_KEEPALIVE:
      return tcp.set_keepalive(h, c.u.tcp_option.on != 0);
    default:
      return IX_EOPNOTSUPP;
  }
}

void LocalContext::on_knock(uint64_t listener_cookie, ix::net::tcp::ConnHandle h,
                            ix::net::Ipv4Addr src, uint16_t sport, ix::net::Ipv4Addr dst,
                            uint16_t dport) {
  ix_event &e = push_event();
  e.type = IX_EV_TCP_KNOCK;
  e.cookie = listener_cookie;
  e.u.tcp_knock.handle = app_handle(h);
  e.u.tcp_knock.src = ix_endpoint{src.v, sport, 0};
  e.u.tcp_knock.dst = ix_endpoint{dst.v, dport, 0};
}

void LocalContext::on_connected(uint64_t cookie, ix::net::tcp::ConnHandle h, int result) {
  ix_event &e = push_tcp_event(IX_EV_TCP_CONNECTED, cookie, h);
  e.result = result;
}

void LocalContext::on_recv(uint64_t cookie, ix::net::tcp::ConnHandle h, const uint8_t *data,
                           uint32_t len) {
  ix_event &e = push_tcp_event(IX_EV_TCP_RECV, cookie, h);
  e.u.tcp.data = data;
  e.u.tcp.len = len;
  queued_rx_events_ += opts_.shared_thread && len != 0;
}

void LocalContext::on_sent(uint64_t cookie, ix::net::tcp::ConnHandle h, uint32_t bytes) {
  ix_event &e = push_tcp_event(IX_EV_TCP_SENT, cookie, h);
  e.u.tcp.len = bytes;
}

void LocalContext::on_dead(uint64_t cookie, ix::net::tcp::ConnHandle h,
                           ix::net::tcp::DeadReason why) {
  using ix::net::tcp::DeadReason;
  ix_event &e = push_tcp_event(IX_EV_TCP_DEAD, cookie, h);
  switch (why) {
    case DeadReason::kClosed:
      e.result = IX_OK;
      break;
    case DeadReason::kReset:
      e.result = IX_ECONNRESET;
      break;
    case DeadReason::kTimeout:
      e.result = IX_ETIMEDOUT;
      break;
    case DeadReason::kRefused:
      e.result = IX_ECONNREFUSED;
      break;
    case DeadReason::kAborted:
      e.result = IX_ECLOSED;
      break;
  }
}

// ---- flow-group moves ----

int LocalContext::follow_moves(bool on) {
  follow_moves_ = on;
  if (opts_.shared_thread) return IX_OK;  // the serve loop receives (ixd/serve_loop.cc)
  thread_.set_move_receivers(on ? &LocalContext::move_receiver : nullptr, on ? this : nullptr);
  thread_.set_park_guard(on ? &LocalContext::may_park : nullptr, on ? this : nullptr);
  return IX_OK;
}

// Library mode: one application, one context per thread, so a connection
// that arrives is this context's. Only a context that follows moves lets its
// connections leave (Tcp::export_group), and `old` is not read: its thread
// may be ending.
ix::net::tcp::TcpEvents *LocalContext::move_receiver(void *self, ix::net::tcp::TcpEvents *,
                                                     uint64_t) {
  return static_cast<LocalContext *>(self);
}

bool LocalContext::may_park(void *self) {
  return static_cast<LocalContext *>(self)->ev_count_ == 0;
}

bool LocalContext::moved_away(ix_tcp_handle h) const {
  // Those whose MOVED_OUT the application took before this batch began
  // were dropped by begin_batch; a batch that continues a run_io call keeps
  // the ones taken since (its commands were built before).
  for (size_t i = 0; i < moved_away_.size(); ++i)
    if (moved_away_[i] == h) return true;
  return false;
}

uint32_t LocalContext::on_moved_out(uint64_t cookie, ix::net::tcp::ConnHandle h, uint32_t move) {
  const ix_tcp_handle app = app_handle(h);
  uint32_t copied = 0;
  if (opts_.shared_thread && queued_rx_events_ != 0) {
    // The application takes received data out of the engine only when its
    // events are delivered (the dataplane process copies it into the
    // application's region then, and releases the engine's buffers on this
    // thread). Those still queued point into buffers that now travel with
    // the connection: copied here, while they are readable, and released by
    // the new thread (Tcp::import_conns). A control-path allocation, once
    // per such event of a moving connection.
    for (size_t i = 0; i < ev_count_; ++i) {
      ix_event &e = ev_[(ev_head_ + i) % ev_.size()];
      if (e.type != IX_EV_TCP_RECV || e.u.tcp.handle != app || e.u.tcp.len == 0 ||
          (e.flags & kCopiedAtMove))
        continue;
      auto *copy = new uint8_t[e.u.tcp.len];
      std::memcpy(copy, e.u.tcp.data, e.u.tcp.len);
      e.u.tcp.data = copy;
      e.flags |= kCopiedAtMove;
      copied += static_cast<uint32_t>(e.u.tcp.len);
    }
  }
  ++move_counts_.out;
  move_counts_.copied_bytes += copied;
  moved_away_.push_back(app);
  ix_event &e = push_tcp_event(IX_EV_TCP_MOVED_OUT, cookie, h);
  e.u.tcp.len = move;
  return copied;
}

void LocalContext::on_moved(uint64_t cookie, ix::net::tcp::ConnHandle old,
                            ix::net::tcp::ConnHandle h, uint32_t move) {
  ++move_counts_.in;
  ix_event &e = push_tcp_event(IX_EV_TCP_MOVED_IN, cookie, h);
  e.u.tcp.len = move;
  e.u.raw[3] = old & kEngineMask;  // syscall.h: IX_EV_TCP_MOVED_IN
}

}  // namespace ix::api
