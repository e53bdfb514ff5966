// Reply: building the ordered output of one or more requests.
#include "reply.hh"

namespace ix::mc {

void Reply::text(std::string_view bytes) {
  if (bytes.empty()) return;
  if (!pieces_.empty() && !pieces_.back().item &&
      pieces_.back().offset + pieces_.back().len == text_.size()) {
    pieces_.back().len += static_cast<uint32_t>(bytes.size());
  } else {
    pieces_.push_back(
        Piece{static_cast<uint32_t>(text_.size()), static_cast<uint32_t>(bytes.size()), {}});
  }
  text_.append(bytes);
  bytes_ += bytes.size();
}

void Reply::value(const ItemRef &item) {
  if (item.value().size() < kCopyBelow) {
    text(item.value());
    return;
  }
  add_item(item, item.value().size());
}

void Reply::value_crlf(const ItemRef &item) {
  if (item.value().size() < kCopyBelow) {
    text(item.value_with_crlf());
    return;
  }
  add_item(item, item.value_with_crlf().size());
}

void Reply::add_item(const ItemRef &item, size_t len) {
  pieces_.push_back(Piece{0, static_cast<uint32_t>(len), item});
  bytes_ += len;
  ++items_;
}

void Reply::clear() {
  text_.clear();
  pieces_.clear();  // drops the item references
  bytes_ = 0;
  items_ = 0;
}

void Reply::clear_and_trim() {
  constexpr size_t kKeep = 256 * 1024;
  if (text_.capacity() > kKeep) std::string().swap(text_);
  if (pieces_.capacity() * sizeof(Piece) > kKeep) std::vector<Piece>().swap(pieces_);
  clear();
}

void Reply::swap(Reply &other) noexcept {
  text_.swap(other.text_);
  pieces_.swap(other.pieces_);
  std::swap(bytes_, other.bytes_);
  std::swap(items_, other.items_);
}

}  // namespace ix::mc
