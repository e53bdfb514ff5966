// The Tcp engine's application-facing calls and connection lifecycle
// (creation, teardown). The protocol itself is in tcp_input.cc (receive),
// tcp_output.cc (transmit), tcp_timers.cc and tcp_listen.cc.
#include "net/tcp/tcp.hh"

#include <algorithm>
#include <array>

#include "ix/syscall.h"
#include "net/tcp/tcp_segment.hh"

namespace ix::net::tcp {

namespace {
// The configured key, or a fresh random one when none is (all zero).
std::array<uint8_t, 16> key_or_fresh(const std::array<uint8_t, 16> &configured) {
  std::array<uint8_t, 16> k = configured;
  if (k == std::array<uint8_t, 16>{}) random_key(k);
  return k;
}

// Sent-segment records per connection: enough for a full send buffer in
// segments of 536 bytes or more. A peer announcing a smaller MSS gets fewer
// segments in flight (the sender stops at the last free record), not more memory.
uint32_t ooo_segment_limit(const TcpConfig &cfg) {
  if (cfg.ooo_max_segments != 0) return cfg.ooo_max_segments;
  return std::clamp<uint32_t>(cfg.rcv_buf, 1, 1u << 30) / 1024 + 16;
}

// Pieces of application data referenced per connection: the configured
// count, or more for a send buffer large enough to need them (pieces of
// 1 KiB or more).
uint32_t send_chunk_limit(const TcpConfig &cfg) {
  return std::max<uint32_t>(
      {cfg.send_queue_chunks, 1, std::clamp<uint32_t>(cfg.snd_buf, 1, 1u << 30) / 1024});
}

uint32_t tx_record_limit(const TcpConfig &cfg) {
  return std::max<uint32_t>(64, std::clamp<uint32_t>(cfg.snd_buf, 1, 1u << 30) / 536 + 16);
}
}  // namespace

const char *tcp_state_name(TcpState s) {
  switch (s) {
    case TcpState::kClosed:
      return "CLOSED";
    case TcpState::kSynSent:
      return "SYN_SENT";
    case TcpState::kSynReceived:
      return "SYN_RECEIVED";
    case TcpState::kEstablished:
      return "ESTABLISHED";
    case TcpState::kFinWait1:
      return "FIN_WAIT_1";
    case TcpState::kFinWait2:
      return "FIN_WAIT_2";
    case TcpState::kCloseWait:
      return "CLOSE_WAIT";
    case TcpState::kClosing:
      return "CLOSING";
    case TcpState::kLastAck:
      return "LAST_ACK";
    case TcpState::kTimeWait:
      return "TIME_WAIT";
  }
  return "unknown";
}

const char *dead_reason_name(DeadReason r) {
  switch (r) {
    case DeadReason::kClosed:
      return "closed";
    case DeadReason::kReset:
      return "reset";
    case DeadReason::kTimeout:
      return "timeout";
    case DeadReason::kRefused:
      return "refused";
    case DeadReason::kAborted:
      return "aborted";
  }
  return "unknown";
}

Tcp::Tcp(StackContext &ctx, Ipv4Addr local, uint16_t mtu, SegmentOutput &out, const TcpConfig &cfg)
    : ctx_(ctx),
      local_(local),
      mtu_(mtu),
      out_(out),
      cfg_(cfg),
      // The same bounds as cfg_ gets below (the table is built first).
      table_(cfg.max_connections, ooo_segment_limit(cfg),
             std::clamp<uint32_t>(cfg.rcv_buf, 1, 1u << 30), send_chunk_limit(cfg),
             std::max<uint32_t>(cfg.recv_queue_segments, ooo_segment_limit(cfg) + 8),
             tx_record_limit(cfg)),
      isn_(key_or_fresh(cfg.isn_key)),
      cookies_(key_or_fresh(cfg.cookie_key)),
      next_port_(cfg.ephemeral_lo) {
  cfg_.wscale = std::min(cfg_.wscale, kMaxWscale);
  cfg_.rcv_buf = std::clamp<uint32_t>(cfg_.rcv_buf, 1, 1u << 30);
  cfg_.snd_buf = std::clamp<uint32_t>(cfg_.snd_buf, 1, 1u << 30);
  cfg_.ooo_max_segments = ooo_segment_limit(cfg_);
  cfg_.recv_queue_segments =
      std::max<uint32_t>(cfg_.recv_queue_segments, cfg_.ooo_max_segments + 8);
  cfg_.send_queue_chunks = send_chunk_limit(cfg_);
  ooo_cap_ = cfg_.ooo_max_segments_total != 0
                 ? cfg_.ooo_max_segments_total
                 : std::max<uint32_t>(ctx_.pool.stack_capacity() / 4, 1);
  stats_.ooo_cap = ooo_cap_;
  if (cfg_.ephemeral_hi < cfg_.ephemeral_lo) std::swap(cfg_.ephemeral_hi, cfg_.ephemeral_lo);
  if (cfg_.ephemeral_lo == 0) cfg_.ephemeral_lo = 1;
  // Each engine starts its port search at a random point of the range (as
  // IX and Seastar do), so threads and restarts do not retrace each other.
  const auto seed = key_or_fresh({});
  const uint32_t range = uint32_t{cfg_.ephemeral_hi} - cfg_.ephemeral_lo + 1;
  const uint32_t offset = (uint32_t{seed[0]} << 8 | seed[1]) % range;
  next_port_ = static_cast<uint16_t>(cfg_.ephemeral_lo + offset);
  listeners_.reserve(cfg_.max_listeners);
}

Tcp::~Tcp() {
  table_.for_each([this](Tcb &t) {
    ctx_.timers.cancel(t.rexmit_timer);
    ctx_.timers.cancel(t.delack_timer);
    ctx_.timers.cancel(t.wait_timer);
    // The receivers may be gone before the engine: their counts and lists
    // are not touched now.
    t.ev = nullptr;
    release_buffers(t);
  });
}

// ---- lifecycle ----

void Tcp::time_wait_link(Tcb &t) {
  t.tw_prev = tw_tail_;
  t.tw_next = nullptr;
  if (tw_tail_ != nullptr)
    tw_tail_->tw_next = &t;
  else
    tw_head_ = &t;
  tw_tail_ = &t;
}

void Tcp::time_wait_unlink(Tcb &t) {
  if (t.tw_prev != nullptr)
    t.tw_prev->tw_next = t.tw_next;
  else
    tw_head_ = t.tw_next;
  if (t.tw_next != nullptr)
    t.tw_next->tw_prev = t.tw_prev;
  else
    tw_tail_ = t.tw_prev;
  t.tw_prev = t.tw_next = nullptr;
}

bool Tcp::evict_oldest_time_wait() {
  // A full table gives up its oldest TIME_WAIT rather than refuse a new
  // connection (as Linux does past tcp_max_tw_buckets): TIME_WAIT guards
  // against old duplicates, which a live connection matters more than.
  if (tw_head_ == nullptr) return false;
  ++stats_.time_wait_evicted;
  destroy(*tw_head_);
  return true;
}

void Tcp::bind_timers(Tcb &t) {
  t.rexmit_timer.fn = &Tcp::on_rexmit_timer;
  t.rexmit_timer.arg = &t;
  t.delack_timer.fn = &Tcp::on_delack_timer;
  t.delack_timer.arg = &t;
  t.wait_timer.fn = &Tcp::on_wait_timer;
  t.wait_timer.arg = &t;
}

Tcb *Tcp::new_tcb(Ipv4Addr remote, uint16_t rport, uint16_t lport) {
  Tcb *t = table_.alloc();
  if (t == nullptr && evict_oldest_time_wait()) t = table_.alloc();
  if (t == nullptr) {
    ++stats_.conn_table_full;
    return nullptr;
  }
  t->reset_vars();
  t->tcp = this;
  t->local = local_;
  t->remote = remote;
  t->lport = lport;
  t->rport = rport;
  t->flow_group = flows_ != nullptr ? flows_->group_of_flow(remote, local_, rport, lport) : 0;
  t->rcv_buf = cfg_.rcv_buf;
  t->coalescing = false;
  t->rtt = RttEstimator(RttConfig{.initial_rto_ns = cfg_.initial_rto_ns,
                                  .min_rto_ns = cfg_.min_rto_ns,
                                  .max_rto_ns = 60'000'000'000ull,
                                  .clock_granularity_ns = 1'000'000});
  // The rings are empty (release_buffers) and hold no storage until used.
  t->ooo.clear();
  bind_timers(*t);
  t->last_rx_ns = ctx_.clock.now_ns();
  table_.insert(t);
  return t;
}

void Tcp::init_send_side(Tcb &t, Seq iss) {
  t.iss = iss;
  t.snd_una = iss;
  t.snd_nxt = iss;
  t.snd_max = iss;
  t.sq_seq = iss + 1;
  t.recover = iss;
  t.rec.rack_fack = iss;
}

void Tcp::init_congestion(Tcb &t) {
  t.cc.init(cfg_.cc, t.mss, ctx_.clock.now_ns());
  t.sb.reset(t.snd_una);
}

void Tcp::release_buffers(Tcb &t) {
  // Chunks already reported with on_recv may be read by the application
  // after the on_dead that follows (often in the same batch of events), so
  // they are freed at the receiver's next free_deferred(), not now.
  uint32_t reported = t.ev != nullptr ? t.rq_reported : 0;
  // Deferred buffers still count against the owner's quota until freed:
  // connections that die one after another must not let it hold more.
  if (t.ev != nullptr) t.ev->rx_held_ -= static_cast<uint32_t>(t.rq.size()) - reported;
  while (!t.rq.empty()) {
    mem::Mbuf *m = t.rq.front().m;
    if (reported > 0) {
      --reported;
      m->user = reinterpret_cast<uintptr_t>(t.ev->deferred_rx_);
      t.ev->deferred_rx_ = m;
    } else {
      mem::MbufPool::free_chain(m);
    }
    t.rq.pop();
  }
  t.rq_bytes = 0;
  t.rq_reported = 0;
  t.rq_reported_bytes = 0;
  ooo_held_ -= t.ooo.segments();
  t.ooo.clear();
  sync_ooo_listing(t);
  t.txr.clear();
  while (!t.sq.empty()) t.sq.pop();
  t.sq_bytes = 0;
}

void Tcp::free_deferred(TcpEvents &owner) {
  while (owner.deferred_rx_ != nullptr) {
    mem::Mbuf *m = owner.deferred_rx_;
    owner.deferred_rx_ = reinterpret_cast<mem::Mbuf *>(m->user);
    mem::MbufPool::free_chain(m);
    --owner.rx_held_;
  }
}

uint32_t Tcp::abort_all(TcpEvents &owner) {
  uint32_t reset = 0;
  table_.for_each([&](Tcb &t) {
    if (t.ev != &owner) return;
    if (t.app_gone) {
      t.ev = nullptr;  // dead to the application already: nothing more to tell
      return;
    }
    if (t.state != TcpState::kSynSent) send_rst(t);
    kill(t, DeadReason::kAborted, false);
    ++reset;
  });
  free_deferred(owner);
  return reset;
}

void Tcp::destroy(Tcb &t) {
  // Unlinked now, not disarmed: a freed slot keeps no timer in the wheel,
  // which ~Tcp relies on (it visits only slots in use).
  ctx_.timers.cancel(t.rexmit_timer);
  ctx_.timers.cancel(t.delack_timer);
  ctx_.timers.cancel(t.wait_timer);
  if (t.state == TcpState::kSynReceived && t.passive) --syn_rcvd_;
  if (t.state == TcpState::kTimeWait) time_wait_unlink(t);
  if (t.ev != nullptr && !t.app_gone) --t.ev->conns_;
  release_buffers(t);
  t.state = TcpState::kClosed;
  table_.free(&t);
  ++ports_freed_;
}

void Tcp::kill(Tcb &t, DeadReason why, bool report) {
  const bool tell = report && !t.app_gone && t.ev != nullptr && (!t.passive || t.knocked);
  const ConnHandle h = table_.handle(t);
  TcpEvents *ev = t.ev;
  const uint64_t cookie = t.cookie;
  const bool opening = !t.synchronized() && !t.passive;
  destroy(t);
  if (!tell) return;
  if (opening) {
    ++stats_.connect_failed;
    ev->on_connected(cookie, h, why == DeadReason::kTimeout ? IX_EHOSTUNREACH : IX_ECONNREFUSED);
  } else {
    ev->on_dead(cookie, h, why);
  }
}

uint16_t Tcp::pick_port(Ipv4Addr remote, uint16_t rport) {
  if (exhausted_.valid && exhausted_.remote == remote && exhausted_.rport == rport &&
      exhausted_.ports_freed == ports_freed_)
    return 0;  // nothing was freed since the last full search for this remote
  // At most one pass over the range. The flow group test (two table loads)
  // comes first, so only the ports whose replies land here cost a listener
  // and a connection table lookup.
  const uint32_t base = flows_ != nullptr ? flows_->reply_hash_base(local_, remote, rport) : 0;
  const uint32_t range = uint32_t{cfg_.ephemeral_hi} - cfg_.ephemeral_lo + 1;
  for (uint32_t i = 0; i < range; ++i) {
    const uint16_t p = next_port_;
    next_port_ = p >= cfg_.ephemeral_hi ? cfg_.ephemeral_lo : static_cast<uint16_t>(p + 1);
    if (flows_ != nullptr && !flows_->owns_reply_port(base, p)) continue;
    if (find_listener(p) != nullptr) continue;
    if (table_.lookup(local_, p, remote, rport) != nullptr) continue;
    return p;
  }
  exhausted_ = {remote, rport, ports_freed_, true};
  return 0;
}

// ---- application API ----

int Tcp::listen(uint16_t port, uint64_t listener_cookie, TcpEvents *ev) {
  if (port == 0 || ev == nullptr) return IX_EINVAL;
  if (find_listener(port) != nullptr) return IX_EADDRINUSE;
  if (listeners_.size() >= cfg_.max_listeners) return IX_ENOMEM;
  listeners_.push_back({port, listener_cookie, ev});
  return IX_OK;
}

int Tcp::unlisten(uint16_t port, const TcpEvents *owner) {
  for (size_t i = 0; i < listeners_.size(); ++i) {
    if (listeners_[i].port == port) {
      if (listeners_[i].ev != owner) return IX_EINVAL;
      listeners_[i] = listeners_.back();
      listeners_.pop_back();
      ++ports_freed_;
      // Connections not yet accepted have no owner any more.
      table_.for_each([&](Tcb &t) {
        if (t.passive && t.lport == port && !t.accepted && t.state != TcpState::kTimeWait) {
          send_rst(t);
          kill(t, DeadReason::kAborted, false);
        }
      });
      return IX_OK;
    }
  }
  return IX_EINVAL;
}

int64_t Tcp::connect(Ipv4Addr dst, uint16_t dport, uint16_t src_port, uint64_t cookie,
                     TcpEvents *ev) {
  if (ev == nullptr || dport == 0 || dst.is_zero() || dst == local_ || dst.is_broadcast() ||
      dst.is_multicast())
    return IX_EINVAL;
  uint16_t sport = src_port;
  if (sport == 0) {
    sport = pick_port(dst, dport);
    if (sport == 0) return IX_EADDRINUSE;
  } else if (flows_ != nullptr && !flows_->owns_reply_flow(local_, sport, dst, dport)) {
    return IX_EINVAL;  // replies would reach the thread owning that flow group, not this one
  } else if (table_.lookup(local_, sport, dst, dport) != nullptr) {
    return IX_EADDRINUSE;
  }
  if (ev->at_connection_quota()) return IX_ENOMEM;
  Tcb *t = new_tcb(dst, dport, sport);
  if (t == nullptr) return IX_ENOMEM;
  t->ev = ev;
  ++ev->conns_;
  t->cookie = cookie;
  t->passive = false;
  t->accepted = true;
  t->mss = static_cast<uint16_t>(std::min<uint32_t>(536, mtu_ - 40u));
  init_send_side(*t, isn_.isn(local_, sport, dst, dport, ctx_.clock.now_ns()));
  t->state = TcpState::kSynSent;
  ++stats_.active_opens;
  send_syn(*t);
  arm_rto(*t);
  return static_cast<int64_t>(table_.handle(*t));
}

int Tcp::accept(ConnHandle h, uint64_t cookie) {
  Tcb *t = table_.by_handle(h);
  if (t == nullptr) return IX_EBADH;
  if (!t->knocked || t->accepted) return IX_EINVAL;
  t->cookie = cookie;
  t->accepted = true;
  deliver(*t);
  return IX_OK;
}

int Tcp::reject(ConnHandle h) {
  Tcb *t = table_.by_handle(h);
  if (t == nullptr) return IX_EBADH;
  if (!t->knocked || t->accepted) return IX_EINVAL;
  send_rst(*t);
  kill(*t, DeadReason::kAborted, false);
  return IX_OK;
}

int64_t Tcp::sendv(ConnHandle h, const struct iovec *iov, int iovcnt) {
  Tcb *t = table_.by_handle(h);
  return t != nullptr ? sendv(*t, iov, iovcnt) : int64_t{IX_EBADH};
}

int64_t Tcp::sendv(Tcb &tcb, const struct iovec *iov, int iovcnt) {
  Tcb *t = &tcb;
  if (iovcnt < 0 || (iovcnt > 0 && iov == nullptr)) return IX_EINVAL;
  if (t->close_requested || !t->accepted ||
      (t->state != TcpState::kEstablished && t->state != TcpState::kCloseWait))
    return IX_ECLOSED;
  uint64_t room = cfg_.snd_buf > t->sq_bytes ? cfg_.snd_buf - t->sq_bytes : 0;
  int64_t taken = 0;
  for (int i = 0; i < iovcnt && room > 0; ++i) {
    if (iov[i].iov_len == 0) continue;
    if (iov[i].iov_base == nullptr) return taken > 0 ? taken : int64_t{IX_EINVAL};
    if (t->sq.free() == 0) break;
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(iov[i].iov_len, room));
    t->sq.push({static_cast<const uint8_t *>(iov[i].iov_base), n});
    t->sq_bytes += n;
    room -= n;
    taken += n;
    if (n < iov[i].iov_len) break;
  }
  if (taken > 0) output(*t);
  return taken;
}

