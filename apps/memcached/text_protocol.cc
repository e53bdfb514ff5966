// memcached 1.6 text protocol: classic commands and the meta commands, with
// memcached's replies and error strings (including where it stays silent
// under noreply and where it swallows a rejected data block).
//
// Requests are parsed in place in the caller's buffer; replies are built in
// the Reply (text copied, values referenced). Nothing here allocates once the
// Reply's buffers are warm.
#include "text_protocol.hh"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <string_view>

namespace ix::mc {

namespace {

using C = ThreadCounters;
constexpr size_t kIncomplete = SIZE_MAX;
constexpr size_t kMaxTokens = 24;  // memcached's MAX_TOKENS: longer lines do not match a command
// memcached refuses a meta command line of this many words or more.
constexpr size_t kMaxMetaWords = 20;
constexpr size_t kMaxOpaque = 31;  // memcached's 32 counts the flag letter

// ---- small formatting helpers (a stack buffer, then one copy into the Reply) ----

class Line {
 public:
  Line &s(std::string_view v) {
    const size_t n = std::min(v.size(), sizeof buf_ - len_);
    std::memcpy(buf_ + len_, v.data(), n);
    len_ += n;
    return *this;
  }
  Line &c(char ch) {
    if (len_ < sizeof buf_) buf_[len_++] = ch;
    return *this;
  }
  Line &u(uint64_t v) {
    auto r = std::to_chars(buf_ + len_, buf_ + sizeof buf_, v);
    if (r.ec == std::errc{}) len_ = static_cast<size_t>(r.ptr - buf_);
    return *this;
  }
  Line &i(int64_t v) {
    auto r = std::to_chars(buf_ + len_, buf_ + sizeof buf_, v);
    if (r.ec == std::errc{}) len_ = static_cast<size_t>(r.ptr - buf_);
    return *this;
  }
  std::string_view view() const { return {buf_, len_}; }

 private:
  // A key (250) plus the numbers and meta flags of one reply line.
  char buf_[640];
  size_t len_ = 0;
};

// ---- number parsing with memcached's acceptance rules ----

// safe_strtoull: digits only (no sign), no overflow.
bool parse_u64(std::string_view t, uint64_t *out) {
  if (t.empty() || t.front() == '-') return false;
  if (t.front() == '+') t.remove_prefix(1);
  auto r = std::from_chars(t.data(), t.data() + t.size(), *out);
  return r.ec == std::errc{} && r.ptr == t.data() + t.size();
}

// safe_strtoul on 64-bit: values past 32 bits are accepted and truncated.
bool parse_flags(std::string_view t, uint32_t *out) {
  uint64_t v = 0;
  if (!parse_u64(t, &v)) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// safe_strtol on 64-bit: any value a long holds is accepted, then cut to
// 32 bits (2147483648 becomes -2147483648), as memcached stores it.
bool parse_i32(std::string_view t, int64_t *out) {
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  int64_t v = 0;
  auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || r.ec != std::errc{} || r.ptr != t.data() + t.size()) return false;
  *out = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v)));
  return true;
}

struct Tokens {
  std::string_view v[kMaxTokens];
  size_t n = 0;
  bool overflow = false;  // more tokens than kMaxTokens
};

void tokenize(std::string_view line, Tokens *t) {
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i == line.size()) break;
    size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    if (t->n == kMaxTokens) {
      t->overflow = true;
      return;
    }
    t->v[t->n++] = line.substr(i, j - i);
    i = j;
  }
}

// True when a space-separated word of `keys` is longer than a key may be.
bool any_key_too_long(std::string_view keys) {
  size_t run = 0;
  for (const char ch : keys) {
    run = ch == ' ' ? 0 : run + 1;
    if (run > kMaxKeyLength) return true;
  }
  return false;
}

struct MetaFlags;
struct MetaKey;

// One call of handle_text: the input, where we are in it, and the output.
class Parser {
 public:
  Parser(std::span<const uint8_t> in, Context &ctx, Reply &out, bool *close_after,
         TextSession &session)
      : in_(reinterpret_cast<const char *>(in.data()), in.size()),
        ctx_(ctx),
        out_(out),
        ctr_(ctx.counters()),
        close_(close_after),
        session_(session),
        now_(ctx.now()) {}

  size_t run();

 private:
  // Each command gets its line (without the line end) and where the next
  // request starts; it returns where parsing continues, or kIncomplete.
  size_t command(std::string_view line, size_t next);
  void get(const Tokens &t, std::string_view line, bool with_cas, bool touch);
  size_t update(const Tokens &t, size_t next, StoreCmd cmd);
  size_t delta(const Tokens &t, size_t next, bool incr);
  size_t remove(const Tokens &t, size_t next);
  size_t touch(const Tokens &t, size_t next);
  size_t flush_all(const Tokens &t, size_t next);
  size_t verbosity(const Tokens &t, size_t next);
  size_t stats(const Tokens &t, size_t next);
  size_t meta_get(const Tokens &t, size_t next);
  size_t meta_set(const Tokens &t, size_t next);
  size_t meta_delete(const Tokens &t, size_t next);
  size_t meta_arith(const Tokens &t, size_t next);
  size_t meta_debug(const Tokens &t, size_t next);
  StoreStatus stale_store(StoreCmd cmd, std::string_view key, std::string_view data, uint32_t flags,
                          uint32_t exptime, uint64_t cas_in, uint64_t *cas_out);
  void stats_detail(const Tokens &t);
  void stats_cachedump(const Tokens &t);
  size_t lru_crawler(const Tokens &t, size_t next);
  void continue_metadump();
  size_t shutdown(const Tokens &t, size_t next);
  size_t slabs(const Tokens &t, size_t next);
  size_t debugtime(const Tokens &t, size_t next);
  size_t cache_memlimit(const Tokens &t, size_t next);

  // With cas off (memcached -C) every cas shown is 0, and a cas a client
  // sends matches nothing, so a compare on an existing item fails. A cas of
  // 0 sent in text is a compare too (the store takes 0 as "no compare").
  uint64_t shown_cas(uint64_t cas) const { return ctx_.settings().cas_enabled ? cas : 0; }
  uint64_t cas_to_compare(uint64_t cas_in) const {
    return ctx_.settings().cas_enabled && cas_in != 0 ? cas_in : kNoSuchCas;
  }
  static constexpr uint64_t kNoSuchCas = UINT64_MAX;

  // Starts skipping a rejected data block of `len` bytes at `from`.
  size_t swallow(size_t from, uint64_t len) {
    const uint64_t here = std::min<uint64_t>(len, in_.size() - from);
    session_.swallow = len - here;
    return from + here;
  }
  void reply(std::string_view s) { out_.text(s); }
  // memcached's out_string: silent under noreply.
  void reply_unless(bool noreply, std::string_view s) {
    if (!noreply) out_.text(s);
  }
  // Replies (unless noreply) and returns true when a classic command's key
  // is over memcached's limit.
  bool key_too_long(std::string_view key, bool noreply) {
    if (key.size() <= kMaxKeyLength) return false;
    reply_unless(noreply, "CLIENT_ERROR bad command line format\r\n");
    return true;
  }

  // A storage command's data block of vlen bytes and its CRLF, at `next`.
  struct DataBlock {
    size_t next;  // where parsing continues, or kIncomplete
    bool ok;      // `data` is the value to store
    std::string_view data;
  };
  // An item over the size limit is refused (its block skipped) before the
  // block has to arrive; a block without its CRLF is refused once it has.
  // `silent`: classic noreply (meta commands report these errors even under q).
  DataBlock data_block(StoreCmd cmd, std::string_view key, int64_t vlen, size_t next, bool silent);

