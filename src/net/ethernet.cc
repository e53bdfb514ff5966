#include "net/ethernet.hh"

namespace ix::net {

EthInput ethernet_accept(const mem::Mbuf *m, const MacAddr &our_mac) {
  // Drivers deliver each frame in one segment; everything after the first
  // would be invisible to the length checks below, so chains are refused.
  if (m->next != nullptr) return {false, DropReason::kEthSegmented, 0};
  if (m->data_len < kEthHeaderLen) return {false, DropReason::kEthRunt, 0};
  const auto *h = reinterpret_cast<const EthHeader *>(m->data());
  const MacAddr dst = h->dst.get();
  if (dst != our_mac && !dst.is_broadcast()) return {false, DropReason::kEthNotForUs, 0};
  if ((h->src.b[0] & 1) != 0) return {false, DropReason::kEthSrcMulticast, 0};
  const uint16_t type = h->ether_type.get();
  switch (type) {
    case kEtherTypeIpv4:
    case kEtherTypeArp:
      return {true, DropReason::kCount, type};
    case kEtherTypeVlan:
    case kEtherTypeQinQ:
      return {false, DropReason::kEthVlan, type};
    default:
      return {false, DropReason::kEthUnknownType, type};
  }
}

}  // namespace ix::net
