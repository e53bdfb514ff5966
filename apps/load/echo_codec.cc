#include "load/echo_codec.hh"

#include <algorithm>

namespace ix::load {

void append_echo(std::vector<uint8_t> &out, size_t size, uint64_t seq) {
  const size_t base = out.size();
  out.resize(base + size);
  for (size_t i = 0; i < size; ++i) out[base + i] = echo_byte(seq, i);
}

void EchoReplyParser::feed(const uint8_t *data, size_t len, ReplySink &sink) {
  while (len > 0) {
    const size_t take = std::min(len, size_ - offset_);
    for (size_t i = 0; i < take; ++i)
      corrupt_ = corrupt_ || data[i] != echo_byte(seq_, offset_ + i);
    offset_ += take;
    data += take;
    len -= take;
    if (offset_ == size_) {
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
