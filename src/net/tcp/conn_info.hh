// A copy of what one connection's state says about it, for the live
// per-connection view (`ixctl PATH conns`, like Linux's `ss -ti`). Taken on
// the connection's own elastic thread, read anywhere.
#pragma once

#include <cstdint>
#include <vector>

#include "net/addr.hh"
#include "net/tcp/conn_table.hh"
#include "net/tcp/tcb.hh"

namespace ix::net::tcp {

struct ConnInfo {
  Ipv4Addr local;
  Ipv4Addr remote;
  uint16_t lport = 0;
  uint16_t rport = 0;
  TcpState state = TcpState::kClosed;
  uint16_t flow_group = 0;
  CcAlgorithm cc = CcAlgorithm::kNewReno;
  uint16_t mss = 0;
  uint32_t cwnd = 0;
  uint32_t ssthresh = 0;  // kNoSsthresh: none set yet (no loss seen)
  uint64_t srtt_ns = 0;   // 0 with no RTT sample yet
  uint64_t rttvar_ns = 0;
  uint64_t rto_ns = 0;       // with backoff
  uint32_t in_flight = 0;    // sent, not acknowledged (SND.MAX - SND.UNA)
  uint32_t retransmits = 0;  // over the connection's life
  uint32_t send_queue = 0;   // application bytes not yet acknowledged
  uint32_t recv_queue = 0;   // received bytes the application has not consumed
  uint32_t snd_wnd = 0;      // the peer's window
  uint32_t rcv_wnd = 0;      // what we last advertised (RCV.ADV - RCV.NXT)
  bool in_recovery = false;

  static constexpr uint32_t kNoSsthresh = CongestionControl::kMaxCwnd;
};

ConnInfo conn_info(const Tcb &t);

// Appends the connections in slots [first, first + count) of `table` to
// `out`; returns the next slot to look at, which is table.slots_made() once
// every slot was visited. Walking the table this way lets the caller bound
// the work of one call.
uint32_t collect_conn_info(const ConnTable &table, uint32_t first, uint32_t count,
                           std::vector<ConnInfo> &out);

}  // namespace ix::net::tcp
