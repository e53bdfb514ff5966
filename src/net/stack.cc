// NetStack: the glue. input() reads top to bottom as the receive path
// (Ethernet -> ARP | IPv4 -> ICMP | UDP); udp_send() as the transmit path
// (route -> neighbour -> headers -> out or hold).
#include "net/stack.hh"

#include <algorithm>

#include "ix/syscall.h"
#include "net/arp.hh"
#include "net/ethernet.hh"
#include "net/icmp.hh"
#include "net/ipv4.hh"
#include "net/stack_context.hh"
#include "net/tcp/tcp.hh"
#include "net/udp.hh"

namespace ix::net {

namespace {
constexpr uint16_t kUdpFrameHeaders = kEthHeaderLen + kIpv4HeaderLen + kUdpHeaderLen;

MacAddr multicast_mac(Ipv4Addr group) {
  // RFC 1112 section 6.4: 01:00:5e and the low 23 bits of the group.
  return MacAddr{{0x01, 0x00, 0x5e, static_cast<uint8_t>((group.v >> 16) & 0x7f),
                  static_cast<uint8_t>(group.v >> 8), static_cast<uint8_t>(group.v)}};
}
}  // namespace

struct NetStack::Impl final : tcp::SegmentOutput {
  Impl(const StackConfig &cfg, mem::MbufPool &pool, const timing::Clock &clock,
       timing::TimerWheel &timers, FrameSink &sink, const LinkCaps &caps, StackCounters &counters)
      : ctx{cfg, pool, clock, timers, sink, caps, counters},
        subnet(cfg.addr, cfg.prefix_len, cfg.gateway),
        ip_out(caps.tx_ip_csum),
        arp(ctx, subnet),
        icmp(ctx, subnet, ip_out),
        udp(ctx, icmp),
        mtu(caps.mtu != 0 ? std::min(cfg.mtu, caps.mtu) : cfg.mtu),
        tcp(ctx, cfg.addr, mtu, *this, cfg.tcp) {
    icmp.set_tcp(&tcp);
  }

  void input(mem::Mbuf *m);
  void ipv4_input(mem::Mbuf *m);
  int udp_send(Ipv4Addr dst, uint16_t dst_port, uint16_t src_port, mem::Mbuf *payload);
  void output_segment(Ipv4Addr dst, mem::Mbuf *frame, uint16_t l4_len, NextHopCache *nh) override;

