#include "http/response.hh"

#include <charconv>
#include <cstring>

#include "http/request_parser.hh"

namespace http {

namespace {
class Writer {
 public:
  Writer(char *out, size_t cap) : p_(out), end_(out + cap) {}
  void put(std::string_view s) {
    if (static_cast<size_t>(end_ - p_) < s.size()) {
      ok_ = false;
      return;
    }
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void put(uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    put(std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
  }
  size_t finish(const char *out) const { return ok_ ? static_cast<size_t>(p_ - out) : 0; }

 private:
  char *p_;
  char *end_;
  bool ok_ = true;
};
}  // namespace

size_t format_response_head(const ResponseHead &h, std::string_view date, char *out, size_t cap) {
  Writer w(out, cap);
  w.put("HTTP/1.1 ");
  w.put(static_cast<uint64_t>(h.status));
  w.put(" ");
  w.put(reason_phrase(h.status));
  w.put("\r\nServer: ix-http\r\nDate: ");
  w.put(date);
  w.put("\r\nContent-Type: ");
  w.put(h.content_type);
  w.put("\r\nContent-Length: ");
  w.put(h.content_length);
  if (h.allow_get_head) w.put("\r\nAllow: GET, HEAD");
  if (h.close)
    w.put("\r\nConnection: close");
  else if (h.keep_alive_10)
    w.put("\r\nConnection: keep-alive");
  w.put("\r\n\r\n");
  return w.finish(out);
}

}  // namespace http
