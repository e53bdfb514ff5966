#include "net/tcp/conn_info.hh"

namespace ix::net::tcp {

ConnInfo conn_info(const Tcb &t) {
  ConnInfo c;
  c.local = t.local;
  c.remote = t.remote;
  c.lport = t.lport;
  c.rport = t.rport;
  c.state = t.state;
  c.flow_group = t.flow_group;
  c.cc = t.cc.algorithm();
  c.mss = t.mss;
  c.cwnd = t.cc.cwnd();
  c.ssthresh = t.cc.ssthresh();
  c.srtt_ns = t.rtt.has_sample() ? t.rtt.srtt_ns() : 0;
  c.rttvar_ns = t.rtt.has_sample() ? t.rtt.rttvar_ns() : 0;
  c.rto_ns = t.rtt.rto_ns();
  c.in_flight = t.snd_max - t.snd_una;
  c.retransmits = t.retransmits;
  c.send_queue = t.sq_bytes;
  c.recv_queue = t.rq_bytes;
  c.snd_wnd = t.snd_wnd;
  c.rcv_wnd = seq_gt(t.rcv_adv, t.rcv_nxt) ? t.rcv_adv - t.rcv_nxt : 0;
  c.in_recovery = t.in_recovery;
  return c;
}

uint32_t collect_conn_info(const ConnTable &table, uint32_t first, uint32_t count,
                           std::vector<ConnInfo> &out) {
  const uint32_t end = table.slots_made();
  uint32_t i = first;
  for (; i < end && i - first < count; ++i)
    if (const Tcb *t = table.in_use_slot(i)) out.push_back(conn_info(*t));
  return i;
}

}  // namespace ix::net::tcp
