#include "ipc/shared_region.hh"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace ix::ipc {

namespace {
[[noreturn]] void fail(const std::string &what) {
  throw std::system_error(errno, std::generic_category(), what);
}
}  // namespace

int create_region(const char *name, size_t bytes) {
  const int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) fail(std::string("memfd_create ") + name);
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0 ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
    const int e = errno;
    close(fd);
    errno = e;
    fail(std::string("sizing shared region ") + name);
  }
  return fd;
}

void seal_future_writes(int fd) {
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) != 0)
    fail("sealing a receive region against writes");
}

size_t region_size(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) fail("fstat of a shared region");
  return static_cast<size_t>(st.st_size);
}

Mapping::Mapping(int fd, size_t bytes, bool writable) : bytes_(bytes) {
  addr_ = mmap(nullptr, bytes, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
  if (addr_ == MAP_FAILED) {
    addr_ = nullptr;
    bytes_ = 0;
    fail("mapping a shared region");
  }
}

Mapping::~Mapping() {
  if (addr_ != nullptr) munmap(addr_, bytes_);
}

Mapping &Mapping::operator=(Mapping &&o) noexcept {
  if (this != &o) {
    if (addr_ != nullptr) munmap(addr_, bytes_);
    addr_ = o.addr_;
    bytes_ = o.bytes_;
    o.addr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

}  // namespace ix::ipc
