// Per-connection state of loss recovery beyond RFC 6675's basics: RACK-TLP
// (RFC 8985), Proportional Rate Reduction (RFC 6937), the undo of spurious
// retransmissions by D-SACK (RFC 2883, RFC 3708), timestamps (Eifel, RFC
// 3522) and F-RTO (RFC 5682). The logic is in tcp_recovery.cc.
#pragma once

#include <cstdint>

#include "net/tcp/seq.hh"

namespace ix::net::tcp {

// What the retransmission timer is counting down to. One timer serves all
// three (as in Linux): at most one is pending, and each is re-derived from
// the connection's state whenever it is re-armed.
enum class XmitTimer : uint8_t {
  kRto,      // RFC 6298 retransmission timeout
  kReorder,  // RACK: a segment becomes lost once its reordering window passes
  kProbe,    // TLP: probe the tail of the flight before the RTO would
};

struct RecoveryVars {
  XmitTimer timer = XmitTimer::kRto;

  // ---- RACK (RFC 8985 6) ----
  // The most recently sent segment known to be delivered (ACKed or SACKed).
  bool rack_valid = false;
  Seq rack_end = 0;
  uint64_t rack_xmit_ns = 0;
  uint64_t rack_rtt_ns = 0;
  uint64_t min_rtt_ns = UINT64_MAX;
  Seq rack_fack = 0;         // highest end of a first transmission delivered
  bool reord = false;        // reordering seen: keep a reordering window
  uint8_t reo_wnd_mult = 1;  // grows by one per round trip that sees D-SACK
  uint8_t reo_wnd_persist = 0;
  bool dsack_round_open = false;
  Seq dsack_round = 0;
  uint64_t reo_deadline_ns = 0;  // when the reordering timer should fire (0: none)
  uint32_t lost_bytes = 0;       // in records marked lost (not yet sent again)
  uint32_t sacked_segs = 0;      // records wholly SACKed

  // After an RTO on a SACK connection: every record not SACKed was marked
  // lost and is sent again as the window allows, until SND.UNA reaches
  // `recover` (the loss state; fast recovery is TcbVars::in_recovery).
  bool in_loss = false;

  // ---- TLP (RFC 8985 7) ----
  bool tlp_out = false;  // a probe is outstanding (one per episode)
  bool tlp_retrans = false;
  Seq tlp_end = 0;  // SND.MAX when the probe was sent

  // ---- PRR (RFC 6937) ----
  uint32_t prr_delivered = 0;
  uint32_t prr_out = 0;
  uint32_t recover_fs = 0;
  int64_t prr_sndcnt = 0;  // bytes this ACK allows to be sent

  // ---- undo of spurious retransmissions ----
  bool undo_armed = false;
  Seq undo_marker = 0;         // SND.UNA when the episode began
  uint32_t undo_retrans = 0;   // retransmissions not yet shown spurious by D-SACK
  bool retransmitted = false;  // the episode retransmitted something
  uint32_t retrans_tsval = 0;  // our TSval on the episode's first retransmission
  uint32_t prior_cwnd = 0;     // what undo restores
  uint32_t prior_ssthresh = 0;

  // ---- F-RTO (RFC 5682), SACK-enhanced as Linux does it ----
  bool frto = false;           // the RTO may be spurious: watch the next ACKs
  bool frto_new_sent = false;  // step 2b: new data went out instead of retransmissions
  uint64_t loss_start_ns = 0;  // when the RTO fired

  // ---- D-SACK to send (RFC 2883): a duplicate we received ----
  bool dsack_pending = false;
  Seq dsack_left = 0;
  Seq dsack_right = 0;
};

}  // namespace ix::net::tcp
