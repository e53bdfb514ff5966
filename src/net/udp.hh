// UDP (RFC 768): validation and delivery of received datagrams to the
// receiver bound to their port, and the UDP header of outgoing datagrams.
#pragma once

#include <cstdint>
#include <memory>

#include "mem/mbuf.hh"
#include "net/icmp.hh"
#include "net/ipv4.hh"
#include "net/stack_context.hh"
#include "net/wire.hh"

namespace ix::net {

struct UdpHeader {
  Be16 src_port;
  Be16 dst_port;
  Be16 len;
  Be16 checksum;
};
static_assert(sizeof(UdpHeader) == 8);

constexpr uint16_t kUdpHeaderLen = sizeof(UdpHeader);

class Udp {
 public:
  Udp(StackContext &ctx, Icmp &icmp);

  bool bind(uint16_t port, UdpReceiver *r);
  bool unbind(uint16_t port);
  // Who receives on `port` (nullptr: nobody).
  const UdpReceiver *owner(uint16_t port) const { return ports_[port]; }

  // An accepted datagram carrying UDP. Takes ownership: the frame goes to
  // the bound receiver, or is answered with port unreachable and dropped.
  void input(mem::Mbuf *m, const Ipv4Input &ip);

  // Fills the UDP header that sits l4_off bytes into frame, for a datagram
  // of udp_len bytes (header included) that follows it through the chain,
  // and its checksum (in software, or preset for the NIC to finish).
  void write_header(mem::Mbuf *frame, uint16_t l4_off, Ipv4Addr src, Ipv4Addr dst,
                    uint16_t src_port, uint16_t dst_port, uint16_t udp_len);

 private:
  StackContext &ctx_;
  Icmp &icmp_;
  // One slot per port: a constant-time lookup for 512 KiB per stack.
  std::unique_ptr<UdpReceiver *[]> ports_;
};

}  // namespace ix::net
