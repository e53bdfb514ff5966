// Memory shared between the dataplane process and one application: memfd
// files, sized once and sealed so that neither side can shrink them under
// the other's mappings (a shrunk file turns the other side's reads into
// SIGBUS), mapped by each side with the rights its role allows.
#pragma once

#include <cstddef>
#include <string>

namespace ix::ipc {

// A new memfd of `bytes` (zero-filled), sealed against shrinking and
// growing. Throws std::system_error naming `name` on failure.
int create_region(const char *name, size_t bytes);
// Forbids every writable mapping made from now on, the dataplane's own
// (made before) excepted: the receive regions, which the application may
// map only read-only.
void seal_future_writes(int fd);
// The file's size, checked against what the peer said it is.
size_t region_size(int fd);

// One mapping, unmapped on destruction.
class Mapping {
 public:
  Mapping() = default;
  // MAP_SHARED of the whole file; throws std::system_error on failure.
  Mapping(int fd, size_t bytes, bool writable);
  ~Mapping();
  Mapping(Mapping &&o) noexcept : addr_(o.addr_), bytes_(o.bytes_) {
    o.addr_ = nullptr;
    o.bytes_ = 0;
  }
  Mapping &operator=(Mapping &&o) noexcept;
  Mapping(const Mapping &) = delete;
  Mapping &operator=(const Mapping &) = delete;

  unsigned char *data() const { return static_cast<unsigned char *>(addr_); }
  size_t size() const { return bytes_; }
  // [p, p + len) lies inside the mapping.
  bool contains(const void *p, size_t len) const {
    const auto *b = static_cast<const unsigned char *>(addr_);
    const auto *q = static_cast<const unsigned char *>(p);
    return addr_ != nullptr && q >= b && len <= bytes_ &&
           static_cast<size_t>(q - b) <= bytes_ - len;
  }

 private:
  void *addr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace ix::ipc
