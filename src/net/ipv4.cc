#include "net/ipv4.hh"

#include "net/checksum.hh"

namespace ix::net {

Ipv4Subnet::Ipv4Subnet(Ipv4Addr addr, uint8_t prefix_len, Ipv4Addr gateway)
    : addr_(addr),
      mask_(prefix_len == 0    ? 0u
            : prefix_len >= 32 ? 0xffffffffu
                               : ~0u << (32 - prefix_len)),
      gateway_(gateway) {}

Ipv4Addr Ipv4Subnet::next_hop(Ipv4Addr dst) const {
  if (on_link(dst)) return dst;
  return gateway_;
}

namespace {

// Addresses that can never be the source of a datagram to us (RFC 1122
// 3.2.1.3, and "martians" as Linux calls them): we could not answer them.
bool bad_source(Ipv4Addr src, const Ipv4Subnet &subnet) {
  return src.is_zero() || src.is_multicast() || subnet.is_broadcast(src) || (src.v >> 24) == 127 ||
         (src.v >> 28) == 0xf || src == subnet.addr();
}

}  // namespace

Ipv4Verdict ipv4_accept(mem::Mbuf *m, uint16_t l3_off, const Ipv4Subnet &subnet, Ipv4Input *out) {
  const uint32_t avail = m->data_len > l3_off ? m->data_len - l3_off : 0u;
  if (avail < kIpv4HeaderLen) return {false, DropReason::kIpv4Truncated};
  const auto *h = reinterpret_cast<const Ipv4Header *>(m->data() + l3_off);
  if (h->version() != 4) return {false, DropReason::kIpv4BadVersion};
  const unsigned hlen = h->header_len();
  if (hlen < kIpv4HeaderLen) return {false, DropReason::kIpv4BadIhl};
  if (hlen > avail) return {false, DropReason::kIpv4Truncated};
  const unsigned total = h->total_len.get();
  if (total < hlen) return {false, DropReason::kIpv4BadTotalLength};
  if (total > avail) return {false, DropReason::kIpv4Truncated};
  if ((m->ol_flags & mem::kRxIpCsumGood) == 0 &&
      (hlen == kIpv4HeaderLen ? ones_sum_ipv4_header(h) : ones_sum(h, hlen)) != 0xffff)
    return {false, DropReason::kIpv4BadChecksum};
  // Options are legal but rare, and none is useful to a host like us (source
  // routes, record route, timestamps); refusing them keeps every later header
  // at a fixed offset.
  if (hlen != kIpv4HeaderLen) return {false, DropReason::kIpv4Options};
  const uint16_t frag = h->frag.get();
  if ((frag & (kIpv4FlagMf | kIpv4FragOffsetMask)) != 0) return {false, DropReason::kIpv4Fragment};
  const Ipv4Addr src = h->src.get();
  const Ipv4Addr dst = h->dst.get();
  if (bad_source(src, subnet)) return {false, DropReason::kIpv4BadSource};
  const bool broadcast = subnet.is_broadcast(dst);
  if (dst != subnet.addr() && !broadcast) return {false, DropReason::kIpv4NotForUs};
  if (h->ttl == 0) return {false, DropReason::kIpv4TtlZero};

  m->trim_to(l3_off + total);  // Ethernet pads short frames to 60 bytes
  m->l3_len = static_cast<uint8_t>(hlen);
  out->l3_off = l3_off;
  out->payload_off = static_cast<uint16_t>(l3_off + hlen);
  out->payload_len = static_cast<uint16_t>(total - hlen);
  out->src = src;
  out->dst = dst;
  out->protocol = h->protocol;
  out->to_broadcast = broadcast;
  return {true, DropReason::kCount};
}

uint16_t Ipv4Output::write_fields(mem::Mbuf *first, uint8_t *p, Ipv4Addr src, Ipv4Addr dst,
                                  uint8_t protocol, uint16_t total_len) {
  auto *h = reinterpret_cast<Ipv4Header *>(p);
  const uint16_t id = next_id_++;
  h->version_ihl = 0x45;
  h->tos = 0;
  h->total_len.set(total_len);
  h->id.set(id);
  h->frag.set(kIpv4FlagDf);
  h->ttl = kIpv4DefaultTtl;
  h->protocol = protocol;
  h->checksum.set(0);
  h->src.set(src);
  h->dst.set(dst);
  first->l3_len = kIpv4HeaderLen;
  return id;
}

void Ipv4Output::write_header(mem::Mbuf *first, uint8_t *p, Ipv4Addr src, Ipv4Addr dst,
                              uint8_t protocol, uint16_t payload_len) {
  write_fields(first, p, src, dst, protocol, static_cast<uint16_t>(kIpv4HeaderLen + payload_len));
  auto *h = reinterpret_cast<Ipv4Header *>(p);
  if (offload_) {
    first->ol_flags |= mem::kTxIpCsum;
  } else {
    h->checksum.set(static_cast<uint16_t>(~ones_sum_ipv4_header(h)));
  }
}

void Ipv4Output::write_header(mem::Mbuf *first, uint8_t *p, Ipv4Addr src, Ipv4Addr dst,
                              uint8_t protocol, uint16_t payload_len, uint16_t fixed) {
  const uint16_t total = static_cast<uint16_t>(kIpv4HeaderLen + payload_len);
  const uint16_t id = write_fields(first, p, src, dst, protocol, total);
  if (offload_) {
    first->ol_flags |= mem::kTxIpCsum;
  } else {
    reinterpret_cast<Ipv4Header *>(p)->checksum.set(
        static_cast<uint16_t>(~ones_add(ones_add(fixed, total), id)));
  }
}

uint16_t Ipv4Output::fixed_sum(Ipv4Addr src, Ipv4Addr dst, uint8_t protocol) {
  uint32_t s = 0x4500u + kIpv4FlagDf + ((uint32_t{kIpv4DefaultTtl} << 8) | protocol);
  s += (src.v >> 16) + (src.v & 0xffff) + (dst.v >> 16) + (dst.v & 0xffff);
  while ((s >> 16) != 0) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

}  // namespace ix::net
