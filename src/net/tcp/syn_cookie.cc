#include "net/tcp/syn_cookie.hh"

#include "net/tcp/tcp_header.hh"

namespace ix::net::tcp {
namespace {

constexpr uint32_t kCounterShift = 30;
constexpr uint32_t kMssShift = 27;
constexpr uint32_t kHashMask = (1u << kMssShift) - 1;

constexpr uint32_t kTsWscaleMask = 0x0f;
constexpr uint32_t kTsWscaleNone = 0x0f;
constexpr uint32_t kTsSackBit = 1u << 4;
constexpr uint32_t kTsMarkerBit = 1u << 5;
constexpr uint32_t kTsBitsMask = 0x3f;

void put_le(uint8_t *p, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

SynCookies::SynCookies(std::span<const uint8_t, 16> key) : hash_(key) {}

uint32_t SynCookies::mss_index(uint16_t mss) {
  uint32_t idx = 0;
  for (uint32_t i = 0; i < kMssTable.size(); ++i)
    if (kMssTable[i] <= mss) idx = i;
  return idx;
}

uint32_t SynCookies::hash_bits(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport,
                               Seq peer_isn, uint64_t counter, uint32_t mss_idx) const {
  uint8_t msg[25];
  put_le(msg, local.v, 4);
  put_le(msg + 4, remote.v, 4);
  put_le(msg + 8, lport, 2);
  put_le(msg + 10, rport, 2);
  put_le(msg + 12, peer_isn, 4);
  put_le(msg + 16, counter, 8);
  msg[24] = static_cast<uint8_t>(mss_idx);
  return static_cast<uint32_t>(hash_.hash(msg, sizeof msg)) & kHashMask;
}

Seq SynCookies::make(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport, Seq peer_isn,
                     uint16_t mss, uint64_t now_ns) const {
  const uint64_t counter = now_ns / kPeriodNs;
  const uint32_t idx = mss_index(mss);
  return (static_cast<uint32_t>(counter & 3) << kCounterShift) | (idx << kMssShift) |
         hash_bits(local, lport, remote, rport, peer_isn, counter, idx);
}

std::optional<uint16_t> SynCookies::check(Ipv4Addr local, uint16_t lport, Ipv4Addr remote,
                                          uint16_t rport, Seq peer_isn, Seq cookie,
                                          uint64_t now_ns) const {
  const uint32_t low = cookie >> kCounterShift;
  const uint32_t idx = (cookie >> kMssShift) & 7;
  const uint64_t now_counter = now_ns / kPeriodNs;
  // Two bits of counter tell apart the kMaxAgePeriods + 1 (= 3) periods a cookie may come from.
  for (uint64_t age = 0; age <= kMaxAgePeriods && age <= now_counter; ++age) {
    const uint64_t counter = now_counter - age;
    if ((counter & 3) != low) continue;
    if (hash_bits(local, lport, remote, rport, peer_isn, counter, idx) != (cookie & kHashMask))
      return std::nullopt;
    return kMssTable[idx];
  }
  return std::nullopt;
}

uint32_t SynCookies::encode_ts_options(uint32_t ts_now, const SynCookieInfo &info) {
  uint32_t bits = kTsMarkerBit;
  bits |= info.wscale <= kMaxWscale ? info.wscale : kTsWscaleNone;
  if (info.sack_ok) bits |= kTsSackBit;
  uint32_t ts = (ts_now & ~kTsBitsMask) | bits;
  // Never ahead of the clock: step back one 64-tick block instead.
  if (static_cast<int32_t>(ts - ts_now) > 0) ts -= kTsBitsMask + 1;
  return ts;
}

std::optional<SynCookieInfo> SynCookies::decode_ts_options(uint32_t ts_ecr) {
  if ((ts_ecr & kTsMarkerBit) == 0) return std::nullopt;
  const uint32_t ws = ts_ecr & kTsWscaleMask;
  SynCookieInfo info{};
  info.mss = 0;
  info.wscale = ws == kTsWscaleNone ? 0xff : static_cast<uint8_t>(ws);
  info.sack_ok = (ts_ecr & kTsSackBit) != 0;
  info.ts_ok = true;
  return info;
}

}  // namespace ix::net::tcp
