#include "load/memcache_text.hh"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "load/workload.hh"

namespace ix::load {

namespace {

void append(std::vector<uint8_t> &out, std::string_view s) {
  out.insert(out.end(), s.begin(), s.end());
}

void append_number(std::vector<uint8_t> &out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.insert(out.end(), buf, r.ptr);
}

// Splits off the next space-separated token of `rest`.
std::string_view next_token(std::string_view &rest) {
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const size_t end = rest.find(' ');
  std::string_view token = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  return token;
}

bool parse_u64(std::string_view token, uint64_t &out) {
  if (token.empty()) return false;
  auto r = std::from_chars(token.data(), token.data() + token.size(), out);
  return r.ec == std::errc{} && r.ptr == token.data() + token.size();
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) out += (c >= 32 && c < 127) ? c : '?';
  return out;
}

}  // namespace

void append_get(std::vector<uint8_t> &out, std::string_view key) {
  append(out, "get ");
  append(out, key);
  append(out, "\r\n");
}

void append_set(std::vector<uint8_t> &out, std::string_view key, size_t value_len) {
  append(out, "set ");
  append(out, key);
  append(out, " 0 0 ");
  append_number(out, value_len);
  append(out, "\r\n");
  const size_t at = out.size();
  out.resize(at + value_len + 2);
  for (size_t i = 0; i < value_len; ++i) out[at + i] = value_byte(i);
  out[at + value_len] = '\r';
  out[at + value_len + 1] = '\n';
}

const char *reply_kind_name(ReplyKind kind) {
  switch (kind) {
    case ReplyKind::kEnd:
      return "END";
    case ReplyKind::kStored:
      return "STORED";
    case ReplyKind::kNotStored:
      return "NOT_STORED";
    case ReplyKind::kExists:
      return "EXISTS";
    case ReplyKind::kNotFound:
      return "NOT_FOUND";
    case ReplyKind::kDeleted:
      return "DELETED";
    case ReplyKind::kTouched:
      return "TOUCHED";
    case ReplyKind::kError:
      return "ERROR";
    case ReplyKind::kClientError:
      return "CLIENT_ERROR";
    case ReplyKind::kServerError:
      return "SERVER_ERROR";
    case ReplyKind::kEcho:
      return "echo";
  }
  return "?";
}

bool ReplyParser::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  return false;
}

bool ReplyParser::feed(const uint8_t *data, size_t len, ReplySink &sink) {
  if (failed()) return false;
  size_t i = 0;
  while (i < len) {
    switch (state_) {
      case State::kLine: {
        const uint8_t *nl = static_cast<const uint8_t *>(std::memchr(data + i, '\n', len - i));
        const size_t take = nl ? static_cast<size_t>(nl - (data + i)) : len - i;
        if (line_.size() + take > kMaxLine)
          return fail("a reply line longer than " + std::to_string(kMaxLine) + " bytes");
        line_.append(reinterpret_cast<const char *>(data + i), take);
        i += take;
        if (!nl) break;
        ++i;  // the '\n'
        if (line_.empty() || line_.back() != '\r')
          return fail("a reply line not ended by \\r\\n: '" + printable(line_) + "'");
        line_.pop_back();
        const bool ok = handle_line(line_, sink);
        line_.clear();  // keeps its capacity: no allocation per reply
        if (!ok) return false;
        break;
      }
      case State::kData: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(data_left_, len - i));
        if (verify_ && !corrupt_) {
          for (size_t k = 0; k < take; ++k)
            if (data[i + k] != value_byte(static_cast<size_t>(data_offset_ + k))) {
              corrupt_ = true;
              break;
            }
        }
        data_offset_ += take;
        data_left_ -= take;
        i += take;
        if (data_left_ == 0) {
          state_ = State::kDataEnd;
          data_offset_ = 0;
        }
        break;
      }
      case State::kDataEnd: {
        // The two bytes after a value's data must be \r\n; data_offset_
        // counts how many of them were seen.
        const uint8_t want = data_offset_ == 0 ? '\r' : '\n';
        if (data[i] != want) return fail("a VALUE's data not followed by \\r\\n");
        ++i;
        if (++data_offset_ == 2) {
          data_offset_ = 0;
          state_ = State::kLine;
        }
        break;
      }
    }
  }
  return true;
}

bool ReplyParser::handle_line(std::string_view line, ReplySink &sink) {
  std::string_view rest = line;
  const std::string_view word = next_token(rest);
  auto simple = [&](ReplyKind kind) {
    if (values_ != 0)
      return fail(std::string(reply_kind_name(kind)) + " inside a get reply (after VALUE)");
    sink.on_reply(Reply{kind});
    return true;
  };
  auto error_reply = [&](ReplyKind kind) {
    // An error ends whatever reply was in progress.
    values_ = 0;
    corrupt_ = false;
    sink.on_reply(Reply{kind});
    return true;
  };
  if (word == "VALUE") {
    const std::string_view key = next_token(rest);
    uint64_t flags = 0, bytes = 0, cas = 0;
    const bool ok = !key.empty() && key.size() <= kMaxKeyLength &&
                    parse_u64(next_token(rest), flags) && flags <= UINT32_MAX &&
                    parse_u64(next_token(rest), bytes);
    const std::string_view cas_token = next_token(rest);
    if (!ok || (!cas_token.empty() && !parse_u64(cas_token, cas)) || !next_token(rest).empty())
      return fail("a malformed VALUE line: '" + printable(line) + "'");
    if (bytes > kMaxValue)
      return fail("a VALUE of " + std::to_string(bytes) + " bytes (more than " +
                  std::to_string(kMaxValue) + ")");
    ++values_;
    data_left_ = bytes;
    data_offset_ = 0;
    state_ = bytes == 0 ? State::kDataEnd : State::kData;
    return true;
  }
  if (!rest.empty() && word != "ERROR" && word != "CLIENT_ERROR" && word != "SERVER_ERROR")
    return fail("an unexpected reply line: '" + printable(line) + "'");
  if (word == "END") {
    sink.on_reply(Reply{ReplyKind::kEnd, values_, corrupt_});
    values_ = 0;
    corrupt_ = false;
    return true;
  }
  if (word == "STORED") return simple(ReplyKind::kStored);
  if (word == "NOT_STORED") return simple(ReplyKind::kNotStored);
  if (word == "EXISTS") return simple(ReplyKind::kExists);
  if (word == "NOT_FOUND") return simple(ReplyKind::kNotFound);
  if (word == "DELETED") return simple(ReplyKind::kDeleted);
  if (word == "TOUCHED") return simple(ReplyKind::kTouched);
  if (word == "ERROR") return error_reply(ReplyKind::kError);
  if (word == "CLIENT_ERROR") return error_reply(ReplyKind::kClientError);
  if (word == "SERVER_ERROR") return error_reply(ReplyKind::kServerError);
  return fail("an unexpected reply line: '" + printable(line) + "'");
}

}  // namespace ix::load
