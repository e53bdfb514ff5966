// Initial sequence numbers per RFC 6528: ISN = M + F(localip, localport,
// remoteip, remoteport, secretkey), M a clock ticking every 4 microseconds
// and F SipHash-2-4 under a secret key. Each connection 4-tuple gets its own
// sequence space, unguessable from outside, that still moves forward in time
// so that a new incarnation of a tuple starts above the old one.
#pragma once

#include <cstdint>
#include <span>

#include "net/addr.hh"
#include "net/tcp/seq.hh"
#include "net/tcp/siphash.hh"

namespace ix::net::tcp {

class IsnGenerator {
 public:
  static constexpr uint64_t kTickNs = 4'000;  // M advances every 4 us (RFC 9293 3.4.1)

  explicit IsnGenerator(std::span<const uint8_t, 16> key);
  // Key from getrandom(); throws std::runtime_error if the kernel has none.
  static IsnGenerator with_random_key();

  Seq isn(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport, uint64_t now_ns) const;

 private:
  SipHash24 hash_;
};

// Fills key with random bytes from getrandom(); throws std::runtime_error on failure.
void random_key(std::span<uint8_t, 16> key);

}  // namespace ix::net::tcp