  // The checks every meta command starts with; each replies with the error
  // and returns false when the request is refused.
  bool meta_key_fits(const Tokens &t, MetaKey *mk);
  bool meta_opaque_fits(const MetaFlags &f);
  // `error`: what the command says when the key does not decode (md and ma
  // report it as a bad flag, as memcached does).
  bool meta_key_decodes(const MetaFlags &f, MetaKey *mk,
                        std::string_view error = "CLIENT_ERROR error decoding key\r\n");

  std::string_view in_;
  Context &ctx_;
  Reply &out_;
  ThreadCounters &ctr_;
  bool *close_;
  TextSession &session_;
  uint32_t now_;
};

size_t Parser::run() {
  size_t pos = 0;
  session_.paused = false;
  if (session_.dumping()) {
    continue_metadump();
    if (session_.dumping()) return 0;  // input waits until the dump is written
  }
  while (pos < in_.size() && !*close_ && !session_.dumping()) {
    if (session_.swallow != 0) {
      const uint64_t n = std::min<uint64_t>(session_.swallow, in_.size() - pos);
      session_.swallow -= n;
      pos += n;
      continue;
    }
    const std::string_view rest = in_.substr(pos);
    const size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) {
      if (rest.size() <= kMaxLine) break;  // wait for the rest of the line
      // memcached keeps reading only a long multi-get line; anything else
      // this long without a line end is not the protocol.
      const size_t lead = rest.find_first_not_of(' ');
      const std::string_view body = lead == std::string_view::npos ? "" : rest.substr(lead);
      const bool multiget = lead <= 100 && (body.starts_with("get ") || body.starts_with("gets "));
      if (multiget && rest.size() <= kMaxGetLine) break;
      // memcached closes without a reply.
      ctr_.add(C::protocol_errors);
      *close_ = true;
      return in_.size();
    }
    std::string_view line = rest.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t next = command(line, pos + nl + 1);
    if (next == kIncomplete) break;
    pos = next;
    if (out_.bytes() >= kTurnReplyBudget && pos < in_.size()) {
      session_.paused = true;  // the rest waits for the next turn
      break;
    }
  }
  ctr_.add(C::bytes_read, pos);
  return pos;
}

size_t Parser::command(std::string_view line, size_t next) {
  // memcached reads a command line as a C string: a NUL ends it.
  if (const size_t nul = line.find('\0'); nul != std::string_view::npos) line = line.substr(0, nul);
  Tokens t;
  tokenize(line, &t);
  if (t.n == 0) {
    reply("ERROR\r\n");
    return next;
  }
  const std::string_view cmd = t.v[0];
  const size_t n = t.overflow ? kMaxTokens + 1 : t.n;
  if (t.n >= 2 && (cmd == "get" || cmd == "gets" || cmd == "gat" || cmd == "gats")) {
    get(t, line, cmd == "gets" || cmd == "gats", cmd[1] == 'a');
    return next;
  }
  const bool meta = cmd == "mg" || cmd == "ms" || cmd == "md" || cmd == "ma";
  if (meta && n >= kMaxMetaWords) {
    // (mg words it differently from the others; an ms data block is then
    // read as a command.)
    reply(cmd == "mg" ? "CLIENT_ERROR options flags are too long\r\n"
                      : "CLIENT_ERROR options flags too long\r\n");
    return next;
  }
  if (cmd == "mg" && t.n >= 2 && !t.overflow) return meta_get(t, next);
  if (cmd == "ms" && t.n >= 3 && !t.overflow) return meta_set(t, next);
  if (cmd == "ms" && t.n == 2) {  // no datalen: nothing to swallow
    reply("CLIENT_ERROR bad command line format\r\n");
    return next;
  }
  if (cmd == "md" && t.n >= 2 && !t.overflow) return meta_delete(t, next);
  if (cmd == "ma" && t.n >= 2 && !t.overflow) return meta_arith(t, next);
  if (cmd == "me") return meta_debug(t, next);
  if (cmd == "mn") {
    ctr_.add(C::cmd_meta);
    reply("MN\r\n");
    return next;
  }
  if ((n == 5 || n == 6) &&
      (cmd == "set" || cmd == "add" || cmd == "replace" || cmd == "append" || cmd == "prepend")) {
    const StoreCmd sc = cmd == "set"       ? StoreCmd::Set
                        : cmd == "add"     ? StoreCmd::Add
                        : cmd == "replace" ? StoreCmd::Replace
                        : cmd == "append"  ? StoreCmd::Append
                                           : StoreCmd::Prepend;
    return update(t, next, sc);
  }
  if ((n == 6 || n == 7) && cmd == "cas") return update(t, next, StoreCmd::Cas);
  if ((n == 3 || n == 4) && cmd == "incr") return delta(t, next, true);
  if ((n == 3 || n == 4) && cmd == "decr") return delta(t, next, false);
  if (n >= 2 && n <= 4 && cmd == "delete") return remove(t, next);
  if ((n == 3 || n == 4) && cmd == "touch") return touch(t, next);
  if (n <= 3 && cmd == "flush_all") return flush_all(t, next);
  if (cmd == "version") {
    Line l;
    reply(l.s("VERSION ").s(ctx_.version()).s("\r\n").view());
    return next;
  }
  if (cmd == "quit") {
    *close_ = true;
    return next;
  }
  if ((n == 2 || n == 3) && cmd == "verbosity") return verbosity(t, next);
  if (n <= 3 && cmd == "shutdown") return shutdown(t, next);
  if (cmd == "stats") return stats(t, next);  // words after the group are ignored
  if (cmd == "slabs") return slabs(t, next);
  if (cmd == "lru_crawler") return lru_crawler(t, next);
  if ((n == 2 || n == 3) && cmd == "cache_memlimit") return cache_memlimit(t, next);
  if (t.n >= 2 && cmd == "debugtime" && ctx_.settings().debug_commands) return debugtime(t, next);
  ctr_.add(C::protocol_errors);
  // An unknown command whose last word starts "HTTP/" is a web client on the
  // wrong port: memcached hangs up without a reply.
  if (!t.overflow && t.v[t.n - 1].starts_with("HTTP/")) {
    *close_ = true;
    return next;
  }
  reply("ERROR\r\n");
  return next;
}

// ---- classic retrieval ----

void Parser::get(const Tokens &t, std::string_view line, bool with_cas, bool touch) {
  // Keys are walked over the whole line: a multi-get may hold far more keys
  // than the token limit that bounds every other command.
  size_t i = static_cast<size_t>(t.v[0].data() + t.v[0].size() - line.data());
  uint32_t new_exptime = 0;
  if (touch) {
    int64_t e = 0;
    if (!parse_i32(t.v[1], &e)) {
      reply("CLIENT_ERROR invalid exptime argument\r\n");
      return;
    }
    new_exptime = absolute_exptime(e, now_);
    i = static_cast<size_t>(t.v[1].data() + t.v[1].size() - line.data());
  }
  // memcached answers only the error when any key is too long, even after
  // keys it has found.
  if (any_key_too_long(line.substr(i))) {
    reply("CLIENT_ERROR bad command line format\r\n");
    return;
  }
  Store &store = ctx_.store();
  for (;;) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i == line.size()) break;
    size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    const std::string_view key = line.substr(i, j - i);
    i = j;
    ItemRef item;
    if (touch) {
      ctr_.add(C::cmd_touch);
      item = store.touch(key, new_exptime, now_);
      ctr_.add(item ? C::touch_hits : C::touch_misses);
    } else {
      item = store.get(key, now_);
    }
    ctr_.add(C::cmd_get);
    ctr_.add(item ? C::get_hits : C::get_misses);
    ctx_.detail_get(key, static_cast<bool>(item));
    if (!item) continue;
    Line l;
    l.s("VALUE ").s(key).c(' ').u(item.flags()).c(' ').u(item.value().size());
    if (with_cas) l.c(' ').u(shown_cas(item.cas()));
    reply(l.s("\r\n").view());
    out_.value_crlf(item);
  }
  reply("END\r\n");
}

