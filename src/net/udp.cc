#include "net/udp.hh"

#include "net/checksum.hh"

namespace ix::net {

Udp::Udp(StackContext &ctx, Icmp &icmp)
    : ctx_(ctx), icmp_(icmp), ports_(new UdpReceiver *[65536]()) {}

bool Udp::bind(uint16_t port, UdpReceiver *r) {
  if (port == 0 || r == nullptr || ports_[port] != nullptr) return false;
  ports_[port] = r;
  return true;
}

bool Udp::unbind(uint16_t port) {
  if (ports_[port] == nullptr) return false;
  ports_[port] = nullptr;
  return true;
}

void Udp::input(mem::Mbuf *m, const Ipv4Input &ip) {
  if (ip.payload_len < kUdpHeaderLen) return ctx_.drop(m, DropReason::kUdpTruncated);
  const auto *h = reinterpret_cast<const UdpHeader *>(m->data() + ip.payload_off);
  const uint16_t len = h->len.get();
  if (len < kUdpHeaderLen || len > ip.payload_len) return ctx_.drop(m, DropReason::kUdpBadLength);
  // A zero checksum means the sender did not compute one (allowed over IPv4).
  if (h->checksum.get() != 0 && (m->ol_flags & mem::kRxL4CsumGood) == 0) {
    const uint16_t sum =
        ones_add(pseudo_header_sum(ip.src, ip.dst, kIpProtoUdp, len), ones_sum(h, len));
    if (sum != 0xffff) return ctx_.drop(m, DropReason::kUdpBadChecksum);
  }
  m->trim_to(ip.payload_off + len);
  m->l4_len = kUdpHeaderLen;

  const uint16_t dst_port = h->dst_port.get();
  UdpReceiver *r = ports_[dst_port];
  if (r == nullptr) {
    ctx_.counters.drop(DropReason::kUdpNoPort);
    return icmp_.port_unreachable(m, ip);
  }
  if (ctx_.pool.holding_limit()) {
    // Only the buffers kept for reception are left: a datagram the
    // application would hold must not take them (the sender may retry).
    ctx_.drop(m, DropReason::kUdpPoolLow);
    return;
  }
  UdpDatagram d;
  d.src = ip.src;
  d.dst = ip.dst;
  d.src_port = h->src_port.get();
  d.dst_port = dst_port;
  d.payload = reinterpret_cast<const uint8_t *>(h) + kUdpHeaderLen;
  d.len = static_cast<uint16_t>(len - kUdpHeaderLen);
  ++ctx_.counters.udp_rx;
  r->on_udp(m, d);
}

void Udp::write_header(mem::Mbuf *frame, uint16_t l4_off, Ipv4Addr src, Ipv4Addr dst,
                       uint16_t src_port, uint16_t dst_port, uint16_t udp_len) {
  auto *h = reinterpret_cast<UdpHeader *>(frame->data() + l4_off);
  h->src_port.set(src_port);
  h->dst_port.set(dst_port);
  h->len.set(udp_len);
  const uint16_t pseudo = pseudo_header_sum(src, dst, kIpProtoUdp, udp_len);
  frame->l4_len = kUdpHeaderLen;
  if (ctx_.caps.tx_l4_csum) {
    // The NIC adds the datagram's sum to the preset pseudo-header sum.
    h->checksum.set(pseudo);
    frame->ol_flags |= mem::kTxL4Csum;
    return;
  }
  h->checksum.set(0);
  uint16_t c = static_cast<uint16_t>(~ones_add(pseudo, ones_sum_chain(frame, l4_off, udp_len)));
  // 0 means "no checksum" in UDP; its one's-complement twin says the same sum.
  h->checksum.set(c == 0 ? 0xffff : c);
}

}  // namespace ix::net
