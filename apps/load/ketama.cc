#include "load/ketama.hh"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "load/md5.hh"

namespace ix::load {

namespace {

constexpr uint16_t kDefaultMemcachedPort = 11211;
constexpr uint32_t kConsistentPoints = 100;  // MEMCACHED_POINTS_PER_SERVER
constexpr uint32_t kWeightedPoints = 160;    // MEMCACHED_POINTS_PER_SERVER_KETAMA

// Digest bytes 4*group .. 4*group+3 as a little-endian word.
uint32_t digest_word(const Md5Digest &d, uint32_t group) {
  const uint8_t *p = d.data() + 4 * group;
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Points of one server when all n servers weigh the same. Evaluated in
// float like libmemcached and twemproxy, so a count that rounds down
// there (156 instead of 160) rounds down here too.
uint32_t weighted_points(size_t n) {
  const float share = 1.0f / static_cast<float>(n);
  const float groups = std::floor(
      share * static_cast<float>(kWeightedPoints) / 4.0f * static_cast<float>(n) + 0.0000000001f);
  return static_cast<uint32_t>(groups) * 4;
}

}  // namespace

const char *ketama_layout_name(KetamaLayout layout) {
  return layout == KetamaLayout::kWeighted ? "ketama-weighted" : "ketama";
}

std::string KetamaRing::point_name(const KetamaServer &server, uint32_t index) {
  std::string s = server.host;
  if (server.port != kDefaultMemcachedPort) s += ":" + std::to_string(server.port);
  return s + "-" + std::to_string(index);
}

uint32_t KetamaRing::key_hash(std::string_view key) { return digest_word(md5(key), 0); }

KetamaRing::KetamaRing(const std::vector<KetamaServer> &servers, KetamaLayout layout)
    : servers_(servers.size()) {
  if (servers.empty()) throw std::invalid_argument("ketama: no servers");
  for (uint32_t s = 0; s < servers.size(); ++s) {
    if (layout == KetamaLayout::kConsistent) {
      for (uint32_t i = 0; i < kConsistentPoints; ++i)
        points_.push_back({digest_word(md5(point_name(servers[s], i)), 0), s});
    } else {
      const uint32_t groups = weighted_points(servers.size()) / 4;
      for (uint32_t i = 0; i < groups; ++i) {
        const Md5Digest d = md5(point_name(servers[s], i));
        for (uint32_t g = 0; g < 4; ++g) points_.push_back({digest_word(d, g), s});
      }
    }
  }
  std::sort(points_.begin(), points_.end(), [](const Point &a, const Point &b) {
    return a.value != b.value ? a.value < b.value : a.server < b.server;
  });
}

uint32_t KetamaRing::server_of_hash(uint32_t hash) const {
  const auto it = std::lower_bound(points_.begin(), points_.end(), hash,
                                   [](const Point &p, uint32_t h) { return p.value < h; });
  return it == points_.end() ? points_.front().server : it->server;
}

uint32_t KetamaRing::server_of(std::string_view key) const {
  // libmemcached skips hashing with one server; the answer is the same.
  if (servers_ == 1) return 0;
  return server_of_hash(key_hash(key));
}

}  // namespace ix::load
