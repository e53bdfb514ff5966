#include "net/tcp/isn_generator.hh"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ix::net::tcp {

void random_key(std::span<uint8_t, 16> key) {
  size_t got = 0;
  while (got < key.size()) {
    const ssize_t n = getrandom(key.data() + got, key.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<size_t>(n);
  }
}

IsnGenerator::IsnGenerator(std::span<const uint8_t, 16> key) : hash_(key) {}

IsnGenerator IsnGenerator::with_random_key() {
  std::array<uint8_t, 16> key{};
  random_key(key);
  return IsnGenerator(key);
}

Seq IsnGenerator::isn(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport,
                      uint64_t now_ns) const {
  // The 4-tuple as 12 bytes in a fixed order; the key makes the result secret.
  std::array<uint8_t, 12> tuple{};
  const uint32_t words[3] = {local.v, remote.v, (uint32_t{lport} << 16) | rport};
  for (size_t w = 0; w < 3; ++w)
    for (size_t b = 0; b < 4; ++b) tuple[w * 4 + b] = static_cast<uint8_t>(words[w] >> (8 * b));
  const auto f = static_cast<uint32_t>(hash_.hash(tuple));
  const auto m = static_cast<uint32_t>(now_ns / kTickNs);
  return m + f;
}

}  // namespace ix::net::tcp
