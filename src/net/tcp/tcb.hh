// The state of one TCP connection (RFC 9293 3.3.1 "transmission control
// block"), owned by one Tcp engine. Slots are made in blocks and reused.
//
// Memory per idle connection (established, nothing in flight or held), as
// measured by tests/unit/tcp_scale_test.cc on x86-64:
//   sizeof(Tcb)                      1104 B  (TcbVars 800 B, of which the SACK
//                                            scoreboard 288, loss recovery
//                                            (RACK-TLP, PRR, undo) 152,
//                                            congestion control 80, RTT
//                                            estimator 64; the three timers
//                                            144; the rings and reassembly
//                                            queue without storage)
//   table: hash bucket + free-list entry  8 B
//   send/receive/sent-segment ring
//   storage                             0 B  (taken from the engine's arenas
//                                            only while data is queued or
//                                            unacknowledged)
//   reassembly entries                  0 B  (made at the first out-of-order
//                                            segment of the slot's life, grown
//                                            as gaps need)
//   ixev, if the application uses it: Slot 200 B (ixev/conn_slot.hh)
// i.e. about 1.1 KiB per connection per stack; the process RSS grew by
// 235 MiB for 100,000 connections held by two stacks at once (2,463 B per
// connection for both ends, ~90 B of it the test's own records). Before the
// rings became lazy a slot kept 4 KiB of send ring, 12 KiB of receive ring
// and 2.5 KiB of reassembly entries from its first use on: ~20 KiB.
#pragma once

#include <cstdint>
#include <memory>

#include "mem/mbuf.hh"
#include "net/addr.hh"
#include "net/tcp/congestion_control.hh"
#include "net/tcp/reassembly_queue.hh"
#include "net/tcp/recovery_vars.hh"
#include "net/tcp/ring_arena.hh"
#include "net/tcp/rtt_estimator.hh"
#include "net/tcp/sack_scoreboard.hh"
#include "net/tcp/seq.hh"
#include "net/tcp/tx_record.hh"
#include "timing/timer_wheel.hh"

namespace ix::net::tcp {

class Tcp;
class TcpEvents;

enum class TcpState : uint8_t {
  kClosed,
  kSynSent,
  kSynReceived,
  kEstablished,
  kFinWait1,
  kFinWait2,
  kCloseWait,
  kClosing,
  kLastAck,
  kTimeWait,
};

const char *tcp_state_name(TcpState s);

// A piece of application memory handed to sendv, referenced until acknowledged.
struct SendChunk {
  const uint8_t *data;
  uint32_t len;
};

// In-order received bytes held for the application: [data, data + len) is
// the part not yet consumed with recv_done, inside mbuf m.
struct RecvChunk {
  mem::Mbuf *m;
  const uint8_t *data;
  uint32_t len;
};

struct Tcb;

// Everything about a connection that starts afresh with each use of a slot
// (reset by assigning a default-constructed TcbVars).
struct TcbVars {
  Ipv4Addr local;
  Ipv4Addr remote;
  uint16_t lport = 0;
  uint16_t rport = 0;
  uint16_t flow_group = 0;  // RSS group of the arriving direction (set by Tcp::new_tcb)
  TcpState state = TcpState::kClosed;

  // ---- the application's view ----
  TcpEvents *ev = nullptr;
  uint64_t cookie = 0;
  bool passive = false;
  bool knocked = false;       // on_knock reported; waiting for accept/reject
  bool accepted = true;       // events flow (active opens, accepted passive ones)
  bool app_gone = false;      // on_dead reported (or app aborted): handle is stale
  bool fin_received = false;  // peer FIN in sequence
  bool fin_reported = false;  // ... and told to the application
  bool close_requested = false;
  bool coalescing = false;
  bool keepalive = false;

  // ---- send sequence space ----
  Seq iss = 0;
  Seq snd_una = 0;
  Seq snd_nxt = 0;
  Seq snd_max = 0;  // highest sequence sent + 1 (snd_nxt drops back after an RTO)
  Seq snd_wl1 = 0;
  Seq snd_wl2 = 0;
  uint32_t snd_wnd = 0;  // bytes, scaled
  uint32_t max_snd_wnd = 0;
  uint8_t snd_wscale = 0;
  uint16_t mss = 536;  // largest payload we send
  // Application memory not yet acknowledged; its first byte has sequence
  // sq_seq (== snd_una once the SYN is acknowledged), sq_bytes in all.
  Seq sq_seq = 0;
  uint32_t sq_bytes = 0;

