// Receive path: validation of a segment, demultiplexing, and the RFC 9293
// 3.10.7 "segment arrives" processing for every state but LISTEN (which is
// in tcp_listen.cc): PAWS, acceptability, RST/SYN checks per RFC 5961, ACK
// processing (window, RTT, congestion control, loss detection), data
// (in order, or out of order into the reassembly queue) and FIN.
#include <algorithm>

#include "ix/syscall.h"
#include "net/checksum.hh"
#include "net/tcp/tcp.hh"
#include "net/tcp/tcp_segment.hh"

namespace ix::net::tcp {

void Tcp::input(mem::Mbuf *m, const Ipv4Input &ip) {
  if (ip.payload_len < kTcpHeaderLen) return ctx_.drop(m, DropReason::kTcpTruncated);
  const uint8_t *l4 = m->data() + ip.payload_off;
  if ((m->ol_flags & mem::kRxL4CsumGood) == 0) {
    const uint16_t sum = ones_add(pseudo_header_sum(ip.src, ip.dst, kIpProtoTcp, ip.payload_len),
                                  ones_sum(l4, ip.payload_len));
    if (sum != 0xffff) return ctx_.drop(m, DropReason::kTcpBadChecksum);
  }
  const auto *h = reinterpret_cast<const TcpHeader *>(l4);
  const unsigned hlen = h->header_len();
  if (hlen < kTcpHeaderLen || hlen > ip.payload_len)
    return ctx_.drop(m, DropReason::kTcpBadHeaderLen);
  Segment s;
  if (!parse_tcp_options(l4 + kTcpHeaderLen, hlen - kTcpHeaderLen, &s.opt))
    return ctx_.drop(m, DropReason::kTcpBadOptions);
  s.src = ip.src;
  s.dst = ip.dst;
  s.sport = h->src_port.get();
  s.dport = h->dst_port.get();
  if (ip.to_broadcast || ip.dst != local_ || ip.src.is_multicast() || ip.src.is_broadcast() ||
      s.sport == 0 || s.dport == 0)
    return ctx_.drop(m, DropReason::kTcpBadAddress);
  s.seq = h->seq.get();
  s.ack = h->ack.get();
  s.flags = h->flags;
  if (s.has(kSyn) && (s.has(kRst) || s.has(kFin))) return ctx_.drop(m, DropReason::kTcpBadFlags);
  s.wnd = h->window.get();
  s.data = l4 + hlen;
  s.len = ip.payload_len - hlen;
  s.m = m;
  ++ctx_.counters.tcp_rx;
  ++stats_.segments_rx;
  // The pool is down to what reception needs: out-of-order data goes first
  // (tcp_reclaim.cc), whichever connection this segment is for.
  if (ooo_held_ != 0 && ctx_.pool.holding_limit()) [[unlikely]]
    reclaim_out_of_order();

  Tcb *t = table_.lookup(local_, s.dport, s.src, s.sport);
  Listener *l = nullptr;
  if (t != nullptr && t->state == TcpState::kTimeWait && s.has(kSyn) && !s.has(kAck) &&
      (l = find_listener(s.dport)) != nullptr && time_wait_reusable(*t, s)) {
    // RFC 6191: a new incarnation may take over a TIME_WAIT tuple when its
    // sequence numbers or timestamps are provably newer than the old ones.
    ++stats_.time_wait_reused;
    destroy(*t);
    t = nullptr;
  }
  if (t != nullptr) {
    segment_arrives(*t, s);
  } else if (l != nullptr || (l = find_listener(s.dport)) != nullptr) {
    listen_input(*l, s);
  } else {
    // RFC 9293 3.10.7.1: a segment for no connection is answered with a
    // reset, unless it is one.
    drop(DropReason::kTcpNoConnection);
    if (!s.has(kRst)) send_rst_for(s);
  }
  if (s.m != nullptr) mem::MbufPool::free_chain(s.m);
}

void Tcp::prefetch_segments(std::span<const SegmentKey> keys) const {
  // Two rounds: every bucket, then every chain head the buckets name (a
  // bucket must be in cache before it can say which block to fetch).
  uint32_t buckets[kPrefetchBurst];
  const size_t n = std::min<size_t>(keys.size(), kPrefetchBurst);
  for (size_t i = 0; i < n; ++i) {
    buckets[i] = table_.bucket(local_, keys[i].lport, keys[i].remote, keys[i].rport);
    table_.prefetch_bucket(buckets[i]);
  }
  for (size_t i = 0; i < n; ++i) table_.prefetch_chain_head(buckets[i]);
}

void Tcp::apply_syn_options(Tcb &t, const TcpOptions &o) {
  const uint32_t peer_mss = o.has_mss && o.mss > 0 ? o.mss : 536;  // RFC 9293 3.7.1 default
  // Each option holds only if both sides sent it (we offer what we are
  // configured for, and answer only what the peer offered).
  t.ws_ok = o.has_wscale && cfg_.wscale > 0;
  t.snd_wscale = t.ws_ok ? o.wscale : 0;
  t.rcv_wscale = t.ws_ok ? cfg_.wscale : 0;
  t.sack_ok = cfg_.sack && o.sack_permitted;
  t.ts_ok = cfg_.timestamps && o.has_ts;
  if (t.ts_ok) t.ts_recent = o.ts_val;
  // Payload per segment: the smaller MSS, less the timestamp option every
  // segment carries (RFC 6691).
  // A tiny advertised MSS is raised to kMinMss first, so that taking the
  // timestamp option off can never wrap (a peer saying MSS 8 must not turn
  // into 65,532-byte segments).
  uint32_t mss = std::max<uint32_t>(std::min<uint32_t>(peer_mss, mtu_ - 40u), kMinMss + 12);
  if (t.ts_ok) mss -= 12;
  t.mss = static_cast<uint16_t>(mss);
  init_congestion(t);
}

void Tcp::update_ts_recent(Tcb &t, const Segment &s) {
  // RFC 7323 4.3: remember the timestamp of a segment that covers the
  // left edge of the window (PAWS already checked it is not older).
  if (t.ts_ok && s.opt.has_ts && seq_leq(s.seq, t.last_ack_sent)) t.ts_recent = s.opt.ts_val;
}

void Tcp::sample_rtt_from_echo(Tcb &t, uint32_t ts_ecr) {
  // The echo is only as trustworthy as the peer: an echoed value from the
  // future or over a minute old is no RTT, and must not set the RTO.
  const uint32_t ms = ts_now() - ts_ecr;
  if (ms < kMaxRttSampleMs) t.rtt.sample(uint64_t{ms} * 1'000'000);
}

bool Tcp::ack_acceptable(const Tcb &t, const Segment &s) const {
  // RFC 5961 5.2: not an ACK for data never sent, nor far below SND.UNA.
  return !seq_gt(s.ack, t.snd_max) &&
         !seq_lt(s.ack, t.snd_una - std::max<uint32_t>(t.max_snd_wnd, 65535));
}

void Tcp::send_challenge_ack(Tcb &t) {
  const uint64_t slot = ctx_.clock.now_ns() / 1'000'000'000ull;
  if (slot != challenge_slot_) {
    challenge_slot_ = slot;
    challenge_count_ = 0;
  }
  if (++challenge_count_ > cfg_.challenge_ack_limit) {
    ++stats_.challenge_acks_suppressed;
    return;
  }
  ++stats_.challenge_acks;
  send_ack(t);
}

bool Tcp::syn_sent_input(Tcb &t, Segment &s) {
  if (s.has(kAck) && (seq_leq(s.ack, t.iss) || seq_gt(s.ack, t.snd_max))) {
    drop(DropReason::kTcpBadAck);
    if (!s.has(kRst)) send_rst_for(s);
    return false;
  }
  if (s.has(kRst)) {
    if (!s.has(kAck)) {
      drop(DropReason::kTcpSynSentIgnored);
      return false;
    }
    ++stats_.resets_rx;
    kill(t, DeadReason::kRefused, true);
    return false;
  }
  if (!s.has(kSyn)) {
    drop(DropReason::kTcpSynSentIgnored);
    return false;
  }
  t.irs = s.seq;
  t.rcv_nxt = s.seq + 1;
  t.rcv_adv = t.rcv_nxt;
  t.last_ack_sent = t.rcv_nxt;
  apply_syn_options(t, s.opt);
  if (!s.has(kAck)) {
    // Simultaneous open (RFC 9293 figure 7): answer with SYN-ACK.
    t.state = TcpState::kSynReceived;
    send_syn(t);
    arm_rto(t);
    return false;
  }
  const uint64_t now = ctx_.clock.now_ns();
  if (t.ts_ok && s.opt.ts_ecr != 0) {
    sample_rtt_from_echo(t, s.opt.ts_ecr);
  } else if (t.retries == 0) {
    t.rtt.sample(now - t.rtt_start_ns);
  }
  t.rtt.reset_backoff();
  t.retries = 0;
  t.snd_una = s.ack;
  t.snd_wnd = s.wnd;  // never scaled in a SYN (RFC 7323 2.2)
  t.max_snd_wnd = t.snd_wnd;
  t.snd_wl1 = s.seq;
  t.snd_wl2 = s.ack;
  ctx_.timers.cancel(t.rexmit_timer);
  t.state = TcpState::kEstablished;
  ++stats_.established;
  send_ack(t);
  restart_keepalive(t);
  const ConnHandle h = table_.handle(t);
  t.ev->on_connected(t.cookie, h, IX_OK);
  return true;
}

void Tcp::establish(Tcb &t) {
  if (t.passive) --syn_rcvd_;
  t.state = t.close_requested ? TcpState::kFinWait1 : TcpState::kEstablished;
  t.rtt.reset_backoff();
  t.retries = 0;
  ctx_.timers.cancel(t.rexmit_timer);
  ++stats_.established;
  restart_keepalive(t);
  const ConnHandle h = table_.handle(t);
  if (t.passive) {
    ++stats_.passive_opens;
    t.knocked = true;
    t.ev->on_knock(t.cookie, h, t.remote, t.rport, t.local, t.lport);
  } else {
    t.ev->on_connected(t.cookie, h, IX_OK);
  }
}

void Tcp::segment_arrives(Tcb &t, Segment &s) {
  if (t.state == TcpState::kSynSent) {
    syn_sent_input(t, s);
    return;
  }
  const uint64_t now = ctx_.clock.now_ns();
  if (fast_path(t, s, now)) return;

  // A retransmitted SYN while our SYN-ACK is unanswered: send it again.
  if (t.state == TcpState::kSynReceived && s.has(kSyn) && !s.has(kAck) && s.seq == t.irs) {
    send_syn(t);
    return;
  }
  // PAWS (RFC 7323 5.3).
  if (t.ts_ok && s.opt.has_ts && !s.has(kRst) && seq_lt(s.opt.ts_val, t.ts_recent)) {
    // An old duplicate (a late original whose retransmission got here
    // first) is reported with a D-SACK, as for any duplicate.
    if (s.len > 0 && seq_lt(s.seq, t.rcv_nxt))
      note_dsack(t, s.seq, seq_lt(s.seq + s.len, t.rcv_nxt) ? s.seq + s.len : t.rcv_nxt);
    drop(DropReason::kTcpPaws);
    send_ack(t);
    return;
  }
  // Acceptability (RFC 9293 3.10.7.4, first check). A zero window still
  // takes ACKs, RSTs and FIN-less empty segments at RCV.NXT.
  const uint32_t wnd = seq_gt(t.rcv_adv, t.rcv_nxt) ? t.rcv_adv - t.rcv_nxt : 0;
  const uint32_t seg_len = s.seg_len();
  bool ok;
  if (wnd == 0) {
    ok = s.seq == t.rcv_nxt;
  } else if (seg_len == 0) {
    ok = seq_in(s.seq, t.rcv_nxt, t.rcv_nxt + wnd);
  } else {
    ok = seq_in(s.seq, t.rcv_nxt, t.rcv_nxt + wnd) ||
         seq_in(s.seq + seg_len - 1, t.rcv_nxt, t.rcv_nxt + wnd);
  }
  if (!ok) {
    if (s.len > 0 && seq_lt(s.seq, t.rcv_nxt)) {
      ++stats_.dup_segments_rx;
      note_dsack(t, s.seq, seq_lt(s.seq + s.len, t.rcv_nxt) ? s.seq + s.len : t.rcv_nxt);
    }
    // RFC 9293 3.10.7.4: in TIME_WAIT, a retransmitted FIN (our ACK of it
    // was lost) is acknowledged again and restarts the 2 MSL wait.
    if (t.state == TcpState::kTimeWait && s.has(kFin) && !s.has(kRst))
      ctx_.timers.arm(t.wait_timer, cfg_.time_wait_ns);
    drop(DropReason::kTcpOutOfWindow);
    // RFC 5961 4.2: a SYN is answered with a challenge ACK wherever its
    // sequence number lies, so blind SYNs share the challenge budget
    // instead of drawing one ACK each.
    if (s.has(kSyn) && !s.has(kRst)) {
      send_challenge_ack(t);
    } else if (!s.has(kRst)) {
      // Bare ACKs are answered once per interval; data (a duplicate), a
      // FIN and probes (keep-alive or zero-window: one below RCV.NXT,
      // whose sender counts unanswered ones) every time.
      const bool limited = s.len == 0 && !s.has(kFin) && s.seq != t.rcv_nxt - 1;
      if (limited && t.oow_ack_ns != 0 && now - t.oow_ack_ns < cfg_.oow_ack_interval_ns) {
        ++stats_.oow_acks_suppressed;
      } else {
        if (limited) t.oow_ack_ns = now;
        send_ack(t);
      }
    }
    return;
  }
  // RST (RFC 5961 3.2): only an exact match resets; others get a challenge.
  if (s.has(kRst)) {
    // RFC 1337: a RST in TIME_WAIT is ignored, so that an old duplicate
    // (or a peer that already forgot the connection, answering our re-ACK
    // of its FIN) cannot end the wait early and let old segments into a new
    // incarnation. Linux by default lets it through; RFC 1337 and its
    // tcp_rfc1337 switch ignore it, as here.
    if (t.state == TcpState::kTimeWait) {
      drop(DropReason::kTcpRstIgnored);
      return;
    }
    if (s.seq != t.rcv_nxt) {
      drop(DropReason::kTcpRstIgnored);
      send_challenge_ack(t);
      return;
    }
    ++stats_.resets_rx;
    const bool opening = t.state == TcpState::kSynReceived;
    kill(t, opening ? DeadReason::kRefused : DeadReason::kReset, true);
    return;
  }
  // SYN on a synchronized connection (RFC 5961 4.2): challenge ACK.
  if (s.has(kSyn)) {
    drop(DropReason::kTcpSynChallenged);
    send_challenge_ack(t);
    return;
  }
  if (!s.has(kAck)) {
    drop(DropReason::kTcpNoAck);
    return;
  }
  // The ACK is checked before anything of the segment is believed: a blind
  // segment with a bad ACK must not move TS.Recent (RFC 7323 4.3 takes it
  // only from segments that pass every check) nor count as a sign of life.
  if (t.state != TcpState::kSynReceived && !ack_acceptable(t, s)) {
    drop(DropReason::kTcpBadAck);
    send_challenge_ack(t);
    return;
  }
  if (t.state == TcpState::kSynReceived &&
      !(seq_lt(t.snd_una, s.ack) && seq_leq(s.ack, t.snd_max))) {
    drop(DropReason::kTcpBadAck);
    send_rst_for(s);
    return;
  }
  t.last_rx_ns = now;
  t.ka_sent = 0;
  update_ts_recent(t, s);

  // Trim to the window: bytes we already have, bytes past its right edge.
  if (seq_lt(s.seq, t.rcv_nxt)) {
    const uint32_t d = t.rcv_nxt - s.seq;
    if (s.len > 0) note_dsack(t, s.seq, s.seq + std::min(d, s.len));
    if (d > s.len) {
      s.flags &= static_cast<uint8_t>(~kFin);  // the FIN is old too
      s.len = 0;
    } else {
      s.data += d;
      s.len -= d;
    }
    if (s.len == 0 && d > 0) ++stats_.dup_segments_rx;
    s.seq = t.rcv_nxt;
  }
  // Bytes past the right edge (a zero-window probe carries one) are not
  // taken, and RFC 9293 3.10.7.4 wants them answered with an ACK at once:
  // that ACK is how the prober learns the window has opened again.
  bool beyond_window = false;
  if (s.len > 0 && seq_gt(s.seq + s.len, t.rcv_nxt + wnd)) {
    s.len = t.rcv_nxt + wnd - s.seq;
    s.flags &= static_cast<uint8_t>(~kFin);
    beyond_window = true;
  }

  if (t.state == TcpState::kSynReceived) {
    if (t.ts_ok && s.opt.has_ts && s.opt.ts_ecr != 0) {
      sample_rtt_from_echo(t, s.opt.ts_ecr);
    } else if (t.retries == 0) {
      t.rtt.sample(now - t.rtt_start_ns);
    }
    t.snd_una = s.ack;
    if (seq_lt(t.snd_nxt, t.snd_una)) t.snd_nxt = t.snd_una;
    t.snd_wnd = uint32_t{s.wnd} << t.snd_wscale;
    t.max_snd_wnd = t.snd_wnd;
    t.snd_wl1 = s.seq;
    t.snd_wl2 = s.ack;
    establish(t);
  }
  if (!process_ack(t, s)) return;
  if (t.state == TcpState::kTimeWait) return;

  process_data(t, s);
  const bool fin_here = s.has(kFin) && s.seq + s.len == t.rcv_nxt;
  if (s.has(kFin) && !fin_here && seq_gt(s.seq + s.len, t.rcv_nxt)) {
    t.ooo_fin = true;  // beyond a gap: taken once the gap fills
    t.ooo_fin_seq = s.seq + s.len;
  }
  if ((fin_here || (t.ooo_fin && t.ooo_fin_seq == t.rcv_nxt)) && !t.fin_received) {
    process_fin(t);
  }
  if (t.state == TcpState::kTimeWait) return;
  if (beyond_window) send_ack(t);
  output(t);
}

bool Tcp::update_send_window(Tcb &t, const Segment &s) {
  // RFC 9293 3.10.7.4: only from a segment newer than the last update.
  if (!seq_leq(t.snd_una, s.ack) ||
      !(seq_lt(t.snd_wl1, s.seq) || (t.snd_wl1 == s.seq && seq_leq(t.snd_wl2, s.ack))))
    return false;
  const uint32_t w = uint32_t{s.wnd} << t.snd_wscale;
  const bool changed = w != t.snd_wnd;
  t.snd_wnd = w;
  t.snd_wl1 = s.seq;
  t.snd_wl2 = s.ack;
  t.max_snd_wnd = std::max(t.max_snd_wnd, w);
  return changed;
}

void Tcp::sample_rtt(Tcb &t, const Segment &s, uint64_t now) {
  if (t.ts_ok && s.opt.has_ts && s.opt.ts_ecr != 0) {
    sample_rtt_from_echo(t, s.opt.ts_ecr);
  } else if (t.rtt_timing && seq_gt(s.ack, t.rtt_seq)) {
    t.rtt.sample(now - t.rtt_start_ns);
    t.rtt_timing = false;
  }
}

uint32_t Tcp::release_acked_data(Tcb &t, Seq old_una) {
  // Free what the application lent us for the acknowledged bytes.
  const Seq end = t.data_end();
  const uint32_t released = seq_lt(old_una, end) ? seq_min(t.snd_una, end) - old_una : 0;
  uint32_t left = released;
  while (left > 0) {
    SendChunk &c = t.sq.front();
    const uint32_t n = std::min(left, c.len);
    c.data += n;
    c.len -= n;
    left -= n;
    if (c.len == 0) t.sq.pop();
  }
  t.sq_seq += released;
  t.sq_bytes -= released;
  return released;
}

bool Tcp::process_ack(Tcb &t, Segment &s) {
  const uint64_t now = ctx_.clock.now_ns();
  const bool wnd_changed = update_send_window(t, s);
  AckInfo a;
  a.prior_una = t.snd_una;
  a.prior_flight = t.snd_max - t.snd_una;
  a.prior_sacked = t.sb.sacked_bytes();
  uint32_t released = 0;
  if (seq_gt(s.ack, t.snd_una)) {
    a.acked = s.ack - t.snd_una;
    t.rtt.reset_backoff();
    t.retries = 0;
    t.snd_una = s.ack;
    if (seq_lt(t.snd_nxt, t.snd_una)) t.snd_nxt = t.snd_una;
    released = release_acked_data(t, a.prior_una);
  } else if (s.ack == t.snd_una) {
    if (t.snd_wnd == 0) t.retries = 0;  // the peer answers: it is alive, just full
  }
  if (seq_geq(s.ack, a.prior_una)) {
    const std::span<const SackBlock> blocks(s.opt.sack, t.sack_ok ? s.opt.sack_count : 0);
    if (t.sack_ok) t.sb.update(t.snd_una, t.snd_max, blocks);
    on_ack_recovery(t, s, a, blocks, wnd_changed, now);
    // The retransmission timer: stopped when nothing is outstanding,
    // restarted when new data is acknowledged (RFC 6298 5.2-5.3), and turned
    // into RACK's reordering timer or a TLP as the state asks.
    if (t.snd_una == t.snd_max) {
      if (!t.persist) {
        ctx_.timers.disarm(t.rexmit_timer);
        t.rec.timer = XmitTimer::kRto;
        t.rec.reo_deadline_ns = 0;
      }
    } else if (a.acked > 0) {
      t.persist = false;
      arm_xmit_timer(t);
    } else if (t.rec.reo_deadline_ns != 0 || (t.rec.timer != XmitTimer::kRto && !tlp_eligible(t))) {
      arm_xmit_timer(t);
    }
  }
  if (released > 0 && t.accepted && !t.app_gone)
    t.ev->on_sent(t.cookie, table_.handle(t), released);

  // Our FIN acknowledged.
  if (t.close_requested && seq_gt(t.snd_una, t.data_end())) {
    switch (t.state) {
      case TcpState::kFinWait1:
        t.state = TcpState::kFinWait2;
        // The application has closed: waiting for the peer's FIN is bounded.
        if (cfg_.fin_wait2_ns != 0) ctx_.timers.arm(t.wait_timer, cfg_.fin_wait2_ns);
        break;
      case TcpState::kClosing:
        enter_time_wait(t);
        return false;
      case TcpState::kLastAck:
        kill(t, DeadReason::kClosed, true);
        return false;
      default:
        break;
    }
  }
  return true;
}

void Tcp::process_data(Tcb &t, Segment &s) {
  if (s.len == 0) return;
  if (t.state != TcpState::kEstablished && t.state != TcpState::kFinWait1 &&
      t.state != TcpState::kFinWait2) {
    drop(DropReason::kTcpDataAfterFin);
    return;
  }
  if (ctx_.pool.holding_limit()) {
    // The pool is down to the buffers kept for receiving ACKs and sending
    // replies: this segment's ACK has been taken (it may be what frees
    // buffers), but its data is not held, or receive queues would take
    // those too and nothing could get in or out. The peer retransmits;
    // nothing is acknowledged that was not kept.
    // (input() gave up out-of-order data first, reclaim_out_of_order;
    // whatever is still held waits for the next segment's check.)
    drop(DropReason::kTcpPoolLow);
    return;
  }
  if (s.seq == t.rcv_nxt) {
    // Room for this segment and for everything the reassembly queue may
    // hand over behind it.
    // The queue's own slots, and the owner's quota of held buffers with
    // this segment and all the reassembly queue hands over behind it (an
    // application that gives nothing back stops there; its peer retransmits
    // once it does).
    if (t.rq.free() < 1 + t.ooo.segments() ||
        (t.ev != nullptr && t.ev->rx_quota_ != 0 &&
         t.ev->rx_held_ + 1 + t.ooo.segments() > t.ev->rx_quota_)) {
      drop(DropReason::kTcpRecvQueueFull);
      send_ack(t);
      return;
    }
    t.rq.push({s.m, s.data, s.len});
    s.m = nullptr;
    t.rq_bytes += s.len;
    if (t.ev != nullptr) ++t.ev->rx_held_;
    t.rcv_nxt += s.len;
    const bool had_gap = !t.ooo.empty();
    if (had_gap) {
      const uint32_t held = t.ooo.segments();
      t.rcv_nxt += t.ooo.pop_ready(t.rcv_nxt, [&t](mem::Mbuf *m, const uint8_t *d, uint32_t l) {
        t.rq.push({m, d, l});
        t.rq_bytes += l;
        if (t.ev != nullptr) ++t.ev->rx_held_;
      });
      ooo_held_ -= held - t.ooo.segments();
      sync_ooo_listing(t);
    }
    deliver(t);
    if (had_gap) {
      send_ack(t);  // RFC 5681 4.2: at once when a segment fills a gap
    } else {
      schedule_ack(t);
    }
    return;
  }
  ++stats_.ooo_segments_rx;
  if (ooo_held_ >= ooo_cap_) {
    // The engine's share for reassembly is taken: this segment costs the
    // sender a retransmission, not everyone else their reception.
    ++stats_.ooo_engine_full;
    ++stats_.reassembly_drops;
    drop(DropReason::kTcpReassemblyFull);
  } else if (t.ev != nullptr && t.ev->rx_quota_ != 0 &&
             t.ev->rx_held_ + t.ooo.segments() >= t.ev->rx_quota_) {
    // The owner is at its quota, counting what it holds in order and what
    // this connection holds out of order (out-of-order data of its other
    // connections is bounded by the engine-wide cap above): nothing more is
    // kept for it.
    ++stats_.reassembly_drops;
    drop(DropReason::kTcpReassemblyFull);
  } else {
    const uint32_t held = t.ooo.segments();
    if (t.ooo.holds(s.seq, s.len)) {
      note_dsack(t, s.seq, s.seq + s.len);  // a duplicate of what is held
      ++stats_.dup_segments_rx;
    } else if (t.ooo.insert(s.seq, s.m, s.data, s.len)) {
      s.m = nullptr;
    } else {
      ++stats_.reassembly_drops;
      drop(DropReason::kTcpReassemblyFull);
    }
    ooo_held_ += t.ooo.segments() - held;
    sync_ooo_listing(t);
  }
  send_ack(t);  // a duplicate ACK with SACK blocks, at once (RFC 5681 4.2)
}

void Tcp::note_dsack(Tcb &t, Seq left, Seq right) {
  // RFC 2883: the next ACK reports the duplicate as its first SACK block,
  // which lets the sender undo a retransmission that was not needed.
  if (!t.sack_ok || !seq_lt(left, right)) return;
  t.rec.dsack_pending = true;
  t.rec.dsack_left = left;
  t.rec.dsack_right = right;
}

void Tcp::schedule_ack(Tcb &t) {
  // RFC 5681 4.2 / RFC 9293 3.8.6.3: acknowledge at least every second
  // segment; otherwise within delack_ns.
  if (++t.unacked_segs >= 2 || t.rec.dsack_pending) {
    send_ack(t);
  } else if (!timing::TimerWheel::armed(t.delack_timer)) {
    ctx_.timers.arm(t.delack_timer, cfg_.delack_ns);
  }
}

void Tcp::process_fin(Tcb &t) {
  t.rcv_nxt += 1;
  t.fin_received = true;
  t.ooo_fin = false;
  send_ack(t);
  deliver(t);
  switch (t.state) {
    case TcpState::kEstablished:
      t.state = TcpState::kCloseWait;
      break;
    case TcpState::kFinWait1:
      t.state = TcpState::kClosing;
      break;
    case TcpState::kFinWait2:
      enter_time_wait(t);
      break;
    default:
      break;
  }
}

void Tcp::deliver(Tcb &t) {
  if (!t.accepted || t.app_gone) return;
  const ConnHandle h = table_.handle(t);
  while (t.rq_reported < t.rq.size()) {
    const RecvChunk &c = t.rq.at(t.rq_reported);
    ++t.rq_reported;
    t.rq_reported_bytes += c.len;
    t.ev->on_recv(t.cookie, h, c.data, c.len);
  }
  if (t.fin_received && !t.fin_reported) {
    t.fin_reported = true;
    t.ev->on_recv(t.cookie, h, nullptr, 0);
  }
}

void Tcp::enter_time_wait(Tcb &t) {
  t.state = TcpState::kTimeWait;
  time_wait_link(t);
  ctx_.timers.cancel(t.rexmit_timer);
  ctx_.timers.cancel(t.delack_timer);
  ctx_.timers.arm(t.wait_timer, cfg_.time_wait_ns);
  const bool tell = !t.app_gone && (!t.passive || t.knocked);
  if (t.ev != nullptr && !t.app_gone) --t.ev->conns_;  // TIME_WAIT is the engine's, not its
  t.app_gone = true;
  release_buffers(t);
  if (tell) t.ev->on_dead(t.cookie, table_.handle(t), DeadReason::kClosed);
}

}  // namespace ix::net::tcp
