// libFuzzer target: the memcached text protocol. The first input byte picks
// where the rest is split in two (as packets would split it); the rest is fed
// to handle_text the way a connection feeds it, then fed again in one piece to
// a fresh server. Checks: nothing read or written out of bounds (ASan), the
// consumed count never exceeds the input, and the split never changes the
// replies (memcached's protocol is a byte stream).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "memcached/text_protocol.hh"

namespace {

using namespace ix::mc;

std::string render(const Reply &r) {
  std::string out;
  for (const Reply::Piece &p : r.pieces()) {
    if (p.item) {
      const std::string_view v = p.item.value_with_crlf();
      if (p.len > v.size()) std::abort();
      out.append(v.substr(0, p.len));
    } else {
      out.append(r.text_bytes().substr(p.offset, p.len));
    }
  }
  if (out.size() != r.bytes()) std::abort();
  return out;
}

// Feeds `pieces` in order, keeping what handle_text leaves unconsumed.
std::string serve(std::string_view a, std::string_view b) {
  ServerSettings s;
  s.store.memory_limit = 64 * 1024;  // small: eviction runs
  s.store.item_size_max = 4096;      // small: too-large and swallowing run
  s.store.stripes = 8;
  Context ctx(s);
  ctx.set_manual_now(1'000'000);
  TextSession session;
  Reply reply;
  std::string buf;
  bool closed = false;
  for (std::string_view piece : {a, b}) {
    buf.append(piece);
    while (!buf.empty() && !closed) {
      bool close = false;
      const size_t n = handle_text({reinterpret_cast<const uint8_t *>(buf.data()), buf.size()}, ctx,
                                   reply, &close, session);
      if (n > buf.size()) std::abort();
      buf.erase(0, n);
      closed = close;
      if (n == 0) break;
    }
  }
  return render(reply) + (closed ? "<closed>" : "");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const std::string_view in(reinterpret_cast<const char *>(data + 1), size - 1);
  const size_t cut = in.empty() ? 0 : data[0] % (in.size() + 1);
  const std::string split = serve(in.substr(0, cut), in.substr(cut));
  // stats report rusage and pids, which differ between two runs.
  if (in.find("stats") != std::string_view::npos) return 0;
  const std::string whole = serve(in, {});
  if (split != whole) std::abort();
  return 0;
}