// ---- classic storage ----

Parser::DataBlock Parser::data_block(StoreCmd cmd, std::string_view key, int64_t vlen, size_t next,
                                     bool silent) {
  Store &store = ctx_.store();
  const uint64_t len = static_cast<uint64_t>(vlen) + 2;
  if (Store::item_size(key.size(), static_cast<size_t>(vlen)) > store.config().item_size_max) {
    ctr_.add(C::cmd_set);
    ctr_.add(C::store_too_large);
    reply_unless(silent, "SERVER_ERROR object too large for cache\r\n");
    // memcached drops the old value too: a failed set must not leave it readable.
    if (cmd == StoreCmd::Set) store.remove(key, 0, now_);
    return {swallow(next, len), false, {}};
  }
  const size_t end = next + static_cast<size_t>(len);
  if (end > in_.size()) return {kIncomplete, false, {}};
  if (in_[end - 2] != '\r' || in_[end - 1] != '\n') {
    reply_unless(silent, "CLIENT_ERROR bad data chunk\r\n");
    return {end, false, {}};
  }
  return {end, true, in_.substr(next, static_cast<size_t>(vlen))};
}

size_t Parser::update(const Tokens &t, size_t next, StoreCmd cmd) {
  const bool is_cas = cmd == StoreCmd::Cas;
  // memcached's noreply is the last word, wherever that falls.
  const bool noreply = t.v[t.n - 1] == "noreply";
  const std::string_view key = t.v[1];
  uint32_t flags = 0;
  int64_t exptime = 0, vlen = 0;
  uint64_t cas_in = 0;
  if (key.size() > kMaxKeyLength || !parse_flags(t.v[2], &flags) || !parse_i32(t.v[3], &exptime) ||
      !parse_i32(t.v[4], &vlen) || (is_cas && !parse_u64(t.v[5], &cas_in)) || vlen < 0 ||
      vlen > kMaxDataLength) {
    // A length whose data block (with its CRLF) would not fit memcached's int
    // is a malformed line there, not a too-large item: no data is swallowed.
    reply_unless(noreply, "CLIENT_ERROR bad command line format\r\n");
    return next;
  }
  const DataBlock block = data_block(cmd, key, vlen, next, noreply);
  // Counted once the whole request is here, refused or not, as memcached
  // counts it before it allocates.
  if (block.next != kIncomplete) ctx_.detail_set(key);
  if (!block.ok) return block.next;
  const size_t end = block.next;
  ctr_.add(C::cmd_set);
  uint64_t cas_out = 0;
  if (is_cas) cas_in = cas_to_compare(cas_in);
  const StoreStatus st = ctx_.store().store(
      cmd, key, block.data, flags, absolute_exptime(exptime, now_), cas_in, now_, &cas_out);
  switch (st) {
    case StoreStatus::Stored:
      if (is_cas) ctr_.add(C::cas_hits);
      reply_unless(noreply, "STORED\r\n");
      break;
    case StoreStatus::NotStored:
      reply_unless(noreply, "NOT_STORED\r\n");
      break;
    case StoreStatus::Exists:
      ctr_.add(C::cas_badval);
      reply_unless(noreply, "EXISTS\r\n");
      break;
    case StoreStatus::NotFound:
      ctr_.add(C::cas_misses);
      reply_unless(noreply, "NOT_FOUND\r\n");
      break;
    case StoreStatus::TooLarge:
      ctr_.add(C::store_too_large);
      reply_unless(noreply, "SERVER_ERROR object too large for cache\r\n");
      break;
    case StoreStatus::NoMemory:
      ctr_.add(C::store_no_memory);
      reply_unless(noreply, "SERVER_ERROR out of memory storing object\r\n");
      break;
  }
  return end;
}

