// The echo protocol as ix-load speaks it (--protocol echo): a request is a
// message of --size bytes, and the server's reply is the same bytes back.
// TCP keeps no message boundaries, so the reply parser counts bytes: every
// `size` bytes received complete one reply. The bytes of a connection's
// k-th message follow a pattern seeded by k, so a lost, repeated or
// reordered message (not just a flipped byte) shows up as corrupt data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "load/memcache_text.hh"

namespace ix::load {

constexpr size_t kEchoPeriod = 58;  // 'A'..'z': printable, and prime to 7

// Byte i of a connection's message number `seq`.
inline uint8_t echo_byte(uint64_t seq, size_t i) {
  return static_cast<uint8_t>('A' + (seq * 7 + i) % kEchoPeriod);
}

// Every message of one size, precomputed: message `seq` is the `size`
// bytes at offset (seq * 7) % kEchoPeriod of one table, so sending is a
// copy and checking a compare, not a division per byte (the client's own
// cost per message bounds closed-loop echo figures).
class EchoPattern {
 public:
  explicit EchoPattern(size_t size);
  size_t size() const { return size_; }
  const uint8_t *message(uint64_t seq) const { return table_.data() + (seq * 7) % kEchoPeriod; }

 private:
  size_t size_;
  std::vector<uint8_t> table_;  // echo_byte(0, j) for j < size + kEchoPeriod
};

// Appends message `seq`.
void append_echo(std::vector<uint8_t> &out, const EchoPattern &pattern, uint64_t seq);

class EchoReplyParser {
 public:
  EchoReplyParser() = default;
  explicit EchoReplyParser(const EchoPattern *pattern) : pattern_(pattern) {}

  // Counts the bytes of data against the expected messages, calling
  // sink.on_reply with a kEcho reply (value_corrupt when any of its bytes
  // differed) for every message completed. Never fails: an echo has no
  // syntax, only content. Needs a pattern (the constructor's).
  void feed(const uint8_t *data, size_t len, ReplySink &sink);

  // True between messages.
  bool idle() const { return offset_ == 0; }
  uint64_t completed() const { return seq_; }

 private:
  const EchoPattern *pattern_ = nullptr;
  uint64_t seq_ = 0;   // the message being received
  size_t offset_ = 0;  // bytes of it received so far
  bool corrupt_ = false;
};

}  // namespace ix::load
