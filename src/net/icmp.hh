// ICMP (RFC 792) as a host needs it: answer echo requests (in place, without
// allocating), and report unreachable ports to senders, rate-limited by a
// token bucket and never about broadcasts or ICMP errors (RFC 1122 3.2.2).
#pragma once

#include <cstdint>

#include "mem/mbuf.hh"
#include "net/ipv4.hh"
#include "net/stack_context.hh"
#include "net/token_bucket.hh"
#include "net/wire.hh"

namespace ix::net {

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

 private:
  // Completes an ICMP message of icmp_len bytes at offset 34 of m with
  // Ethernet and IPv4 headers addressed back to the datagram's sender.
  void send_back(mem::Mbuf *m, const MacAddr &to_mac, Ipv4Addr to, uint16_t icmp_len);

  StackContext &ctx_;
  const Ipv4Subnet &subnet_;
  Ipv4Output &ip_out_;
  TokenBucket errors_;
};

}  // namespace ix::net
