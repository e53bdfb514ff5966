// memcached's binary protocol over the shared Store (see binary_protocol.hh).
//
// Requests are validated from their header alone, before the body is waited
// for, so a malformed or oversized request never makes the connection buffer
// more than one legal request (24 + 255 + 250 + item_size_max bytes at most).
// The length rules per opcode are memcached's: a request that breaks them
// gets EINVAL and the connection is closed, since nothing after it can be
// trusted to be framed right.
#include "binary_protocol.hh"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <string_view>

namespace ix::mc {

namespace binary {

namespace {

uint16_t load16(const uint8_t *p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t load32(const uint8_t *p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint64_t load64(const uint8_t *p) { return (uint64_t{load32(p)} << 32) | load32(p + 4); }
void store16(uint8_t *p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void store32(uint8_t *p, uint32_t v) {
  store16(p, static_cast<uint16_t>(v >> 16));
  store16(p + 2, static_cast<uint16_t>(v));
}
void store64(uint8_t *p, uint64_t v) {
  store32(p, static_cast<uint32_t>(v >> 32));
  store32(p + 4, static_cast<uint32_t>(v));
}

}  // namespace

std::optional<Header> decode_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return std::nullopt;
  const uint8_t *p = bytes.data();
  Header h;
  h.magic = p[0];
  h.opcode = p[1];
  h.key_len = load16(p + 2);
  h.extras_len = p[4];
  h.data_type = p[5];
  h.status = load16(p + 6);
  h.body_len = load32(p + 8);
  h.opaque = load32(p + 12);
  h.cas = load64(p + 16);
  return h;
}

void encode_header(const Header &h, uint8_t *out) {
  out[0] = h.magic;
  out[1] = h.opcode;
  store16(out + 2, h.key_len);
  out[4] = h.extras_len;
  out[5] = h.data_type;
  store16(out + 6, h.status);
  store32(out + 8, h.body_len);
  store32(out + 12, h.opaque);
  store64(out + 16, h.cas);
}

}  // namespace binary

namespace {

using namespace binary;
using Counter = ThreadCounters::Id;

// What a request's header says about its shape, judged before its body is read.
enum class Verdict {
  Ok,         // wait for the body, then execute
  Malformed,  // EINVAL, then close
  TooLarge,   // E2BIG, swallow the body, go on
  Unknown,    // UNKNOWN_COMMAND, swallow the body, go on
};

// What a request asks for, whatever its opcode's variant: the quiet (Q)
// variants answer only failures, the K variants echo the key, GAT is a
// touch that also reads the value. One table, so the length rules, the
// dispatch and quietness cannot disagree on an opcode's family.
enum class Kind {
  Get,
  Touch,
  Delete,
  Store,
  Concat,
  Arithmetic,
  Quit,
  Noop,
  Version,
  Flush,
  Stat,
  Sasl,
  Unknown
};

struct OpcodeInfo {
  Kind kind;
  bool quiet;
};

OpcodeInfo opcode_info(uint8_t op) {
  switch (op) {
    case kGet:
    case kGetK:
      return {Kind::Get, false};
    case kGetQ:
    case kGetKQ:
      return {Kind::Get, true};
    case kTouch:
    case kGat:
    case kGatK:
      return {Kind::Touch, false};
    case kGatQ:
    case kGatKQ:
      return {Kind::Touch, true};
    case kDelete:
      return {Kind::Delete, false};
    case kDeleteQ:
      return {Kind::Delete, true};
    case kSet:
    case kAdd:
    case kReplace:
      return {Kind::Store, false};
    case kSetQ:
    case kAddQ:
    case kReplaceQ:
      return {Kind::Store, true};
    case kAppend:
    case kPrepend:
      return {Kind::Concat, false};
    case kAppendQ:
    case kPrependQ:
      return {Kind::Concat, true};
    case kIncrement:
    case kDecrement:
      return {Kind::Arithmetic, false};
    case kIncrementQ:
    case kDecrementQ:
      return {Kind::Arithmetic, true};
    case kQuit:
      return {Kind::Quit, false};
    case kQuitQ:
      return {Kind::Quit, true};
    case kNoop:
      return {Kind::Noop, false};
    case kVersion:
      return {Kind::Version, false};
    case kFlush:
      return {Kind::Flush, false};
    case kFlushQ:
      return {Kind::Flush, true};
    case kStat:
      return {Kind::Stat, false};
    case kSaslListMechs:
    case kSaslAuth:
    case kSaslStep:
      return {Kind::Sasl, false};
    default:  // kVerbosity too: memcached 1.6 answers it as an unknown command
      return {Kind::Unknown, false};
  }
}

// memcached's length rules per opcode; a value longer than the store can ever
// hold is rejected here so it is never buffered.
Verdict judge(const Header &h, const Context &ctx) {
  const uint32_t key = h.key_len, ext = h.extras_len, body = h.body_len;
  if (key > kMaxKeyLength || uint64_t{key} + ext > body) return Verdict::Malformed;
  auto value_fits = [&] {
    const uint64_t value_len = uint64_t{body} - key - ext;
    return Store::item_size(key, value_len) <= ctx.store().config().item_size_max;
  };
  auto ok_if = [](bool well_formed) { return well_formed ? Verdict::Ok : Verdict::Malformed; };
  switch (opcode_info(h.opcode).kind) {
    case Kind::Get:
    case Kind::Delete:
      return ok_if(ext == 0 && key > 0 && body == key);
    case Kind::Store:
      if (ext != 8 || key == 0) return Verdict::Malformed;
      return value_fits() ? Verdict::Ok : Verdict::TooLarge;
    case Kind::Concat:
      if (ext != 0 || key == 0) return Verdict::Malformed;
      return value_fits() ? Verdict::Ok : Verdict::TooLarge;
    case Kind::Arithmetic:
      return ok_if(ext == 20 && key > 0 && body == key + ext);
    case Kind::Quit:
    case Kind::Noop:
    case Kind::Version:
      return ok_if(body == 0);
    case Kind::Flush:
      return ok_if(key == 0 && (ext == 0 || ext == 4) && body == ext);
    case Kind::Stat:
      return ok_if(ext == 0 && body == key);
    case Kind::Touch:
      return ok_if(ext == 4 && key > 0 && body == key + ext);
    case Kind::Sasl:
      // Without SASL memcached still checks the framing: no extras, and a
      // key (the mechanism) exactly when authenticating.
      if (ext != 0 || (h.opcode == kSaslListMechs ? body != 0 : key == 0))
        return Verdict::Malformed;
      return Verdict::Unknown;
    case Kind::Unknown:
      break;
  }
  return Verdict::Unknown;
}

std::string_view status_message(uint16_t status) {
  switch (status) {
    case kKeyNotFound:
      return "Not found";
    case kKeyExists:
      return "Data exists for key.";
    case kValueTooLarge:
      return "Too large.";
    case kInvalidArguments:
      return "Invalid arguments";
    case kNotStored:
      return "Not stored.";
    case kDeltaBadValue:
      return "Non-numeric server-side value for incr or decr";
    case kUnknownCommand:
      return "Unknown command";
    case kAuthError:
      return "Auth failure.";
    case kOutOfMemory:
      return "Out of memory";
    default:
      return "";
  }
}

// One request being answered: its header, its parts, and where answers go.
class Request {
 public:
  Request(const Header &h, std::span<const uint8_t> body, Context &ctx, Reply &out)
      : h_(h), body_(body), ctx_(ctx), out_(out) {
    // memcached -C: a cas the client sends is not compared (sets just store).
    if (!ctx.settings().cas_enabled) h_.cas = 0;
  }

