// Passive open: listeners, the bounded SYN backlog (SYN_RECEIVED
// connections), SYN cookies once it is full, and the RFC 6191 rule for a
// new SYN on a TIME_WAIT tuple.
#include <algorithm>

#include "net/tcp/tcp.hh"
#include "net/tcp/tcp_segment.hh"

namespace ix::net::tcp {

Tcp::Listener *Tcp::find_listener(uint16_t port) {
  for (Listener &l : listeners_)
    if (l.port == port) return &l;
  return nullptr;
}

bool Tcp::time_wait_reusable(const Tcb &t, const Segment &s) const {
  if (t.ts_ok && s.opt.has_ts) return seq_gt(s.opt.ts_val, t.ts_recent);
  return seq_gt(s.seq, t.rcv_nxt);
}

void Tcp::listen_input(Listener &l, Segment &s) {
  if (s.has(kRst)) {
    drop(DropReason::kTcpListenIgnored);
    return;
  }
  if (s.has(kAck) && !s.has(kSyn)) {
    // Only the answer to a cookie we sent can be one: while no cookie of an
    // age SynCookies still accepts has gone out, a bare ACK is just a
    // segment for no connection (and costs no SipHash).
    const uint64_t max_age = (SynCookies::kMaxAgePeriods + 1) * SynCookies::kPeriodNs;
    if (cfg_.syn_cookies && cookies_sent_ &&
        ctx_.clock.now_ns() - last_cookie_sent_ns_ <= max_age) {
      cookie_ack(l, s);
    } else {
      drop(DropReason::kTcpNoConnection);
      send_rst_for(s);
    }
    return;
  }
  if (!s.has(kSyn) || s.has(kAck)) {
    drop(DropReason::kTcpListenIgnored);
    if (s.has(kAck)) send_rst_for(s);
    return;
  }
  syn_to_listener(l, s);
}

void Tcp::syn_to_listener(Listener &l, Segment &s) {
  if (l.ev != nullptr && l.ev->at_connection_quota()) {
    // Its owner's share of the table is taken (no cookie either: the
    // connection could not be made when the cookie came back).
    drop(DropReason::kTcpConnTableFull);
    return;
  }
  if (syn_rcvd_ >= cfg_.syn_backlog) {
    if (cfg_.syn_cookies) return send_cookie_synack(s);
    drop(DropReason::kTcpSynBacklogFull);
    return;
  }
  const Seq iss = isn_.isn(local_, s.dport, s.src, s.sport, ctx_.clock.now_ns());
  Tcb *t = new_passive(l, s, iss);
  if (t == nullptr) {
    if (cfg_.syn_cookies) return send_cookie_synack(s);
    drop(DropReason::kTcpConnTableFull);
    return;
  }
  send_syn(*t);
  arm_rto(*t);
}

Tcb *Tcp::new_passive(Listener &l, const Segment &s, Seq iss) {
  if (l.ev != nullptr && l.ev->at_connection_quota()) return nullptr;
  Tcb *t = new_tcb(s.src, s.sport, s.dport);
  if (t == nullptr) return nullptr;
  t->passive = true;
  t->accepted = false;
  t->ev = l.ev;
  if (t->ev != nullptr) ++t->ev->conns_;
  t->cookie = l.cookie;
  t->irs = s.seq;
  t->rcv_nxt = s.seq + 1;
  t->rcv_adv = t->rcv_nxt;
  init_send_side(*t, iss);
  apply_syn_options(*t, s.opt);
  t->snd_wnd = s.wnd;  // unscaled in a SYN
  t->snd_wl1 = s.seq;
  t->snd_wl2 = iss;
  t->state = TcpState::kSynReceived;
  ++syn_rcvd_;
  return t;
}

void Tcp::send_cookie_synack(Segment &s) {
  const uint64_t now = ctx_.clock.now_ns();
  const uint16_t peer_mss = s.opt.has_mss ? s.opt.mss : 536;
  const Seq iss = cookies_.make(local_, s.dport, s.src, s.sport, s.seq, peer_mss, now);
  TcpOptions o;
  o.has_mss = true;
  o.mss = static_cast<uint16_t>(mtu_ - 40u);
  // Without timestamps there is nowhere to keep window scale and SACK.
  if (cfg_.timestamps && s.opt.has_ts) {
    SynCookieInfo info{};
    info.sack_ok = cfg_.sack && s.opt.sack_permitted;
    info.wscale = cfg_.wscale > 0 && s.opt.has_wscale ? s.opt.wscale : 0xff;
    info.ts_ok = true;
    o.has_ts = true;
    o.ts_val = SynCookies::encode_ts_options(ts_now(), info);
    o.ts_ecr = s.opt.ts_val;
    o.sack_permitted = info.sack_ok;
    o.has_wscale = info.wscale != 0xff;
    o.wscale = cfg_.wscale;
  }
  ++stats_.syn_cookies_sent;
  cookies_sent_ = true;
  last_cookie_sent_ns_ = now;
  const uint16_t w = static_cast<uint16_t>(std::min<uint32_t>(cfg_.rcv_buf, 65535));
  send_segment(nullptr, s.src, s.dport, s.sport, iss, s.seq + 1, static_cast<uint8_t>(kSyn | kAck),
               w, o, 0, 0);
}

void Tcp::cookie_ack(Listener &l, Segment &s) {
  const uint64_t now = ctx_.clock.now_ns();
  const auto mss = cookies_.check(local_, s.dport, s.src, s.sport, s.seq - 1, s.ack - 1, now);
  if (!mss) {
    drop(DropReason::kTcpBadCookie);
    send_rst_for(s);
    return;
  }
  TcpOptions syn_opt;  // the SYN's options, as far as the cookie remembers them
  syn_opt.has_mss = true;
  syn_opt.mss = *mss;
  if (cfg_.timestamps && s.opt.has_ts) {
    if (auto info = SynCookies::decode_ts_options(s.opt.ts_ecr)) {
      syn_opt.has_ts = true;
      syn_opt.ts_val = s.opt.ts_val;
      syn_opt.sack_permitted = info->sack_ok;
      syn_opt.has_wscale = info->wscale != 0xff;
      syn_opt.wscale = info->wscale;
    }
  }
  Segment syn = s;
  syn.seq = s.seq - 1;
  syn.opt = syn_opt;
  syn.wnd = s.wnd;
  Tcb *t = new_passive(l, syn, s.ack - 1);
  if (t == nullptr) {
    drop(DropReason::kTcpConnTableFull);
    send_rst_for(s);
    return;
  }
  ++stats_.syn_cookies_accepted;
  t->snd_nxt = t->snd_max = t->iss + 1;
  t->rcv_adv = t->rcv_nxt + std::min<uint32_t>(cfg_.rcv_buf, 65535);
  t->last_ack_sent = t->rcv_nxt;
  t->retries = 1;  // no SYN-ACK send time: no RTT sample from the handshake
  segment_arrives(*t, s);
}

}  // namespace ix::net::tcp
