// Loss detection and recovery, as Linux keeps tcp_recovery.c apart from
// tcp_input.c:
//  - the sent-segment records (tx_record.hh): made on first transmission,
//    retired by cumulative ACKs, marked by SACK blocks;
//  - RACK (RFC 8985 6): a segment is lost when one sent after it was
//    delivered and a reordering window has passed since, which also finds
//    lost retransmissions;
//  - TLP (RFC 8985 7): a probe of the flight's tail after about two RTTs,
//    so that a tail loss is repaired by fast recovery instead of the RTO;
//  - PRR (RFC 6937): how much fast recovery sends per ACK, so that the
//    window comes down to ssthresh smoothly rather than in a burst or a stall;
//  - undo of spurious recoveries and RTOs: every retransmission D-SACKed
//    (RFC 2883, RFC 3708), an ACK that echoes a timestamp from before the
//    first retransmission (Eifel, RFC 3522), or originals ACKed after an RTO
//    (F-RTO, RFC 5682, SACK-enhanced as Linux does it);
//  - NewReno (RFC 6582) for peers without SACK.
// The per-ACK cost when nothing is lost is popping the acknowledged records;
// the scans over the flight run only while SACKed or lost data exists.
#include <algorithm>

#include "net/tcp/tcp.hh"
#include "net/tcp/tcp_segment.hh"