  std::string_view key() const {
    return {reinterpret_cast<const char *>(body_.data()) + h_.extras_len, h_.key_len};
  }
  std::span<const uint8_t> extras() const { return body_.first(h_.extras_len); }
  std::string_view value() const {
    const size_t off = size_t{h_.extras_len} + h_.key_len;
    return {reinterpret_cast<const char *>(body_.data()) + off, body_.size() - off};
  }

  // Header, extras and key of an answer whose body also carries `value_len`
  // bytes the caller appends next.
  void begin(uint16_t status, std::string_view extras, std::string_view key, size_t value_len,
             uint64_t cas) {
    Header r;
    r.magic = kResponseMagic;
    r.opcode = h_.opcode;
    r.key_len = static_cast<uint16_t>(key.size());
    r.extras_len = static_cast<uint8_t>(extras.size());
    r.status = status;
    r.body_len = static_cast<uint32_t>(extras.size() + key.size() + value_len);
    r.opaque = h_.opaque;
    r.cas = ctx_.settings().cas_enabled ? cas : 0;  // memcached -C shows no cas
    std::array<uint8_t, kHeaderSize> bytes;
    encode_header(r, bytes.data());
    out_.text({reinterpret_cast<const char *>(bytes.data()), bytes.size()});
    out_.text(extras);
    out_.text(key);
  }
  void answer(uint16_t status, std::string_view extras = {}, std::string_view key = {},
              std::string_view value = {}, uint64_t cas = 0) {
    begin(status, extras, key, value.size(), cas);
    out_.text(value);
  }
  void error(uint16_t status) { answer(status, {}, {}, status_message(status)); }

