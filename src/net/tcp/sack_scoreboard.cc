#include "net/tcp/sack_scoreboard.hh"

namespace ix::net::tcp {

void SackScoreboard::reset(Seq snd_una) {
  count_ = 0;
  sacked_bytes_ = 0;
  snd_una_ = snd_una;
}

void SackScoreboard::drop_below(Seq snd_una) {
  // An ACK never moves SND.UNA back; a stale value changes nothing.
  if (seq_lt(snd_una, snd_una_)) return;
  snd_una_ = snd_una;
  size_t first = 0;
  while (first < count_ && seq_leq(blocks_[first].right, snd_una)) {
    sacked_bytes_ -= blocks_[first].right - blocks_[first].left;
    ++first;
  }
  if (first > 0) {
    for (size_t i = first; i < count_; ++i) blocks_[i - first] = blocks_[i];
    count_ -= first;
  }
  if (count_ > 0 && seq_lt(blocks_[0].left, snd_una)) {
    sacked_bytes_ -= snd_una - blocks_[0].left;
    blocks_[0].left = snd_una;
  }
}

void SackScoreboard::merge(SackBlock b) {
  // First held block that overlaps or touches b; all before it end below b.
  size_t i = 0;
  while (i < count_ && seq_lt(blocks_[i].right, b.left)) ++i;
  size_t j = i;
  while (j < count_ && seq_leq(blocks_[j].left, b.right)) {
    b.left = seq_min(b.left, blocks_[j].left);
    b.right = seq_max(b.right, blocks_[j].right);
    sacked_bytes_ -= blocks_[j].right - blocks_[j].left;
    ++j;
  }
  if (j > i) {
    // b absorbed blocks [i, j): it takes slot i and the rest close up.
    blocks_[i] = b;
    const size_t removed = j - i - 1;
    for (size_t k = j; k < count_; ++k) blocks_[k - removed] = blocks_[k];
    count_ -= removed;
  } else {
    if (count_ == kMaxBlocks) {
      ++overflowed_blocks_;
      if (i == count_) return;  // b would be the highest: forget b itself
      --count_;
      sacked_bytes_ -= blocks_[count_].right - blocks_[count_].left;
    }
    for (size_t k = count_; k > i; --k) blocks_[k] = blocks_[k - 1];
    blocks_[i] = b;
    ++count_;
  }
  sacked_bytes_ += b.right - b.left;
}

void SackScoreboard::update(Seq snd_una, Seq snd_max, std::span<const SackBlock> blocks) {
  drop_below(snd_una);
  for (SackBlock b : blocks) {
    // Empty or inverted, beyond what we sent, or wholly acknowledged (a D-SACK
    // or a stale report): nothing to learn for the scoreboard.
    if (!seq_lt(b.left, b.right) || seq_gt(b.right, snd_max) || seq_leq(b.right, snd_una_)) {
      ++ignored_blocks_;
      continue;
    }
    if (seq_lt(b.left, snd_una_)) b.left = snd_una_;
    merge(b);
  }
}

bool SackScoreboard::is_sacked(Seq seq) const {
  for (size_t i = 0; i < count_; ++i) {
    if (seq_in(seq, blocks_[i].left, blocks_[i].right)) return true;
    if (seq_lt(seq, blocks_[i].left)) return false;
  }
  return false;
}

void SackScoreboard::sacked_above(Seq seq, uint32_t &bytes, unsigned &nblocks) const {
  bytes = 0;
  nblocks = 0;
  for (size_t i = count_; i-- > 0;) {
    const SackBlock &b = blocks_[i];
    if (seq_leq(b.right, seq + 1)) break;
    if (seq_gt(b.left, seq)) {
      bytes += b.right - b.left;
      ++nblocks;
    } else {
      bytes += b.right - (seq + 1);
    }
  }
}

bool SackScoreboard::is_lost(Seq seq, uint32_t mss, unsigned dupthresh) const {
  if (is_sacked(seq)) return false;
  uint32_t bytes;
  unsigned nblocks;
  sacked_above(seq, bytes, nblocks);
  const uint64_t limit = uint64_t{dupthresh > 0 ? dupthresh - 1 : 0} * mss;
  return nblocks >= dupthresh || bytes > limit;
}

std::optional<SackBlock> SackScoreboard::next_lost_range(Seq snd_una, Seq snd_max, Seq high_rxt,
                                                         uint32_t mss, unsigned dupthresh) const {
  // Walk the holes from the top: the SACKed bytes and blocks above a hole are
  // the same for each of its bytes, and grow going down, so one pass finds
  // every lost hole; the lowest one with bytes left to retransmit wins.
  const uint64_t limit = uint64_t{dupthresh > 0 ? dupthresh - 1 : 0} * mss;
  uint64_t bytes_above = 0;
  unsigned blocks_above = 0;
  std::optional<SackBlock> found;
  for (size_t i = count_; i-- > 0;) {
    bytes_above += blocks_[i].right - blocks_[i].left;
    ++blocks_above;
    Seq hole_left = i == 0 ? snd_una : seq_max(blocks_[i - 1].right, snd_una);
    const Seq hole_right = seq_min(blocks_[i].left, snd_max);
    if (!(blocks_above >= dupthresh || bytes_above > limit)) continue;
    hole_left = seq_max(hole_left, high_rxt);
    if (seq_lt(hole_left, hole_right)) found = SackBlock{hole_left, hole_right};
  }
  return found;
}

std::optional<Seq> SackScoreboard::next_lost(Seq snd_una, Seq snd_max, Seq high_rxt, uint32_t mss,
                                             unsigned dupthresh) const {
  auto r = next_lost_range(snd_una, snd_max, high_rxt, mss, dupthresh);
  if (!r) return std::nullopt;
  return r->left;
}

uint32_t SackScoreboard::pipe(Seq snd_una, Seq snd_max, Seq high_rxt, uint32_t mss,
                              unsigned dupthresh) const {
  const uint64_t limit = uint64_t{dupthresh > 0 ? dupthresh - 1 : 0} * mss;
  // [snd_una, rxt_end) has been retransmitted in this recovery.
  const Seq rxt_end = seq_in(high_rxt, snd_una, snd_max) ? high_rxt
                      : seq_leq(high_rxt, snd_una)       ? snd_una
                                                         : snd_max;
  auto retransmitted_in = [&](Seq l, Seq r) -> uint64_t {
    const Seq e = seq_min(r, rxt_end);
    return seq_lt(l, e) ? e - l : 0;
  };
  uint64_t pipe = 0;
  // The hole above the highest SACKed byte is never lost by the SACK rules.
  Seq top = seq_max(highest_sacked(), snd_una);
  if (seq_lt(top, snd_max)) pipe += (snd_max - top) + retransmitted_in(top, snd_max);
  uint64_t bytes_above = 0;
  unsigned blocks_above = 0;
  for (size_t i = count_; i-- > 0;) {
    bytes_above += blocks_[i].right - blocks_[i].left;
    ++blocks_above;
    const Seq l = i == 0 ? snd_una : seq_max(blocks_[i - 1].right, snd_una);
    const Seq r = seq_min(blocks_[i].left, snd_max);
    if (!seq_lt(l, r)) continue;
    const bool lost = blocks_above >= dupthresh || bytes_above > limit;
    if (!lost) pipe += r - l;
    pipe += retransmitted_in(l, r);
  }
  return static_cast<uint32_t>(pipe > UINT32_MAX ? UINT32_MAX : pipe);
}

}  // namespace ix::net::tcp
