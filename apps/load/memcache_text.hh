// The memcached text protocol as a client speaks it: request encoding for
// get and set, and an incremental reply parser that takes the byte stream in
// whatever pieces the network delivers (a reply may be split anywhere, and
// one read may hold many replies).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ix::load {

// "get KEY\r\n"
void append_get(std::vector<uint8_t> &out, std::string_view key);
// "set KEY 0 0 LEN\r\n" + LEN bytes of value_byte(i) + "\r\n"
void append_set(std::vector<uint8_t> &out, std::string_view key, size_t value_len);

enum class ReplyKind : uint8_t {
  kEnd,  // the end of a get: `values` VALUE blocks came before it
  kStored,
  kNotStored,
  kExists,
  kNotFound,
  kDeleted,
  kTouched,
  kError,        // ERROR: the server did not know the command
  kClientError,  // CLIENT_ERROR <message>
  kServerError,  // SERVER_ERROR <message>
  kEcho,         // --protocol echo: one message came back (echo_codec.hh)
};

const char *reply_kind_name(ReplyKind kind);

struct Reply {
  ReplyKind kind;
  uint32_t values = 0;         // kEnd: VALUE blocks in this reply
  bool value_corrupt = false;  // a VALUE's data was not what ix-load stores
};

class ReplySink {
 public:
  virtual ~ReplySink() = default;
  virtual void on_reply(const Reply &reply) = 0;
};

class ReplyParser {
 public:
  static constexpr size_t kMaxLine = 2048;
  static constexpr uint64_t kMaxValue = 64u << 20;

  // Parses data, calling sink.on_reply for every reply it completes. Returns
  // false on a protocol violation; the parser then stays failed (error()
  // says what was wrong) and ignores further input: the connection's stream
  // can no longer be trusted.
  bool feed(const uint8_t *data, size_t len, ReplySink &sink);

  bool failed() const { return !error_.empty(); }
  const std::string &error() const { return error_; }
  // True between replies (no partial reply buffered).
  bool idle() const { return state_ == State::kLine && line_.empty() && values_ == 0; }

  // Check VALUE data against value_byte() (on by default).
  void set_verify_values(bool verify) { verify_ = verify; }

 private:
  enum class State { kLine, kData, kDataEnd };

  bool handle_line(std::string_view line, ReplySink &sink);
  bool fail(std::string message);

  State state_ = State::kLine;
  std::string line_;
  uint64_t data_left_ = 0, data_offset_ = 0;
  uint32_t values_ = 0;
  bool corrupt_ = false;
  bool verify_ = true;
  std::string error_;
};

}  // namespace ix::load
