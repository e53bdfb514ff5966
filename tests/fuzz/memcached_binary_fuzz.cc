// libFuzzer target for memcached's binary protocol handler. The first input
// byte picks the size of the pieces the rest arrives in (1..64 bytes, or all
// at once); the rest is the byte stream one connection sends. Each input runs
// twice on fresh servers, once whole and once in pieces, and checks that:
//   - the handler never consumes more than it was given;
//   - every answer is a complete, well-formed response (magic 0x81, extras
//     and key inside the body);
//   - both runs answer byte for byte the same and agree on closing (unless a
//     STAT answer is in the output: uptime and rusage differ between runs).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "memcached/binary_protocol.hh"

namespace {

using namespace ix::mc;

void check(bool ok, const char *what) {
  if (!ok) {
    __builtin_printf("memcached_binary_fuzz: %s\n", what);
    std::abort();
  }
}

struct Run {
  std::string out;
  bool closed = false;
};

ServerSettings settings() {
  ServerSettings s;
  s.store.memory_limit = 1 << 20;
  s.store.item_size_max = 4096;  // small, so E2BIG and swallowing are reached
  s.store.stripes = 1;
  return s;
}

Run serve(const uint8_t *data, size_t size, size_t piece) {
  Context ctx(settings());
  ctx.set_manual_now(1'700'000'000);
  BinarySession session;
  Reply reply;
  std::vector<uint8_t> buf;
  Run run;
  for (size_t at = 0; at < size && !run.closed; at += piece) {
    const size_t n = std::min(piece, size - at);
    buf.insert(buf.end(), data + at, data + at + n);
    while (!run.closed && !buf.empty()) {
      const size_t used = handle_binary(buf, ctx, reply, &run.closed, session);
      check(used <= buf.size(), "consumed more than given");
      for (const Reply::Piece &p : reply.pieces()) {
        if (p.item) {
          check(p.len == p.item.value().size(), "zero-copy piece is not the whole value");
          run.out.append(p.item.value().data(), p.len);
        } else {
          check(p.offset + p.len <= reply.text_bytes().size(), "text piece out of range");
          run.out.append(reply.text_bytes().data() + p.offset, p.len);
        }
      }
      reply.clear();
      buf.erase(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(used));
      if (used == 0) break;
    }
  }
  return run;
}

// Walks the answers; returns whether any is a STAT answer.
bool check_responses(const std::string &out) {
  bool stat = false;
  size_t at = 0;
  while (at < out.size()) {
    auto h = binary::decode_header(
        std::span(reinterpret_cast<const uint8_t *>(out.data()) + at, out.size() - at));
    check(h.has_value(), "torn response header");
    check(h->magic == binary::kResponseMagic, "response magic");
    check(size_t{h->extras_len} + h->key_len <= h->body_len, "extras+key beyond the body");
    check(at + binary::kHeaderSize + h->body_len <= out.size(), "torn response body");
    stat |= h->opcode == binary::kStat;
    at += binary::kHeaderSize + h->body_len;
  }
  return stat;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const size_t piece = data[0] % 65 == 0 ? size : data[0] % 65;
  const Run whole = serve(data + 1, size - 1, size);
  const Run split = serve(data + 1, size - 1, piece);
  const bool has_stat = check_responses(whole.out);
  check_responses(split.out);
  if (!has_stat) {
    check(whole.out == split.out, "split input answered differently");
    check(whole.closed == split.closed, "split input closed differently");
  }
  return 0;
}
