// libFuzzer target for ix-http's request parser. The first input byte picks
// a small head limit (to reach the 414/431 paths with short inputs) and the
// rest is what a connection buffered. Checks, beyond memory safety:
// - a complete head lies inside the input, and every shorter prefix of it is
//   incomplete (a request split anywhere parses the same once whole);
// - an error carries a 4xx/5xx status and a reason;
// - a connection's loop (parse, drop head + body, repeat) always advances;
// - a response head for whatever was parsed fits its buffer.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/request_parser.hh"
#include "http/response.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  http::ParseLimits limits;
  limits.max_head = 64 + size_t{data[0]} * 32;
  limits.max_headers = 1 + data[0] % 16;
  std::string_view buf(reinterpret_cast<const char *>(data + 1), size - 1);
  if (buf.size() > limits.max_head) buf = buf.substr(0, limits.max_head);

  const http::ParseResult whole = http::parse_request(buf, limits);
  if (whole.status == http::ParseStatus::kComplete) {
    if (whole.head_len == 0 || whole.head_len > buf.size()) __builtin_trap();
    for (size_t cut = 0; cut < whole.head_len; ++cut) {
      if (http::parse_request(buf.substr(0, cut), limits).status != http::ParseStatus::kIncomplete)
        __builtin_trap();
    }
    const http::Request &q = whole.request;
    if (q.method.empty() || q.target.empty()) __builtin_trap();
    if (q.content_length > limits.max_body) __builtin_trap();
    http::ResponseHead h;
    h.content_length = q.content_length;
    h.close = !q.keep_alive;
    char out[http::kMaxResponseHead];
    if (http::format_response_head(h, "Sun, 06 Nov 1994 08:49:37 GMT", out, sizeof out) == 0)
      __builtin_trap();
  } else if (whole.status == http::ParseStatus::kError) {
    if (whole.error_status < 400 || whole.error_status > 599 || whole.error_reason.empty())
      __builtin_trap();
  }

  // Pipelined: consume requests until one is incomplete or bad.
  std::string_view rest = buf;
  for (int i = 0; i < 64 && !rest.empty(); ++i) {
    const http::ParseResult r = http::parse_request(rest, limits);
    if (r.status != http::ParseStatus::kComplete) break;
    const uint64_t total = r.head_len + r.request.content_length;
    if (total == 0) __builtin_trap();
    if (total >= rest.size()) break;
    rest.remove_prefix(static_cast<size_t>(total));
  }
  return 0;
}