size_t Parser::delta(const Tokens &t, size_t next, bool incr) {
  const bool noreply = t.v[t.n - 1] == "noreply";
  const std::string_view key = t.v[1];
  if (key_too_long(key, noreply)) return next;
  uint64_t by = 0;
  if (!parse_u64(t.v[2], &by)) {
    reply_unless(noreply, "CLIENT_ERROR invalid numeric delta argument\r\n");
    return next;
  }
  uint64_t value = 0;
  switch (ctx_.store().delta(key, incr, by, now_, &value, nullptr)) {
    case DeltaStatus::Ok: {
      ctr_.add(incr ? C::incr_hits : C::decr_hits);
      Line l;
      reply_unless(noreply, l.u(value).s("\r\n").view());
      break;
    }
    case DeltaStatus::NotFound:
      ctr_.add(incr ? C::incr_misses : C::decr_misses);
      reply_unless(noreply, "NOT_FOUND\r\n");
      break;
    case DeltaStatus::NonNumeric:
      reply_unless(noreply, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
      break;
  }
  return next;
}

size_t Parser::remove(const Tokens &t, size_t next) {
  const std::string_view key = t.v[1];
  if (t.n > 2) {
    // memcached accepts a legacy hold time only when it is 0.
    const bool hold_zero = t.v[2] == "0";
    const bool noreply = t.v[t.n - 1] == "noreply";
    const bool valid = (t.n == 3 && (hold_zero || noreply)) || (t.n == 4 && hold_zero && noreply);
    if (!valid) {
      reply_unless(noreply,
                   "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
      return next;
    }
  }
  const bool noreply = t.n > 2 && t.v[t.n - 1] == "noreply";
  if (key_too_long(key, noreply)) return next;
  ctx_.detail_delete(key);
  if (ctx_.store().remove(key, 0, now_) == DeleteStatus::Deleted) {
    ctr_.add(C::delete_hits);
    reply_unless(noreply, "DELETED\r\n");
  } else {
    ctr_.add(C::delete_misses);
    reply_unless(noreply, "NOT_FOUND\r\n");
  }
  return next;
}

size_t Parser::touch(const Tokens &t, size_t next) {
  const bool noreply = t.v[t.n - 1] == "noreply";
  const std::string_view key = t.v[1];
  if (key_too_long(key, noreply)) return next;
  int64_t e = 0;
  if (!parse_i32(t.v[2], &e)) {
    reply_unless(noreply, "CLIENT_ERROR invalid exptime argument\r\n");
    return next;
  }
  ctr_.add(C::cmd_touch);
  if (ctx_.store().touch(key, absolute_exptime(e, now_), now_)) {
    ctr_.add(C::touch_hits);
    reply_unless(noreply, "TOUCHED\r\n");
  } else {
    ctr_.add(C::touch_misses);
    reply_unless(noreply, "NOT_FOUND\r\n");
  }
  return next;
}

size_t Parser::flush_all(const Tokens &t, size_t next) {
  const bool noreply = t.v[t.n - 1] == "noreply";
  const size_t args = t.n - 1 - (noreply ? 1 : 0);
  int64_t delay = 0;
  // memcached reads the first argument and ignores any after it.
  if (args >= 1 && !parse_i32(t.v[1], &delay)) {
    reply_unless(noreply, "CLIENT_ERROR invalid exptime argument\r\n");
    return next;
  }
  if (!ctx_.settings().flush_enabled) {
    reply_unless(noreply, "CLIENT_ERROR flush_all not allowed\r\n");
    return next;
  }
  ctr_.add(C::cmd_flush);
  ctx_.store().flush_all(delay > 0 ? absolute_exptime(delay, now_) : 0, now_);
  reply_unless(noreply, "OK\r\n");
  return next;
}

size_t Parser::verbosity(const Tokens &t, size_t next) {
  // memcached reads the level and ignores a second argument.
  const bool noreply = t.v[t.n - 1] == "noreply";
  uint32_t level = 0;
  if (!parse_flags(t.v[1], &level)) {
    reply_unless(noreply, "CLIENT_ERROR bad command line format\r\n");
    return next;
  }
  ctx_.set_verbosity(static_cast<int>(std::min<uint32_t>(level, 1000)));
  reply_unless(noreply, "OK\r\n");
  return next;
}

size_t Parser::stats(const Tokens &t, size_t next) {
  const std::string_view group = t.n >= 2 ? t.v[1] : std::string_view();
  if (group == "detail") {
    stats_detail(t);
    return next;
  }
  if (group == "reset") {
    ctx_.reset_stats();
    reply("RESET\r\n");
    return next;
  }
  if (group == "cachedump") {
    stats_cachedump(t);
    return next;
  }
  const auto rows = ctx_.stats(group);
  if (!rows) {
    reply("ERROR\r\n");
    return next;
  }
  for (const auto &[name, value] : *rows) {
    Line l;
    reply(l.s("STAT ").s(name).c(' ').s(value).s("\r\n").view());
  }
  reply("END\r\n");
  return next;
}

// memcached's slab classes (chunk sizes from 96 bytes, each 1.25 times the
// last, 8-byte aligned, up to half the largest item): the class `me` names
// for an item of `size` bytes.
unsigned slab_class_for(size_t size, size_t item_size_max) {
  const size_t largest = item_size_max / 2;
  size_t chunk = 96;
  unsigned cls = 1;
  while (size > chunk && chunk < largest) {
    chunk = std::min(largest,
                     (static_cast<size_t>(static_cast<double>(chunk) * 1.25) + 7) & ~size_t(7));
    ++cls;
  }
  return cls;
}

// cache_memlimit MB [noreply]: memcached's -m at run time, with its bounds
// and answers. Raising it takes effect at once; lowering it evicts as stores
// need room (Store::set_memory_limit).
size_t Parser::cache_memlimit(const Tokens &t, size_t next) {
  const bool noreply = t.v[t.n - 1] == "noreply";
  uint32_t mb = 0;
  if (!parse_flags(t.v[1], &mb)) {
    reply_unless(noreply, "ERROR\r\n");
  } else if (mb < 8) {
    reply_unless(noreply, "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n");
  } else if (mb > 1000000000) {
    reply_unless(noreply, "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n");
  } else {
    ctx_.store().set_memory_limit(uint64_t{mb} << 20);
    reply_unless(noreply, "OK\r\n");
  }
  return next;
}

// debugtime SECONDS | p | r: memcached-debug's clock control (ServerSettings::
// debug_commands): move the server's clock (signed seconds, adding up), pause
// it, run it again.
size_t Parser::debugtime(const Tokens &t, size_t next) {
  const std::string_view v = t.v[1];
  if (v == "p" || v == "r") {
    ctx_.pause_clock(v == "p");
  } else {
    int64_t seconds = 0;
    const auto r = std::from_chars(v.data(), v.data() + v.size(), seconds);
    if (v.empty() || r.ec != std::errc{} || r.ptr != v.data() + v.size()) {
      reply("ERROR\r\n");
      return next;
    }
    ctx_.move_clock(seconds);
  }
  now_ = ctx_.now();  // the commands after it in this batch see the new time, as in memcached
  reply("OK\r\n");
  return next;
}

// slabs reassign SRC DST, slabs automove LEVEL, slabs automove ratio R:
// memcached's slab mover, answered as memcached answers them. Items here are
// allocated to size, so no class ever has a spare page to give: a reassign
// between two valid classes (0, the global pool, to the largest class
// memcached would have for -I) is NOSPARE, and an automove level or ratio is
// only recorded (stats settings shows it).
size_t Parser::slabs(const Tokens &t, size_t next) {
  if (t.n == 4 && t.v[1] == "reassign") {
    int64_t src = 0, dst = 0;
    if (!parse_i32(t.v[2], &src) || !parse_i32(t.v[3], &dst)) {
      reply("CLIENT_ERROR bad command line format\r\n");
    } else if (src == dst) {
      reply("SAME src and dst class are identical\r\n");
    } else {
      // src -1 asks memcached to pick a class with a spare page: there is
      // none, so it stays -1.
      const size_t max = ctx_.store().config().item_size_max;
      const int64_t largest = slab_class_for(max, max);
      if (src < 0 || src > largest || dst < 0 || dst > largest)
        reply("BADCLASS invalid src or dst class id\r\n");
      else
        reply("NOSPARE source class has no spare pages\r\n");
    }
    return next;
  }
  if (t.n >= 3 && t.v[1] == "automove") {
    const bool noreply = t.v[t.n - 1] == "noreply";
    if (t.v[2] == "ratio") {
      double r = 0;
      const std::string_view v = t.n >= 4 ? t.v[3] : std::string_view();
      const auto res = std::from_chars(v.data(), v.data() + v.size(), r);
      if (t.n < 4 || v.empty() || res.ec != std::errc{} || res.ptr != v.data() + v.size()) {
        reply_unless(noreply, "ERROR\r\n");
        return next;
      }
      ctx_.set_slab_automove_ratio(r);
    } else {
      uint32_t level = 0;
      if (!parse_flags(t.v[2], &level)) {
        reply_unless(noreply, "CLIENT_ERROR bad command line format\r\n");
        return next;
      }
      if (level > 2) {
        reply_unless(noreply, "ERROR\r\n");
        return next;
      }
      ctx_.set_slab_automove(level);
    }
    reply_unless(noreply, "OK\r\n");
    return next;
  }
  reply("ERROR\r\n");
  return next;
}

// stats detail on|off|dump: memcached's per-prefix statistics (PrefixStats).
void Parser::stats_detail(const Tokens &t) {
  const std::string_view what = t.n >= 3 ? t.v[2] : std::string_view();
  if (what == "on" || what == "off") {
    ctx_.set_detail_enabled(what == "on");
    reply("OK\r\n");
  } else if (what == "dump") {
    reply(ctx_.detail_dump());
  } else {
    reply("CLIENT_ERROR usage: stats detail on|off|dump\r\n");
  }
}

// stats cachedump CLASS LIMIT: memcached's listing of the keys in one slab
// class ("ITEM key [value bytes; exptime s]", at most LIMIT, 0: no limit,
// within 2 MB). `stats items` shows every item in class 1 (the store has no
// slab classes), so class 1 lists them all and the other classes none, which
// keeps the listing consistent with stats items for tools that walk both.
// Keys a text line cannot carry (binary protocol keys with spaces or control
// bytes) are left out, as memcached leaves out binary keys.
void Parser::stats_cachedump(const Tokens &t) {
  constexpr uint32_t kMaxClasses = 64;  // memcached's MAX_NUMBER_OF_SLAB_CLASSES
  constexpr size_t kMaxBytes = 2u << 20;
  if (!ctx_.settings().dump_enabled) {
    reply("CLIENT_ERROR stats cachedump not allowed\r\n");
    return;
  }
  uint32_t cls = 0, limit = 0;
  if (t.n < 4) {
    reply("CLIENT_ERROR bad command line\r\n");
    return;
  }
  if (!parse_flags(t.v[2], &cls) || !parse_flags(t.v[3], &limit)) {
    reply("CLIENT_ERROR bad command line format\r\n");
    return;
  }
  if (cls >= kMaxClasses) {
    reply("CLIENT_ERROR Illegal slab id\r\n");
    return;
  }
  if (cls == 1) {
    size_t bytes = 0;
    uint32_t shown = 0;
    ctx_.store().visit_live(now_, [&](const detail::Item &it) {
      if (limit != 0 && shown >= limit) return false;
      const std::string_view key = it.key();
      for (const char ch : key)
        if (static_cast<unsigned char>(ch) <= ' ' || ch == 0x7f) return true;
      Line l;
      l.s("ITEM ").s(key).s(" [").u(it.value_len).s(" b; ");
      l.u(it.exptime.load(std::memory_order_relaxed)).s(" s]\r\n");
      if (bytes + l.view().size() + 5 > kMaxBytes) return false;
      bytes += l.view().size();
      reply(l.view());
      ++shown;
      return true;
    });
  }
  reply("END\r\n");
}

size_t memcached_item_size(size_t key_len, size_t value_len, uint32_t flags, bool cas_enabled);

// The slab classes an lru_crawler command names: "all", "hash" (the whole
// table), or ids 1..63 separated by commas. False: memcached's BADCLASS.
// As in stats items, the store is one class: a list with 1 is every item,
// one without it none.
bool parse_crawl_classes(std::string_view v, bool *all, uint64_t *classes) {
  *all = v == "all" || v == "hash";
  *classes = 0;
  if (*all) return true;
  while (!v.empty()) {
    const size_t comma = v.find(',');
    const std::string_view id = v.substr(0, comma);
    v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    if (id.empty()) continue;  // memcached's strtok skips empty fields
    uint32_t n = 0;
    if (!parse_flags(id, &n) || n < 1 || n > 63) return false;
    *classes |= uint64_t{1} << n;
  }
  if (*classes & 2) *all = true;
  return *classes != 0;
}

// lru_crawler crawl|metadump CLASSES, tocrawl N, sleep US, enable, disable:
// memcached's LRU crawler commands with its answers. One crawler job runs at
// a time (BUSY otherwise, as memcached's one crawler thread): a crawl is
// answered at once and swept by a serving loop, a bounded step per round
// (Context::request_crawl); a metadump is written in steps between which the
// connection's replies drain (continue_metadump).
size_t Parser::lru_crawler(const Tokens &t, size_t next) {
  const std::string_view sub = t.n >= 2 ? t.v[1] : std::string_view();
  if (t.n == 3 && (sub == "crawl" || sub == "metadump")) {
    if (!ctx_.lru_crawler()) {
      reply("CLIENT_ERROR lru crawler disabled\r\n");
      return next;
    }
    if (sub == "metadump" && !ctx_.settings().dump_enabled) {
      reply("ERROR metadump not allowed\r\n");
      return next;
    }
    if (sub == "metadump" && !out_.empty()) {
      // As memcached: replies of earlier pipelined commands would interleave.
      reply("ERROR cannot pipeline other commands before metadump\r\n");
      return next;
    }
    bool all = false;
    uint64_t classes = 0;
    if (!parse_crawl_classes(t.v[2], &all, &classes)) {
      reply("BADCLASS invalid class id\r\n");
      return next;
    }
    if (sub == "crawl" && t.v[2] == "hash") {
      // memcached walks the hash table only to dump it.
      reply("ERROR an unknown error happened\r\n");
      return next;
    }
    if (sub == "crawl") {
      reply(ctx_.request_crawl() ? "OK\r\n" : "BUSY currently processing crawler request\r\n");
      return next;
    }
    if (!ctx_.claim_crawler()) {
      reply("BUSY currently processing crawler request\r\n");
      return next;
    }
    session_.metadump = {};
    session_.metadump.active = true;
    session_.metadump.all = all;
    session_.metadump.classes = classes;
    continue_metadump();
    return next;
  }
  if (t.n == 3 && (sub == "tocrawl" || sub == "sleep")) {
    uint32_t n = 0;
    if (!parse_flags(t.v[2], &n)) {
      reply("CLIENT_ERROR bad command line format\r\n");
    } else if (sub == "sleep" && n > 1000000) {
      reply("CLIENT_ERROR sleep must be one second or less\r\n");
    } else {
      if (sub == "sleep")
        ctx_.set_crawler_sleep(n);
      else
        ctx_.set_crawler_tocrawl(n);
      reply("OK\r\n");
    }
    return next;
  }
  if (t.n == 2 && sub == "enable") {
    // memcached cannot start its crawler thread twice.
    if (ctx_.lru_crawler()) {
      reply("ERROR failed to start lru crawler thread\r\n");
    } else {
      ctx_.set_lru_crawler(true);
      reply("OK\r\n");
    }
    return next;
  }
  if (t.n == 2 && sub == "disable") {
    ctx_.set_lru_crawler(false);
    reply("OK\r\n");
    return next;
  }
  reply("ERROR\r\n");
  return next;
}

// One step of a metadump: about 64 KB of memcached's lines ("key=K exp=E
// la=L cas=C fetch=yes|no cls=N size=S\n", the key URI-encoded, times in
// unix seconds, exp -1 for none), then "END\r\n" after the last.
void Parser::continue_metadump() {
  constexpr size_t kStepBytes = 64 * 1024;
  constexpr uint32_t kStepBuckets = 4096;
  TextSession::Metadump &md = session_.metadump;
  const bool cas_on = ctx_.settings().cas_enabled;
  size_t bytes = 0;
  std::string line;
  // Classes other than 1 hold nothing (parse_crawl_classes): no walk.
  const bool done =
      !md.all ||
      ctx_.store().walk_step(
          now_, md.cursor,
          [&](const detail::Item &it) {
            const size_t size = memcached_item_size(it.key_len, it.value_len, it.flags, cas_on);
            const unsigned cls = 1;  // as stats items, stats slabs and cachedump show it
            static constexpr char kHex[] = "0123456789ABCDEF";
            line.assign("key=");
            for (const char ch : it.key()) {
              const auto c = static_cast<unsigned char>(ch);
              if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
                line += ch;
              } else {
                line += '%';
                line += kHex[c >> 4];
                line += kHex[c & 15];
              }
            }
            const uint32_t exp = it.exptime.load(std::memory_order_relaxed);
            line += " exp=" + (exp == 0 ? std::string("-1") : std::to_string(exp));
            line += " la=" + std::to_string(it.last_access);
            line += " cas=" + std::to_string(cas_on ? it.cas : 0);
            line += it.fetched() ? " fetch=yes" : " fetch=no";
            line += " cls=" + std::to_string(cls) + " size=" + std::to_string(size) + "\n";
            bytes += line.size();
            reply(line);
          },
          [&] { return bytes >= kStepBytes; }, kStepBuckets);
  if (done) {
    reply("END\r\n");
    md.active = false;
    ctx_.release_crawler();
  }
}

// ---- meta commands ----

// The flags of one meta request: which were given (for duplicates), their
// tokens, and the order of the ones that echo into the reply.
struct MetaFlags {
  uint64_t seen = 0;  // bit per flag letter
  std::string_view token[128];
  char order[kMaxTokens];
  size_t norder = 0;
  bool has(char f) const { return (seen >> bit(f)) & 1; }
  std::string_view tok(char f) const { return token[static_cast<unsigned char>(f)]; }
  static unsigned bit(char f) {
    return f >= 'a' && f <= 'z'   ? unsigned(f - 'a')
           : f >= 'A' && f <= 'Z' ? 26u + unsigned(f - 'A')
                                  : 63u;
  }
};

enum class FlagError { None, Invalid, Duplicate };

// The flag letters memcached 1.6.18 accepts on every meta command; each
// command uses the ones it knows and ignores the rest.
constexpr std::string_view kMetaFlagLetters = "bcfhklqstuvCDFIJLMNOPRT";

// Records flag tokens t.v[from..]; only letters in `allowed` are accepted.
FlagError parse_meta_flags(const Tokens &t, size_t from, std::string_view allowed, MetaFlags *f) {
  for (size_t i = from; i < t.n; ++i) {
    const char c = t.v[i][0];
    if (allowed.find(c) == std::string_view::npos) return FlagError::Invalid;
    if (f->has(c)) return FlagError::Duplicate;
    f->seen |= uint64_t(1) << MetaFlags::bit(c);
    f->token[static_cast<unsigned char>(c)] = t.v[i].substr(1);
    f->order[f->norder++] = c;
  }
  return FlagError::None;
}

int64_t ttl_left(uint32_t exptime, uint32_t now) {
  if (exptime == 0) return -1;
  return exptime > now ? int64_t(exptime) - int64_t(now) : 0;
}

// Meta's b flag: the key token is base64 (binary keys over a text protocol).
// Decodes into `buf`; false when the token is not valid base64.
bool decode_base64(std::string_view in, char *buf, size_t cap, std::string_view *out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (in.empty() || in.size() % 4 != 0) return false;
  size_t n = 0;
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad != 0 || (v[j] = val(c)) < 0) return false;
    }
    const uint32_t w =
        (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    const char bytes[3] = {char(w >> 16), char(w >> 8), char(w)};
    for (int j = 0; j < 3 - pad; ++j) {
      if (n == cap) return false;
      buf[n++] = bytes[j];
    }
  }
  *out = {buf, n};
  return true;
}