  void run(bool *close_after);

 private:
  bool quiet() const;
  void get_or_touch();
  void update();
  void concat();
  void remove();
  void arithmetic();
  void flush();
  void stat();
  void store_result(StoreCmd cmd, StoreStatus st, uint64_t cas);
  ThreadCounters &counters() { return ctx_.counters(); }

  Header h_;  // a copy: -C clears its cas
  std::span<const uint8_t> body_;
  Context &ctx_;
  Reply &out_;
};

bool Request::quiet() const { return opcode_info(h_.opcode).quiet; }

// memcached's exptime fields are signed on the wire: a "negative" value means
// already expired.
// The binary protocol's expiration is unsigned (memcached reads it so):
// 0xffffffff is an absolute time in 2106, not -1.
uint32_t wire_exptime(uint32_t raw, uint32_t now) { return absolute_exptime(int64_t{raw}, now); }

void Request::run(bool *close_after) {
  switch (opcode_info(h_.opcode).kind) {
    case Kind::Get:
    case Kind::Touch:
      return get_or_touch();
    case Kind::Store:
      return update();
    case Kind::Concat:
      return concat();
    case Kind::Delete:
      return remove();
    case Kind::Arithmetic:
      return arithmetic();
    case Kind::Flush:
      return flush();
    case Kind::Stat:
      return stat();
    case Kind::Noop:
      return answer(kSuccess);
    case Kind::Version:
      return answer(kSuccess, {}, {}, ctx_.version());
    case Kind::Quit:
      if (!quiet()) answer(kSuccess);
      *close_after = true;
      return;
    case Kind::Sasl:
    case Kind::Unknown:
      break;
  }
  // judge() lets through only the opcodes handled above.
  error(kUnknownCommand);
}

void Request::get_or_touch() {
  const uint8_t op = h_.opcode;
  const bool touches = opcode_info(op).kind == Kind::Touch;
  const bool with_key = op == kGetK || op == kGetKQ || op == kGatK || op == kGatKQ;
  const uint32_t now = ctx_.now();
  ItemRef item;
  if (touches) {
    const uint32_t exptime = wire_exptime(load32(extras().data()), now);
    item = ctx_.store().touch(key(), exptime, now);
    counters().add(Counter::cmd_touch);
    counters().add(item ? Counter::touch_hits : Counter::touch_misses);
  } else {
    item = ctx_.store().get(key(), now);
    counters().add(Counter::cmd_get);
    counters().add(item ? Counter::get_hits : Counter::get_misses);
  }
  ctx_.detail_get(key(), static_cast<bool>(item));
  if (!item) {
    if (quiet()) return;
    if (with_key) return answer(kKeyNotFound, {}, key());
    return error(kKeyNotFound);
  }
  uint8_t flags[4];
  store32(flags, item.flags());
  const std::string_view extras{reinterpret_cast<const char *>(flags), sizeof flags};
  if (op == kTouch) return answer(kSuccess, extras, {}, {}, item.cas());
  begin(kSuccess, extras, with_key ? key() : std::string_view{}, item.value().size(), item.cas());
  out_.value(item);
}

void Request::store_result(StoreCmd cmd, StoreStatus st, uint64_t cas) {
  if (cmd == StoreCmd::Cas) {
    counters().add(st == StoreStatus::Stored   ? Counter::cas_hits
                   : st == StoreStatus::Exists ? Counter::cas_badval
                                               : Counter::cas_misses);
  }
  switch (st) {
    case StoreStatus::Stored:
      if (!quiet()) answer(kSuccess, {}, {}, {}, cas);
      return;
    case StoreStatus::NotStored:
      // memcached names the reason the precondition failed.
      if (cmd == StoreCmd::Add) return error(kKeyExists);
      if (cmd == StoreCmd::Replace) return error(kKeyNotFound);
      return error(kNotStored);
    case StoreStatus::Exists:
      return error(kKeyExists);
    case StoreStatus::NotFound:
      return error(kKeyNotFound);
    case StoreStatus::TooLarge:
      return error(kValueTooLarge);
    case StoreStatus::NoMemory:
      return error(kOutOfMemory);
  }
}

void Request::update() {
  const uint8_t op = h_.opcode;
  StoreCmd cmd = op == kSet || op == kSetQ   ? StoreCmd::Set
                 : op == kAdd || op == kAddQ ? StoreCmd::Add
                                             : StoreCmd::Replace;
  // A cas value turns any of the three into compare-and-swap.
  if (h_.cas != 0) cmd = StoreCmd::Cas;
  const uint32_t now = ctx_.now();
  const uint32_t flags = load32(extras().data());
  const uint32_t exptime = wire_exptime(load32(extras().data() + 4), now);
  uint64_t cas = 0;
  counters().add(Counter::cmd_set);
  ctx_.detail_set(key());
  const StoreStatus st = ctx_.store().store(cmd, key(), value(), flags, exptime, h_.cas, now, &cas);
  store_result(cmd, st, cas);
}

void Request::concat() {
  const bool append = h_.opcode == kAppend || h_.opcode == kAppendQ;
  const StoreCmd cmd = append ? StoreCmd::Append : StoreCmd::Prepend;
  uint64_t cas = 0;
  counters().add(Counter::cmd_set);
  ctx_.detail_set(key());
  const StoreStatus st = ctx_.store().store(cmd, key(), value(), 0, 0, h_.cas, ctx_.now(), &cas);
  store_result(cmd, st, cas);
}

void Request::remove() {
  ctx_.detail_delete(key());
  const DeleteStatus st = ctx_.store().remove(key(), h_.cas, ctx_.now());
  counters().add(st == DeleteStatus::Deleted ? Counter::delete_hits : Counter::delete_misses);
  switch (st) {
    case DeleteStatus::Deleted:
      if (!quiet()) answer(kSuccess);
      return;
    case DeleteStatus::NotFound:
      return error(kKeyNotFound);
    case DeleteStatus::Exists:
      return error(kKeyExists);
  }
}

void Request::arithmetic() {
  const uint8_t op = h_.opcode;
  const uint8_t *ext = extras().data();
  const uint32_t raw_exptime = load32(ext + 16);
  const uint32_t now = ctx_.now();
  DeltaRequest req;
  req.incr = op == kIncrement || op == kIncrementQ;
  req.by = load64(ext);
  req.cas_in = h_.cas;
  req.autoviv = raw_exptime != kNoAutoCreate;
  req.initial = load64(ext + 8);
  req.autoviv_exptime = req.autoviv ? wire_exptime(raw_exptime, now) : 0;
  DeltaResult result;
  const DeltaResultStatus st = delta_status_as_memcached(
      ctx_.store(), key(), ctx_.store().delta(key(), req, now, &result), now);
  const bool hit = st == DeltaResultStatus::Ok || st == DeltaResultStatus::Exists ||
                   st == DeltaResultStatus::NonNumeric;
  counters().add(req.incr ? (hit ? Counter::incr_hits : Counter::incr_misses)
                          : (hit ? Counter::decr_hits : Counter::decr_misses));
  switch (st) {
    case DeltaResultStatus::Ok:
    case DeltaResultStatus::Created: {
      if (quiet()) return;
      uint8_t value[8];
      store64(value, result.value);
      const uint64_t cas = result.item ? result.item.cas() : 0;
      return answer(kSuccess, {}, {}, {reinterpret_cast<const char *>(value), sizeof value}, cas);
    }
    case DeltaResultStatus::NotFound:
      return error(kKeyNotFound);
    case DeltaResultStatus::NonNumeric:
      return error(kDeltaBadValue);
    case DeltaResultStatus::Exists:
      return error(kKeyExists);
    case DeltaResultStatus::NoMemory:
      return error(kOutOfMemory);
  }
}

void Request::flush() {
  // memcached -F answers a binary flush as an authentication failure.
  if (!ctx_.settings().flush_enabled) return error(kAuthError);
  const uint32_t now = ctx_.now();
  const uint32_t raw = h_.extras_len == 4 ? load32(extras().data()) : 0;
  ctx_.store().flush_all(raw == 0 ? 0 : wire_exptime(raw, now), now);
  counters().add(Counter::cmd_flush);
  if (!quiet()) answer(kSuccess);
}

// One answer per statistic (name as key, value as body), ended by an empty
// answer; the group is named by the request's key.
void Request::stat() {
  const std::string_view group = key();
  // memcached matches these three by prefix ("reset" resets whatever
  // follows it) and answers "detail on|off|dump" as the text command does,
  // a dump as one "detailed" stat holding the text listing.
  if (group.starts_with("reset")) {
    ctx_.reset_stats();
    return answer(kSuccess);
  }
  if (group.starts_with("detail")) {
    const std::string_view what = group.substr(6);
    if (what.starts_with(" on") || what.starts_with(" off")) {
      ctx_.set_detail_enabled(what.starts_with(" on"));
    } else if (what.starts_with(" dump")) {
      answer(kSuccess, {}, "detailed", ctx_.detail_dump());
    } else {
      return error(kKeyNotFound);
    }
    return answer(kSuccess);
  }
  const auto stats = ctx_.stats(group.starts_with("settings") ? "settings" : group);
  if (!stats) return error(kKeyNotFound);
  for (const auto &[name, value] : *stats) {
    if (name.size() > 0xffff) continue;  // cannot be framed; never produced in practice
    answer(kSuccess, {}, name, value);
  }
  answer(kSuccess);
}

// Answers a request that will not be executed and whose body is skipped.
void reject(const Header &h, uint16_t status, Context &ctx, Reply &out) {
  Request r(h, {}, ctx, out);
  r.error(status);
}

}  // namespace

size_t handle_binary(std::span<const uint8_t> in, Context &ctx, Reply &out, bool *close_after,
                     BinarySession &session) {
  size_t used = 0;
  session.paused = false;
  while (!*close_after) {
    if (out.bytes() >= kTurnReplyBudget && used < in.size()) {
      session.paused = true;  // the rest waits for the next turn
      break;
    }
    if (session.swallow > 0) {
      const size_t skip =
          static_cast<size_t>(std::min<uint64_t>(session.swallow, in.size() - used));
      session.swallow -= skip;
      used += skip;
      if (session.swallow > 0) break;
    }
    const auto h = decode_header(in.subspan(used));
    if (!h) break;
    if (h->magic != kRequestMagic) {
      // Nothing after this point can be framed: close without an answer.
      ctx.counters().add(Counter::protocol_errors);
      *close_after = true;
      break;
    }
    const Verdict verdict = judge(*h, ctx);
    if (verdict == Verdict::Malformed) {
      ctx.counters().add(Counter::protocol_errors);
      reject(*h, kInvalidArguments, ctx, out);
      *close_after = true;
      used += kHeaderSize;
      break;
    }
    if (verdict == Verdict::TooLarge || verdict == Verdict::Unknown) {
      if (verdict == Verdict::TooLarge) {
        // As memcached does: a set that fails must not leave the old value
        // readable, or the client would read data it believes replaced. The
        // key is needed for that, so wait for it (at most 263 bytes).
        if (h->opcode == kSet || h->opcode == kSetQ) {
          const size_t key_end = kHeaderSize + size_t{h->extras_len} + h->key_len;
          if (in.size() - used < key_end) break;
          const std::string_view key{
              reinterpret_cast<const char *>(in.data()) + used + kHeaderSize + h->extras_len,
              h->key_len};
          ctx.store().remove(key, 0, ctx.now());
        }
        reject(*h, kValueTooLarge, ctx, out);
      } else {
        reject(*h, kUnknownCommand, ctx, out);
      }
      used += kHeaderSize;
      session.swallow = h->body_len;
      // memcached reads an unknown command's extras and key, then skips the
      // whole body length after them: that many more bytes of the stream go.
      // (SASL commands are read as framed, without that.)
      if (verdict == Verdict::Unknown && opcode_info(h->opcode).kind != Kind::Sasl)
        session.swallow += uint64_t{h->extras_len} + h->key_len;
      continue;
    }
    const size_t total = kHeaderSize + size_t{h->body_len};
    if (in.size() - used < total) break;
    Request req(*h, in.subspan(used + kHeaderSize, h->body_len), ctx, out);
    req.run(close_after);
    used += total;
  }
  return used;
}

size_t handle_binary(std::span<const uint8_t> in, Context &ctx, Reply &out, bool *close_after) {
  BinarySession session;
  const size_t used = handle_binary(in, ctx, out, close_after, session);
  if (session.swallow > 0) *close_after = true;
  return used;
}

}  // namespace ix::mc
