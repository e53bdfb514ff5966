#include "net/tcp/tcp_header.hh"

#include <algorithm>

namespace ix::net::tcp {

namespace {
constexpr size_t kMaxOptionBytes = 40;

uint16_t rd16(const uint8_t *p) { return reinterpret_cast<const Be16 *>(p)->get(); }
uint32_t rd32(const uint8_t *p) { return reinterpret_cast<const Be32 *>(p)->get(); }
void wr16(uint8_t *p, uint16_t v) { reinterpret_cast<Be16 *>(p)->set(v); }
void wr32(uint8_t *p, uint32_t v) { reinterpret_cast<Be32 *>(p)->set(v); }

// Room left for SACK blocks after the other options, and how many fit.
size_t fixed_len(const TcpOptions &o) {
  size_t n = 0;
  if (o.has_mss) n += 4;
  if (o.has_ts) n += 12;  // SACK-permitted rides in the two NOPs before it
  if (o.sack_permitted && !o.has_ts) n += 4;
  if (o.has_wscale) n += 4;
  return n;
}
size_t sack_fit(const TcpOptions &o) {
  const size_t used = fixed_len(o);
  if (o.sack_count == 0 || used + 4 + 8 > kMaxOptionBytes) return 0;
  return std::min<size_t>(o.sack_count, (kMaxOptionBytes - used - 4) / 8);
}
}  // namespace

bool parse_tcp_options(const uint8_t *p, size_t len, TcpOptions *out) {
  *out = TcpOptions{};
  // What nearly every segment of a timestamp connection carries (RFC 7323
  // appendix A's layout, write_timestamps_only): read without the walk.
  if (len == kTimestampsOnlyLen && p[0] == kOptNop && p[1] == kOptNop && p[2] == kOptTimestamps &&
      p[3] == 10) {
    out->has_ts = true;
    out->ts_val = rd32(p + 4);
    out->ts_ecr = rd32(p + 8);
    return true;
  }
  size_t i = 0;
  while (i < len) {
    const uint8_t kind = p[i];
    if (kind == kOptEol) break;
    if (kind == kOptNop) {
      ++i;
      continue;
    }
    if (i + 1 >= len) return false;
    const uint8_t olen = p[i + 1];
    if (olen < 2 || olen > len - i) return false;
    const uint8_t *v = p + i + 2;
    switch (kind) {
      case kOptMss:
        if (olen != 4) return false;
        out->has_mss = true;
        out->mss = rd16(v);
        break;
      case kOptWscale:
        if (olen != 3) return false;
        out->has_wscale = true;
        // RFC 7323 2.3: a larger shift is treated as 14.
        out->wscale = std::min<uint8_t>(v[0], kMaxWscale);
        break;
      case kOptSackPermitted:
        if (olen != 2) return false;
        out->sack_permitted = true;
        break;
      case kOptSack: {
        if (olen < 10 || (olen - 2) % 8 != 0) return false;
        const size_t n = std::min<size_t>((olen - 2) / 8, kMaxSackBlocks);
        for (size_t b = 0; b < n; ++b) {
          out->sack[b].left = rd32(v + 8 * b);
          out->sack[b].right = rd32(v + 8 * b + 4);
        }
        out->sack_count = static_cast<uint8_t>(n);
        break;
      }
      case kOptTimestamps:
        if (olen != 10) return false;
        out->has_ts = true;
        out->ts_val = rd32(v);
        out->ts_ecr = rd32(v + 4);
        break;
      default:
        break;  // unknown option: skipped by its length
    }
    i += olen;
  }
  return true;
}

size_t tcp_options_len(const TcpOptions &o) {
  const size_t n = sack_fit(o);
  return fixed_len(o) + (n > 0 ? 4 + 8 * n : 0);
}

size_t write_tcp_options(uint8_t *p, const TcpOptions &o) {
  uint8_t *start = p;
  if (o.has_mss) {
    p[0] = kOptMss;
    p[1] = 4;
    wr16(p + 2, o.mss);
    p += 4;
  }
  if (o.has_ts) {
    write_timestamps_only(p, o.ts_val, o.ts_ecr);
    if (o.sack_permitted) {  // in the NOPs' place
      p[0] = kOptSackPermitted;
      p[1] = 2;
    }
    p += kTimestampsOnlyLen;
  } else if (o.sack_permitted) {
    p[0] = p[1] = kOptNop;
    p[2] = kOptSackPermitted;
    p[3] = 2;
    p += 4;
  }
  if (o.has_wscale) {
    p[0] = kOptNop;
    p[1] = kOptWscale;
    p[2] = 3;
    p[3] = o.wscale;
    p += 4;
  }
  const size_t n = sack_fit(o);
  if (n > 0) {
    p[0] = p[1] = kOptNop;
    p[2] = kOptSack;
    p[3] = static_cast<uint8_t>(2 + 8 * n);
    p += 4;
    for (size_t b = 0; b < n; ++b) {
      wr32(p, o.sack[b].left);
      wr32(p + 4, o.sack[b].right);
      p += 8;
    }
  }
  return static_cast<size_t>(p - start);
}

}  // namespace ix::net::tcp