// The key a meta command works on: its token, or the token decoded (b flag).
struct MetaKey {
  std::string_view token;  // as sent, echoed by the k flag
  std::string_view key;    // as stored
  bool base64 = false;
  char buf[kMaxKeyLength];
};

// Appends " k<token>" (and " b" for a base64 key, as memcached marks it).
void echo_key(Line &l, const MetaKey &k) {
  l.s(" k").s(k.token);
  if (k.base64) l.s(" b");
}

// Appends the flags any meta reply may echo: k (the key) and O (the
// opaque token). False for other flags, which the command handles itself.
bool echo_key_or_opaque(Line &l, char flag, const MetaFlags &f, const MetaKey &k) {
  if (flag == 'k')
    echo_key(l, k);
  else if (flag == 'O')
    l.s(" O").s(f.tok('O'));
  else
    return false;
  return true;
}

bool Parser::meta_key_fits(const Tokens &t, MetaKey *mk) {
  ctr_.add(C::cmd_meta);
  mk->token = t.v[1];
  if (mk->token.size() <= kMaxKeyLength) return true;
  reply("CLIENT_ERROR bad command line format\r\n");
  return false;
}

bool Parser::meta_opaque_fits(const MetaFlags &f) {
  if (!f.has('O') || f.tok('O').size() <= kMaxOpaque) return true;
  reply("CLIENT_ERROR opaque token too long\r\n");
  return false;
}

