// The state of one TCP connection (RFC 9293 3.3.1 "transmission control
// block"), owned by one Tcp engine. Slots are made in blocks and reused.
//
// Memory per idle connection (established, nothing in flight or held), as
// measured by tests/unit/tcp_scale_test.cc on x86-64:
//   sizeof(Tcb)                      1152 B  (18 cache lines, aligned: the
//                                            slot header 24, TcbVars 488 of
//                                            which loss recovery (RACK-TLP,
//                                            PRR, undo) 152, congestion
//                                            control 80, RTT estimator 64;
//                                            the rings 96 and reassembly
//                                            queue 40 without storage; the
//                                            three timers 168; the SACK
//                                            scoreboard 288)
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
// 220 MiB for 100,000 connections held by two stacks at once (2,306 B per
// connection for both ends, ~90 B of it the test's own records). Before the
// rings became lazy a slot kept 4 KiB of send ring, 12 KiB of receive ring
// and 2.5 KiB of reassembly entries from its first use on: ~20 KiB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "mem/mbuf.hh"
#include "net/addr.hh"
#include "net/next_hop_cache.hh"
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
//
// Ordered by use: first what every segment and command of an established
// connection reads or writes (identity and state, the application's view,
// both sequence spaces, timestamps, ACK generation, RTT, congestion control
// and loss-recovery state), then what only set-up, teardown and rare paths
// touch. The SACK scoreboard (288 bytes, read only when SACK blocks arrive or
// recovery runs) is kept at the end of the slot (Tcb::sb), after the fields
// the slot keeps (handle check, rings, timers), which every message reads
// too. At 100,000 connections every message finds its control blocks cold:
// the hot part spans the first lines of the slot instead of all of it. The
// static_asserts below keep it so.
struct TcbVars {
  // ---- hot: read or written for every segment ----
  Ipv4Addr local;
  Ipv4Addr remote;
  uint16_t lport = 0;
  uint16_t rport = 0;
  uint16_t flow_group = 0;  // RSS group of the arriving direction (set by Tcp::new_tcb)
  TcpState state = TcpState::kClosed;
  uint8_t unacked_segs = 0;  // full-sized segments received since our last ACK

  // The application's view.
  TcpEvents *ev = nullptr;
  uint64_t cookie = 0;
  bool accepted = true;       // events flow (active opens, accepted passive ones)
  bool app_gone = false;      // on_dead reported (or app aborted): handle is stale
  bool fin_received = false;  // peer FIN in sequence
  bool fin_reported = false;  // ... and told to the application
  bool close_requested = false;
  bool coalescing = false;
  bool keepalive = false;
  bool ts_ok = false;
  bool sack_ok = false;
  bool in_recovery = false;
  bool recover_pending = false;  // recover still holds fast retransmit back
  bool persist = false;          // the retransmission timer is probing a zero window
  bool rtt_timing = false;       // timing one segment (no timestamps): Karn's algorithm
  uint8_t snd_wscale = 0;
  uint8_t rcv_wscale = 0;
  uint16_t mss = 536;  // largest payload we send
  // Cold, but it fills the hole before the next 4-byte field: flow-group
  // moves the connection went through (numbers its move events; wraps).
  uint16_t moves = 0;

  // Send sequence space.
  Seq snd_una = 0;
  Seq snd_nxt = 0;
  Seq snd_max = 0;  // highest sequence sent + 1 (snd_nxt drops back after an RTO)
  Seq snd_wl1 = 0;
  Seq snd_wl2 = 0;
  uint32_t snd_wnd = 0;  // bytes, scaled
  uint32_t max_snd_wnd = 0;
  // Application memory not yet acknowledged; its first byte has sequence
  // sq_seq (== snd_una once the SYN is acknowledged), sq_bytes in all.
  Seq sq_seq = 0;
  uint32_t sq_bytes = 0;

  // Receive sequence space.
  Seq rcv_nxt = 0;
  Seq rcv_adv = 0;  // right edge of the window we advertised
  uint32_t rcv_buf = 0;
  uint32_t rq_reported = 0;        // chunks at the front already passed to on_recv
  uint32_t rq_reported_bytes = 0;  // ... and their bytes the application has not returned
  uint32_t rq_bytes = 0;           // unconsumed bytes in rq

  // Timestamps and ACKs.
  uint32_t ts_recent = 0;
  Seq last_ack_sent = 0;

  // The way to the peer, for every segment sent (the stack fills it).
  NextHopCache nh;

