// The TCP header (RFC 9293 3.1) and its options: MSS (RFC 9293 3.7.1),
// window scale and timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018),
// NOP and EOL. Parsing never reads past the option area it is given; a
// malformed option list makes the whole segment invalid (RFC 9293 3.1 says a
// receiver must be prepared for any option, so unknown kinds with a sane
// length are skipped).
#pragma once

#include <cstddef>
#include <cstdint>

#include "net/tcp/sack_scoreboard.hh"
#include "net/tcp/seq.hh"
#include "net/wire.hh"

namespace ix::net::tcp {

struct TcpHeader {
  Be16 src_port;
  Be16 dst_port;
  Be32 seq;
  Be32 ack;
  uint8_t data_off;  // high nibble: header length in 32-bit words
  uint8_t flags;
  Be16 window;
  Be16 checksum;
  Be16 urgent;

  unsigned header_len() const { return (data_off >> 4) * 4u; }
};
static_assert(sizeof(TcpHeader) == 20);

constexpr uint16_t kTcpHeaderLen = sizeof(TcpHeader);
constexpr uint16_t kTcpMaxHeaderLen = 60;
constexpr uint8_t kIpProtoTcp = 6;

enum TcpFlags : uint8_t {
  kFin = 0x01,
  kSyn = 0x02,
  kRst = 0x04,
  kPsh = 0x08,
  kAck = 0x10,
  kUrg = 0x20,
  kEce = 0x40,
  kCwr = 0x80,
};

enum TcpOptionKind : uint8_t {
  kOptEol = 0,
  kOptNop = 1,
  kOptMss = 2,
  kOptWscale = 3,
  kOptSackPermitted = 4,
  kOptSack = 5,
  kOptTimestamps = 8,
};

constexpr uint8_t kMaxWscale = 14;  // RFC 7323 2.3
constexpr size_t kMaxSackBlocks = 4;

// The options of one segment, as parsed or to be written.
struct TcpOptions {
  bool has_mss = false;
  bool has_wscale = false;
  bool sack_permitted = false;
  bool has_ts = false;
  uint16_t mss = 0;
  uint8_t wscale = 0;  // clamped to kMaxWscale when parsed
  uint32_t ts_val = 0;
  uint32_t ts_ecr = 0;
  uint8_t sack_count = 0;
  SackBlock sack[kMaxSackBlocks] = {};
};

// Parses the option area [p, p + len). Returns false for a malformed list: an
// option whose length byte is missing, below 2 or runs past the area, or a
// known option of the wrong length.
bool parse_tcp_options(const uint8_t *p, size_t len, TcpOptions *out);

// Bytes write_tcp_options will produce (a multiple of 4, at most 40).
size_t tcp_options_len(const TcpOptions &o);

// Writes the options, padded with NOPs to a multiple of 4; returns the
// length. SACK blocks beyond what fits in 40 bytes are left out.
size_t write_tcp_options(uint8_t *p, const TcpOptions &o);

// The 12 bytes every segment of a timestamp connection carries when it has
// no SACK blocks to report: NOP, NOP, timestamps (RFC 7323 appendix A's
// layout), as write_tcp_options writes them.
constexpr size_t kTimestampsOnlyLen = 12;
// Inline: every segment of a timestamp connection carries it.
inline void write_timestamps_only(uint8_t *p, uint32_t ts_val, uint32_t ts_ecr) {
  p[0] = p[1] = kOptNop;
  p[2] = kOptTimestamps;
  p[3] = 10;
  reinterpret_cast<Be32 *>(p + 4)->set(ts_val);
  reinterpret_cast<Be32 *>(p + 8)->set(ts_ecr);
}

}  // namespace ix::net::tcp