// Decodes the b flag's key.
bool Parser::meta_key_decodes(const MetaFlags &f, MetaKey *mk, std::string_view error) {
  mk->key = mk->token;
  if (!f.has('b')) return true;
  mk->base64 = true;
  if (decode_base64(mk->token, mk->buf, sizeof mk->buf, &mk->key)) return true;
  reply(error);
  return false;
}

size_t Parser::meta_get(const Tokens &t, size_t next) {
  MetaKey mk;
  if (!meta_key_fits(t, &mk)) return next;
  MetaFlags f;
  switch (parse_meta_flags(t, 2, kMetaFlagLetters, &f)) {
    case FlagError::Invalid:
      reply("CLIENT_ERROR invalid flag\r\n");
      return next;
    case FlagError::Duplicate:
      reply("CLIENT_ERROR duplicate flag\r\n");
      return next;
    case FlagError::None:
      break;
  }
  if (!meta_opaque_fits(f)) return next;
  int64_t touch_ttl = 0, viv_ttl = 0, recache_below = 0;
  if ((f.has('T') && !parse_i32(f.tok('T'), &touch_ttl)) ||
      (f.has('N') && !parse_i32(f.tok('N'), &viv_ttl)) ||
      (f.has('R') && !parse_i32(f.tok('R'), &recache_below))) {
    reply("CLIENT_ERROR bad token in command line format\r\n");
    return next;
  }
  if (!meta_key_decodes(f, &mk)) return next;
  const std::string_view key = mk.key;
  Store &store = ctx_.store();
  ItemHistory hist;
  uint32_t new_exp = 0;
  if (f.has('T')) new_exp = absolute_exptime(touch_ttl, now_);
  ItemRef item = store.get(key, now_, &hist, f.has('T') ? &new_exp : nullptr, !f.has('u'));
  bool won = false;
  if (!item && f.has('N')) {
    // Vivify: an empty stub tells later readers that someone is recaching.
    won = store.add_stub(key, absolute_exptime(viv_ttl, now_), now_);
    item = store.get(key, now_, &hist, nullptr);
    hist = ItemHistory{};
  }
  ctr_.add(C::cmd_get);
  if (f.has('T')) {
    ctr_.add(C::cmd_touch);
    ctr_.add(item ? C::touch_hits : C::touch_misses);
  }
  ctr_.add(item ? C::get_hits : C::get_misses);
  Line l;
  if (!item) {
    if (f.has('q')) return next;
    l.s("EN");
    for (size_t i = 0; i < f.norder; ++i) echo_key_or_opaque(l, f.order[i], f, mk);
    reply(l.s("\r\n").view());
    return next;
  }
  if (f.has('v'))
    l.s("VA ").u(item.value().size());
  else
    l.s("HD");
  for (size_t i = 0; i < f.norder; ++i) {
    switch (f.order[i]) {
      case 'c':
        l.s(" c").u(shown_cas(item.cas()));
        break;
      case 'f':
        l.s(" f").u(item.flags());
        break;
      case 'h':
        l.s(" h").u(hist.fetched_before ? 1 : 0);
        break;
      case 'l':
        l.s(" l").u(hist.last_access != 0 && now_ > hist.last_access ? now_ - hist.last_access : 0);
        break;
      case 's':
        l.s(" s").u(item.value().size());
        break;
      case 't':
        l.s(" t").i(ttl_left(item.exptime(), now_));
        break;
      default:
        echo_key_or_opaque(l, f.order[i], f, mk);
        break;
    }
  }
  // Recache arbitration: one client wins (W) the right to refresh a stale
  // item or one whose TTL is below R; everyone after it sees Z, as do
  // readers of a stub someone else vivified.
  if (!won && (item.is_stale() || (f.has('R') && item.exptime() != 0 &&
                                   ttl_left(item.exptime(), now_) < recache_below)))
    won = item.claim_win();
  if (!won && item.win_sent()) l.s(" Z");
  if (item.is_stale()) l.s(" X");
  if (won) l.s(" W");
  reply(l.s("\r\n").view());
  if (f.has('v')) out_.value_crlf(item);
  return next;
}