  // Loss recovery and congestion.
  uint32_t dupacks = 0;
  Seq recover = 0;       // snd_max when recovery (or an RTO) began (RFC 6582)
  uint32_t retries = 0;  // consecutive RTOs (or SYN retransmissions)
  Seq rtt_seq = 0;
  uint64_t rtt_start_ns = 0;
  uint64_t last_rx_ns = 0;  // for keep-alive and the FIN_WAIT_2 timeout
  RttEstimator rtt{RttConfig{}};
  CongestionControl cc;
  RecoveryVars rec;  // RACK-TLP, PRR, undo (tcp_recovery.cc)

  // ---- cold: set-up, teardown and rare paths (the SACK scoreboard is at
  // the end of the slot, Tcb::sb) ----
  Seq iss = 0;
  Seq irs = 0;
  bool passive = false;
  bool knocked = false;  // on_knock reported; waiting for accept/reject
  bool ws_ok = false;
  bool ooo_fin = false;  // a FIN arrived beyond a gap, at ooo_fin_seq
  Seq ooo_fin_seq = 0;
  uint32_t retransmits = 0;  // segments sent again over the connection's life (any cause)
  uint32_t ka_sent = 0;      // unanswered keep-alive probes

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
// What a slot keeps across uses, read by every lookup: by handle (in_use,
// generation) and by 4-tuple (hash_next, while walking a chain past other
// connections). First in the slot, so a lookup reads the line that also
// holds the connection's identity and state.
struct TcbSlot {
  uint32_t slot = 0;
  uint32_t generation = 1;  // 24 bits, never 0; bumped when the slot is freed
  uint32_t hash_next = UINT32_MAX;
  bool in_use = false;
  bool hashed = false;
  Tcp *tcp = nullptr;
};

// Cache-line aligned, so a slot's lines are its own and its hot part starts
// a line (slots are made in blocks, ConnTable).
struct alignas(64) Tcb : TcbSlot, TcbVars {
  Tcb() = default;
  Tcb(const Tcb &) = delete;
  Tcb &operator=(const Tcb &) = delete;

  void reset_vars() {
    static_cast<TcbVars &>(*this) = TcbVars{};
    sb = SackScoreboard{};
    oow_ack_ns = 0;
    tw_prev = tw_next = nullptr;
  }

  Ring<SendChunk> sq;  // application memory referenced, oldest first
  Ring<RecvChunk> rq;  // in-order data held for the application
  Ring<TxRecord> txr;  // segments sent and not yet cumulatively acknowledged
  ReassemblyQueue ooo;

  // Timers (arg = this).
  timing::Timer rexmit_timer;  // retransmission, or zero-window probe when persist
  timing::Timer delack_timer;
  timing::Timer wait_timer;  // TIME_WAIT, FIN_WAIT_2 timeout, and keep-alive while established

  // Per use (reset with the TcbVars), but cold: see TcbVars (full to its
  // 8 lines).
  SackScoreboard sb;
  // When an out-of-window ACK was last answered (TcpConfig::oow_ack_interval_ns).
  uint64_t oow_ack_ns = 0;
  // TIME_WAIT connections in the order they entered it (Tcp::time_wait_*),
  // so that a full table can give the oldest one up for a new connection.
  Tcb *tw_prev = nullptr;
  Tcb *tw_next = nullptr;

  // The engine's list of connections holding out-of-order data, which it
  // reclaims from when its pool runs low (Tcp::reclaim_out_of_order): slot
  // indexes of the neighbours, UINT32_MAX at the ends. Touched only when
  // `ooo` turns empty or non-empty.
  uint32_t ooo_prev = UINT32_MAX;
  uint32_t ooo_next = UINT32_MAX;
};

// The layout the comments above describe: the slot header and the
// connection's identity in the first line, all per-use scalars (the
// per-segment ones first) in the first 8 cache lines of the slot, the rings
// and the two per-segment timers right after them.
static_assert(std::is_standard_layout_v<TcbVars>);
static_assert(sizeof(TcbSlot) == 24);
static_assert(sizeof(TcbSlot) + offsetof(TcbVars, state) < 64,
              "a lookup must find the identity in the slot's first line");
static_assert(sizeof(TcbSlot) + sizeof(TcbVars) <= 8 * 64, "TcbVars outgrew 8 cache lines");
static_assert(sizeof(Tcb) % 64 == 0);

}  // namespace ix::net::tcp
