// The per-connection view as text (one line per connection, in the manner
// of `ss -ti`) and as JSON.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "net/tcp/conn_info.hh"

namespace ix::control {

struct ThreadConns {
  unsigned thread = 0;
  std::vector<net::tcp::ConnInfo> conns;
};

// One line per connection:
//   STATE LOCAL:PORT REMOTE:PORT thread:N group:G cc:NAME mss:B cwnd:B
//   ssthresh:B|- srtt_us:U rttvar_us:U rto_ms:M in_flight:B retrans:N
//   send_q:B recv_q:B snd_wnd:B rcv_wnd:B [recovery]
// (B bytes; ssthresh "-" until a loss set it; srtt and rttvar 0 before the
// first RTT sample, and while the RTT stays below the 1 ms resolution of
// the timestamps the samples come from).
void write_conn_line(std::ostream &os, unsigned thread, const net::tcp::ConnInfo &c);
void write_conns_text(std::ostream &os, const std::vector<ThreadConns> &threads);

// {"conns":[{"thread":0,"state":"ESTABLISHED","local":"10.0.0.2:80",...}],
//  "errors":["thread 1: ..."]}: the same fields, ssthresh null until set.
void write_conns_json(std::ostream &os, const std::vector<ThreadConns> &threads,
                      const std::vector<std::string> &errors);

// s as the body of a JSON string (quotes, backslashes and control
// characters escaped).
std::string json_escape(const std::string &s);

}  // namespace ix::control