size_t Parser::meta_set(const Tokens &t, size_t next) {
  // On these two errors memcached reads the data block as the next command.
  MetaKey mk;
  if (!meta_key_fits(t, &mk)) return next;
  int64_t vlen = 0;
  if (!parse_i32(t.v[2], &vlen) || vlen < 0) {
    reply("CLIENT_ERROR bad command line format\r\n");
    return next;
  }
  const uint64_t block = static_cast<uint64_t>(vlen) + 2;
  MetaFlags f;
  switch (parse_meta_flags(t, 3, kMetaFlagLetters, &f)) {
    case FlagError::Invalid:
      reply("CLIENT_ERROR invalid flag\r\n");
      return swallow(next, block);
    case FlagError::Duplicate:
      reply("CLIENT_ERROR duplicate flag\r\n");
      return swallow(next, block);
    case FlagError::None:
      break;
  }
  uint32_t flags = 0;
  int64_t ttl = 0;
  uint64_t cas_in = 0;
  if (f.has('F') && !parse_flags(f.tok('F'), &flags)) {
    reply("CLIENT_ERROR bad command line format\r\n");
    return swallow(next, block);
  }
  if ((f.has('T') && !parse_i32(f.tok('T'), &ttl)) ||
      (f.has('C') && !parse_u64(f.tok('C'), &cas_in))) {
    reply("CLIENT_ERROR bad token in command line format\r\n");
    return swallow(next, block);
  }
  if (!meta_opaque_fits(f)) return swallow(next, block);
  StoreCmd cmd = StoreCmd::Set;
  if (f.has('M')) {
    const std::string_view m = f.tok('M');
    if (m.size() != 1) {
      reply("CLIENT_ERROR incorrect length for M token\r\n");
      return swallow(next, block);
    }
    switch (m[0]) {
      case 'E':
      case 'e':
        cmd = StoreCmd::Add;
        break;
      case 'A':
      case 'a':
        cmd = StoreCmd::Append;
        break;
      case 'P':
      case 'p':
        cmd = StoreCmd::Prepend;
        break;
      case 'R':
      case 'r':
        cmd = StoreCmd::Replace;
        break;
      case 'S':
      case 's':
        cmd = StoreCmd::Set;
        break;
      default:
        reply("CLIENT_ERROR invalid mode for ms M token\r\n");
        return swallow(next, block);
    }
  }
  if (!meta_key_decodes(f, &mk)) return swallow(next, block);
  const std::string_view key = mk.key;
  // The cas compare applies to every mode; set with C is the classic cas.
  if (f.has('C') && cmd == StoreCmd::Set) cmd = StoreCmd::Cas;
  if (f.has('C')) cas_in = cas_to_compare(cas_in);
  const DataBlock data_in = data_block(cmd, key, vlen, next, false);
  if (!data_in.ok) return data_in.next;
  const size_t end = data_in.next;
  const std::string_view data = data_in.data;
  Store &store = ctx_.store();
  ctr_.add(C::cmd_set);
  uint64_t cas_out = 0;
  const uint32_t exptime = absolute_exptime(ttl, now_);
  const StoreStatus st = f.has('I')
                             ? stale_store(cmd, key, data, flags, exptime, cas_in, &cas_out)
                             : store.store(cmd, key, data, flags, exptime, cas_in, now_, &cas_out);
  Line l;
  switch (st) {
    case StoreStatus::Stored:
      if (cmd == StoreCmd::Cas) ctr_.add(C::cas_hits);
      if (f.has('q')) return end;
      l.s("HD");
      break;
    case StoreStatus::NotStored:
      l.s("NS");
      break;
    case StoreStatus::Exists:
      ctr_.add(C::cas_badval);
      l.s("EX");
      break;
    case StoreStatus::NotFound:
      ctr_.add(C::cas_misses);
      l.s("NF");
      break;
    case StoreStatus::TooLarge:
      ctr_.add(C::store_too_large);
      reply("SERVER_ERROR object too large for cache\r\n");
      return end;
    case StoreStatus::NoMemory:
      ctr_.add(C::store_no_memory);
      reply("SERVER_ERROR out of memory storing object\r\n");
      return end;
  }
  for (size_t i = 0; i < f.norder; ++i) {
    switch (f.order[i]) {
      case 'c':
        l.s(" c").u(st == StoreStatus::Stored ? shown_cas(cas_out) : 0);
        break;
      default:
        echo_key_or_opaque(l, f.order[i], f, mk);
        break;
    }
  }
  reply(l.s("\r\n").view());
  return end;
}

size_t Parser::meta_delete(const Tokens &t, size_t next) {
  MetaKey mk;
  if (!meta_key_fits(t, &mk)) return next;
  MetaFlags f;
  uint64_t cas_in = 0;
  int64_t ttl = 0;
  if (parse_meta_flags(t, 2, kMetaFlagLetters, &f) != FlagError::None ||
      (f.has('C') && !parse_u64(f.tok('C'), &cas_in)) ||
      (f.has('T') && !parse_i32(f.tok('T'), &ttl))) {
    reply("CLIENT_ERROR invalid or duplicate flag\r\n");
    return next;
  }
  if (!meta_opaque_fits(f)) return next;
  if (!meta_key_decodes(f, &mk, "CLIENT_ERROR invalid or duplicate flag\r\n")) return next;
  if (f.has('C')) cas_in = cas_to_compare(cas_in);
  const std::string_view key = mk.key;
  Line l;
  // I marks stale instead of removing (T then sets the stale item's TTL).
  const uint32_t exptime = absolute_exptime(ttl, now_);
  const DeleteStatus st =
      f.has('I') ? ctx_.store().invalidate(key, cas_in, f.has('T') ? &exptime : nullptr, now_)
                 : ctx_.store().remove(key, cas_in, now_);
  switch (st) {
    case DeleteStatus::Deleted:
      ctr_.add(C::delete_hits);
      if (f.has('q')) return next;
      l.s("HD");
      break;
    case DeleteStatus::NotFound:
      ctr_.add(C::delete_misses);
      l.s("NF");
      break;
    case DeleteStatus::Exists:
      l.s("EX");
      break;
  }
  for (size_t i = 0; i < f.norder; ++i) echo_key_or_opaque(l, f.order[i], f, mk);
  reply(l.s("\r\n").view());
  return next;
}