namespace ix::net::tcp {

namespace {
// RACK_sent_after (RFC 8985 6.2): by time, and by sequence for a tie.
bool sent_after(uint64_t t1, Seq end1, uint64_t t2, Seq end2) {
  return t1 > t2 || (t1 == t2 && seq_gt(end1, end2));
}

// RFC 2883 4: the first block is a D-SACK if it lies below the cumulative
// ACK, or inside the second block.
bool first_block_is_dsack(std::span<const SackBlock> blocks, Seq ack) {
  if (blocks.empty()) return false;
  const SackBlock &b = blocks[0];
  if (!seq_lt(b.left, b.right)) return false;
  if (seq_leq(b.right, ack)) return true;
  return blocks.size() > 1 && seq_geq(b.left, blocks[1].left) && seq_leq(b.right, blocks[1].right);
}
}  // namespace

// ---- records ----

void Tcp::record_sent(Tcb &t, Seq start, Seq end, uint64_t now) {
  t.txr.push(TxRecord{start, end, now, 0});
}

void Tcp::note_retransmission(Tcb &t, TxRecord &r, uint64_t now) {
  r.xmit_ns = now;
  r.flags |= TxRecord::kRetrans;
  if (r.has(TxRecord::kLost)) {
    r.flags &= static_cast<uint8_t>(~TxRecord::kLost);
    t.rec.lost_bytes -= std::min(t.rec.lost_bytes, r.len());
  }
  count_retransmit(t);
  if (t.rec.undo_armed) {
    ++t.rec.undo_retrans;
    if (!t.rec.retransmitted) {
      t.rec.retransmitted = true;
      t.rec.retrans_tsval = ts_now();
    }
  }
}

uint32_t Tcp::retransmit_record(Tcb &t, uint32_t idx, uint64_t now) {
  TxRecord &r = t.txr.at(idx);
  const Seq end = t.data_end();
  // The record may hold the FIN (one past the data), and may be longer than
  // an MSS that shrank since it was first sent: then it goes in pieces.
  const Seq data_end = seq_min(r.end, end);
  const bool has_fin = t.close_requested && r.end == end + 1;
  Seq seq = r.start;
  do {
    const uint32_t left = seq_lt(seq, data_end) ? data_end - seq : 0;
    const uint32_t len = std::min<uint32_t>(left, t.mss);
    const bool fin = has_fin && seq + len == data_end;
    if (!send_data(t, seq, len, fin)) {
      if (seq == r.start) return 0;  // nothing left: the pool is empty
      break;
    }
    seq += len;
    if (fin) break;
  } while (seq_lt(seq, data_end));
  note_retransmission(t, r, now);
  return r.len();
}

void Tcp::mark_lost(Tcb &t, TxRecord &r) {
  r.flags |= TxRecord::kLost;
  t.rec.lost_bytes += r.len();
}

uint32_t Tcp::pipe(const Tcb &t) const {
  // RFC 6675 SetPipe as Linux counts it: what was sent, less what the
  // receiver holds (SACKed) and what is judged lost and not yet sent again.
  const uint64_t out = t.snd_max - t.snd_una;
  const uint64_t gone = uint64_t{t.sb.sacked_bytes()} + t.rec.lost_bytes;
  return out > gone ? static_cast<uint32_t>(out - gone) : 0;
}

void Tcp::delivered(Tcb &t, const TxRecord &r, AckInfo &a, bool sacked, uint64_t now) {
  if (!r.has(TxRecord::kRetrans)) {
    const uint64_t rtt = now - r.xmit_ns;
    if (!sacked && a.cum_rtt_ns == 0) a.cum_rtt_ns = std::max<uint64_t>(rtt, 1);
    if (sacked) a.sack_rtt_ns = std::max<uint64_t>(rtt, 1);
  }
  if (!r.has(TxRecord::kRetrans) && (!t.rec.in_loss || r.xmit_ns < t.rec.loss_start_ns))
    a.orig_delivered = true;
  if (r.has(TxRecord::kRetrans)) {
    // Which transmission arrived is ambiguous. A retransmission goes at
    // least an RTT after the original, so an RTT below the minimum can only
    // be the original's, late; anything else counts (as Linux decides; the
    // timestamp echo cannot help: a receiver echoes the segment at the left
    // edge of its window, not the SACKed one, RFC 7323 4.3).
    if (now - r.xmit_ns < t.rec.min_rtt_ns) return;
  } else if (seq_lt(r.end, t.rec.rack_fack)) {
    // A first transmission delivered below one delivered before it: the
    // network reorders, so RACK keeps a reordering window (step 3).
    if (!t.rec.reord) ++stats_.reorder_seen;
    t.rec.reord = true;
  } else {
    t.rec.rack_fack = r.end;
  }
  const uint64_t rtt = now - r.xmit_ns;
  t.rec.min_rtt_ns = std::min(t.rec.min_rtt_ns, rtt);
  if (!a.have_newest || sent_after(r.xmit_ns, r.end, a.newest_xmit_ns, a.newest_end)) {
    a.have_newest = true;
    a.newest_xmit_ns = r.xmit_ns;
    a.newest_end = r.end;
  }
}

void Tcp::update_records(Tcb &t, AckInfo &a, std::span<const SackBlock> blocks, uint64_t now) {
  // Cumulatively acknowledged records.
  while (!t.txr.empty()) {
    TxRecord &r = t.txr.front();
    if (seq_leq(r.end, t.snd_una)) {
      if (r.has(TxRecord::kSacked)) {
        --t.rec.sacked_segs;
      } else {
        delivered(t, r, a, false, now);
      }
      if (r.has(TxRecord::kLost)) t.rec.lost_bytes -= std::min(t.rec.lost_bytes, r.len());
      t.txr.pop();
      continue;
    }
    if (seq_lt(r.start, t.snd_una)) {
      if (r.has(TxRecord::kLost))
        t.rec.lost_bytes -= std::min(t.rec.lost_bytes, static_cast<uint32_t>(t.snd_una - r.start));
      r.start = t.snd_una;
    }
    break;
  }
  // Newly SACKed records: those wholly inside the scoreboard's (merged) block
  // that holds each block of this ACK.
  for (size_t i = a.dsack ? 1 : 0; i < blocks.size(); ++i) {
    const SackBlock &b = blocks[i];
    const SackBlock *range = nullptr;
    for (const SackBlock &m : t.sb.blocks()) {
      if (seq_geq(b.left, m.left) && seq_lt(b.left, m.right)) {
        range = &m;
        break;
      }
    }
    if (range == nullptr) continue;
    uint32_t idx = tx_record_index(t.txr, range->left);
    for (; idx < t.txr.size(); ++idx) {
      TxRecord &r = t.txr.at(idx);
      if (!seq_lt(r.start, range->right)) break;
      if (r.has(TxRecord::kSacked) || seq_lt(r.start, range->left) || seq_gt(r.end, range->right))
        continue;
      r.flags |= TxRecord::kSacked;
      ++t.rec.sacked_segs;
      if (r.has(TxRecord::kLost)) {
        r.flags &= static_cast<uint8_t>(~TxRecord::kLost);
        t.rec.lost_bytes -= std::min(t.rec.lost_bytes, r.len());
      }
      a.newly_sacked = true;
      delivered(t, r, a, true, now);
    }
  }
  if (a.have_newest) {
    t.rec.rack_rtt_ns = now - a.newest_xmit_ns;
    if (!t.rec.rack_valid ||
        sent_after(a.newest_xmit_ns, a.newest_end, t.rec.rack_xmit_ns, t.rec.rack_end)) {
      t.rec.rack_valid = true;
      t.rec.rack_xmit_ns = a.newest_xmit_ns;
      t.rec.rack_end = a.newest_end;
    }
  }
}

// ---- RACK ----

uint64_t Tcp::rack_reo_wnd(const Tcb &t) const {
  // RFC 8985 6.2 step 4: no window while no reordering has been seen and
  // recovery is under way or DupThresh segments are SACKed.
  if (!t.rec.reord && (t.in_recovery || t.rec.in_loss || t.rec.sacked_segs >= kDupThresh)) return 0;
  const uint64_t srtt = t.rtt.srtt_ns();
  const uint64_t min_rtt = t.rec.min_rtt_ns == UINT64_MAX ? srtt : t.rec.min_rtt_ns;
  return std::min<uint64_t>(uint64_t{t.rec.reo_wnd_mult} * min_rtt / 4, srtt);
}

bool Tcp::rack_detect_loss(Tcb &t, uint64_t now) {
  t.rec.reo_deadline_ns = 0;
  if (!t.rec.rack_valid) return false;
  const uint64_t reo_wnd = rack_reo_wnd(t);
  uint64_t wait = 0;
  bool lost = false;
  for (uint32_t i = 0; i < t.txr.size(); ++i) {
    TxRecord &r = t.txr.at(i);
    if (r.has(TxRecord::kSacked) || r.has(TxRecord::kLost)) continue;
    if (sent_after(r.xmit_ns, r.end, t.rec.rack_xmit_ns, t.rec.rack_end)) continue;
    const uint64_t deadline = r.xmit_ns + t.rec.rack_rtt_ns + reo_wnd;
    if (deadline <= now) {
      mark_lost(t, r);
      ++stats_.rack_lost;
      if (r.has(TxRecord::kRetrans)) ++stats_.lost_retransmits;
      lost = true;
    } else {
      wait = std::max(wait, deadline - now);
    }
  }
  if (wait != 0) t.rec.reo_deadline_ns = now + wait;
  return lost;
}

bool Tcp::rack_wanted(const Tcb &t) const {
  return t.sack_ok && (t.rec.sacked_segs > 0 || t.in_recovery || t.rec.in_loss ||
                       t.rec.reo_deadline_ns != 0 || t.rec.tlp_out);
}

void Tcp::reorder_timeout(Tcb &t) {
  const uint64_t now = ctx_.clock.now_ns();
  rack_detect_loss(t, now);
  if (t.rec.lost_bytes > 0 && !t.in_recovery && !t.rec.in_loss) {
    enter_fast_recovery(t, now);
    // No ACK came with the timer, but the SACKs that made the reordering
    // window run out did deliver data: count one segment, as Linux does
    // (tcp_rack_reo_timeout). PRR then lets a new segment follow the
    // retransmission, and if the retransmission is lost too, the SACK of
    // that segment shows it (RACK) where otherwise only the RTO would.
    prr_update(t, t.mss);
  }
  output(t);
  arm_xmit_timer(t);
}

// ---- episodes: fast recovery, the loss state, undo ----

void Tcp::start_undo_episode(Tcb &t) {
  t.rec.undo_armed = true;
  t.rec.undo_marker = t.snd_una;
  t.rec.undo_retrans = 0;
  t.rec.retransmitted = false;
  t.rec.prior_cwnd = t.cc.cwnd();
  t.rec.prior_ssthresh = t.cc.ssthresh();
}

void Tcp::enter_fast_recovery(Tcb &t, uint64_t now) {
  ++stats_.fast_retransmits;
  start_undo_episode(t);
  const uint32_t flight = t.snd_max - t.snd_una;
  t.in_recovery = true;
  t.recover = t.snd_max;
  t.recover_pending = true;
  t.rtt_timing = false;
  t.rec.tlp_out = false;  // the episode the probe was part of is this one
  t.cc.on_enter_recovery(flight, now, t.sack_ok ? 0 : 3);
  t.rec.recover_fs = std::max<uint32_t>(flight, 1);
  t.rec.prr_delivered = 0;
  t.rec.prr_out = 0;
  t.rec.prr_sndcnt = 0;
}

void Tcp::end_episode(Tcb &t) {
  // The undo state stays: the D-SACKs that show a retransmission was not
  // needed come a round trip after it, often after the episode ended. The
  // next episode starts a new one.
  t.rec.frto = false;
  if (t.rec.reo_wnd_persist > 0 && --t.rec.reo_wnd_persist == 0) t.rec.reo_wnd_mult = 1;
}

void Tcp::undo(Tcb &t, uint64_t &reason_counter, bool reordering) {
  ++stats_.spurious_undos;
  ++reason_counter;
  t.cc.undo(t.rec.prior_cwnd, t.rec.prior_ssthresh);
  t.in_recovery = false;
  t.rec.in_loss = false;
  t.dupacks = 0;
  t.recover_pending = false;
  for (uint32_t i = 0; i < t.txr.size(); ++i)
    t.txr.at(i).flags &= static_cast<uint8_t>(~TxRecord::kLost);
  t.rec.lost_bytes = 0;
  // Peers without SACK were going back over the whole flight: stop.
  t.snd_nxt = t.snd_max;
  if (reordering) t.rec.reord = true;
  end_episode(t);
}

bool Tcp::try_undo(Tcb &t, const Segment &s, const AckInfo &a) {
  if (!t.rec.undo_armed || !t.rec.retransmitted) return false;
  // Every retransmission of the episode came back as a duplicate.
  if (a.dsack && t.rec.undo_retrans == 0) {
    undo(t, stats_.dsack_undos, true);
    return true;
  }
  // The episode ends with an ACK whose echo predates the first
  // retransmission: the originals arrived, the retransmissions were not needed.
  if ((t.in_recovery || t.rec.in_loss) && a.acked > 0 && seq_geq(t.snd_una, t.recover) && t.ts_ok &&
      s.opt.has_ts && s.opt.ts_ecr != 0 &&
      static_cast<int32_t>(s.opt.ts_ecr - t.rec.retrans_tsval) < 0) {
    undo(t, stats_.timestamp_undos, true);
    return true;
  }
  // After an RTO, an original transmission sent before it was delivered:
  // the path was slow, not lossy (F-RTO).
  if (t.rec.in_loss && t.rec.frto && a.orig_delivered) {
    undo(t, stats_.frto_undos, false);
    return true;
  }
  return false;
}

void Tcp::on_dsack(Tcb &t, const AckInfo &a) {
  ++stats_.dsacks_rx;
  // RFC 8985 6.2 step 4: widen the reordering window once per round trip
  // that sees D-SACKs, and keep it for 16 recoveries.
  if (!t.rec.dsack_round_open) {
    t.rec.dsack_round_open = true;
    t.rec.dsack_round = t.snd_max;
    t.rec.reo_wnd_mult = static_cast<uint8_t>(std::min(t.rec.reo_wnd_mult + 1, 64));
    t.rec.reo_wnd_persist = 16;
  }
  // RFC 3708: each duplicate of data retransmitted in this episode shows
  // one retransmission was not needed.
  if (t.rec.undo_armed && t.rec.undo_retrans > 0 &&
      seq_gt(a.dsack_block.right, t.rec.undo_marker)) {
    const uint32_t len = a.dsack_block.right - a.dsack_block.left;
    const uint32_t segs = std::max<uint32_t>(1, (len + t.mss - 1) / t.mss);
    t.rec.undo_retrans -= std::min(t.rec.undo_retrans, segs);
  }
}

// ---- TLP ----

void Tcp::probe_timeout_fired(Tcb &t) {
  const uint64_t now = ctx_.clock.now_ns();
  if (!tlp_eligible(t) || t.txr.empty()) {
    arm_rto(t);
    return;
  }
  // New data if the window lets it go, else the last segment again: either
  // way its ACK (with SACK) shows what of the tail is missing.
  bool sent = send_new_segment(t, now) > 0;
  bool retrans = false;
  if (!sent) {
    sent = retransmit_record(t, t.txr.size() - 1, now) > 0;
    retrans = true;
  }
  if (sent) {
    ++stats_.tlp_probes;
    t.rec.tlp_out = true;
    t.rec.tlp_retrans = retrans;
    t.rec.tlp_end = t.snd_max;
  }
  arm_rto(t);
}

void Tcp::tlp_on_ack(Tcb &t, const Segment &s, const AckInfo &a, bool wnd_changed, uint64_t now) {
  if (!t.rec.tlp_out || seq_lt(s.ack, t.rec.tlp_end)) return;
  if (!t.rec.tlp_retrans) {
    t.rec.tlp_out = false;  // new data probed and acknowledged
  } else if (a.dsack && seq_geq(a.dsack_block.right, t.rec.tlp_end)) {
    t.rec.tlp_out = false;  // original and probe both arrived: nothing was lost
  } else if (seq_gt(s.ack, t.rec.tlp_end)) {
    // The probe repaired a loss: reduce the window once, as a recovery would.
    // From the window, as Linux's cwnd reduction does: the flight at this
    // ACK (often the probe alone) says nothing of the path's capacity.
    ++stats_.tlp_recoveries;
    t.rec.tlp_out = false;
    t.cc.on_enter_recovery(std::max(a.prior_flight, t.cc.cwnd()), now, 0);
    t.cc.on_exit_recovery(now);
  } else if (a.acked == 0 && !a.newly_sacked && s.len == 0 && !wnd_changed) {
    t.rec.tlp_out = false;  // a pure duplicate ACK: both arrived
  }
}

// ---- PRR ----

void Tcp::prr_update(Tcb &t, int64_t delivered) {
  // RFC 6937 3: proportional while the pipe is above ssthresh, then slow
  // start back up to it (the SSRB bound).
  RecoveryVars &r = t.rec;
  if (delivered > 0) r.prr_delivered += static_cast<uint32_t>(delivered);
  const int64_t p = pipe(t);
  const int64_t ssthresh = t.cc.ssthresh();
  int64_t sndcnt;
  if (p > ssthresh) {
    sndcnt = static_cast<int64_t>(
                 (uint64_t{r.prr_delivered} * static_cast<uint64_t>(ssthresh) + r.recover_fs - 1) /
                 r.recover_fs) -
             r.prr_out;
  } else {
    const int64_t limit =
        std::max<int64_t>(int64_t{r.prr_delivered} - r.prr_out, std::max<int64_t>(delivered, 0)) +
        t.mss;
    sndcnt = std::min<int64_t>(ssthresh - p, limit);
  }
  sndcnt = std::max<int64_t>(sndcnt, 0);
  if (r.prr_out == 0 && sndcnt == 0) sndcnt = t.mss;  // the fast retransmit itself
  r.prr_sndcnt = sndcnt;
}

// ---- per ACK ----

void Tcp::on_ack_recovery(Tcb &t, const Segment &s, AckInfo &a, std::span<const SackBlock> blocks,
                          bool wnd_changed, uint64_t now) {
  const bool advanced = a.acked > 0;
  if (t.rec.dsack_round_open && seq_geq(t.snd_una, t.rec.dsack_round))
    t.rec.dsack_round_open = false;
  if (t.sack_ok && first_block_is_dsack(blocks, s.ack)) {
    a.dsack = true;
    a.dsack_block = blocks[0];
  }
  update_records(t, a, blocks, now);
  // The RTT: from the records when a first transmission was delivered (Karn's
  // rule: never from a retransmission), else from the timestamp echo.
  if (a.cum_rtt_ns != 0 || a.sack_rtt_ns != 0) {
    t.rtt.sample(a.cum_rtt_ns != 0 ? a.cum_rtt_ns : a.sack_rtt_ns);
    t.rtt_timing = false;
  } else if (a.acked > 0) {
    sample_rtt(t, s, now);
  }
  if (a.dsack) on_dsack(t, a);
  tlp_on_ack(t, s, a, wnd_changed, now);
  try_undo(t, s, a);

  if (!t.sack_ok) return newreno_on_ack(t, s, a, wnd_changed, now);

  if (advanced) {
    if (t.in_recovery && seq_geq(t.snd_una, t.recover)) {
      t.in_recovery = false;
      t.dupacks = 0;
      t.cc.on_exit_recovery(now);
      end_episode(t);
    } else if (!t.in_recovery) {
      t.dupacks = 0;
      t.cc.on_ack(a.acked, a.prior_flight, t.rtt.srtt_ns(), now);
    }
    leave_loss_if_recovered(t);
  } else if (a.newly_sacked && t.snd_max != t.snd_una) {
    // RFC 6675's duplicate ACK: one that SACKs something new (ACKs riding
    // on data count too: an echoing peer sends nothing else).
    ++stats_.dupacks_rx;
    ++t.dupacks;
  }

  if (t.rec.in_loss && t.rec.frto) frto_on_ack(t, a, now);

  if (rack_wanted(t)) rack_detect_loss(t, now);
  // Segments judged lost outside an episode start one, whether RACK found
  // them now or during an episode that this ACK ended (sent after its
  // recovery point): only an episode retransmits (output_recovery), and a
  // lost segment left outside one would wait for the RTO. Linux likewise
  // goes back into recovery while lost_out is not zero.
  if (t.rec.lost_bytes > 0 && !t.in_recovery && !t.rec.in_loss) enter_fast_recovery(t, now);
  if (t.in_recovery) {
    const int64_t sacked_delta = int64_t{t.sb.sacked_bytes()} - a.prior_sacked;
    prr_update(t, int64_t{a.acked} + sacked_delta);
  }
}

void Tcp::leave_loss_if_recovered(Tcb &t) {
  if (t.rec.in_loss && seq_geq(t.snd_una, t.recover)) {
    t.rec.in_loss = false;
    end_episode(t);
  }
  // RFC 6582's recover point holds fast retransmit back only until SND.UNA
  // passes it, which happens within a window of data; after that it is
  // forgotten. Compared for ever, a point left 2 GiB behind would read as
  // ahead (sequence space wraps) and keep fast retransmit off for the next
  // 2 GiB.
  if (t.recover_pending && seq_gt(t.snd_una, t.recover)) t.recover_pending = false;
}

void Tcp::mark_unsacked_lost(Tcb &t) {
  for (uint32_t i = 0; i < t.txr.size(); ++i) {
    TxRecord &r = t.txr.at(i);
    if (!r.has(TxRecord::kSacked) && !r.has(TxRecord::kLost)) mark_lost(t, r);
  }
}

void Tcp::frto_on_ack(Tcb &t, const AckInfo &a, uint64_t now) {
  // RFC 5682 (SACK-enhanced, as Linux): the originals were not shown
  // delivered (try_undo would have undone the RTO). The first ACK that moves
  // SND.UNA lets new data go instead of more retransmissions (step 2b); if
  // the ACK after that still shows no original, the loss was real (3a).
  if (!t.rec.frto_new_sent) {
    if (a.acked == 0) return;
    t.rec.frto_new_sent = true;
    unsigned sent = 0;
    while (sent < 2 && send_new_segment(t, now) > 0) ++sent;
    if (sent == 0) t.rec.frto = false;  // nothing new to probe with
    return;
  }
  t.rec.frto = false;
}

void Tcp::newreno_on_ack(Tcb &t, const Segment &s, const AckInfo &a, bool wnd_changed,
                         uint64_t now) {
  if (a.acked > 0) {
    if (t.in_recovery) {
      if (seq_geq(s.ack, t.recover)) {
        t.in_recovery = false;
        t.dupacks = 0;
        t.cc.on_exit_recovery(now);
        end_episode(t);
      } else {
        // RFC 6582 3.2 step 5: retransmit the next hole, deflate.
        t.cc.on_partial_ack(a.acked);
        if (!t.txr.empty()) retransmit_record(t, 0, now);
      }
    } else {
      t.dupacks = 0;
      t.cc.on_ack(a.acked, a.prior_flight, t.rtt.srtt_ns(), now);
    }
    leave_loss_if_recovered(t);
    return;
  }
  // RFC 5681's duplicate ACK: no data, no window change, something outstanding.
  if (s.ack != t.snd_una || s.len != 0 || s.has(kFin) || wnd_changed || t.snd_max == t.snd_una)
    return;
  ++stats_.dupacks_rx;
  ++t.dupacks;
  if (t.in_recovery) {
    t.cc.on_recovery_dupack();
    return;
  }
  if (t.dupacks < kDupThresh || (t.recover_pending && !seq_gt(t.snd_una, t.recover))) return;
  // Fast retransmit (RFC 5681 3.2, RFC 6582 3.2).
  enter_fast_recovery(t, now);
  if (!t.txr.empty()) retransmit_record(t, 0, now);
  arm_rto(t);
}

// ---- the RTO ----

void Tcp::enter_loss(Tcb &t, uint64_t now) {
  const bool was_recovering = t.in_recovery;
  if (!t.in_recovery && !t.rec.in_loss) start_undo_episode(t);
  t.cc.on_rto(t.snd_max - t.snd_una, now, t.retries > 1);
  t.rtt.backoff();
  t.in_recovery = false;
  t.dupacks = 0;
  t.recover = t.snd_max;
  t.recover_pending = true;
  t.rtt_timing = false;
  t.rec.in_loss = true;
  t.rec.tlp_out = false;
  t.rec.reo_deadline_ns = 0;
  t.rec.loss_start_ns = now;
  // F-RTO unless the RTO only ends a fast recovery that failed.
  // Without SACK, originals ACKed behind a filled hole look the same as
  // originals that were only late, so only timestamps can tell (Eifel).
  t.rec.frto = t.sack_ok && (!was_recovering || t.retries > 1);
  t.rec.frto_new_sent = false;
  if (!t.sack_ok) {
    // Go back N (RFC 5681 3.1 / RFC 6298 5.4): resend from SND.UNA.
    t.sb.reset(t.snd_una);
    t.snd_nxt = t.snd_una;
    return;
  }
  if (t.retries > 1) {
    // A second RTO in a row: the receiver may have dropped what it SACKed
    // (reneging, RFC 2018 8), so nothing it reported is trusted any more.
    t.sb.reset(t.snd_una);
    for (uint32_t i = 0; i < t.txr.size(); ++i)
      t.txr.at(i).flags &= static_cast<uint8_t>(~TxRecord::kSacked);
    t.rec.sacked_segs = 0;
  }
  // Everything not SACKed is lost; it goes again as the window allows, and
  // SACKed data is not sent twice (RFC 6675 5.1 allows keeping the scoreboard).
  mark_unsacked_lost(t);
}

// ---- timers ----

void Tcp::arm_rto(Tcb &t) {
  t.rec.timer = XmitTimer::kRto;
  ctx_.timers.arm(t.rexmit_timer, t.rtt.rto_ns());
}

void Tcp::arm_xmit_timer(Tcb &t) {
  if (t.persist) return;
  if (t.snd_una == t.snd_max) {
    if (t.rec.timer != XmitTimer::kRto || !timing::TimerWheel::armed(t.rexmit_timer)) return;
    // An RTO with nothing outstanding is the retry of a send that found the
    // pool empty (output): leave it.
    return;
  }
  const uint64_t now = ctx_.clock.now_ns();
  if (t.rec.reo_deadline_ns != 0) {
    t.rec.timer = XmitTimer::kReorder;
    ctx_.timers.arm(t.rexmit_timer, t.rec.reo_deadline_ns > now ? t.rec.reo_deadline_ns - now : 1);
  } else if (tlp_eligible(t)) {
    t.rec.timer = XmitTimer::kProbe;
    ctx_.timers.arm(t.rexmit_timer, probe_timeout(t));
  } else {
    arm_rto(t);
  }
}

}  // namespace ix::net::tcp