  // ---- receive sequence space ----
  Seq irs = 0;
  Seq rcv_nxt = 0;
  Seq rcv_adv = 0;  // right edge of the window we advertised
  uint8_t rcv_wscale = 0;
  uint32_t rcv_buf = 0;
  uint32_t rq_reported = 0;  // chunks at the front already passed to on_recv
  uint32_t rq_bytes = 0;     // unconsumed bytes in rq

  bool ooo_fin = false;  // a FIN arrived beyond a gap, at ooo_fin_seq
  Seq ooo_fin_seq = 0;

  // ---- options ----
  bool ws_ok = false;
  bool ts_ok = false;
  bool sack_ok = false;
  uint32_t ts_recent = 0;
  Seq last_ack_sent = 0;

  // ---- ACK generation ----
  uint8_t unacked_segs = 0;  // full-sized segments received since our last ACK

  // ---- loss recovery and congestion ----
  RttEstimator rtt{RttConfig{}};
  bool rtt_timing = false;  // timing one segment (no timestamps): Karn's algorithm
  Seq rtt_seq = 0;
  uint64_t rtt_start_ns = 0;
  CongestionControl cc;
  uint32_t dupacks = 0;
  bool in_recovery = false;
  Seq recover = 0;               // snd_max when recovery (or an RTO) began (RFC 6582)
  bool recover_pending = false;  // recover still holds fast retransmit back
  SackScoreboard sb;
  RecoveryVars rec;          // RACK-TLP, PRR, undo (tcp_recovery.cc)
  uint32_t retries = 0;      // consecutive RTOs (or SYN retransmissions)
  uint32_t retransmits = 0;  // segments sent again over the connection's life (any cause)
  bool persist = false;      // the retransmission timer is probing a zero window
  uint32_t ka_sent = 0;      // unanswered keep-alive probes
  uint64_t last_rx_ns = 0;   // for keep-alive

  // TIME_WAIT connections in the order they entered it (Tcp::time_wait_*),
  // so that a full table can give the oldest one up for a new connection.
  Tcb *tw_prev = nullptr;
  Tcb *tw_next = nullptr;

  bool synchronized() const {
    return state != TcpState::kClosed && state != TcpState::kSynSent &&
           state != TcpState::kSynReceived;
  }
  // One past the last byte the application gave us.
  Seq data_end() const { return sq_seq + sq_bytes; }
  // FIN has been sent at least once.
  bool fin_sent() const { return close_requested && seq_gt(snd_max, data_end()); }
};

// A connection slot: its per-use state plus what lives as long as the slot
// (timers; ring and reassembly storage come and go, see ring_arena.hh).
// Slots are made in blocks by ConnTable.
struct Tcb : TcbVars {
  Tcb() = default;
  Tcb(const Tcb &) = delete;
  Tcb &operator=(const Tcb &) = delete;

  void reset_vars() { static_cast<TcbVars &>(*this) = TcbVars{}; }

  uint32_t slot = 0;
  uint32_t generation = 1;  // 24 bits, never 0; bumped when the slot is freed
  uint32_t hash_next = UINT32_MAX;
  bool in_use = false;
  bool hashed = false;
  Tcp *tcp = nullptr;

  Ring<SendChunk> sq;  // application memory referenced, oldest first
  Ring<RecvChunk> rq;  // in-order data held for the application
  Ring<TxRecord> txr;  // segments sent and not yet cumulatively acknowledged
  ReassemblyQueue ooo;

  // Timers (arg = this).
  timing::Timer rexmit_timer;  // retransmission, or zero-window probe when persist
  timing::Timer delack_timer;
  timing::Timer wait_timer;  // TIME_WAIT, FIN_WAIT_2 timeout, and keep-alive while established
};

}  // namespace ix::net::tcp