size_t Parser::meta_arith(const Tokens &t, size_t next) {
  MetaKey mk;
  if (!meta_key_fits(t, &mk)) return next;
  MetaFlags f;
  DeltaRequest req;
  int64_t viv_ttl = 0, ttl = 0;
  bool ok = parse_meta_flags(t, 2, kMetaFlagLetters, &f) == FlagError::None;
  if (ok && f.has('C')) ok = parse_u64(f.tok('C'), &req.cas_in);
  // Unlike the other commands, ma takes C0 as no compare, as memcached does.
  if (ok && req.cas_in != 0) req.cas_in = cas_to_compare(req.cas_in);
  if (ok && f.has('N')) ok = parse_i32(f.tok('N'), &viv_ttl);
  if (ok && f.has('J')) ok = parse_u64(f.tok('J'), &req.initial);
  if (ok && f.has('D')) ok = parse_u64(f.tok('D'), &req.by);
  if (ok && f.has('T')) ok = parse_i32(f.tok('T'), &ttl);
  if (!ok) {
    reply("CLIENT_ERROR invalid or duplicate flag\r\n");
    return next;
  }
  if (!meta_opaque_fits(f)) return next;
  if (f.has('M')) {
    const std::string_view m = f.tok('M');
    if (m.size() != 1) {
      reply("CLIENT_ERROR invalid or duplicate flag\r\n");
      return next;
    }
    const char mode = m[0];
    if (mode == 'I' || mode == 'i' || mode == '+') {
      req.incr = true;
    } else if (mode == 'D' || mode == 'd' || mode == '-') {
      req.incr = false;
    } else {
      reply("CLIENT_ERROR invalid mode for ma M token\r\n");
      return next;
    }
  }
  if (!meta_key_decodes(f, &mk, "CLIENT_ERROR invalid or duplicate flag\r\n")) return next;
  const std::string_view key = mk.key;
  req.autoviv = f.has('N');
  req.autoviv_exptime = absolute_exptime(viv_ttl, now_);
  req.update_exptime = f.has('T');
  req.new_exptime = absolute_exptime(ttl, now_);
  DeltaResult res;
  const DeltaResultStatus st =
      delta_status_as_memcached(ctx_.store(), key, ctx_.store().delta(key, req, now_, &res), now_);
  Line l;
  switch (st) {
    case DeltaResultStatus::Ok:
    case DeltaResultStatus::Created:
      ctr_.add(req.incr ? C::incr_hits : C::decr_hits);
      if (f.has('q')) return next;  // q hides a success even when v asks for the value
      if (f.has('v')) {
        Line digits;
        l.s("VA ").u(digits.u(res.value).view().size());
      } else {
        l.s("HD");
      }
      break;
    case DeltaResultStatus::NotFound:
      ctr_.add(req.incr ? C::incr_misses : C::decr_misses);
      l.s("NF");
      break;
    case DeltaResultStatus::NonNumeric:
      reply("CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
      return next;
    case DeltaResultStatus::Exists:
      l.s("EX");
      break;
    case DeltaResultStatus::NoMemory:
      l.s("NS");
      break;
  }
  const bool hit = st == DeltaResultStatus::Ok || st == DeltaResultStatus::Created;
  for (size_t i = 0; i < f.norder; ++i) {
    switch (f.order[i]) {
      case 'c':
        if (hit) l.s(" c").u(shown_cas(res.item.cas()));
        break;
      case 't':
        if (hit) l.s(" t").i(ttl_left(res.item.exptime(), now_));
        break;
      default:
        echo_key_or_opaque(l, f.order[i], f, mk);
        break;
    }
  }
  l.s("\r\n");
  if (hit && f.has('v')) l.u(res.value).s("\r\n");
  reply(l.view());
  return next;
}

// The bytes memcached's item of this key and value takes: its 48-byte
// header, the cas (when on), the flags (when not 0), the key and its NUL,
// the value and its CRLF.
size_t memcached_item_size(size_t key_len, size_t value_len, uint32_t flags, bool cas_enabled) {
  return 48 + (cas_enabled ? 8 : 0) + (flags != 0 ? 4 : 0) + key_len + 1 + value_len + 2;
}

// ms with I: a value older than the stored one (lower cas) is stored but
// marked stale. Whoever already holds the recache token for the key is still
// refreshing it, so the stale value keeps the token as memcached's does: later
// readers see Z, not a new W.
StoreStatus Parser::stale_store(StoreCmd cmd, std::string_view key, std::string_view data,
                                uint32_t flags, uint32_t exptime, uint64_t cas_in,
                                uint64_t *cas_out) {
  Store &store = ctx_.store();
  ItemHistory unused;
  const ItemRef old = store.get(key, now_, &unused, nullptr, false);
  const bool token_out = old && old.win_sent();
  const StoreStatus st =
      store.store_or_invalidate(cmd, key, data, flags, exptime, cas_in, now_, cas_out);
  if (st != StoreStatus::Stored || !token_out) return st;
  const ItemRef fresh = store.get(key, now_, &unused, nullptr, false);
  if (fresh && fresh.is_stale()) fresh.claim_win();
  return st;
}

size_t Parser::meta_debug(const Tokens &t, size_t next) {
  MetaKey mk;
  if (t.n < 2 || t.v[1].size() > kMaxKeyLength) {
    reply("CLIENT_ERROR bad command line format\r\n");
    return next;
  }
  ctr_.add(C::cmd_meta);
  // Words after the key are ignored, but for b right after it (a base64 key).
  mk.token = mk.key = t.v[1];
  mk.base64 = t.n >= 3 && t.v[2] == "b";
  if (mk.base64 && !decode_base64(mk.token, mk.buf, sizeof mk.buf, &mk.key)) {
    reply("CLIENT_ERROR bad command line format\r\n");
    return next;
  }
  ItemHistory hist;
  // Looking must not count as a fetch: no bump.
  const ItemRef item = ctx_.store().get(mk.key, now_, &hist, nullptr, false);
  if (!item) {
    reply("EN\r\n");
    return next;
  }
  const bool cas_on = ctx_.settings().cas_enabled;
  const size_t size = memcached_item_size(mk.key.size(), item.value().size(), item.flags(), cas_on);
  Line l;
  // A key given in base64 is shown as given.
  l.s("ME ").s(mk.base64 ? mk.token : mk.key).s(" exp=");
  // memcached prints the TTL negated (now minus the expiry time).
  if (item.exptime() == 0)
    l.i(-1);
  else
    l.i(int64_t(now_) - int64_t(item.exptime()));
  l.s(" la=").u(hist.last_access != 0 && now_ > hist.last_access ? now_ - hist.last_access : 0);
  l.s(" cas=").u(shown_cas(item.cas())).s(" fetch=").s(hist.fetched_before ? "yes" : "no");
  l.s(" cls=").u(slab_class_for(size, ctx_.store().config().item_size_max)).s(" size=").u(size);
  reply(l.s("\r\n").view());
  return next;
}

size_t Parser::shutdown(const Tokens &t, size_t next) {
  if (!ctx_.settings().shutdown_enabled) {
    reply("ERROR: shutdown not enabled\r\n");
    return next;
  }
  const bool graceful = t.n == 2 && t.v[1] == "graceful";
  if (t.n > 1 && !graceful) {
    reply("CLIENT_ERROR invalid shutdown mode\r\n");
    return next;
  }
  // memcached hangs up on the asking client and stops.
  ctx_.request_shutdown(graceful);
  *close_ = true;
  return next;
}

}  // namespace

size_t handle_text(std::span<const uint8_t> in, Context &ctx, Reply &out, bool *close_after,
                   TextSession &session) {
  *close_after = false;
  Parser p(in, ctx, out, close_after, session);
  return p.run();
}

}  // namespace ix::mc
