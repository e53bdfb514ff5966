// Response heads. Every response carries Date, Server, Content-Length and,
// when the server will close after it, "Connection: close" (RFC 9112 9.6);
// an HTTP/1.0 client that asked for keep-alive gets "Connection: keep-alive".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace http {

// Enough for the longest head this server writes.
inline constexpr size_t kMaxResponseHead = 256;

struct ResponseHead {
  int status = 200;
  uint64_t content_length = 0;
  std::string_view content_type = "text/plain";
  bool close = false;           // "Connection: close"
  bool keep_alive_10 = false;   // "Connection: keep-alive" (HTTP/1.0 peer)
  bool allow_get_head = false;  // "Allow: GET, HEAD" (405)
};

// Writes the head into out; returns its length (0 if cap is too small).
size_t format_response_head(const ResponseHead &h, std::string_view date, char *out, size_t cap);

}  // namespace http