int Tcp::recv_done(ConnHandle h, uint32_t bytes) {
  Tcb *t = table_.by_handle(h);
  return t != nullptr ? recv_done(*t, bytes) : IX_EBADH;
}

int Tcp::recv_done(Tcb &tcb, uint32_t bytes) {
  Tcb *t = &tcb;
  if (bytes > t->rq_reported_bytes) return IX_EINVAL;
  // A window update is due only if the window can grow past what was
  // advertised by the threshold below; the space after this call is at most
  // rcv_buf less what stays queued, so most calls (a little read, the
  // window still nearly open) need not work out the space at all.
  const uint32_t advertised = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
  const uint32_t threshold = std::min<uint32_t>(2u * t->mss, t->rcv_buf / 2);
  const uint64_t space_bound =
      t->rcv_buf > t->rq_bytes - bytes ? t->rcv_buf - (t->rq_bytes - bytes) : 0;
  const bool may_update = t->synchronized() && t->state != TcpState::kTimeWait &&
                          !t->fin_received && space_bound >= uint64_t{advertised} + threshold;
  const uint32_t before = may_update ? receive_space(*t) : 0;
  while (bytes > 0) {
    RecvChunk &c = t->rq.front();
    const uint32_t n = std::min(bytes, c.len);
    c.data += n;
    c.len -= n;
    t->rq_bytes -= n;
    t->rq_reported_bytes -= n;
    bytes -= n;
    if (c.len == 0) {
      mem::MbufPool::free_chain(c.m);
      t->rq.pop();
      --t->rq_reported;
      if (t->ev != nullptr) --t->ev->rx_held_;
    }
  }
  // A window update when the window grew by two segments or half the
  // buffer since we last spoke (RFC 9293 3.8.6.2.2 receiver SWS avoidance).
  if (may_update) {
    const uint32_t after = receive_space(*t);
    if (after > before && after >= advertised && after - advertised >= threshold) {
      ++stats_.window_updates;
      send_ack(*t);
    }
  }
  return IX_OK;
}

