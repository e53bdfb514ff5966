// A received segment after validation: the parsed header fields, its
// options, and where its payload lies in the frame. Internal to the engine.
#pragma once

#include <cstdint>

#include "mem/mbuf.hh"
#include "net/tcp/tcp.hh"

namespace ix::net::tcp {

struct Tcp::Segment {
  Ipv4Addr src;  // the peer
  Ipv4Addr dst;  // us
  uint16_t sport;
  uint16_t dport;
  Seq seq;
  Seq ack;
  uint8_t flags;
  uint16_t wnd;  // as on the wire (unscaled)
  TcpOptions opt;
  const uint8_t *data;
  uint32_t len;
  // The frame; processing sets it to nullptr when it keeps the buffer (data
  // held for the application or out of order). Whoever is left holding it frees it.
  mem::Mbuf *m;

  bool has(uint8_t f) const { return (flags & f) != 0; }
  // Sequence space the segment occupies (SYN and FIN count one each).
  uint32_t seg_len() const { return len + (has(kSyn) ? 1 : 0) + (has(kFin) ? 1 : 0); }
};

}  // namespace ix::net::tcp
