// Collects what libxdp and libbpf print while the driver sets up, so that an
// error can quote the library's own explanation (e.g. "XDP program already
// attached in another mode") instead of leaving it scattered on stderr.
//
// Both libraries keep their print hook in process-global state, so this is
// only for setup and teardown (never the fast path) and must not be active in
// two threads at once; the driver serializes its own use with a mutex.
#pragma once

#include <mutex>
#include <string>

namespace ix::drivers {

class LibxdpLogCapture {
 public:
  LibxdpLogCapture();
  ~LibxdpLogCapture();
  LibxdpLogCapture(const LibxdpLogCapture &) = delete;
  LibxdpLogCapture &operator=(const LibxdpLogCapture &) = delete;

  // Warning and info lines printed since construction (or the last clear),
  // joined with "; ", without trailing newlines.
  std::string text() const;
  void clear();

 private:
  std::lock_guard<std::mutex> hold_;
  std::string text_;
  // The previous hooks, restored on destruction (kept as void * so this
  // header does not pull in the libraries' headers).
  void *old_libxdp_print_ = nullptr;
  void *old_libbpf_print_ = nullptr;
};

}  // namespace ix::drivers
