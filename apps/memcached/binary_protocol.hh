// memcached's binary protocol: 24-byte request headers (magic 0x80) carrying
// an opcode, extras, key and value; one 24-byte response header (magic 0x81)
// per answer, with the request's opaque echoed so pipelined clients can match
// answers to requests. The quiet opcodes send nothing when they succeed (the
// get family: nothing on a miss), so a client can pipeline them and end the
// batch with a NOOP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "context.hh"
#include "reply.hh"

namespace ix::mc {

namespace binary {

constexpr uint8_t kRequestMagic = 0x80;
constexpr uint8_t kResponseMagic = 0x81;
constexpr size_t kHeaderSize = 24;
constexpr size_t kMaxKeyLength = 250;

enum Opcode : uint8_t {
  kGet = 0x00,
  kSet = 0x01,
  kAdd = 0x02,
  kReplace = 0x03,
  kDelete = 0x04,
  kIncrement = 0x05,
  kDecrement = 0x06,
  kQuit = 0x07,
  kFlush = 0x08,
  kGetQ = 0x09,
  kNoop = 0x0a,
  kVersion = 0x0b,
  kGetK = 0x0c,
  kGetKQ = 0x0d,
  kAppend = 0x0e,
  kPrepend = 0x0f,
  kStat = 0x10,
  kSetQ = 0x11,
  kAddQ = 0x12,
  kReplaceQ = 0x13,
  kDeleteQ = 0x14,
  kIncrementQ = 0x15,
  kDecrementQ = 0x16,
  kQuitQ = 0x17,
  kFlushQ = 0x18,
  kAppendQ = 0x19,
  kPrependQ = 0x1a,
  kVerbosity = 0x1b,
  kTouch = 0x1c,
  kGat = 0x1d,
  kGatQ = 0x1e,
  kGatK = 0x23,
  kGatKQ = 0x24,
  kSaslListMechs = 0x20,  // SASL is not served: answered as unknown when well formed
  kSaslAuth = 0x21,
  kSaslStep = 0x22,
};

enum Status : uint16_t {
  kSuccess = 0x0000,
  kKeyNotFound = 0x0001,
  kKeyExists = 0x0002,
  kValueTooLarge = 0x0003,
  kInvalidArguments = 0x0004,
  kNotStored = 0x0005,
  kDeltaBadValue = 0x0006,
  kAuthError = 0x0020,
  kUnknownCommand = 0x0081,
  kOutOfMemory = 0x0082,
};

// Incr/decr with this expiration fail on a missing key instead of creating it.
constexpr uint32_t kNoAutoCreate = 0xffffffff;

// The fixed part of a request or response, decoded from network byte order.
// `status` is the vbucket id in a request.
struct Header {
  uint8_t magic = 0;
  uint8_t opcode = 0;
  uint16_t key_len = 0;
  uint8_t extras_len = 0;
  uint8_t data_type = 0;
  uint16_t status = 0;
  uint32_t body_len = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
};

// Decodes the first kHeaderSize bytes of `bytes`; nullopt when fewer are there.
std::optional<Header> decode_header(std::span<const uint8_t> bytes);
// Encodes `h` into exactly kHeaderSize bytes at `out`.
void encode_header(const Header &h, uint8_t *out);

}  // namespace binary

// Per-connection state the binary protocol keeps between calls: the rest of a
// rejected request body still to be skipped as it arrives (a value larger than
// the item limit is answered with E2BIG and swallowed, not buffered).
struct BinarySession {
  uint64_t swallow = 0;
  // The last turn stopped at kTurnReplyBudget with requests left in the input.
  bool paused = false;
};

// Handles complete binary-protocol requests (magic 0x80) at the start of `in`,
// writing responses to `out`. Returns the bytes consumed (0: the first request
// is incomplete, wait for more input). Sets *close_after when the client sent
// QUIT/QUITQ or the stream is unrecoverable (bad magic: closed without an
// answer; malformed lengths: EINVAL, then closed).
//
// A request too large to ever be buffered (a value over the item limit, an
// unknown command with a body) is answered at once and its body is consumed as
// it arrives: `session.swallow` counts the bytes still to skip, and the call
// may then consume all of `in` without a complete request in it.
size_t handle_binary(std::span<const uint8_t> in, Context &ctx, Reply &out, bool *close_after,
                     BinarySession &session);

// Without a session: the same, except that a too-large request whose body is
// not all in `in` yet cannot be skipped later, so the connection is closed
// after its error answer. Servers should keep a BinarySession per connection.
size_t handle_binary(std::span<const uint8_t> in, Context &ctx, Reply &out, bool *close_after);

}  // namespace ix::mc
