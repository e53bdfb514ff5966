// ICMP (RFC 792) as a host needs it: answer echo requests (in place, without
// allocating), report unreachable ports to senders, rate-limited by a token
// bucket and never about broadcasts or ICMP errors (RFC 1122 3.2.2), and pass
// "fragmentation needed" (RFC 1191) about our TCP segments to the TCP engine,
// which decides whether to believe it (tcp/tcp_pmtu.cc). Other errors are
// dropped as unsupported.
#pragma once

#include <cstdint>

#include "mem/mbuf.hh"
#include "net/ipv4.hh"
#include "net/stack_context.hh"
#include "net/token_bucket.hh"
#include "net/wire.hh"

namespace ix::net {

namespace tcp {
class Tcp;
}

struct IcmpHeader {
  uint8_t type;
  uint8_t code;
  Be16 checksum;
  Be16 id;   // echo; "unused" in errors
  Be16 seq;  // echo; "unused" in errors
};
static_assert(sizeof(IcmpHeader) == 8);

constexpr uint8_t kIcmpEchoReply = 0;
constexpr uint8_t kIcmpDestUnreachable = 3;
constexpr uint8_t kIcmpEchoRequest = 8;
constexpr uint8_t kIcmpCodePortUnreachable = 3;
constexpr uint8_t kIcmpCodeFragNeeded = 4;

// RFC 1191 7: when a router reports "fragmentation needed" with a next-hop
// MTU of 0 (routers older than RFC 1191), the largest plateau of its table
// below the quoted datagram's total length; 0 when there is none.
uint16_t rfc1191_plateau_below(uint16_t total_len);

// True for ICMP types that report errors (which must never cause another).
bool icmp_is_error(uint8_t type);

class Icmp {
 public:
  Icmp(StackContext &ctx, const Ipv4Subnet &subnet, Ipv4Output &ip_out);

  // An accepted datagram carrying ICMP (Ethernet + 20-byte IPv4 header in
  // front). Takes ownership.
  void input(mem::Mbuf *m, const Ipv4Input &ip);

  // Reports to the sender of the datagram in m that its destination port is
  // unreachable, if policy and the rate limit allow. Takes ownership of m;
  // it is rewritten into the error in place when its headroom allows.
  void port_unreachable(mem::Mbuf *m, const Ipv4Input &ip);

  // Where "fragmentation needed" about TCP segments goes (none: dropped as
  // unsupported).
  void set_tcp(tcp::Tcp *t) { tcp_ = t; }

 private:
  // Type 3 code 4: checks the quoted datagram and hands its TCP tuple,
  // sequence number and the next-hop MTU to the TCP engine. Takes ownership.
  void frag_needed(mem::Mbuf *m, const Ipv4Input &ip);

  // Completes an ICMP message of icmp_len bytes at offset 34 of m with
  // Ethernet and IPv4 headers addressed back to the datagram's sender.
  void send_back(mem::Mbuf *m, const MacAddr &to_mac, Ipv4Addr to, uint16_t icmp_len);

  StackContext &ctx_;
  const Ipv4Subnet &subnet_;
  Ipv4Output &ip_out_;
  TokenBucket errors_;
  tcp::Tcp *tcp_ = nullptr;
};

}  // namespace ix::net
