// What the receiver has told us it holds beyond SND.UNA (RFC 2018 SACK
// blocks), and the RFC 6675 questions a sender asks of it during loss
// recovery: is this byte lost (IsLost), what to retransmit next (NextSeg rule
// 1), how much is in the network (SetPipe). Blocks are kept sorted and
// disjoint in a fixed array: no allocation, bounded work per ACK.
//
// high_rxt is one past the highest byte retransmitted in this recovery (the
// caller sets it to SND.UNA when recovery starts), so [snd_una, high_rxt)
// has been retransmitted.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "net/tcp/seq.hh"

namespace ix::net::tcp {

struct SackBlock {
  Seq left;   // first byte
  Seq right;  // one past the last byte
  bool operator==(const SackBlock &) const = default;
};

class SackScoreboard {
 public:
  static constexpr size_t kMaxBlocks = 32;

  SackScoreboard() = default;
  explicit SackScoreboard(Seq snd_una) { reset(snd_una); }

  // Forget everything (e.g. after an RTO, RFC 6675 5.1) and start at snd_una.
  void reset(Seq snd_una);

  // Merge the SACK blocks of an ACK. Blocks that are empty, inverted or not
  // within (snd_una, snd_max] are ignored (counted in ignored_blocks());
  // parts below snd_una are cut. Everything below snd_una is dropped. If more
  // than kMaxBlocks disjoint ranges would result, the highest are forgotten
  // (the receiver repeats them; losing them only makes us more cautious).
  void update(Seq snd_una, Seq snd_max, std::span<const SackBlock> blocks);

  bool is_sacked(Seq seq) const;
  // RFC 6675 IsLost: dupthresh SACKed blocks lie above seq, or more than
  // (dupthresh - 1) * mss bytes above seq are SACKed.
  bool is_lost(Seq seq, uint32_t mss, unsigned dupthresh = 3) const;

  // NextSeg rule (1): the first byte not SACKed, lost, and not yet
  // retransmitted (at or above high_rxt); nullopt if there is none.
  std::optional<Seq> next_lost(Seq snd_una, Seq snd_max, Seq high_rxt, uint32_t mss,
                               unsigned dupthresh = 3) const;
  // The same, with the end of the hole it lies in: send [left, min(right, left + mss)).
  std::optional<SackBlock> next_lost_range(Seq snd_una, Seq snd_max, Seq high_rxt, uint32_t mss,
                                           unsigned dupthresh = 3) const;

  // RFC 6675 SetPipe: bytes in [snd_una, snd_max) not SACKed and not lost,
  // plus bytes retransmitted (below high_rxt) and not SACKed.
  uint32_t pipe(Seq snd_una, Seq snd_max, Seq high_rxt, uint32_t mss, unsigned dupthresh = 3) const;

  uint32_t sacked_bytes() const { return sacked_bytes_; }
  // One past the highest SACKed byte; snd_una when nothing is SACKed.
  Seq highest_sacked() const { return count_ == 0 ? snd_una_ : blocks_[count_ - 1].right; }
  bool empty() const { return count_ == 0; }
  size_t block_count() const { return count_; }
  std::span<const SackBlock> blocks() const { return {blocks_.data(), count_}; }
  uint64_t ignored_blocks() const { return ignored_blocks_; }
  uint64_t overflowed_blocks() const { return overflowed_blocks_; }

 private:
  void drop_below(Seq snd_una);
  void merge(SackBlock b);
  // Bytes SACKed and number of blocks at or above seq.
  void sacked_above(Seq seq, uint32_t &bytes, unsigned &nblocks) const;

  std::array<SackBlock, kMaxBlocks> blocks_{};
  size_t count_ = 0;
  uint32_t sacked_bytes_ = 0;
  Seq snd_una_ = 0;
  uint64_t ignored_blocks_ = 0;
  uint64_t overflowed_blocks_ = 0;
};

}  // namespace ix::net::tcp
