// Ketama consistent hashing, computed the way libmemcached (1.0 and 1.1) and
// twemproxy compute it, so that ix-load sends each key to the server a
// libmemcached client or nutcracker would.
//
// Both put every server at points on a 32-bit ring and send a key to the
// first point at or after the key's hash, wrapping to the lowest point. The
// values hashed for a server's points are "HOST-N" when its port is 11211
// and "HOST:PORT-N" otherwise, N = 0, 1, ... (libmemcached's
// update_continuum in hosts.cc; twemproxy's conf_add_server drops the
// default port for the same reason: compatibility with libmemcached).
// A key's hash is the first four bytes of its MD5 digest, little endian
// (hashkit_md5; twemproxy's hash_md5).
//
// The two layouts differ in how many points a server gets:
//   kConsistent: libmemcached with MEMCACHED_BEHAVIOR_KETAMA on and
//     MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED off, key hash MD5: 100 points per
//     server (MEMCACHED_POINTS_PER_SERVER), one per string, the first four
//     digest bytes of "HOST:PORT-N", N = 0..99.
//   kWeighted: libmemcached with MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED on, and
//     twemproxy's `distribution: ketama` (with `hash: md5` for the keys):
//     160 points per server at equal weights, four per string (digest bytes
//     0-3, 4-7, 8-11, 12-15 of "HOST:PORT-N", N = 0..39); the count is
//     floorf(weight share * 160 / 4 * servers + 1e-10) * 4, in float as both
//     compute it.
// Equal ring values (vanishingly rare) are ordered by server index, as
// libmemcached's comparison does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ix::load {

enum class KetamaLayout { kConsistent, kWeighted };

struct KetamaServer {
  std::string host;  // as written in the server list: the ring hashes the text
  uint16_t port = 0;
};

class KetamaRing {
 public:
  KetamaRing(const std::vector<KetamaServer> &servers, KetamaLayout layout);

  // The string hashed for a server's point group `index`.
  static std::string point_name(const KetamaServer &server, uint32_t index);
  // A key's position on the ring.
  static uint32_t key_hash(std::string_view key);

  // Index (into the constructor's list) of the server that owns `key`.
  uint32_t server_of(std::string_view key) const;
  uint32_t server_of_hash(uint32_t hash) const;
  size_t points() const { return points_.size(); }
  size_t servers() const { return servers_; }

 private:
  struct Point {
    uint32_t value;
    uint32_t server;
  };
  std::vector<Point> points_;  // sorted by value, then server
  size_t servers_;
};

const char *ketama_layout_name(KetamaLayout layout);

}  // namespace ix::load
