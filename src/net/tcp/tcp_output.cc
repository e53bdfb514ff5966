// Transmit path: what to send (window, congestion window, SWS avoidance,
// coalescing, FIN, SACK-based recovery) and how a segment is built: a header
// mbuf with room for Ethernet and IPv4, the TCP header and options, then the
// payload as external mbufs pointing into the application's memory (zero
// copy; retransmissions rebuild from the same memory).
#include <algorithm>
#include <cstring>

#include "net/checksum.hh"
#include "net/tcp/tcp.hh"
#include "net/tcp/tcp_segment.hh"

namespace ix::net::tcp {

namespace {
// Payload mbufs point into application memory that the engine keeps
// referenced until it is acknowledged (on_sent), so freeing one of them
// releases nothing.
void keep_app_memory(mem::Mbuf *, void *) {}

void write_header(uint8_t *p, uint16_t sport, uint16_t dport, Seq seq, Seq ack, uint8_t flags,
                  uint16_t window, size_t hlen) {
  auto *h = reinterpret_cast<TcpHeader *>(p);
  h->src_port.set(sport);
  h->dst_port.set(dport);
  h->seq.set(seq);
  h->ack.set(ack);
  h->data_off = static_cast<uint8_t>((hlen / 4) << 4);
  h->flags = flags;
  h->window.set(window);
  h->checksum.set(0);
  h->urgent.set(0);
}
}  // namespace

uint32_t Tcp::ts_now() const { return static_cast<uint32_t>(ctx_.clock.now_ns() / 1'000'000); }

uint32_t Tcp::receive_space(const Tcb &t) const {
  // A pool at its holding limit opens no window (the edge already
  // advertised stays: windows never shrink).
  if (ctx_.pool.holding_limit()) return 0;
  uint64_t space = t.rcv_buf > t.rq_bytes ? t.rcv_buf - t.rq_bytes : 0;
  // Each held segment takes a queue slot whatever its size: a peer sending
  // tiny segments sees the window close before the queue overflows.
  const uint32_t reserve = t.ooo.segments() + 1;
  const uint32_t slots = t.rq.free() > reserve ? t.rq.free() - reserve : 0;
  space = std::min<uint64_t>(space, uint64_t{slots} * t.mss);
  // Under pool pressure a window reaches at most 4 segments beyond RCV.NXT,
  // as Linux clamps windows under memory pressure (tcp_adjust_rcv_ssthresh):
  // windows shrink as the pool runs low, and close at its holding limit
  // (above).
  if (ctx_.pool.under_pressure()) space = std::min<uint64_t>(space, uint64_t{4} * t.mss);
  // The owner's quota of held buffers (TcpEvents::set_rx_buffer_quota): a
  // segment per buffer left, none at the quota.
  if (t.ev != nullptr && t.ev->rx_quota_ != 0) {
    const uint32_t left = t.ev->rx_quota_ > t.ev->rx_held_ ? t.ev->rx_quota_ - t.ev->rx_held_ : 0;
    space = std::min<uint64_t>(space, uint64_t{left} * t.mss);
  }
  space = std::min<uint64_t>(space, uint64_t{65535} << t.rcv_wscale);
  return static_cast<uint32_t>(space);
}

uint16_t Tcp::window_to_advertise(Tcb &t) {
  const uint32_t space = receive_space(t);
  if (ctx_.pool.under_pressure()) ++stats_.windows_under_pressure;
  Seq edge = t.rcv_nxt + space;
  if (seq_lt(edge, t.rcv_adv)) {
    edge = t.rcv_adv;  // never shrink the window (RFC 9293 3.8.6.2.2)
  } else if (seq_gt(edge, t.rcv_adv) &&
             edge - t.rcv_adv < std::min<uint32_t>(t.rcv_buf / 2, t.mss)) {
    edge = t.rcv_adv;  // receiver SWS avoidance: move the edge by real amounts only
  }
  if (seq_lt(edge, t.rcv_nxt)) edge = t.rcv_nxt;
  const uint32_t wnd = edge - t.rcv_nxt;
  const uint32_t unit = 1u << t.rcv_wscale;
  const uint32_t field = std::min<uint32_t>((wnd + unit - 1) >> t.rcv_wscale, 65535);
  t.rcv_adv = t.rcv_nxt + (field << t.rcv_wscale);
  return static_cast<uint16_t>(field);
}

void Tcp::fill_options(Tcb &t, TcpOptions &o, bool syn) {
  o = TcpOptions{};
  if (syn) {
    o.has_mss = true;
    o.mss = static_cast<uint16_t>(mtu_ - 40u);
    if (t.state == TcpState::kSynSent) {  // offer what we do
      o.has_wscale = cfg_.wscale > 0;
      o.wscale = cfg_.wscale;
      o.sack_permitted = cfg_.sack;
      o.has_ts = cfg_.timestamps;
    } else {  // answer what was agreed
      o.has_wscale = t.ws_ok;
      o.wscale = t.rcv_wscale;
      o.sack_permitted = t.sack_ok;
      o.has_ts = t.ts_ok;
    }
  } else {
    o.has_ts = t.ts_ok;
    size_t n = 0;
    if (t.sack_ok && t.rec.dsack_pending) {
      // RFC 2883: the duplicate first, then the usual blocks.
      o.sack[n++] = SackBlock{t.rec.dsack_left, t.rec.dsack_right};
      t.rec.dsack_pending = false;
      ++stats_.dsacks_tx;
    }
    if (t.sack_ok && !t.ooo.empty()) n += t.ooo.sack_blocks(o.sack + n, kMaxSackBlocks - n);
    o.sack_count = static_cast<uint8_t>(n);
  }
  if (o.has_ts) {
    o.ts_val = ts_now();
    o.ts_ecr = t.ts_recent;
  }
}

bool Tcp::send_segment(Tcb *t, Ipv4Addr dst, uint16_t sport, uint16_t dport, Seq seq, Seq ack,
                       uint8_t flags, uint16_t window, const TcpOptions &opt, Seq payload_seq,
                       uint32_t len) {
  TcpOptions o = opt;
  size_t olen = tcp_options_len(o);
  // SACK blocks give way to payload: the datagram must fit the MTU, and a
  // data segment the path too (its MSS plus the options every segment
  // carries, RFC 6691; lowered by "fragmentation needed", tcp_pmtu.cc).
  uint32_t limit = mtu_;
  if (t != nullptr && len > 0)
    limit =
        std::min<uint32_t>(limit, t->mss + kTcpHeaderLen + kIpv4HeaderLen + (t->ts_ok ? 12 : 0));
  while (o.sack_count > 0 && kTcpHeaderLen + olen + len + kIpv4HeaderLen > limit) {
    --o.sack_count;
    olen = tcp_options_len(o);
  }
  const size_t hlen = kTcpHeaderLen + olen;
  uint8_t *th;
  mem::Mbuf *f = segment_buffer(hlen, &th);
  if (f == nullptr) return false;
  write_header(th, sport, dport, seq, ack, flags, window, hlen);
  write_tcp_options(th + kTcpHeaderLen, o);
  return finish_segment(t, dst, f, th, hlen, payload_seq, len);
}

bool Tcp::send_plain_segment(Tcb &t, Seq seq, uint8_t flags, uint16_t window, uint32_t len) {
  const size_t hlen = kTcpHeaderLen + (t.ts_ok ? kTimestampsOnlyLen : 0);
  uint8_t *th;
  mem::Mbuf *f = segment_buffer(hlen, &th);
  if (f == nullptr) return false;
  write_header(th, t.lport, t.rport, seq, t.rcv_nxt, flags, window, hlen);
  if (t.ts_ok) write_timestamps_only(th + kTcpHeaderLen, ts_now(), t.ts_recent);
  return finish_segment(&t, t.remote, f, th, hlen, seq, len);
}

mem::Mbuf *Tcp::segment_buffer(size_t hlen, uint8_t **th) {
  mem::Mbuf *f = ctx_.pool.alloc();
  if (f == nullptr) {
    ctx_.counters.drop(DropReason::kNoMbuf);
    return nullptr;
  }
  uint8_t *p = f->append(static_cast<uint16_t>(kTcpL3Offset + hlen));
  if (p == nullptr) {
    ctx_.drop(f, DropReason::kNoMbuf);
    return nullptr;
  }
  *th = p + kTcpL3Offset;
  return f;
}

bool Tcp::finish_segment(Tcb *t, Ipv4Addr dst, mem::Mbuf *f, uint8_t *th, size_t hlen,
                         Seq payload_seq, uint32_t len) {
  if (len > 0) {
    // Find the chunk holding payload_seq, then attach the pieces.
    uint32_t off = payload_seq - t->sq_seq;
    uint32_t i = 0;
    while (off >= t->sq.at(i).len) {
      off -= t->sq.at(i).len;
      ++i;
    }
    uint32_t left = len;
    // A small payload is copied behind the header: one buffer per segment
    // instead of two, and the device (or the checksum) reads one contiguous
    // run. The application's memory stays referenced for retransmissions
    // either way; above the bound, referencing it beats copying it.
    if (len <= kInlinePayloadMax) {
      if (uint8_t *dst_p = f->append(static_cast<uint16_t>(len)); dst_p != nullptr) {
        while (left > 0) {
          const SendChunk &c = t->sq.at(i);
          const uint32_t n = std::min(left, c.len - off);
          std::memcpy(dst_p, c.data + off, n);
          dst_p += n;
          left -= n;
          off = 0;
          ++i;
        }
      }
    }
    while (left > 0) {
      const SendChunk &c = t->sq.at(i);
      const uint32_t n = std::min(left, c.len - off);
      mem::Mbuf *seg = ctx_.pool.alloc();
      if (seg == nullptr) {
        ctx_.drop(f, DropReason::kNoMbuf);
        return false;
      }
      seg->attach_external(c.data + off, static_cast<uint16_t>(n), &keep_app_memory, nullptr, 0);
      f->chain(seg);
      left -= n;
      off = 0;
      ++i;
    }
  }

  const uint16_t l4_len = static_cast<uint16_t>(hlen + len);
  const uint16_t pseudo = pseudo_header_sum(local_, dst, kIpProtoTcp, l4_len);
  auto *h = reinterpret_cast<TcpHeader *>(th);
  f->l2_len = 14;
  f->l3_len = kIpv4HeaderLen;
  f->l4_len = static_cast<uint16_t>(hlen);
  if (ctx_.caps.tx_l4_csum) {
    h->checksum.set(pseudo);
    f->ol_flags |= mem::kTxL4Csum;
  } else {
    h->checksum.set(
        static_cast<uint16_t>(~ones_add(pseudo, ones_sum_chain(f, kTcpL3Offset, l4_len))));
  }
  ++ctx_.counters.tcp_tx;
  ++stats_.segments_tx;
  out_.output_segment(dst, f, l4_len, t != nullptr ? &t->nh : nullptr);
  return true;
}

void Tcp::after_ack_sent(Tcb &t) {
  t.last_ack_sent = t.rcv_nxt;
  t.unacked_segs = 0;
  // Lazy (timer_wheel.hh): the next data segment re-arms it in place. The
  // slot outlives the timer's stay in the wheel; destroy() cancels.
  ctx_.timers.disarm(t.delack_timer);
}

bool Tcp::send_acking(Tcb &t, Seq seq, uint8_t flags, uint32_t len) {
  if (t.sack_ok && (t.rec.dsack_pending || !t.ooo.empty())) {
    // SACK blocks to report: the general option list.
    TcpOptions o;
    fill_options(t, o, false);
    const uint16_t w = window_to_advertise(t);
    if (!send_segment(&t, t.remote, t.lport, t.rport, seq, t.rcv_nxt, flags, w, o, seq, len))
      return false;
  } else if (!send_plain_segment(t, seq, flags, window_to_advertise(t), len)) {
    return false;
  }
  after_ack_sent(t);
  return true;
}

bool Tcp::send_data(Tcb &t, Seq seq, uint32_t len, bool fin) {
  uint8_t flags = kAck;
  if (fin) flags |= kFin;
  if (len > 0 && seq + len == t.data_end()) flags |= kPsh;
  return send_acking(t, seq, flags, len);
}

void Tcp::send_ack(Tcb &t) { send_acking(t, t.snd_nxt, kAck, 0); }

void Tcp::send_probe(Tcb &t) {
  // An already acknowledged sequence number: the peer must answer with an
  // ACK carrying its current window (zero-window probe, keep-alive). Peers
  // that rate-limit out-of-window ACKs (Linux, and IX for anything but this
  // shape) may answer only some of them: the probe timer backs off, and
  // gives up only after max_retransmits unanswered in a row.
  TcpOptions o;
  fill_options(t, o, false);
  const uint16_t w = window_to_advertise(t);
  send_segment(&t, t.remote, t.lport, t.rport, t.snd_una - 1, t.rcv_nxt, kAck, w, o, 0, 0);
}

void Tcp::send_syn(Tcb &t) {
  TcpOptions o;
  fill_options(t, o, true);
  const bool synack = t.state == TcpState::kSynReceived;
  uint16_t w = static_cast<uint16_t>(std::min<uint32_t>(receive_space(t), 65535));
  if (t.state == TcpState::kSynSent) {
    w = static_cast<uint16_t>(std::min<uint32_t>(cfg_.rcv_buf, 65535));
  } else {
    t.rcv_adv = seq_max(t.rcv_adv, t.rcv_nxt + w);  // the SYN's window is never scaled
  }
  const uint8_t flags = synack ? static_cast<uint8_t>(kSyn | kAck) : uint8_t{kSyn};
  if (t.retries == 0) t.rtt_start_ns = ctx_.clock.now_ns();
  send_segment(&t, t.remote, t.lport, t.rport, t.iss, synack ? t.rcv_nxt : 0, flags, w, o, 0, 0);
  if (synack) t.last_ack_sent = t.rcv_nxt;
  t.snd_nxt = t.iss + 1;
  t.snd_max = t.iss + 1;
}

void Tcp::send_rst_for(const Segment &s) {
  // RFC 9293 3.10.7.1: take the sequence number from the ACK if there is
  // one, else acknowledge everything the segment occupied.
  const TcpOptions none{};
  ++stats_.resets_tx;
  if (s.has(kAck)) {
    send_segment(nullptr, s.src, s.dport, s.sport, s.ack, 0, kRst, 0, none, 0, 0);
  } else {
    send_segment(nullptr, s.src, s.dport, s.sport, 0, s.seq + s.seg_len(),
                 static_cast<uint8_t>(kRst | kAck), 0, none, 0, 0);
  }
}

void Tcp::send_rst(Tcb &t) {
  const TcpOptions none{};
  ++stats_.resets_tx;
  send_segment(&t, t.remote, t.lport, t.rport, t.snd_nxt, t.rcv_nxt,
               static_cast<uint8_t>(kRst | kAck), 0, none, 0, 0);
}

void Tcp::output(Tcb &t) {
  if (!t.synchronized() || t.state == TcpState::kTimeWait) return;
  if (t.sack_ok && (t.in_recovery || t.rec.in_loss)) return output_recovery(t);
  const Seq end = t.data_end();
  const uint64_t now = ctx_.clock.now_ns();
  bool send_failed = false;
  bool sent_new = false;
  for (;;) {
    const uint32_t wnd = std::min(t.snd_wnd, t.cc.cwnd());
    const uint32_t in_flight = t.snd_nxt - t.snd_una;
    const uint32_t usable = wnd > in_flight ? wnd - in_flight : 0;
    const uint32_t avail = seq_lt(t.snd_nxt, end) ? end - t.snd_nxt : 0;
    uint32_t len = std::min({avail, usable, uint32_t{t.mss}});
    const bool retransmission = seq_lt(t.snd_nxt, t.snd_max);
    uint32_t idx = 0;
    if (retransmission) {
      // Going back over the flight (after an RTO without SACK): one record
      // at a time, so each keeps its own transmission time.
      idx = tx_record_index(t.txr, t.snd_nxt);
      if (idx < t.txr.size()) {
        const TxRecord &r = t.txr.at(idx);
        len = std::min(
            len, seq_lt(t.snd_nxt, seq_min(r.end, end)) ? seq_min(r.end, end) - t.snd_nxt : 0u);
      }
    } else if (t.txr.free() == 0) {
      break;  // as many segments in flight as records (tx_record_limit)
    }
    const bool fin = t.close_requested && seq_leq(t.snd_nxt, end) && t.snd_nxt + len == end;
    if (len == 0 && !fin) break;
    if (len > 0 && len < t.mss && len < avail && in_flight > 0 && len < t.max_snd_wnd / 2 &&
        !retransmission)
      break;  // sender SWS avoidance: wait for the window to open properly
    if (t.coalescing && len > 0 && len < t.mss && in_flight > 0 && !fin && !retransmission)
      break;  // Nagle (RFC 896): one small segment in flight at a time
    if (!send_data(t, t.snd_nxt, len, fin)) {
      send_failed = true;
      break;
    }
    const uint32_t seg = len + (fin ? 1 : 0);
    if (retransmission) {
      if (idx < t.txr.size()) note_retransmission(t, t.txr.at(idx), now);
    } else {
      new_data_sent(t, t.snd_nxt, len, fin, now);
      sent_new = true;
    }
    t.snd_nxt += seg;
    if (seq_gt(t.snd_nxt, t.snd_max)) t.snd_max = t.snd_nxt;
    // Everything sent and no FIN to follow: the next round would find
    // nothing (the usual end after a small send).
    if (fin || (t.snd_nxt == end && !t.close_requested)) break;
  }
  if (sent_new ||
      (t.snd_una != t.snd_max && (!timing::TimerWheel::armed(t.rexmit_timer) || t.persist))) {
    // RFC 8985 7.2: the probe timeout starts again with each new segment;
    // a running RTO is left alone (RFC 6298 5.1).
    if (t.persist || !timing::TimerWheel::armed(t.rexmit_timer) ||
        t.rec.timer == XmitTimer::kProbe) {
      t.persist = false;
      arm_xmit_timer(t);
    }
  }
  // The pool was empty and nothing is in flight whose ACK would call us
  // again: retry soon (the pool refills as frames leave), rather than stall.
  if (send_failed && t.snd_nxt == t.snd_una && !timing::TimerWheel::armed(t.rexmit_timer)) {
    ++stats_.tx_alloc_retries;
    t.rec.timer = XmitTimer::kRto;
    ctx_.timers.arm(t.rexmit_timer, cfg_.delack_ns);
    return;
  }
  // Data waits behind a zero window with nothing in flight to bring an ACK:
  // probe it (RFC 9293 3.8.6.1).
  if (t.snd_wnd == 0 && seq_lt(t.snd_nxt, end) && t.snd_nxt == t.snd_una &&
      !timing::TimerWheel::armed(t.rexmit_timer)) {
    t.persist = true;
    arm_rto(t);
  }
}

void Tcp::new_data_sent(Tcb &t, Seq seq, uint32_t len, bool fin, uint64_t now) {
  record_sent(t, seq, seq + len + (fin ? 1 : 0), now);
  if (len > 0) ++stats_.data_segments_tx;
  if (!t.ts_ok && !t.rtt_timing) {
    t.rtt_timing = true;
    t.rtt_seq = seq;
    t.rtt_start_ns = now;
  }
}

uint32_t Tcp::send_new_segment(Tcb &t, uint64_t now) {
  // One segment of data never sent, as the peer's window allows (congestion
  // control is the caller's business), or the FIN after the last byte.
  const Seq end = t.data_end();
  if (seq_lt(t.snd_nxt, t.snd_max) || t.txr.free() == 0) return 0;
  const uint32_t avail = seq_lt(t.snd_nxt, end) ? end - t.snd_nxt : 0;
  const uint32_t room =
      seq_gt(t.snd_una + t.snd_wnd, t.snd_nxt) ? t.snd_una + t.snd_wnd - t.snd_nxt : 0;
  const uint32_t len = std::min({avail, room, uint32_t{t.mss}});
  const bool fin = t.close_requested && seq_leq(t.snd_nxt, end) && t.snd_nxt + len == end;
  if (len == 0 && !fin) return 0;
  if (!send_data(t, t.snd_nxt, len, fin)) return 0;
  const uint32_t seg = len + (fin ? 1 : 0);
  new_data_sent(t, t.snd_nxt, len, fin, now);
  t.snd_nxt += seg;
  t.snd_max = t.snd_nxt;
  return seg;
}

void Tcp::output_recovery(Tcb &t) {
  // Fast recovery sends what PRR allows for the ACKs so far; the loss state
  // after an RTO what the congestion window leaves room for. Lost records
  // first, lowest sequence first (RFC 6675 NextSeg rule 1), then new data.
  const uint64_t now = ctx_.clock.now_ns();
  // F-RTO sent new data instead of retransmissions: nothing more until the
  // next ACK tells whether the RTO was spurious (RFC 5682 step 3).
  if (t.rec.in_loss && t.rec.frto && t.rec.frto_new_sent) return;
  int64_t budget =
      t.in_recovery ? t.rec.prr_sndcnt : int64_t{t.cc.cwnd()} - static_cast<int64_t>(pipe(t));
  uint32_t idx = 0;
  while (budget > 0) {
    while (idx < t.txr.size() && !t.txr.at(idx).has(TxRecord::kLost)) ++idx;
    uint32_t sent;
    if (idx < t.txr.size()) {
      sent = retransmit_record(t, idx, now);
      ++idx;
    } else {
      sent = send_new_segment(t, now);
    }
    if (sent == 0) break;
    budget -= sent;
    if (t.in_recovery) t.rec.prr_out += sent;
  }
  if (t.in_recovery) t.rec.prr_sndcnt = std::max<int64_t>(budget, 0);
  if (!timing::TimerWheel::armed(t.rexmit_timer)) arm_xmit_timer(t);
}

}  // namespace ix::net::tcp
