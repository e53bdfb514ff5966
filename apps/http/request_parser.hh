// HTTP/1.1 request heads (RFC 9112), parsed from the bytes a connection has
// buffered so far. The parser keeps no state between calls: the connection
// calls it again when more bytes arrived (split requests) and, after a
// complete head, drops head_len bytes plus the body and calls it again for
// the next pipelined request. Bodies are not buffered: the result says how
// many bytes follow the head (Content-Length), and the caller skips them.
//
// Strict where the RFC says a server MUST reject (400): whitespace before a
// header's colon, obsolete line folding, a missing or repeated Host in
// HTTP/1.1, conflicting Content-Length, Content-Length together with
// Transfer-Encoding; lines must end in CRLF. Transfer codings (chunked
// bodies) are not implemented: 501, and the connection closes, since the
// body's end cannot be found. A head larger than the limit is 431 (414 while
// the request line itself has not ended).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace http {

struct ParseLimits {
  size_t max_head = 8192;       // request line + headers + blank line
  size_t max_headers = 64;      // header fields
  uint64_t max_body = 1 << 20;  // Content-Length the server accepts (and skips)
};

struct Request {
  std::string_view method;
  std::string_view target;
  int minor_version = 1;        // HTTP/1.<minor>
  bool keep_alive = true;       // after the Connection header and the version's default
  uint64_t content_length = 0;  // body bytes that follow the head
  size_t header_count = 0;
};

enum class ParseStatus {
  kIncomplete,  // need more bytes (the buffer is below the limit)
  kComplete,    // `request` and `head_len` are set
  kError,       // `error_status` is the response code; close after it
};

struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  size_t head_len = 0;  // bytes of the head, blank line included
  int error_status = 0;
  std::string_view error_reason;  // for the log and the error body
  Request request;                // views into the buffer passed in
};

ParseResult parse_request(std::string_view buf, const ParseLimits &limits = {});

// The reason phrase of the status codes this server sends.
std::string_view reason_phrase(int status);

}  // namespace http