int Tcp::close(ConnHandle h) {
  Tcb *t = table_.by_handle(h);
  if (t == nullptr) return IX_EBADH;
  if (t->close_requested) return IX_OK;
  switch (t->state) {
    case TcpState::kSynSent:
      // Nothing was agreed yet: just forget the attempt.
      kill(*t, DeadReason::kClosed, false);
      return IX_OK;
    case TcpState::kSynReceived:
    case TcpState::kEstablished:
      t->close_requested = true;
      if (t->state == TcpState::kEstablished) t->state = TcpState::kFinWait1;
      break;
    case TcpState::kCloseWait:
      t->close_requested = true;
      t->state = TcpState::kLastAck;
      break;
    default:
      return IX_ECLOSED;
  }
  output(*t);
  return IX_OK;
}

int Tcp::abort(ConnHandle h) {
  Tcb *t = table_.by_handle(h);
  if (t == nullptr) return IX_EBADH;
  if (t->state != TcpState::kSynSent) send_rst(*t);
  kill(*t, DeadReason::kAborted, false);
  return IX_OK;
}

int Tcp::set_coalescing(ConnHandle h, bool on) {
  Tcb *t = table_.by_handle(h);
  if (t == nullptr) return IX_EBADH;
  t->coalescing = on;
  if (!on) output(*t);
  return IX_OK;
}

int Tcp::set_keepalive(ConnHandle h, bool on) {
  Tcb *t = table_.by_handle(h);
  if (t == nullptr) return IX_EBADH;
  t->keepalive = on;
  t->ka_sent = 0;
  restart_keepalive(*t);
  return IX_OK;
}

TcpState Tcp::state_of(Ipv4Addr remote, uint16_t rport, uint16_t lport) const {
  const Tcb *t = table_.lookup(local_, lport, remote, rport);
  return t != nullptr ? t->state : TcpState::kClosed;
}

}  // namespace ix::net::tcp
