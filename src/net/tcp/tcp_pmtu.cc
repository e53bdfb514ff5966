// Path MTU discovery (RFC 1191) for TCP: what to do with an ICMP
// "fragmentation needed" that quotes one of our segments.
//
// ICMP errors are easy to forge, so a report is believed only as RFC 5927
// advises: it must name a synchronized connection and quote a sequence
// number we have sent and not seen acknowledged ([SND.UNA, SND.MAX)), and
// the MTU must be at least kMinPathMtu. It can only lower the MSS, never
// raise it (nothing here probes for a larger path later: a connection keeps
// its lowered MSS; new connections start from the interface MTU, as there is
// no route cache to remember the path in).
//
// A router that reports no MTU (0, from before RFC 1191) gets the plateau
// guess of RFC 1191 section 7, made by the ICMP layer from the quoted
// datagram's length (icmp.cc), and the same checks.
//
// The segments the router dropped were not lost to congestion, so the
// congestion window is not reduced (RFC 1191, as Linux's
// tcp_simple_retransmit): everything outstanding is sent again at the new
// size, the window counted in the new segments.
#include <algorithm>

#include "net/tcp/tcp.hh"

namespace ix::net::tcp {

namespace {
constexpr uint16_t kTimestampOptionLen = 12;  // with its two NOPs, as every segment carries it
}  // namespace

void Tcp::icmp_frag_needed(Ipv4Addr remote, uint16_t rport, uint16_t lport, Seq seq,
                           uint16_t next_hop_mtu) {
  Tcb *t = table_.lookup(local_, lport, remote, rport);
  // A connection still opening has sent only SYNs, which are far below any
  // MTU worth believing; one in TIME_WAIT sends nothing more.
  if (t == nullptr || !t->synchronized() || t->state == TcpState::kTimeWait) {
    ++stats_.pmtu_no_conn;
    return;
  }
  if (seq_lt(seq, t->snd_una) || seq_geq(seq, t->snd_max)) {
    ++stats_.pmtu_bad_seq;
    return;
  }
  if (next_hop_mtu < kMinPathMtu) {
    ++stats_.pmtu_too_small;
    return;
  }
  const uint32_t mss = uint32_t{next_hop_mtu} - kIpv4HeaderLen - kTcpHeaderLen -
                       (t->ts_ok ? kTimestampOptionLen : 0u);
  if (mss >= t->mss) {
    ++stats_.pmtu_not_lower;
    return;
  }
  ++stats_.pmtu_lowered;
  t->mss = static_cast<uint16_t>(mss);
  t->cc.set_mss(mss);
  retransmit_for_smaller_mss(*t);
}

void Tcp::retransmit_for_smaller_mss(Tcb &t) {
  // Nothing outstanding (or only a zero-window probe): the next segment
  // simply goes out at the new size.
  if (t.snd_una == t.snd_max || t.persist) return;
  // Send again what is outstanding, as after a timeout but keeping cwnd and
  // ssthresh (the path did not congest): a recovery in progress is
  // forgotten, and NewReno's recover point moves up so that duplicate ACKs
  // from the resent data start no recovery of their own (RFC 6582 4).
  t.in_recovery = false;
  t.dupacks = 0;
  t.recover = t.snd_max;
  t.recover_pending = true;
  t.rtt_timing = false;  // Karn: no sample from what is sent again
  t.rec.tlp_out = false;
  t.rec.reo_deadline_ns = 0;
  if (t.sack_ok) {
    // Every segment not SACKed was too large and is lost: they go again in
    // pieces of the new size (retransmit_record), as the window allows.
    t.rec.in_loss = true;
    t.rec.frto = false;
    t.rec.loss_start_ns = ctx_.clock.now_ns();
    mark_unsacked_lost(t);
  } else {
    t.sb.reset(t.snd_una);
    t.snd_nxt = t.snd_una;
  }
  output(t);
  if (!timing::TimerWheel::armed(t.rexmit_timer)) arm_rto(t);
}

}  // namespace ix::net::tcp
