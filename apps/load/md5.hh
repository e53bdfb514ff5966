// MD5 (RFC 1321), only because ketama places servers and keys on its ring
// with MD5 digests: libmemcached and twemproxy both do, and ix-load must
// pick the same server they would. Not for anything security related.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ix::load {

using Md5Digest = std::array<uint8_t, 16>;

Md5Digest md5(std::string_view data);

}  // namespace ix::load
