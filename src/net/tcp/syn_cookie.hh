// SYN cookies: when the SYN backlog is full, a listener answers a SYN
// without keeping any state and encodes what it must remember in the ISN of
// its SYN-ACK. The final ACK of the handshake (ack = cookie + 1, seq =
// peer ISN + 1) proves the peer received the SYN-ACK; the cookie is checked
// and the connection built from it.
//
// Cookie layout (32 bits):
//   bits 31..30  counter mod 4 (the counter ticks every 64 s)
//   bits 29..27  index into kMssTable
//   bits 26..0   SipHash-2-4(key; 4-tuple, peer ISN, full counter, MSS index)
// A cookie is accepted while its counter is at most 2 periods old, i.e. for
// 128 to 192 s; forging one means guessing 27 keyed bits.
//
// With timestamps, the peer echoes our TSval, so the SYN's other options
// can ride in its low 6 bits (encode_ts_options / decode_ts_options); without
// timestamps a cookie connection has no window scaling and no SACK.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "net/addr.hh"
#include "net/tcp/seq.hh"
#include "net/tcp/siphash.hh"

namespace ix::net::tcp {

struct SynCookieInfo {
  uint16_t mss;
  bool sack_ok;
  uint8_t wscale;  // 0xff = none
  bool ts_ok;
};

class SynCookies {
 public:
  static constexpr uint64_t kPeriodNs = 64'000'000'000ull;
  static constexpr uint32_t kMaxAgePeriods = 2;
  // MSS values a cookie can carry; a SYN's MSS is rounded down to one of
  // them. 536 is the smallest because every IPv4 host must accept 576-byte
  // datagrams (RFC 1122 3.3.3), so it is safe even for a peer asking less.
  static constexpr std::array<uint16_t, 8> kMssTable = {536,  1200, 1300, 1360,
                                                        1400, 1440, 1460, 8960};

  explicit SynCookies(std::span<const uint8_t, 16> key);

  // ISN for the SYN-ACK answering a SYN with this tuple, ISN and MSS option.
  Seq make(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport, Seq peer_isn,
           uint16_t mss, uint64_t now_ns) const;

  // Checks the cookie from the handshake's ACK (cookie = ack - 1, peer_isn =
  // seq - 1). Returns the MSS it encodes if the hash matches and the cookie
  // is at most kMaxAgePeriods old; nullopt otherwise.
  std::optional<uint16_t> check(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport,
                                Seq peer_isn, Seq cookie, uint64_t now_ns) const;

  // The table index make() uses for a SYN's MSS (largest entry <= mss, or 0).
  static uint32_t mss_index(uint16_t mss);

  // TSval for the SYN-ACK carrying wscale and SACK-permitted in its low 6
  // bits: bits 3..0 the window scale (0xf = none), bit 4 SACK, bit 5 set.
  // The result is never above ts_now (bits are taken from below it), so the
  // peer sees a clock that does not jump ahead.
  static uint32_t encode_ts_options(uint32_t ts_now, const SynCookieInfo &info);
  // Reads back the options from the TSecr of the handshake's ACK; nullopt if
  // the marker bit is missing (not a TSval we encoded). mss is left 0.
  static std::optional<SynCookieInfo> decode_ts_options(uint32_t ts_ecr);

 private:
  uint32_t hash_bits(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport, Seq peer_isn,
                     uint64_t counter, uint32_t mss_idx) const;

  SipHash24 hash_;
};

}  // namespace ix::net::tcp
