#include "load/echo_codec.hh"

#include <algorithm>
#include <cstring>

namespace ix::load {

EchoPattern::EchoPattern(size_t size) : size_(size), table_(size + kEchoPeriod) {
  for (size_t j = 0; j < table_.size(); ++j) table_[j] = echo_byte(0, j);
}

void append_echo(std::vector<uint8_t> &out, const EchoPattern &pattern, uint64_t seq) {
  const uint8_t *m = pattern.message(seq);
  out.insert(out.end(), m, m + pattern.size());
}

void EchoReplyParser::feed(const uint8_t *data, size_t len, ReplySink &sink) {
  const size_t size = pattern_->size();
  while (len > 0) {
    const size_t take = std::min(len, size - offset_);
    corrupt_ = corrupt_ || std::memcmp(data, pattern_->message(seq_) + offset_, take) != 0;
    offset_ += take;
    data += take;
    len -= take;
    if (offset_ == size) {
      Reply reply{ReplyKind::kEcho};
      reply.value_corrupt = corrupt_;
      offset_ = 0;
      corrupt_ = false;
      ++seq_;
      sink.on_reply(reply);
    }
  }
}

}  // namespace ix::load
