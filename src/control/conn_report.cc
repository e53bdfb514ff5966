#include "control/conn_report.hh"

#include <cstdio>

namespace ix::control {

namespace {
using net::tcp::ConnInfo;

std::string endpoint(net::Ipv4Addr a, uint16_t port) {
  return a.to_string() + ":" + std::to_string(port);
}
}  // namespace

void write_conn_line(std::ostream &os, unsigned thread, const ConnInfo &c) {
  os << net::tcp::tcp_state_name(c.state) << ' ' << endpoint(c.local, c.lport) << ' '
     << endpoint(c.remote, c.rport) << " thread:" << thread << " group:" << c.flow_group
     << " cc:" << net::tcp::cc_algorithm_name(c.cc) << " mss:" << c.mss << " cwnd:" << c.cwnd
     << " ssthresh:";
  if (c.ssthresh == ConnInfo::kNoSsthresh)
    os << '-';
  else
    os << c.ssthresh;
  os << " srtt_us:" << c.srtt_ns / 1000 << " rttvar_us:" << c.rttvar_ns / 1000
     << " rto_ms:" << c.rto_ns / 1'000'000 << " in_flight:" << c.in_flight
     << " retrans:" << c.retransmits << " send_q:" << c.send_queue << " recv_q:" << c.recv_queue
     << " snd_wnd:" << c.snd_wnd << " rcv_wnd:" << c.rcv_wnd;
  if (c.in_recovery) os << " recovery";
  os << '\n';
}

void write_conns_text(std::ostream &os, const std::vector<ThreadConns> &threads) {
  for (const ThreadConns &t : threads)
    for (const ConnInfo &c : t.conns) write_conn_line(os, t.thread, c);
}

void write_conns_json(std::ostream &os, const std::vector<ThreadConns> &threads,
                      const std::vector<std::string> &errors) {
  os << "{\"conns\":[";
  bool first = true;
  for (const ThreadConns &t : threads) {
    for (const ConnInfo &c : t.conns) {
      os << (first ? "" : ",") << "{\"thread\":" << t.thread << ",\"state\":\""
         << net::tcp::tcp_state_name(c.state) << "\",\"local\":\"" << endpoint(c.local, c.lport)
         << "\",\"remote\":\"" << endpoint(c.remote, c.rport)
         << "\",\"flow_group\":" << c.flow_group << ",\"cc\":\""
         << net::tcp::cc_algorithm_name(c.cc) << "\",\"mss\":" << c.mss << ",\"cwnd\":" << c.cwnd
         << ",\"ssthresh\":";
      if (c.ssthresh == ConnInfo::kNoSsthresh)
        os << "null";
      else
        os << c.ssthresh;
      os << ",\"srtt_us\":" << c.srtt_ns / 1000 << ",\"rttvar_us\":" << c.rttvar_ns / 1000
         << ",\"rto_ms\":" << c.rto_ns / 1'000'000 << ",\"in_flight\":" << c.in_flight
         << ",\"retransmits\":" << c.retransmits << ",\"send_queue\":" << c.send_queue
         << ",\"recv_queue\":" << c.recv_queue << ",\"snd_wnd\":" << c.snd_wnd
         << ",\"rcv_wnd\":" << c.rcv_wnd
         << ",\"in_recovery\":" << (c.in_recovery ? "true" : "false") << "}";
      first = false;
    }
  }
  os << "],\"errors\":[";
  for (size_t i = 0; i < errors.size(); ++i)
    os << (i ? "," : "") << '"' << json_escape(errors[i]) << '"';
  os << "]}\n";
}

std::string json_escape(const std::string &s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace ix::control