  StackContext ctx;
  Ipv4Subnet subnet;
  Ipv4Output ip_out;
  Arp arp;
  Icmp icmp;
  Udp udp;
  uint16_t mtu;
  tcp::Tcp tcp;
};

void NetStack::Impl::input(mem::Mbuf *m) {
  if (m == nullptr) return;
  ++ctx.counters.rx_frames;
  const EthInput eth = ethernet_accept(m, ctx.cfg.mac);
  if (!eth.ok) return ctx.drop(m, eth.reason);
  m->pkt_len = m->data_len;  // one segment: make the two lengths agree
  m->l2_len = kEthHeaderLen;
  if (eth.ether_type == kEtherTypeArp) return arp.input(m);
  ipv4_input(m);
}

void NetStack::Impl::ipv4_input(mem::Mbuf *m) {
  Ipv4Input ip;
  const Ipv4Verdict v = ipv4_accept(m, kEthHeaderLen, subnet, &ip);
  if (!v.ok) return ctx.drop(m, v.reason);
  ++ctx.counters.ipv4_rx;
  switch (ip.protocol) {
    case kIpProtoIcmp:
      return icmp.input(m, ip);
    case kIpProtoUdp:
      return udp.input(m, ip);
    case tcp::kIpProtoTcp:
      return tcp.input(m, ip);
    default:
      return ctx.drop(m, DropReason::kIpv4UnknownProtocol);
  }
}

int NetStack::Impl::udp_send(Ipv4Addr dst, uint16_t dst_port, uint16_t src_port,
                             mem::Mbuf *payload) {
  if (payload == nullptr || dst.is_zero() || dst_port == 0 || dst == subnet.addr())
    return IX_EINVAL;
  const uint32_t max_payload =
      mtu > kIpv4HeaderLen + kUdpHeaderLen ? uint32_t{mtu} - kIpv4HeaderLen - kUdpHeaderLen : 0;
  if (payload->pkt_len > max_payload) return IX_EMSGSIZE;

  // Choose the link-layer destination before touching the payload, so that
  // every failure leaves it as the caller gave it.
  ArpEntry *neighbour = nullptr;
  MacAddr dst_mac;
  if (subnet.is_broadcast(dst)) {
    dst_mac = MacAddr::broadcast();
  } else if (dst.is_multicast()) {
    dst_mac = multicast_mac(dst);
  } else {
    const Ipv4Addr hop = subnet.next_hop(dst);
    if (hop.is_zero()) {
      ctx.counters.drop(DropReason::kIpv4NoRoute);
      return IX_EHOSTUNREACH;
    }
    neighbour = arp.entry_for(hop);
    if (neighbour == nullptr) {
      ctx.counters.drop(DropReason::kArpTableFull);
      return IX_ENOMEM;
    }
  }

  mem::Mbuf *frame;
  if (!payload->is_external() && payload->headroom() >= kUdpFrameHeaders) {
    frame = payload;
    frame->prepend(kUdpFrameHeaders);
  } else {
    // Application memory (or a buffer without room): headers go in their own
    // segment in front, and the payload is transmitted where it is.
    frame = ctx.pool.alloc();
    if (frame == nullptr) return IX_ENOBUFS;
    if (frame->append(kUdpFrameHeaders) == nullptr) {  // a pool with tiny buffers
      mem::MbufPool::free_chain(frame);
      return IX_ENOBUFS;
    }
    frame->chain(payload);
  }
  frame->ol_flags = 0;
  frame->l2_len = kEthHeaderLen;
  const uint16_t udp_len = static_cast<uint16_t>(frame->pkt_len - kEthHeaderLen - kIpv4HeaderLen);
  uint8_t *p = frame->data();
  write_ethernet(p, dst_mac, ctx.cfg.mac, kEtherTypeIpv4);
  ip_out.write_header(frame, p + kEthHeaderLen, subnet.addr(), dst, kIpProtoUdp, udp_len);
  udp.write_header(frame, kEthHeaderLen + kIpv4HeaderLen, subnet.addr(), dst, src_port, dst_port,
                   udp_len);
  ++ctx.counters.udp_tx;
  ++ctx.counters.ipv4_tx;
  if (neighbour != nullptr) {
    arp.output(neighbour, frame);
  } else {
    ctx.transmit(frame);
  }
  return IX_OK;
}

// TCP segments leave like UDP datagrams: route, neighbour, then the IPv4
// and Ethernet headers in the room the engine left at the front.
void NetStack::Impl::output_segment(Ipv4Addr dst, mem::Mbuf *frame, uint16_t l4_len,
                                    NextHopCache *nh) {
  uint8_t *p = frame->data();
  if (nh != nullptr && nh->arp_generation == arp.generation()) [[likely]] {
    // The connection's peer is where it was: no route or ARP lookup.
    write_ethernet(p, nh->mac, ctx.cfg.mac, kEtherTypeIpv4);
    ip_out.write_header(frame, p + kEthHeaderLen, subnet.addr(), dst, tcp::kIpProtoTcp, l4_len,
                        nh->ip_fixed_sum);
    ++ctx.counters.ipv4_tx;
    ctx.transmit(frame);
    return;
  }
  const Ipv4Addr hop = subnet.next_hop(dst);
  if (hop.is_zero()) return ctx.drop(frame, DropReason::kIpv4NoRoute);
  ArpEntry *neighbour = arp.entry_for(hop);
  if (neighbour == nullptr) return ctx.drop(frame, DropReason::kArpTableFull);
  write_ethernet(p, MacAddr{}, ctx.cfg.mac, kEtherTypeIpv4);
  ip_out.write_header(frame, p + kEthHeaderLen, subnet.addr(), dst, tcp::kIpProtoTcp, l4_len);
  ++ctx.counters.ipv4_tx;
  if (nh != nullptr && neighbour->state == ArpEntry::State::kResolved) {
    // entry_for left a resolved entry only if it is fresh.
    nh->mac = neighbour->mac;
    nh->ip_fixed_sum = Ipv4Output::fixed_sum(subnet.addr(), dst, tcp::kIpProtoTcp);
    nh->arp_generation = arp.generation();
  }
  arp.output(neighbour, frame);
}

NetStack::NetStack(const StackConfig &cfg, mem::MbufPool &pool, const timing::Clock &clock,
                   timing::TimerWheel &timers, FrameSink &sink, const LinkCaps &caps)
    : cfg_(cfg), impl_(std::make_unique<Impl>(cfg_, pool, clock, timers, sink, caps, counters_)) {}

NetStack::~NetStack() = default;

void NetStack::start() {
  if (cfg_.gratuitous_arp) impl_->arp.announce();
}

void NetStack::input(mem::Mbuf *m) { impl_->input(m); }

void NetStack::prefetch(mem::Mbuf *const *frames, unsigned n) const {
  // The headers are read here once more than input() reads them (about 50
  // instructions a frame): paid only where the table outgrew the caches
  // (prefetch_pays), where one miss saved is worth several times that.
  const tcp::Tcp &t = impl_->tcp;
  if (n < 2 || !t.prefetch_pays()) return;
  tcp::Tcp::SegmentKey keys[tcp::Tcp::kPrefetchBurst];
  unsigned k = 0;
  for (unsigned i = 0; i < n && k < tcp::Tcp::kPrefetchBurst; ++i) {
    const FrameFlow f = parse_frame_flow({frames[i]->data(), frames[i]->data_len});
    if (f.kind == FrameFlow::kIpv4L4 && f.proto == tcp::kIpProtoTcp)
      keys[k++] = {f.src, f.sport, f.dport};
  }
  t.prefetch_segments({keys, k});
}

bool NetStack::udp_bind(uint16_t port, UdpReceiver *r) { return impl_->udp.bind(port, r); }

bool NetStack::udp_unbind(uint16_t port) { return impl_->udp.unbind(port); }

const UdpReceiver *NetStack::udp_owner(uint16_t port) const { return impl_->udp.owner(port); }

int NetStack::udp_send(Ipv4Addr dst, uint16_t dst_port, uint16_t src_port, mem::Mbuf *payload) {
  return impl_->udp_send(dst, dst_port, src_port, payload);
}

void NetStack::set_arp_listener(ArpListener fn, void *arg) { impl_->arp.set_listener(fn, arg); }

void NetStack::arp_learned_elsewhere(Ipv4Addr ip, const MacAddr &mac) {
  impl_->arp.learn_from_sibling(ip, mac);
}

bool NetStack::arp_lookup(Ipv4Addr ip, MacAddr *out) const { return impl_->arp.lookup(ip, out); }

tcp::Tcp &NetStack::tcp() { return impl_->tcp; }

const tcp::Tcp &NetStack::tcp() const { return impl_->tcp; }

size_t NetStack::arp_entries() const { return impl_->arp.entries(); }

}  // namespace ix::net
