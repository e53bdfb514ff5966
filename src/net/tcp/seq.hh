// Sequence numbers live in a 32-bit circle (RFC 9293 3.4): comparisons are
// made on the signed difference, valid while the two numbers are less than
// 2^31 apart, which every window and every queue of the stack guarantees.
#pragma once

#include <cstdint>

namespace ix::net::tcp {

using Seq = uint32_t;

constexpr bool seq_lt(Seq a, Seq b) { return static_cast<int32_t>(a - b) < 0; }
constexpr bool seq_leq(Seq a, Seq b) { return static_cast<int32_t>(a - b) <= 0; }
constexpr bool seq_gt(Seq a, Seq b) { return static_cast<int32_t>(a - b) > 0; }
constexpr bool seq_geq(Seq a, Seq b) { return static_cast<int32_t>(a - b) >= 0; }
constexpr Seq seq_max(Seq a, Seq b) { return seq_gt(a, b) ? a : b; }
constexpr Seq seq_min(Seq a, Seq b) { return seq_lt(a, b) ? a : b; }

// lo <= x < hi on the circle. Measured as offsets from lo, so it also holds
// for ranges that straddle 2^32; an empty range (lo == hi) contains nothing.
constexpr bool seq_in(Seq x, Seq lo, Seq hi) { return x - lo < hi - lo; }

// Bytes from a to b (b at or after a).
constexpr uint32_t seq_diff(Seq b, Seq a) { return b - a; }

}  // namespace ix::net::tcp
