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

// Byte i of a connection's message number `seq`.
inline uint8_t echo_byte(uint64_t seq, size_t i) {
  return static_cast<uint8_t>('A' + (seq * 7 + i) % 58);
}

// Appends message `seq` of `size` bytes.
void append_echo(std::vector<uint8_t> &out, size_t size, uint64_t seq);

class EchoReplyParser {
 public:
  explicit EchoReplyParser(size_t size = 64) : size_(size) {}

  // Counts the bytes of data against the expected messages, calling
  // sink.on_reply with a kEcho reply (value_corrupt when any of its bytes
  // differed) for every message completed. Never fails: an echo has no
  // syntax, only content.
  void feed(const uint8_t *data, size_t len, ReplySink &sink);

  // True between messages.
  bool idle() const { return offset_ == 0; }
  uint64_t completed() const { return seq_; }

 private:
  size_t size_;
  uint64_t seq_ = 0;   // the message being received
  size_t offset_ = 0;  // bytes of it received so far
  bool corrupt_ = false;
};

}  // namespace ix::load
