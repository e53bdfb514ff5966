#include "drivers/xdp/libxdp_log.hh"

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <cstdarg>
#include <cstdio>

namespace ix::drivers {

namespace {

std::mutex capture_mutex;
std::string *capture_sink = nullptr;  // guarded by capture_mutex

void append_line(const char *fmt, va_list ap) {
  char line[512];
  const int n = std::vsnprintf(line, sizeof line, fmt, ap);
  if (n <= 0 || capture_sink == nullptr) return;
  std::string s(line);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.empty()) return;
  if (!capture_sink->empty()) *capture_sink += "; ";
  *capture_sink += s;
}

int capture_libxdp(enum libxdp_print_level level, const char *fmt, va_list ap) {
  if (level != LIBXDP_DEBUG) append_line(fmt, ap);
  return 0;
}

int capture_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (level != LIBBPF_DEBUG) append_line(fmt, ap);
  return 0;
}

}  // namespace

LibxdpLogCapture::LibxdpLogCapture() : hold_(capture_mutex) {
  capture_sink = &text_;
  old_libxdp_print_ = reinterpret_cast<void *>(libxdp_set_print(capture_libxdp));
  old_libbpf_print_ = reinterpret_cast<void *>(libbpf_set_print(capture_libbpf));
}

LibxdpLogCapture::~LibxdpLogCapture() {
  libxdp_set_print(reinterpret_cast<libxdp_print_fn_t>(old_libxdp_print_));
  libbpf_set_print(reinterpret_cast<libbpf_print_fn_t>(old_libbpf_print_));
  capture_sink = nullptr;
}

std::string LibxdpLogCapture::text() const { return text_; }

void LibxdpLogCapture::clear() { text_.clear(); }

}  // namespace ix::drivers
