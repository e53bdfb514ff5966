// What the sender remembers of each segment it sent and that is not yet
// cumulatively acknowledged: its sequence range, when it last left, and
// whether it was SACKed, retransmitted or judged lost. This is the per-segment
// state RACK (RFC 8985) needs to tell a lost segment from a late one by time
// rather than by counting duplicate ACKs, and it is what lets a lost
// retransmission be found and sent again without waiting for the RTO.
//
// Records live in a Ring drawn from the engine's arena (ring_arena.hh): an
// idle connection holds none. They are kept in sequence order and cover
// [SND.UNA, SND.MAX) without gaps: a record is made for each first
// transmission, and retransmissions reuse the record (the sender never sends
// across a record boundary), so a record is also the unit of retransmission.
#pragma once

#include <cstdint>

#include "net/tcp/ring_arena.hh"
#include "net/tcp/seq.hh"

namespace ix::net::tcp {

struct TxRecord {
  static constexpr uint8_t kSacked = 1;   // wholly SACKed by the receiver
  static constexpr uint8_t kRetrans = 2;  // sent more than once (ambiguous for RTT)
  static constexpr uint8_t kLost = 4;     // judged lost and not sent again since

  Seq start;         // first sequence number (a SYN never has a record; a FIN counts one)
  Seq end;           // one past the last
  uint64_t xmit_ns;  // the last transmission
  uint8_t flags;

  uint32_t len() const { return end - start; }
  bool has(uint8_t f) const { return (flags & f) != 0; }
};

// Index of the record holding seq, or records.size() if none does. Records
// are sorted and contiguous, so this is a binary search.
inline uint32_t tx_record_index(const Ring<TxRecord> &records, Seq seq) {
  uint32_t lo = 0;
  uint32_t hi = records.size();
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    const TxRecord &r = records.at(mid);
    if (seq_lt(seq, r.start)) {
      hi = mid;
    } else if (seq_geq(seq, r.end)) {
      lo = mid + 1;
    } else {
      return mid;
    }
  }
  return records.size();
}

}  // namespace ix::net::tcp
