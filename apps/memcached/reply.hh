// What a protocol handler writes its answer into, in order: copied text and
// item values sent zero copy. The connection turns it into sends; the Reply
// keeps the items referenced until those sends are acknowledged.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "item.hh"

namespace ix::mc {

// How much reply one turn of a connection may build: past it, the protocol
// handlers stop taking requests and the rest of the input waits for the next
// turn, after the connection's flow control (replies not yet acknowledged)
// has had its say. memcached bounds a turn likewise (20 requests per event).
inline constexpr size_t kTurnReplyBudget = 1u << 20;

class Reply {
 public:
  // One run of the output: text_bytes()[offset, offset+len), or, when item is
  // set, `len` bytes of the item's data starting at its value.
  struct Piece {
    uint32_t offset = 0;
    uint32_t len = 0;
    ItemRef item;
  };
  // Values shorter than this are copied: below it an iovec and a reference
  // cost more than the copy.
  static constexpr size_t kCopyBelow = 256;

  void text(std::string_view bytes);  // copied
  void value(const ItemRef &item);  // the item's value bytes, zero copy (reference held until sent)
  void value_crlf(const ItemRef &item);  // value and its "\r\n" (text protocol data block)

  std::span<const Piece> pieces() const { return pieces_; }
  const std::string &text_bytes() const { return text_; }
  size_t bytes() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }
  bool has_items() const { return items_ != 0; }
  // Forgets the content, keeps the capacity (no allocation once warm).
  void clear();
  // clear(), and gives back memory past what ordinary replies need (after a
  // listing of megabytes, say), so an idle connection does not keep it.
  void clear_and_trim();
  void swap(Reply &other) noexcept;

 private:
  void add_item(const ItemRef &item, size_t len);

  std::string text_;
  std::vector<Piece> pieces_;
  size_t bytes_ = 0;
  size_t items_ = 0;
};

}  // namespace ix::mc
