#include "net/icmp.hh"

#include <algorithm>
#include <cstring>

#include "net/checksum.hh"
#include "net/ethernet.hh"
#include "net/tcp/tcp.hh"

namespace ix::net {

namespace {
constexpr uint16_t kIcmpOff = kEthHeaderLen + kIpv4HeaderLen;
constexpr uint16_t kQuotedPayload = 8;  // bytes of the offending datagram after its header
}  // namespace

uint16_t rfc1191_plateau_below(uint16_t total_len) {
  // RFC 1191 7, table 7-1: the MTUs of common links, largest first.
  static constexpr uint16_t kPlateaus[] = {32000, 17914, 8166, 4352, 2002,
                                           1492,  1006,  508,  296,  68};
  for (uint16_t p : kPlateaus)
    if (p < total_len) return p;
  return 0;
}

bool icmp_is_error(uint8_t type) {
  // Destination unreachable, source quench, redirect, time exceeded,
  // parameter problem.
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

Icmp::Icmp(StackContext &ctx, const Ipv4Subnet &subnet, Ipv4Output &ip_out)
    : ctx_(ctx),
      subnet_(subnet),
      ip_out_(ip_out),
      errors_(ctx.cfg.icmp_rate_per_sec, ctx.cfg.icmp_burst, ctx.clock.now_ns()) {}

void Icmp::input(mem::Mbuf *m, const Ipv4Input &ip) {
  if (ip.payload_len < sizeof(IcmpHeader)) return ctx_.drop(m, DropReason::kIcmpTruncated);
  auto *h = reinterpret_cast<IcmpHeader *>(m->data() + ip.payload_off);
  if (ones_sum(h, ip.payload_len) != 0xffff) return ctx_.drop(m, DropReason::kIcmpBadChecksum);
  if (h->type == kIcmpDestUnreachable && h->code == kIcmpCodeFragNeeded && tcp_ != nullptr)
    return frag_needed(m, ip);
  if (h->type != kIcmpEchoRequest) return ctx_.drop(m, DropReason::kIcmpUnsupportedType);
  // Answering broadcast pings would let anyone aim our replies at a subnet.
  if (ip.to_broadcast) return ctx_.drop(m, DropReason::kIcmpEchoBroadcast);
  ++ctx_.counters.icmp_echo_rx;

  // Only the type changes, so patch the checksum (RFC 1624 eqn. 3) instead
  // of summing the whole payload again.
  const uint16_t old_word = static_cast<uint16_t>((h->type << 8) | h->code);
  h->type = kIcmpEchoReply;
  const uint16_t new_word = static_cast<uint16_t>((h->type << 8) | h->code);
  const uint16_t sum = ones_add(
      ones_add(static_cast<uint16_t>(~h->checksum.get()), static_cast<uint16_t>(~old_word)),
      new_word);
  h->checksum.set(static_cast<uint16_t>(~sum));

  const MacAddr sender_mac = reinterpret_cast<const EthHeader *>(m->data())->src.get();
  ++ctx_.counters.icmp_echo_tx;
  send_back(m, sender_mac, ip.src, ip.payload_len);
}

void Icmp::frag_needed(mem::Mbuf *m, const Ipv4Input &ip) {
  // The error quotes the datagram it is about: its IPv4 header and at least
  // its first 8 bytes (RFC 792), which for TCP hold the ports and the
  // sequence number that let the engine tell a real report from a forged one.
  const uint8_t *icmp = m->data() + ip.payload_off;
  const uint16_t quoted_len = static_cast<uint16_t>(ip.payload_len - sizeof(IcmpHeader));
  if (ip.payload_len < sizeof(IcmpHeader) + kIpv4HeaderLen + kQuotedPayload)
    return ctx_.drop(m, DropReason::kIcmpQuoteTruncated);
  const auto *q = reinterpret_cast<const Ipv4Header *>(icmp + sizeof(IcmpHeader));
  if (q->version() != 4 || q->header_len() < kIpv4HeaderLen)
    return ctx_.drop(m, DropReason::kIcmpQuoteBadHeader);
  if (quoted_len < q->header_len() + kQuotedPayload)
    return ctx_.drop(m, DropReason::kIcmpQuoteTruncated);
  if (q->src.get() != subnet_.addr()) return ctx_.drop(m, DropReason::kIcmpQuoteNotOurs);
  // UDP applications choose their own datagram sizes; only TCP adapts.
  if (q->protocol != tcp::kIpProtoTcp) return ctx_.drop(m, DropReason::kIcmpQuoteNotTcp);

  const uint8_t *th = reinterpret_cast<const uint8_t *>(q) + q->header_len();
  const auto *ports = reinterpret_cast<const Be16 *>(th);
  const auto *seq = reinterpret_cast<const Be32 *>(th + 4);
  uint16_t mtu = reinterpret_cast<const IcmpHeader *>(icmp)->seq.get();  // next-hop MTU
  if (mtu == 0) mtu = rfc1191_plateau_below(q->total_len.get());
  ++ctx_.counters.icmp_frag_needed_rx;
  tcp_->icmp_frag_needed(q->dst.get(), ports[1].get(), ports[0].get(), seq->get(), mtu);
  mem::MbufPool::free_chain(m);
}

void Icmp::port_unreachable(mem::Mbuf *m, const Ipv4Input &ip) {
  // Never about broadcasts (the whole subnet would answer) or ICMP errors
  // (two hosts could trade errors forever). Fragments and martian sources
  // never get this far.
  if (ip.to_broadcast) return mem::MbufPool::free_chain(m);
  if (ip.protocol == kIpProtoIcmp &&
      (ip.payload_len == 0 || icmp_is_error(m->data()[ip.payload_off])))
    return mem::MbufPool::free_chain(m);
  if (!errors_.take(ctx_.clock.now_ns())) {
    ++ctx_.counters.icmp_rate_limited;
    return mem::MbufPool::free_chain(m);
  }

  const uint16_t quoted =
      static_cast<uint16_t>(kIpv4HeaderLen + std::min<uint16_t>(ip.payload_len, kQuotedPayload));
  const uint16_t icmp_len = static_cast<uint16_t>(sizeof(IcmpHeader) + quoted);
  const MacAddr sender_mac = reinterpret_cast<const EthHeader *>(m->data())->src.get();

  mem::Mbuf *out;
  constexpr uint16_t kGrow = kIpv4HeaderLen + sizeof(IcmpHeader);
  if (m->headroom() >= kGrow) {
    // Growing the frame by one IPv4 and one ICMP header at the front puts the
    // offending IPv4 header exactly where the error quotes it: no copy.
    out = m;
    out->prepend(kGrow);
    out->trim_to(kIcmpOff + icmp_len);
  } else {
    out = ctx_.pool.alloc();
    if (out == nullptr) return ctx_.drop(m, DropReason::kNoMbuf);
    uint8_t *p = out->append(static_cast<uint16_t>(kIcmpOff + icmp_len));
    if (p == nullptr) {
      mem::MbufPool::free_chain(m);
      return ctx_.drop(out, DropReason::kNoMbuf);
    }
    std::memcpy(p + kIcmpOff + sizeof(IcmpHeader), m->data() + ip.l3_off, quoted);
    mem::MbufPool::free_chain(m);
  }
  auto *h = reinterpret_cast<IcmpHeader *>(out->data() + kIcmpOff);
  h->type = kIcmpDestUnreachable;
  h->code = kIcmpCodePortUnreachable;
  h->checksum.set(0);
  h->id.set(0);
  h->seq.set(0);
  h->checksum.set(internet_checksum(h, icmp_len));
  ++ctx_.counters.icmp_unreach_tx;
  send_back(out, sender_mac, ip.src, icmp_len);
}

void Icmp::send_back(mem::Mbuf *m, const MacAddr &to_mac, Ipv4Addr to, uint16_t icmp_len) {
  // Answer through the MAC the datagram came from (the sender, or the router
  // that brought it): the reply needs no ARP lookup and cannot be held.
  m->ol_flags = 0;
  uint8_t *p = m->data();
  write_ethernet(p, to_mac, ctx_.cfg.mac, kEtherTypeIpv4);
  m->l2_len = kEthHeaderLen;
  ip_out_.write_header(m, p + kEthHeaderLen, subnet_.addr(), to, kIpProtoIcmp, icmp_len);
  ++ctx_.counters.ipv4_tx;
  ctx_.transmit(m);
}

}  // namespace ix::net
