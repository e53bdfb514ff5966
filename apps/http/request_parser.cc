#include "http/request_parser.hh"

#include <algorithm>

namespace http {

namespace {

// RFC 9110 5.6.2 tchar.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// Field values: visible characters, obs-text, SP and HTAB (RFC 9110 5.5).
bool is_field_value_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || u >= 0x20 ? u != 0x7f : false;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

ParseResult error(int status, std::string_view why) {
  ParseResult r;
  r.status = ParseStatus::kError;
  r.error_status = status;
  r.error_reason = why;
  return r;
}

// Content-Length = 1*DIGIT; false on anything else or overflow.
bool parse_length(std::string_view v, uint64_t &out) {
  if (v.empty() || v.size() > 19) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  out = n;
  return true;
}

// Applies a Connection header's comma-separated options.
void apply_connection(std::string_view v, bool &close, bool &keep_alive) {
  while (!v.empty()) {
    const size_t comma = v.find(',');
    const std::string_view opt = trim_ows(v.substr(0, comma));
    if (iequals(opt, "close")) close = true;
    if (iequals(opt, "keep-alive")) keep_alive = true;
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
}

}  // namespace

ParseResult parse_request(std::string_view buf, const ParseLimits &limits) {
  // RFC 9112 2.2: ignore empty lines before the request line.
  size_t start = 0;
  while (start + 1 < buf.size() && buf[start] == '\r' && buf[start + 1] == '\n') start += 2;
  if (start >= limits.max_head) return error(400, "empty lines only");

  const size_t end = buf.find("\r\n\r\n", start);
  const size_t line_end = buf.find("\r\n", start);
  if (end == std::string_view::npos) {
    if (buf.size() < limits.max_head) {
      // Reject what can never become valid early (a peer not speaking HTTP).
      const std::string_view seen = buf.substr(start);
      const std::string_view method = seen.substr(0, seen.find_first_of(" \r"));
      if (!method.empty() && !is_token(method)) return error(400, "bad method");
      return ParseResult{};
    }
    if (line_end == std::string_view::npos || line_end >= limits.max_head)
      return error(414, "request line too long");
    return error(431, "request head too large");
  }
  const size_t head_len = end + 4;
  if (head_len > limits.max_head) {
    if (line_end + 2 > limits.max_head) return error(414, "request line too long");
    return error(431, "request head too large");
  }
  const std::string_view head = buf.substr(0, head_len);
  // Bare CR or LF anywhere in the head (RFC 9112 2.2: CR not before LF is invalid).
  for (size_t i = start; i < end + 2; ++i) {
    if (head[i] == '\r' && head[i + 1] != '\n') return error(400, "bare CR");
    if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) return error(400, "bare LF");
  }

  ParseResult r;
  Request &q = r.request;
  // request-line = method SP request-target SP HTTP-version
  const std::string_view line = head.substr(start, line_end - start);
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return error(400, "malformed request line");
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return error(400, "malformed request line");
  q.method = line.substr(0, sp1);
  q.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(q.method)) return error(400, "bad method");
  if (q.target.empty()) return error(400, "empty request target");
  for (char c : q.target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return error(400, "bad request target");
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
    return error(400, "bad HTTP version");
  if (version[5] != '1') return error(505, "HTTP version not supported");
  q.minor_version = version[7] - '0';

  bool close = false, keep_alive = false, have_length = false, have_te = false;
  size_t hosts = 0;
  size_t pos = line_end + 2;
  while (pos < end + 2) {
    const size_t eol = head.find("\r\n", pos);
    const std::string_view field = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (field.front() == ' ' || field.front() == '\t') return error(400, "obsolete line folding");
    if (++q.header_count > limits.max_headers) return error(431, "too many header fields");
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos) return error(400, "header field without colon");
    const std::string_view name = field.substr(0, colon);
    if (!is_token(name)) return error(400, "bad header field name");
    const std::string_view value = trim_ows(field.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), is_field_value_char))
      return error(400, "bad character in header field value");

    if (iequals(name, "content-length")) {
      uint64_t n = 0;
      if (!parse_length(value, n)) return error(400, "bad Content-Length");
      if (have_length && n != q.content_length) return error(400, "conflicting Content-Length");
      have_length = true;
      q.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      have_te = true;
    } else if (iequals(name, "host")) {
      ++hosts;
    } else if (iequals(name, "connection")) {
      apply_connection(value, close, keep_alive);
    }
  }
  if (have_te && have_length) return error(400, "Content-Length with Transfer-Encoding");
  if (have_te) return error(501, "transfer codings (chunked) not implemented");
  if (q.minor_version >= 1 && hosts != 1) return error(400, "HTTP/1.1 needs exactly one Host");
  if (hosts > 1) return error(400, "repeated Host");
  if (q.content_length > limits.max_body) return error(413, "body too large");

  // RFC 9112 9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".
  q.keep_alive = !close && (q.minor_version >= 1 || keep_alive);
  r.status = ParseStatus::kComplete;
  r.head_len = head_len;
  return r;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace http
