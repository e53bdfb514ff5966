#include "net/tcp/siphash.hh"

#include <bit>

namespace ix::net::tcp {
namespace {

uint64_t load_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

struct SipState {
  uint64_t v0, v1, v2, v3;

  void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }

  // c = 2 compression rounds per message word.
  void absorb(uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

}  // namespace

SipHash24::SipHash24(std::span<const uint8_t, 16> key)
    : k0_(load_le64(key.data())), k1_(load_le64(key.data() + 8)) {}

uint64_t SipHash24::hash(std::span<const uint8_t> msg) const {
  // Initialisation constants from the paper ("somepseudorandomlygeneratedbytes").
  SipState s{k0_ ^ 0x736f6d6570736575ull, k1_ ^ 0x646f72616e646f6dull, k0_ ^ 0x6c7967656e657261ull,
             k1_ ^ 0x7465646279746573ull};
  const size_t full = msg.size() / 8 * 8;
  for (size_t i = 0; i < full; i += 8) s.absorb(load_le64(msg.data() + i));
  // The last word holds the remaining bytes and the length mod 256 in its top byte.
  uint64_t last = static_cast<uint64_t>(msg.size() & 0xff) << 56;
  for (size_t i = full; i < msg.size(); ++i)
    last |= static_cast<uint64_t>(msg[i]) << (8 * (i - full));
  s.absorb(last);
  // d = 4 finalisation rounds.
  s.v2 ^= 0xff;
  s.round();
  s.round();
  s.round();
  s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace ix::net::tcp
