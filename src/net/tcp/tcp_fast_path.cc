// Header prediction (Van Jacobson's, as BSD's tcp_input and Linux's
// tcp_rcv_established keep it): most segments of a connection are the one
// it expects next: in order, ACK (and PSH) only, no SACK blocks, and
// acknowledging new data (or nothing, with nothing outstanding). Such a
// segment cannot move the connection out of ESTABLISHED or start or end a
// recovery, and needs only the retransmission timer restarted, so it is taken in
// one pass doing exactly what segment_arrives would (the same steps, in the
// same order, minus the checks that cannot fire), and everything else goes
// the long way. tcp_fast_path_test.cc holds the two paths to the same result.
#include "net/tcp/tcp.hh"
#include "net/tcp/tcp_segment.hh"

namespace ix::net::tcp {

bool Tcp::predicted(const Tcb &t, const Segment &s) const {
  if (t.state != TcpState::kEstablished || (s.flags & ~kPsh) != kAck || s.seq != t.rcv_nxt ||
      s.opt.sack_count != 0)
    return false;
  // PAWS passes (RFC 7323 5.3).
  if (t.ts_ok && s.opt.has_ts && seq_lt(s.opt.ts_val, t.ts_recent)) return false;
  // New data acknowledged (some or all of what is outstanding), or nothing
  // outstanding at all; not a duplicate ACK (those count toward recovery),
  // and not while going back over the flight.
  if (t.snd_nxt != t.snd_max || seq_gt(s.ack, t.snd_max) || seq_lt(s.ack, t.snd_una) ||
      (s.ack == t.snd_una && t.snd_una != t.snd_max))
    return false;
  // At rest: no recovery, probe, undo or reordering state to move; no
  // SACK scoreboard; nothing held out of order; no FIN of ours.
  if (!t.sack_ok || t.in_recovery || t.rec.in_loss || t.rec.tlp_out || t.persist ||
      t.rec.reo_deadline_ns != 0 || t.rec.lost_bytes != 0 || t.rec.sacked_segs != 0 ||
      !t.sb.empty() || !t.ooo.empty() || t.ooo_fin || t.close_requested)
    return false;
  // The data fits the window we advertised (no trimming).
  const uint32_t wnd = seq_gt(t.rcv_adv, t.rcv_nxt) ? t.rcv_adv - t.rcv_nxt : 0;
  return s.len <= wnd;
}

bool Tcp::fast_path(Tcb &t, Segment &s, uint64_t now) {
  if (!cfg_.header_prediction || !predicted(t, s)) return false;
  ++stats_.fast_path_rx;
  t.last_rx_ns = now;
  t.ka_sent = 0;
  update_ts_recent(t, s);

  // The ACK: process_ack's steps, then on_ack_recovery's for an ACK with
  // no SACK blocks on a connection at rest.
  update_send_window(t, s);
  AckInfo a;
  a.prior_una = t.snd_una;
  a.prior_flight = t.snd_max - t.snd_una;
  uint32_t released = 0;
  if (s.ack != t.snd_una) {
    a.acked = s.ack - t.snd_una;
    t.rtt.reset_backoff();
    t.retries = 0;
    t.snd_una = s.ack;
    released = release_acked_data(t, a.prior_una);
  } else if (t.snd_wnd == 0) {
    t.retries = 0;  // the peer answers: it is alive, just full
  }
  t.sb.update(t.snd_una, t.snd_max, {});
  if (t.rec.dsack_round_open && seq_geq(t.snd_una, t.rec.dsack_round))
    t.rec.dsack_round_open = false;
  if (a.acked > 0) {
    update_records(t, a, {}, now);
    if (a.cum_rtt_ns != 0) {
      t.rtt.sample(a.cum_rtt_ns);
      t.rtt_timing = false;
    } else {
      sample_rtt(t, s, now);
    }
    t.dupacks = 0;
    t.cc.on_ack(a.acked, a.prior_flight, t.rtt.srtt_ns(), now);
    if (t.recover_pending && seq_gt(t.snd_una, t.recover)) t.recover_pending = false;
  }
  // The retransmission timer: stopped when nothing is outstanding, else
  // restarted for the data acknowledged (RFC 6298 5.2-5.3; a TLP while
  // eligible).
  if (t.snd_una == t.snd_max) {
    ctx_.timers.disarm(t.rexmit_timer);
    t.rec.timer = XmitTimer::kRto;
    t.rec.reo_deadline_ns = 0;
  } else {
    arm_xmit_timer(t);
  }
  if (released > 0 && t.accepted && !t.app_gone)
    t.ev->on_sent(t.cookie, table_.handle(t), released);

  process_data(t, s);
  // Nothing waits to be sent (and no FIN: see predicted): output() would
  // find nothing to do.
  if (t.snd_nxt != t.data_end()) output(t);
  return true;
}

}  // namespace ix::net::tcp
