// memcached's text protocol as handle_text speaks it: every command, the
// error strings, noreply, meta commands, and requests split at every byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "memcached/text_protocol.hh"

namespace ix::mc {
namespace {

constexpr uint32_t kNow = 1'000'000;

std::string render(const Reply &r) {
  std::string out;
  for (const Reply::Piece &p : r.pieces())
    out += p.item ? std::string(p.item.value_with_crlf().substr(0, p.len))
                  : r.text_bytes().substr(p.offset, p.len);
  return out;
}

// A connection as main.cc runs one: input arrives in pieces; what handle_text
// does not consume is kept and the next piece appended to it.
class Conn {
 public:
  explicit Conn(Context &ctx) : ctx_(ctx) {}
  std::string feed(std::string_view bytes) {
    buf_.append(bytes);
    Reply r;
    while (!buf_.empty() && !closed_) {
      bool close = false;
      const size_t n = handle_text({reinterpret_cast<const uint8_t *>(buf_.data()), buf_.size()},
                                   ctx_, r, &close, session_);
      EXPECT_LE(n, buf_.size());
      buf_.erase(0, n);
      if (close) closed_ = true;
      if (n == 0) break;
    }
    // A metadump is written in steps: main.cc calls again while it lasts.
    while (session_.dumping() && !closed_) {
      ++dump_steps_;
      bool close = false;
      const size_t n = handle_text({reinterpret_cast<const uint8_t *>(buf_.data()), buf_.size()},
                                   ctx_, r, &close, session_);
      buf_.erase(0, n);
      if (close) closed_ = true;
    }
    return render(r);
  }
  bool closed() const { return closed_; }
  size_t buffered() const { return buf_.size(); }
  int dump_steps() const { return dump_steps_; }

 private:
  Context &ctx_;
  TextSession session_;
  std::string buf_;
  bool closed_ = false;
  int dump_steps_ = 0;
};

class McText : public ::testing::Test {
 protected:
  McText() : ctx_(settings()) { ctx_.set_manual_now(kNow); }
  static ServerSettings settings() {
    ServerSettings s;
    s.store.item_size_max = 1 << 20;
    return s;
  }
  std::string run(std::string_view in) {
    Conn c(ctx_);
    return c.feed(in);
  }
  Context ctx_;
};

TEST_F(McText, SetGetGets) {
  EXPECT_EQ(run("set a 5 0 3\r\nabc\r\n"), "STORED\r\n");
  EXPECT_EQ(run("get a\r\n"), "VALUE a 5 3\r\nabc\r\nEND\r\n");
  const uint64_t cas = ctx_.store().get("a", kNow).cas();
  EXPECT_EQ(run("gets a\r\n"), "VALUE a 5 3 " + std::to_string(cas) + "\r\nabc\r\nEND\r\n");
  EXPECT_EQ(run("get nope a  a\r\n"), "VALUE a 5 3\r\nabc\r\nVALUE a 5 3\r\nabc\r\nEND\r\n");
  EXPECT_EQ(run("get a\n"), "VALUE a 5 3\r\nabc\r\nEND\r\n") << "a bare \\n ends a line too";
  EXPECT_EQ(run("set e 0 0 0\r\n\r\nget e\r\n"), "STORED\r\nVALUE e 0 0\r\n\r\nEND\r\n");
  EXPECT_EQ(run("set b 4294967296 0 1\r\nx\r\nget b\r\n"), "STORED\r\nVALUE b 0 1\r\nx\r\nEND\r\n");
}

TEST_F(McText, LargeValueIsSentFromTheItem) {
  const std::string v(5000, 'q');
  run("set big 0 0 5000\r\n" + v + "\r\n");
  Reply r;
  bool close = false;
  TextSession sess;
  const std::string req = "get big\r\n";
  handle_text({reinterpret_cast<const uint8_t *>(req.data()), req.size()}, ctx_, r, &close, sess);
  EXPECT_TRUE(r.has_items()) << "large values go zero copy";
  EXPECT_EQ(render(r), "VALUE big 0 5000\r\n" + v + "\r\nEND\r\n");
}

TEST_F(McText, StorageCommands) {
  EXPECT_EQ(run("add k 0 0 1\r\n1\r\nadd k 0 0 1\r\n2\r\n"), "STORED\r\nNOT_STORED\r\n");
  EXPECT_EQ(run("replace k 0 0 1\r\n3\r\nreplace z 0 0 1\r\n3\r\n"), "STORED\r\nNOT_STORED\r\n");
  EXPECT_EQ(run("append k 0 0 2\r\n45\r\nprepend k 0 0 2\r\n12\r\nget k\r\n"),
            "STORED\r\nSTORED\r\nVALUE k 0 5\r\n12345\r\nEND\r\n");
  EXPECT_EQ(run("append z 0 0 1\r\nx\r\nprepend z 0 0 1\r\nx\r\n"), "NOT_STORED\r\nNOT_STORED\r\n");
}

TEST_F(McText, CasCommand) {
  run("set k 0 0 1\r\nx\r\n");
  const uint64_t cas = ctx_.store().get("k", kNow).cas();
  const std::string c = std::to_string(cas);
  EXPECT_EQ(run("cas k 0 0 1 " + std::to_string(cas + 1) + "\r\ny\r\n"), "EXISTS\r\n");
  EXPECT_EQ(run("cas k 0 0 1 " + c + "\r\ny\r\n"), "STORED\r\n");
  EXPECT_EQ(run("cas k 0 0 1 " + c + "\r\nz\r\n"), "EXISTS\r\n");
  EXPECT_EQ(run("cas nope 0 0 1 1\r\nz\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ(run("cas k 0 0 1\r\nz\r\n"), "ERROR\r\nERROR\r\n") << "missing cas: not a command";
  EXPECT_EQ(run("cas k 0 0 1 abc\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(run("get k\r\n"), "VALUE k 0 1\r\ny\r\nEND\r\n");
}

TEST_F(McText, IncrDecr) {
  EXPECT_EQ(run("incr n 1\r\n"), "NOT_FOUND\r\n");
  run("set n 0 0 2\r\n10\r\n");
  EXPECT_EQ(run("incr n 5\r\ndecr n 100\r\nincr n 18446744073709551615\r\n"),
            "15\r\n0\r\n18446744073709551615\r\n");
  EXPECT_EQ(run("incr n 1\r\n"), "0\r\n");
  EXPECT_EQ(run("incr n abc\r\nincr n -1\r\n"),
            "CLIENT_ERROR invalid numeric delta argument\r\nCLIENT_ERROR invalid numeric delta "
            "argument\r\n");
  run("set t 0 0 1\r\nx\r\n");
  EXPECT_EQ(run("incr t 1\r\n"),
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  EXPECT_EQ(run("incr n\r\ndecr\r\n"), "ERROR\r\nERROR\r\n");
}

TEST_F(McText, DeleteTouchGat) {
  run("set a 0 0 1\r\nx\r\n");
  EXPECT_EQ(run("touch a 10\r\ntouch zz 10\r\n"), "TOUCHED\r\nNOT_FOUND\r\n");
  EXPECT_EQ(ctx_.store().get("a", kNow).exptime(), kNow + 10);
  EXPECT_EQ(run("touch a abc\r\ntouch a\r\n"),
            "CLIENT_ERROR invalid exptime argument\r\nERROR\r\n");
  EXPECT_EQ(run("gat 100 a zz\r\n"), "VALUE a 0 1\r\nx\r\nEND\r\n");
  EXPECT_EQ(ctx_.store().get("a", kNow).exptime(), kNow + 100);
  const std::string cas = std::to_string(ctx_.store().get("a", kNow).cas());
  EXPECT_EQ(run("gats 0 a\r\n"), "VALUE a 0 1 " + cas + "\r\nx\r\nEND\r\n");
  EXPECT_EQ(run("gat abc a\r\ngat 10\r\n"), "CLIENT_ERROR invalid exptime argument\r\nEND\r\n");
  EXPECT_EQ(run("delete a\r\ndelete a\r\n"), "DELETED\r\nNOT_FOUND\r\n");
  EXPECT_EQ(
      run("delete a 0\r\ndelete a 5\r\n"),
      "NOT_FOUND\r\nCLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
}

TEST_F(McText, ExpiryOnTheContextClock) {
  run("set a 0 10 1\r\nx\r\n");
  ctx_.set_manual_now(kNow + 9);
  EXPECT_EQ(run("get a\r\n"), "VALUE a 0 1\r\nx\r\nEND\r\n");
  ctx_.set_manual_now(kNow + 10);
  EXPECT_EQ(run("get a\r\n"), "END\r\n");
  run("set b 0 -1 1\r\nx\r\n");
  EXPECT_EQ(run("get b\r\n"), "END\r\n");
}

TEST_F(McText, FlushAll) {
  run("set a 0 0 1\r\nx\r\n");
  EXPECT_EQ(run("flush_all\r\nget a\r\n"), "OK\r\nEND\r\n");
  run("set a 0 0 1\r\nx\r\n");
  EXPECT_EQ(run("flush_all 10\r\nget a\r\n"), "OK\r\nVALUE a 0 1\r\nx\r\nEND\r\n");
  ctx_.set_manual_now(kNow + 10);
  EXPECT_EQ(run("get a\r\n"), "END\r\n");
  EXPECT_EQ(run("flush_all noreply\r\nflush_all abc\r\nflush_all 0 noreply\r\nflush_all 1 2\r\n"),
            "CLIENT_ERROR invalid exptime argument\r\nOK\r\n")
      << "memcached reads the first argument only";
}

TEST_F(McText, NoreplyEverywhereMemcachedAllowsIt) {
  EXPECT_EQ(run("set a 0 0 1 noreply\r\n1\r\nadd a 0 0 1 noreply\r\nx\r\n"
                "replace a 0 0 1 noreply\r\n2\r\nappend a 0 0 1 noreply\r\n3\r\n"
                "prepend a 0 0 1 noreply\r\n4\r\nincr a 1 noreply\r\ndecr a 1 noreply\r\n"
                "touch a 0 noreply\r\ndelete zz noreply\r\nincr a abc noreply\r\n"
                "verbosity 1 noreply\r\nmn\r\n"),
            "MN\r\n");
  EXPECT_EQ(run("get a\r\n"), "VALUE a 0 3\r\n423\r\nEND\r\n");
  const std::string cas = std::to_string(ctx_.store().get("a", kNow).cas());
  EXPECT_EQ(run("cas a 0 0 1 " + cas + " noreply\r\n9\r\ndelete a noreply\r\nget a\r\n"),
            "END\r\n");
  EXPECT_EQ(run("set a 0 0 3 noreply\r\nabcd\r\n"), "ERROR\r\n")
      << "a bad chunk is silent under noreply; its stray \\n is an empty command";
}

TEST_F(McText, Errors) {
  EXPECT_EQ(run("bogus\r\n"), "ERROR\r\n");
  EXPECT_EQ(run("\r\n"), "ERROR\r\n");
  EXPECT_EQ(run("GET a\r\n"), "ERROR\r\n");
  EXPECT_EQ(run("get\r\n"), "ERROR\r\n");
  EXPECT_EQ(run("set a 0\r\n"), "ERROR\r\n");
  EXPECT_EQ(run("set a 1 2 3 4 5 6\r\n"), "ERROR\r\n");
  EXPECT_EQ(run("set a 0 0 abc\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(run("set a 0 0 -1\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(run("set a -1 0 1\r\nx\r\n"), "CLIENT_ERROR bad command line format\r\nERROR\r\n");
  const std::string long_key(251, 'k');
  EXPECT_EQ(run("set " + long_key + " 0 0 1\r\nx\r\n"),
            "CLIENT_ERROR bad command line format\r\nERROR\r\n");
  EXPECT_EQ(run("get " + long_key + "\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(run("get " + std::string(250, 'k') + "\r\n"), "END\r\n");
  EXPECT_EQ(run("set a 0 0 3\r\nabcd\r\n"), "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
  EXPECT_EQ(run("set a 0 0 1\r\nx\nget a\r\n"), "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
  EXPECT_EQ(run("verbosity abc\r\nverbosity 1 2 3\r\nverbosity\r\n"),
            "CLIENT_ERROR bad command line format\r\nERROR\r\nERROR\r\n");
  EXPECT_EQ(run("stats nosuch\r\n"), "ERROR\r\n");
}

TEST_F(McText, TooLargeIsRefusedAndSwallowedAsItArrives) {
  run("set a 0 0 1\r\nx\r\n");
  Conn c(ctx_);
  const size_t len = 2 << 20;
  EXPECT_EQ(c.feed("set a 0 0 " + std::to_string(len) + "\r\n"),
            "SERVER_ERROR object too large for cache\r\n");
  const std::string chunk(64 * 1024, 'z');
  size_t sent = 0;
  while (sent + chunk.size() <= len) {
    EXPECT_EQ(c.feed(chunk), "");
    EXPECT_EQ(c.buffered(), 0u) << "a refused value is never buffered";
    sent += chunk.size();
  }
  EXPECT_EQ(c.feed(std::string(len - sent, 'z') + "\r\nget a\r\n"), "END\r\n")
      << "the old value went with the failed set";
  EXPECT_EQ(run("ms m 2000000 T0\r\n"), "SERVER_ERROR object too large for cache\r\n");
}

TEST_F(McText, LineTooLong) {
  Conn c(ctx_);
  EXPECT_EQ(c.feed(std::string(kMaxLine, 'x')), "");
  EXPECT_FALSE(c.closed()) << "still within the line limit: wait for more";
  EXPECT_EQ(c.feed("xx"), "") << "memcached closes without a reply";
  EXPECT_TRUE(c.closed());
  // A long multi-get line is fine, as in memcached.
  run("set k 0 0 1\r\nx\r\n");
  std::string line = "get";
  for (int i = 0; i < 2000; ++i) line += " k";
  Conn g(ctx_);
  EXPECT_EQ(g.feed(line.substr(0, 3000)), "");
  const std::string out = g.feed(line.substr(3000) + "\r\n");
  EXPECT_FALSE(g.closed());
  EXPECT_EQ(out.size(), 2000 * std::string("VALUE k 0 1\r\nx\r\n").size() + 5);
}

TEST_F(McText, VersionVerbosityQuitStats) {
  EXPECT_EQ(run("version\r\n"), "VERSION " + std::string(ctx_.version()) + "\r\n");
  EXPECT_EQ(run("verbosity 2\r\n"), "OK\r\n");
  EXPECT_EQ(ctx_.verbosity(), 2);
  run("set a 0 0 1\r\nx\r\nget a\r\nget b\r\n");
  const std::string st = run("stats\r\n");
  EXPECT_NE(st.find("STAT cmd_get 2\r\n"), std::string::npos) << st;
  EXPECT_NE(st.find("STAT get_hits 1\r\n"), std::string::npos);
  EXPECT_NE(st.find("STAT get_misses 1\r\n"), std::string::npos);
  EXPECT_NE(st.find("STAT curr_items 1\r\n"), std::string::npos);
  EXPECT_TRUE(st.ends_with("END\r\n"));
  EXPECT_NE(run("stats settings\r\n").find("STAT item_size_max 1048576\r\n"), std::string::npos);
  EXPECT_NE(run("stats items\r\n").find("STAT items:1:number 1\r\n"), std::string::npos);
  EXPECT_NE(run("stats slabs\r\n").find("STAT active_slabs 1\r\n"), std::string::npos);
  EXPECT_EQ(run("stats reset\r\n"), "RESET\r\n");
  EXPECT_NE(run("stats\r\n").find("STAT cmd_get 0\r\n"), std::string::npos);
  Conn c(ctx_);
  EXPECT_EQ(c.feed("quit\r\nget a\r\n"), "");
  EXPECT_TRUE(c.closed());
}

TEST_F(McText, MetaGet) {
  run("ms m 3 T0 F5\r\nabc\r\n");
  const std::string cas = std::to_string(ctx_.store().get("m", kNow).cas());
  EXPECT_EQ(run("mg m v k f t c s\r\n"), "VA 3 km f5 t-1 c" + cas + " s3\r\nabc\r\n");
  EXPECT_EQ(run("mg m\r\n"), "HD\r\n");
  EXPECT_EQ(run("mg nope v\r\nmg nope v q\r\nmg nope k O9\r\nmn\r\n"),
            "EN\r\nEN knope O9\r\nMN\r\n");
  EXPECT_EQ(run("mg m O12 q k\r\n"), "HD O12 km\r\n") << "q hides only misses";
  EXPECT_EQ(run("mg m T100 t\r\n"), "HD t100\r\n");
  ctx_.set_manual_now(kNow + 3);
  EXPECT_EQ(run("mg m h l\r\n"), "HD h1 l3\r\n");
  ctx_.set_manual_now(kNow + 5);
  EXPECT_EQ(run("mg m u l\r\nmg m l\r\n"), "HD l2\r\nHD l2\r\n") << "u leaves the access time";
  EXPECT_EQ(run("mg m Zx\r\nmg m v v\r\nmg m Tabc\r\nmg\r\n"),
            "CLIENT_ERROR invalid flag\r\nCLIENT_ERROR duplicate flag\r\n"
            "CLIENT_ERROR bad token in command line format\r\nERROR\r\n");
  EXPECT_EQ(run("mg m O" + std::string(33, '1') + "\r\n"),
            "CLIENT_ERROR opaque token too long\r\n");
  // N: the first miss wins the right to recache; later readers see Z.
  EXPECT_EQ(run("mg stub v N30\r\nmg stub v N30\r\nmg stub s t\r\n"),
            "VA 0 W\r\n\r\nVA 0 Z\r\n\r\nHD s0 t30 Z\r\n");
}

TEST_F(McText, MetaSet) {
  EXPECT_EQ(run("ms m 3 c k O123 q\r\nabc\r\nmn\r\n"), "MN\r\n");
  const std::string cas = std::to_string(ctx_.store().get("m", kNow).cas());
  EXPECT_EQ(run("ms m 3 k O1 c\r\nxyz\r\n").substr(0, 10), "HD km O1 c");
  EXPECT_EQ(run("ms m 3 ME\r\nabc\r\nms n 1 MR\r\nx\r\nms n 1 MA\r\nx\r\n"), "NS\r\nNS\r\nNS\r\n");
  EXPECT_EQ(run("ms m 1 MA\r\nA\r\nms m 1 MP\r\nP\r\nmg m v\r\n"), "HD\r\nHD\r\nVA 5\r\nPxyzA\r\n");
  EXPECT_EQ(run("ms m 1 C" + cas + "\r\nz\r\nms nope 1 C1\r\nz\r\n"), "EX\r\nNF\r\n");
  const std::string now_cas = std::to_string(ctx_.store().get("m", kNow).cas());
  EXPECT_EQ(run("ms m 1 C" + now_cas + "\r\nz\r\nmg m v\r\n"), "HD\r\nVA 1\r\nz\r\n");
  EXPECT_EQ(run("ms m 1 MX\r\nabc\r\nmn\r\n"),
            "CLIENT_ERROR invalid mode for ms M token\r\nERROR\r\nMN\r\n");
  EXPECT_EQ(
      run("ms m 1 Y\r\nx\r\nms m 1 F1 F2\r\nx\r\nms m 1 Tz\r\nx\r\nms m 1 F-1\r\nx\r\nmn\r\n"),
      "CLIENT_ERROR invalid flag\r\nCLIENT_ERROR duplicate flag\r\n"
      "CLIENT_ERROR bad token in command line format\r\nCLIENT_ERROR bad command line "
      "format\r\nMN\r\n");
  EXPECT_EQ(
      run("ms m abc\r\nms m\r\nms\r\n"),
      "CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nERROR\r\n");
  EXPECT_EQ(run("ms m 2 q\r\nabc\r\n"), "CLIENT_ERROR bad data chunk\r\nERROR\r\n")
      << "meta set reports a bad chunk even under q";
  EXPECT_EQ(run("ms m 2 T10 F3\r\nhi\r\nmg m f t v\r\n"), "HD\r\nVA 2 f3 t10\r\nhi\r\n");
}

TEST_F(McText, MetaStaleAndRecacheWins) {
  run("ms s 1\r\nx\r\n");
  EXPECT_EQ(run("md s I T30\r\nmg s v t\r\nmg s v\r\n"),
            "HD\r\nVA 1 t30 X W\r\nx\r\nVA 1 Z X\r\nx\r\n")
      << "a stale item: one client wins the recache, the rest are told it is taken";
  EXPECT_EQ(run("ms s 1\r\ny\r\nmg s v\r\n"), "HD\r\nVA 1\r\ny\r\n") << "a fresh set clears it";
  const uint64_t cas = ctx_.store().get("s", kNow).cas();
  EXPECT_EQ(run("ms s 1 I C" + std::to_string(cas - 1) + "\r\nz\r\nmg s v\r\n"),
            "HD\r\nVA 1 X W\r\nz\r\n")
      << "I with an older cas stores the value as stale";
  EXPECT_EQ(run("ms s 1 I C18446744073709551615\r\nz\r\n"), "EX\r\n") << "a newer cas still fails";
  EXPECT_EQ(run("ms r 1 T10\r\nx\r\nmg r R30 v\r\nmg r R30 v\r\nmg r R5\r\n"),
            "HD\r\nVA 1 W\r\nx\r\nVA 1 Z\r\nx\r\nHD Z\r\n");
}

TEST_F(McText, MetaBase64Keys) {
  // "YmluYXJ5" is base64 for "binary".
  EXPECT_EQ(run("ms YmluYXJ5 3 b k\r\nabc\r\nmg binary v\r\nmg YmluYXJ5 b k v\r\n"),
            "HD kYmluYXJ5 b\r\nVA 3\r\nabc\r\nVA 3 kYmluYXJ5 b\r\nabc\r\n");
  EXPECT_EQ(run("md YmluYXJ5 b q\r\nmg binary v\r\n"), "EN\r\n");
  EXPECT_EQ(run("mg !!!! b\r\nms bin 1 b\r\nx\r\nmn\r\n"),
            "CLIENT_ERROR error decoding key\r\nCLIENT_ERROR error decoding key\r\nMN\r\n");
}

TEST_F(McText, MetaDeleteAndArithmetic) {
  run("ms d 1\r\nx\r\n");
  EXPECT_EQ(run("md d C1\r\nmd d k O3\r\nmd d k O3\r\nmd d q\r\nmn\r\n"),
            "EX\r\nHD kd O3\r\nNF kd O3\r\nNF\r\nMN\r\n");
  EXPECT_EQ(run("md d Cabc\r\nmd d Y\r\nmd\r\n"),
            "CLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate "
            "flag\r\nERROR\r\n");
  EXPECT_EQ(run("ma c\r\nma c N0 J10 v\r\nma c v\r\nma c MD D3 v t\r\nma c M- D100 v\r\nma c "
                "q\r\nmn\r\n"),
            "NF\r\nVA 2\r\n10\r\nVA 2\r\n11\r\nVA 1 t-1\r\n8\r\nVA 1\r\n0\r\nMN\r\n");
  EXPECT_EQ(run("ma zz O4 k\r\nma c C1\r\nma c MZ\r\nma c Dabc\r\n"),
            "NF O4 kzz\r\nEX\r\nCLIENT_ERROR invalid mode for ma M token\r\n"
            "CLIENT_ERROR invalid or duplicate flag\r\n");
  run("ms t 1\r\nx\r\n");
  EXPECT_EQ(run("ma t\r\n"), "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  EXPECT_EQ(run("ma c T50 t\r\n"), "HD t50\r\n");
}

// Every request of a pipeline, split at every byte boundary into two pieces
// (and fed one byte at a time), gives the same replies as in one piece.
TEST_F(McText, PipelineSplitAtEveryByte) {
  const std::string pipeline =
      "set a 1 0 5\r\nhello\r\nget a b\r\nappend a 0 0 3 noreply\r\n!!!\r\nincr n 1\r\n"
      "set n 0 0 1\r\n7\r\nincr n 3\r\ndelete b\r\nms m 4 F2 T0 k\r\nmeta\r\nmg m v f k\r\n"
      "ma n D2 v\r\nmd m q\r\nmg m q v\r\nset a 0 0 2\r\nxyz\r\ntouch a 5\r\nbad command\r\n"
      "gets n\r\nmn\r\n";
  auto fresh = [] {
    ServerSettings s;
    auto ctx = std::make_unique<Context>(s);
    ctx->set_manual_now(kNow);
    return ctx;
  };
  auto scrub = [](std::string s) {  // cas values differ between contexts
    const size_t p = s.find("VALUE n 0 2 ");
    if (p != std::string::npos) s.replace(p, s.find("\r\n", p) - p, "VALUE n 0 2 #");
    return s;
  };
  std::string whole;
  {
    auto ctx = fresh();
    Conn c(*ctx);
    whole = scrub(c.feed(pipeline));
  }
  EXPECT_NE(whole.find("VALUE a 1 5\r\nhello\r\nEND\r\n"), std::string::npos) << whole;
  EXPECT_TRUE(whole.ends_with("MN\r\n")) << whole;
  for (size_t cut = 1; cut < pipeline.size(); ++cut) {
    auto ctx = fresh();
    Conn c(*ctx);
    std::string out = c.feed(pipeline.substr(0, cut));
    out += c.feed(pipeline.substr(cut));
    ASSERT_EQ(scrub(out), whole) << "split at byte " << cut;
  }
  auto ctx = fresh();
  Conn c(*ctx);
  std::string out;
  for (char ch : pipeline) out += c.feed(std::string(1, ch));
  EXPECT_EQ(scrub(out), whole) << "one byte at a time";
}

TEST_F(McText, IncompleteInputConsumesNothing) {
  for (std::string_view partial :
       {"get a", "set a 0 0 5\r\nhel", "set a 0 0 5\r\nhello\r", "ms m 2\r\n"}) {
    Reply r;
    bool close = false;
    TextSession sess;
    EXPECT_EQ(handle_text({reinterpret_cast<const uint8_t *>(partial.data()), partial.size()}, ctx_,
                          r, &close, sess),
              0u)
        << partial;
    EXPECT_TRUE(r.empty());
    EXPECT_FALSE(close);
  }
}

TEST_F(McText, CountersPerThreadAreSummed) {
  run("set a 0 0 1\r\nx\r\n");
  std::vector<std::thread> ts;
  for (int t = 0; t < 3; ++t)
    ts.emplace_back([this] {
      for (int i = 0; i < 100; ++i) run("get a\r\n");
    });
  for (auto &t : ts) t.join();
  EXPECT_EQ(ctx_.counter_sum(ThreadCounters::get_hits), 300u);
}

// ---- behaviours matched against memcached 1.6.18 by the differential test ----

TEST_F(McText, GetWithATooLongKeyAnywhereAnswersOnlyTheError) {
  run("set a 0 0 1\r\n1\r\n");
  const std::string long_key(251, 'x');
  EXPECT_EQ(run("get a " + long_key + " a\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(run("gets a " + long_key + "\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(run("gat 10 a " + long_key + "\r\n"), "CLIENT_ERROR bad command line format\r\n");
}

TEST_F(McText, MultiGetLineOfAMegabyteIsServed) {
  run("set a 0 0 1\r\n1\r\n");
  std::string line = "get";
  while (line.size() < (1 << 20)) line += " missing" + std::to_string(line.size());
  line += " a\r\n";
  Conn c(ctx_);
  std::string out;
  for (size_t i = 0; i < line.size(); i += 1448) out += c.feed(line.substr(i, 1448));
  EXPECT_FALSE(c.closed());
  EXPECT_EQ(out, "VALUE a 0 1\r\n1\r\nEND\r\n");
}

TEST_F(McText, MultiGetLinePastItsBoundClosesWithoutReply) {
  std::string line = "get";
  while (line.size() <= kMaxGetLine) line += " k";
  Conn c(ctx_);
  EXPECT_EQ(c.feed(line), "");
  EXPECT_TRUE(c.closed());
}

TEST_F(McText, DeleteForms) {
  auto set_a = [this] { run("set a 0 0 1\r\nx\r\n"); };
  set_a();
  EXPECT_EQ(run("delete a 0\r\n"), "DELETED\r\n") << "a legacy hold time of 0 is accepted";
  set_a();
  EXPECT_EQ(run("delete a 0 noreply\r\ndelete a noreply\r\nget a\r\n"), "END\r\n");
  const std::string usage =
      "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n";
  EXPECT_EQ(run("delete a 5\r\n"), usage);
  EXPECT_EQ(run("delete a 0 0\r\n"), usage);
  EXPECT_EQ(run("delete a 0 noreply x\r\n"), "ERROR\r\n") << "more than 4 words is no delete";
  EXPECT_EQ(run("delete a x noreply\r\n"), "") << "noreply silences the usage error too";
}

TEST_F(McText, NegativeValueLengthIsABadCommandLine) {
  EXPECT_EQ(run("set k 0 0 -1\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(run("set k 0 0 -1 noreply\r\n"), "");
  EXPECT_EQ(run("ms k -1\r\n"), "CLIENT_ERROR bad command line format\r\n");
}

TEST_F(McText, ValueLengthPastAnIntIsABadCommandLineNotATooLargeItem) {
  // memcached keeps the length plus CRLF in an int (memcached's t/issue_70.t):
  // past that the line is malformed, and nothing after it is swallowed.
  EXPECT_EQ(run("set k 0 0 2147483646\r\nget k\r\n"),
            "CLIENT_ERROR bad command line format\r\nEND\r\n");
  EXPECT_EQ(run("set k 0 0 2147483645\r\n"), "SERVER_ERROR object too large for cache\r\n")
      << "the largest length that fits is only too large";
}

TEST_F(McText, SlabsCommandsAsMemcachedAnswersThem) {
  EXPECT_EQ(run("slabs automove invalid\r\n"), "CLIENT_ERROR bad command line format\r\n")
      << "memcached's t/strtol-testing.t";
  EXPECT_EQ(run("slabs automove 3\r\nslabs automove ratio x\r\n"), "ERROR\r\nERROR\r\n");
  EXPECT_EQ(run("slabs automove 0\r\nslabs automove ratio 0.5\r\n"), "OK\r\nOK\r\n");
  const std::string settings = run("stats settings\r\n");
  EXPECT_NE(settings.find("STAT slab_automove 0\r\n"), std::string::npos) << settings;
  EXPECT_NE(settings.find("STAT slab_automove_ratio 0.50\r\n"), std::string::npos) << settings;
  EXPECT_EQ(run("slabs automove 2 noreply\r\n"), "");
  EXPECT_EQ(run("slabs reassign 1 1\r\n"), "SAME src and dst class are identical\r\n");
  EXPECT_EQ(run("slabs reassign 1 2\r\n"), "NOSPARE source class has no spare pages\r\n");
  EXPECT_EQ(run("slabs reassign -1 2\r\nslabs reassign 1 99\r\n"),
            "BADCLASS invalid src or dst class id\r\nBADCLASS invalid src or dst class id\r\n");
  EXPECT_EQ(run("slabs reassign x 2\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(run("slabs\r\nslabs reassign 1\r\n"), "ERROR\r\nERROR\r\n");
}

TEST(McTextDebug, DebugtimeMovesPausesAndRunsTheClockOnlyWhenEnabled) {
  ServerSettings s;
  Context release(s);
  release.set_manual_now(kNow);
  EXPECT_EQ(Conn(release).feed("debugtime 5\r\n"), "ERROR\r\n") << "as a release memcached";
  s.debug_commands = true;
  Context ctx(s);
  ctx.set_manual_now(kNow);
  Conn c(ctx);
  EXPECT_EQ(c.feed("set foo 0 3 1\r\nx\r\ndebugtime 3\r\nget foo\r\n"), "STORED\r\nOK\r\nEND\r\n")
      << "memcached's t/expirations.t: three seconds on, a 3 s item is gone";
  EXPECT_EQ(ctx.now(), kNow + 3);
  EXPECT_EQ(c.feed("debugtime p\r\n"), "OK\r\n");
  ctx.set_manual_now(kNow + 10);
  EXPECT_EQ(ctx.now(), kNow + 3) << "paused";
  EXPECT_EQ(c.feed("debugtime r\r\ndebugtime -1\r\n"), "OK\r\nOK\r\n");
  EXPECT_EQ(ctx.now(), kNow + 12) << "running again, the moves added up";
  EXPECT_EQ(c.feed("debugtime x\r\ndebugtime\r\n"), "ERROR\r\nERROR\r\n");
}

TEST_F(McText, CacheMemlimitChangesTheLimitAsMemcachedDoes) {
  EXPECT_EQ(run("cache_memlimit 7\r\n"),
            "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n");
  EXPECT_EQ(run("cache_memlimit 2000000000\r\n"),
            "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n");
  EXPECT_EQ(run("cache_memlimit x\r\ncache_memlimit\r\n"), "ERROR\r\nERROR\r\n");
  EXPECT_EQ(run("cache_memlimit 8 noreply\r\n"), "");
  EXPECT_EQ(ctx_.store().memory_limit(), 8u << 20);
  EXPECT_EQ(run("cache_memlimit 9\r\n"), "OK\r\n");
  EXPECT_NE(run("stats settings\r\n").find("STAT maxbytes 9437184\r\n"), std::string::npos);
  EXPECT_NE(run("stats\r\n").find("STAT limit_maxbytes 9437184\r\n"), std::string::npos);
}

TEST_F(McText, StoreFailuresAreCountedByReason) {
  const std::string big(2u << 20, 'x');
  EXPECT_EQ(run("set big 0 0 " + std::to_string(big.size()) + "\r\n" + big + "\r\n"),
            "SERVER_ERROR object too large for cache\r\n");
  EXPECT_EQ(run("ms big 2097152 T0\r\n" + big + "\r\n"),
            "SERVER_ERROR object too large for cache\r\n");
  const std::string stats = run("stats\r\n");
  EXPECT_NE(stats.find("STAT store_too_large 2\r\n"), std::string::npos) << stats;
  EXPECT_NE(stats.find("STAT store_no_memory 0\r\n"), std::string::npos) << stats;
}

TEST(McTextLimits, StoresThatFindNoRoomUnderDashMAreCounted) {
  ServerSettings s;
  s.store.memory_limit = 64 << 10;
  s.store.item_size_max = 16 << 10;
  s.store.evict = false;  // memcached -M
  s.store.stripes = 1;
  Context ctx(s);
  ctx.set_manual_now(kNow);
  Conn c(ctx);
  const std::string value(8192, 'B');
  int failed = 0;
  for (int i = 0; i < 20; ++i)
    if (c.feed("set k" + std::to_string(i) + " 0 0 8192\r\n" + value + "\r\n") ==
        "SERVER_ERROR out of memory storing object\r\n")
      ++failed;
  ASSERT_GT(failed, 0);
  EXPECT_NE(c.feed("stats\r\n").find("STAT store_no_memory " + std::to_string(failed) + "\r\n"),
            std::string::npos)
      << "memcached's t/dash-M.t";
}

TEST_F(McText, CachedumpListsLiveKeysWithSizeAndExpiry) {
  EXPECT_EQ(run("set foo 0 0 6\r\nfooval\r\nset bar 0 100 3\r\nabc\r\n"
                "set gone 0 0 1\r\nx\r\ndelete gone\r\n"),
            "STORED\r\nSTORED\r\nSTORED\r\nDELETED\r\n");
  const std::string dump = run("stats cachedump 1 100\r\n");
  EXPECT_NE(dump.find("ITEM foo [6 b; 0 s]\r\n"), std::string::npos) << dump;
  EXPECT_NE(dump.find("ITEM bar [3 b; " + std::to_string(kNow + 100) + " s]\r\n"),
            std::string::npos)
      << dump;
  EXPECT_EQ(dump.find("gone"), std::string::npos) << dump;
  EXPECT_EQ(dump.substr(dump.size() - 5), "END\r\n");
  // A limit, other classes, and memcached's errors.
  const std::string one = run("stats cachedump 1 1\r\n");
  EXPECT_EQ(std::count(one.begin(), one.end(), '\n'), 2) << one;
  EXPECT_EQ(run("stats cachedump 2 0\r\n"), "END\r\n");
  EXPECT_EQ(run("stats cachedump 1\r\n"), "CLIENT_ERROR bad command line\r\n");
  EXPECT_EQ(run("stats cachedump x 1\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(run("stats cachedump 64 1\r\n"), "CLIENT_ERROR Illegal slab id\r\n");
}

TEST(McTextDump, CachedumpIsRefusedUnderDashX) {
  ServerSettings s;
  s.dump_enabled = false;
  Context ctx(s);
  EXPECT_EQ(Conn(ctx).feed("stats cachedump 1 0\r\n"),
            "CLIENT_ERROR stats cachedump not allowed\r\n");
  EXPECT_NE(Conn(ctx).feed("stats settings\r\n").find("STAT dump_enabled no\r\n"),
            std::string::npos);
}

TEST(McTextStats, StatsFollowTheSettingsAsMemcachedsDo) {
  ServerSettings s;
  s.lru_crawler = s.lru_maintainer = false;
  s.tcp_backlog = 8675;
  s.idle_timeout = 3;
  Context ctx(s);
  const std::string stats = Conn(ctx).feed("stats\r\n");
  EXPECT_EQ(stats.find("lru_crawler_running"), std::string::npos);
  EXPECT_EQ(stats.find("moves_to_cold"), std::string::npos);
  EXPECT_NE(stats.find("STAT idle_kicks 0\r\n"), std::string::npos);
  // memcached's t/stats.t counts the rows of this configuration.
  EXPECT_EQ(std::count(stats.begin(), stats.end(), '\n'), 83 + 1 + 1) << "83, idle_kicks, END";
  const std::string settings = Conn(ctx).feed("stats settings\r\n");
  for (const char *row : {"STAT tcp_backlog 8675\r\n", "STAT idle_timeout 3\r\n",
                          "STAT lru_crawler no\r\n", "STAT lru_maintainer_thread no\r\n"})
    EXPECT_NE(settings.find(row), std::string::npos) << row;
  ServerSettings d;
  Context dflt(d);
  const std::string def = Conn(dflt).feed("stats\r\n");
  EXPECT_EQ(def.find("idle_kicks"), std::string::npos) << "only with an idle timeout";
  EXPECT_NE(def.find("STAT lru_maintainer_juggles 0\r\n"), std::string::npos);
}

TEST(McTextStats, StatsConnsListsTheListenerAndEachOpenConnection) {
  ServerSettings s;
  Context ctx(s);
  ctx.set_manual_now(kNow);
  ctx.conn_table().set_listener(0, 11211, kNow - 7);
  ConnRow &a = ctx.conn_table().add();
  ConnRow &b = ctx.conn_table().add();
  a.opened(0x0a000002, 40000, 0x0a000001, 11211, kNow - 2);
  a.set_state(ConnState::kNread);
  b.opened(0x0a000003, 40001, 0x0a000001, 11211, kNow);
  b.closed();
  const std::string out = Conn(ctx).feed("stats conns\r\n");
  const std::string ida = std::to_string(a.id);
  EXPECT_EQ(out,
            "STAT 0:addr tcp:0.0.0.0:11211\r\nSTAT 0:state conn_listening\r\n"
            "STAT 0:secs_since_last_cmd 7\r\n"
            "STAT " +
                ida +
                ":addr tcp:10.0.0.2:40000\r\n"
                "STAT " +
                ida +
                ":listen_addr tcp:10.0.0.1:11211\r\n"
                "STAT " +
                ida +
                ":state conn_nread\r\n"
                "STAT " +
                ida + ":secs_since_last_cmd 2\r\nEND\r\n")
      << "a closed connection is not listed";
  EXPECT_NE(a.id, b.id);
}

// Connections' own threads write their rows while another thread lists them
// (ThreadSanitizer checks that the listing reads only atomics).
TEST(McTextStats, StatsConnsReadsRowsThatOtherThreadsWrite) {
  ServerSettings s;
  Context ctx(s);
  ctx.set_manual_now(kNow);
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w)
    writers.emplace_back([&ctx, &stop, w] {
      ConnRow &r = ctx.conn_table().add();
      for (uint32_t i = 0; !stop.load(); ++i) {
        r.opened(0x0a000002 + w, static_cast<uint16_t>(i), 0x0a000001, 11211, kNow);
        r.set_state(ConnState::kParseCmd);
        r.touched(kNow + i % 3);
        r.set_state(ConnState::kRead);
        if (i % 7 == 0) r.closed();
        if (i % 64 == 0) ctx.conn_table().add();  // the table grows meanwhile
      }
    });
  for (int i = 0; i < 200; ++i) {
    const std::string out = Conn(ctx).feed("stats conns\r\n");
    ASSERT_EQ(out.substr(out.size() - 5), "END\r\n");
  }
  stop = true;
  for (std::thread &t : writers) t.join();
}

TEST_F(McText, PerPrefixStatsCountWhileDetailIsOn) {
  // memcached's t/stats-detail.t, step by step.
  EXPECT_EQ(run("stats detail dump\r\n"), "END\r\n");
  EXPECT_EQ(run("stats detail on\r\nset foo:123 0 0 6\r\nfooval\r\nstats detail dump\r\n"),
            "OK\r\nSTORED\r\nPREFIX foo get 0 hit 0 set 1 del 0\r\nEND\r\n");
  run("get foo:123\r\nget foo:124\r\ndelete foo:125\r\nget nodelimiter\r\n");
  EXPECT_EQ(run("stats detail dump\r\n"), "PREFIX foo get 2 hit 1 set 1 del 1\r\nEND\r\n");
  // A set counts once even when its data arrives in pieces.
  Conn c(ctx_);
  EXPECT_EQ(c.feed("set bar:1 0 0 2\r\n"), "");
  EXPECT_EQ(c.feed("ab\r\n"), "STORED\r\n");
  EXPECT_EQ(run("stats detail dump\r\n"),
            "PREFIX bar get 0 hit 0 set 1 del 0\r\nPREFIX foo get 2 hit 1 set 1 del 1\r\nEND\r\n");
  EXPECT_EQ(run("stats reset\r\nstats detail dump\r\n"), "RESET\r\nEND\r\n");
  EXPECT_EQ(run("stats detail off\r\nget foo:123\r\nstats detail dump\r\n"),
            "OK\r\nVALUE foo:123 0 6\r\nfooval\r\nEND\r\nEND\r\n");
}

TEST(McTextDetail, DashDNamesTheDelimiterAndTurnsDetailOn) {
  ServerSettings s;
  s.prefix_delimiter = '/';
  s.detail_enabled = true;
  Context ctx(s);
  Conn c(ctx);
  EXPECT_EQ(c.feed("set a/b 0 0 1\r\nx\r\nset a:b 0 0 1\r\nx\r\nstats detail dump\r\n"),
            "STORED\r\nSTORED\r\nPREFIX a get 0 hit 0 set 1 del 0\r\nEND\r\n");
  const std::string settings = c.feed("stats settings\r\n");
  EXPECT_NE(settings.find("STAT stat_key_prefix /\r\n"), std::string::npos);
  EXPECT_NE(settings.find("STAT detail_enabled yes\r\n"), std::string::npos);
}

TEST(McTextDetail, ThePrefixTableIsBounded) {
  PrefixStats p;
  for (size_t i = 0; i < PrefixStats::kMaxPrefixes + 10; ++i)
    p.record_set("p" + std::to_string(i) + ":k");
  EXPECT_EQ(p.dropped(), 10u);
  p.record_get("p0:k", true);  // known prefixes still count
  EXPECT_NE(p.dump().find("PREFIX p0 get 1 hit 1 set 1 del 0\r\n"), std::string::npos);
}

TEST_F(McText, MetadumpListsEveryLiveItemInSteps) {
  Conn c(ctx_);
  std::string sets;
  const int kItems = 3000;
  for (int i = 0; i < kItems; ++i)
    sets += "set key-" + std::to_string(i) + std::string(100, 'k') + " 5 0 2 noreply\r\nab\r\n";
  c.feed(sets + "set sp%ace/é 0 100 1\r\nx\r\nset gone 0 0 1\r\nx\r\ndelete gone\r\n");
  EXPECT_EQ(c.feed("get sp%ace/é\r\n"), "VALUE sp%ace/é 0 1\r\nx\r\nEND\r\n");
  const std::string dump = c.feed("lru_crawler metadump all\r\nversion\r\n");
  EXPECT_GT(c.dump_steps(), 0) << "over 64 KB: written in more than one step";
  // Every key once, then END, then the command that waited behind the dump.
  std::set<std::string> keys;
  size_t pos = 0, lines = 0;
  for (size_t nl;
       (nl = dump.find('\n', pos)) != std::string::npos && dump.compare(pos, 3, "key") == 0;
       pos = nl + 1, ++lines)
    keys.insert(dump.substr(pos + 4, dump.find(' ', pos) - pos - 4));
  EXPECT_EQ(lines, size_t(kItems) + 1);
  EXPECT_EQ(keys.size(), size_t(kItems) + 1);
  EXPECT_EQ(dump.substr(pos, 5), "END\r\n");
  EXPECT_EQ(dump.substr(pos + 5, 8), "VERSION ");
  // memcached's URI encoding, times in unix seconds, fetch, class and size.
  EXPECT_NE(dump.find("key=sp%25ace%2F%C3%A9 exp=" + std::to_string(kNow + 100) +
                      " la=" + std::to_string(kNow) + " cas="),
            std::string::npos)
      << dump.substr(0, 300);
  EXPECT_NE(dump.find(" fetch=yes cls=1 size="), std::string::npos);
  EXPECT_NE(dump.find("key=key-0" + std::string(100, 'k') + " exp=-1 "), std::string::npos);
  EXPECT_EQ(dump.find("key=gone"), std::string::npos);
}

TEST_F(McText, LruCrawlerCommandsAsMemcachedAnswersThem) {
  EXPECT_EQ(run("mg foo v\r\nlru_crawler metadump all\r\n"),
            "EN\r\nERROR cannot pipeline other commands before metadump\r\n")
      << "memcached's t/lru-crawler.t";
  EXPECT_EQ(run("lru_crawler metadump 0\r\nlru_crawler crawl 64\r\nlru_crawler crawl x\r\n"),
            "BADCLASS invalid class id\r\nBADCLASS invalid class id\r\n"
            "BADCLASS invalid class id\r\n");
  EXPECT_EQ(run("lru_crawler metadump 2,3\r\n"), "END\r\n") << "the store is one class (1)";
  EXPECT_EQ(run("lru_crawler crawl hash\r\n"), "ERROR an unknown error happened\r\n");
  EXPECT_EQ(run("lru_crawler enable\r\n"), "ERROR failed to start lru crawler thread\r\n")
      << "already running, as memcached's thread";
  EXPECT_EQ(run("lru_crawler sleep 1000001\r\nlru_crawler sleep x\r\nlru_crawler sleep 50\r\n"),
            "CLIENT_ERROR sleep must be one second or less\r\n"
            "CLIENT_ERROR bad command line format\r\nOK\r\n");
  EXPECT_EQ(run("lru_crawler tocrawl 7\r\nlru_crawler\r\nlru_crawler bogus\r\n"),
            "OK\r\nERROR\r\nERROR\r\n");
  std::string settings = run("stats settings\r\n");
  EXPECT_NE(settings.find("STAT lru_crawler_sleep 50\r\n"), std::string::npos);
  EXPECT_NE(settings.find("STAT lru_crawler_tocrawl 7\r\n"), std::string::npos);
  EXPECT_EQ(run("lru_crawler disable\r\nlru_crawler crawl 1\r\nlru_crawler metadump all\r\n"),
            "OK\r\nCLIENT_ERROR lru crawler disabled\r\nCLIENT_ERROR lru crawler disabled\r\n");
  EXPECT_NE(run("stats settings\r\n").find("STAT lru_crawler no\r\n"), std::string::npos);
  EXPECT_EQ(run("stats\r\n").find("lru_crawler_running"), std::string::npos);
  EXPECT_EQ(run("lru_crawler enable\r\n"), "OK\r\n");
  EXPECT_NE(run("stats settings\r\n").find("STAT lru_crawler yes\r\n"), std::string::npos);
}

TEST_F(McText, CrawlFreesExpiredItemsInStepsOneJobAtATime) {
  run("set a 0 1 1\r\nx\r\nset b 0 1 1\r\nx\r\nset c 0 0 1\r\nx\r\n");
  ctx_.set_manual_now(kNow + 2);
  EXPECT_EQ(run("lru_crawler crawl 1\r\n"), "OK\r\n");
  // Until a serving loop has swept the store, the crawler is busy.
  EXPECT_EQ(run("lru_crawler crawl all\r\n"), "BUSY currently processing crawler request\r\n");
  EXPECT_EQ(run("lru_crawler metadump all\r\n"), "BUSY currently processing crawler request\r\n");
  EXPECT_NE(run("stats\r\n").find("STAT lru_crawler_running 1\r\n"), std::string::npos);
  ASSERT_TRUE(ctx_.take_crawl());
  EXPECT_FALSE(ctx_.take_crawl()) << "one thread takes it";
  Store::WalkCursor cur;
  int steps = 1;
  while (!ctx_.store().crawl_step(kNow + 2, cur, 64)) ++steps;
  EXPECT_GT(steps, 1) << "bounded steps (1024 stripes of buckets)";
  ctx_.release_crawler();
  const std::string stats = run("stats\r\n");
  EXPECT_NE(stats.find("STAT lru_crawler_running 0\r\n"), std::string::npos);
  EXPECT_NE(stats.find("STAT crawler_reclaimed 2\r\n"), std::string::npos) << stats;
  EXPECT_NE(stats.find("STAT curr_items 1\r\n"), std::string::npos) << stats;
  EXPECT_NE(stats.find("STAT expired_unfetched 2\r\n"), std::string::npos) << stats;
  EXPECT_NE(stats.find("STAT lru_crawler_starts 1\r\n"), std::string::npos) << stats;
}

TEST_F(McText, ATurnStopsAtItsReplyBudgetAndTheRestWaits) {
  // A segment of listing commands must not build replies without bound:
  // past kTurnReplyBudget the rest of the input waits for the next turn.
  std::string sets;
  for (int i = 0; i < 20000; ++i)
    sets += "set " + std::string(60, 'k') + std::to_string(i) + " 0 0 1 noreply\r\nx\r\n";
  run(sets);
  const std::string in = "stats cachedump 1 0\r\nstats cachedump 1 0\r\nversion\r\n";
  TextSession session;
  Reply r;
  bool close = false;
  const size_t n = handle_text({reinterpret_cast<const uint8_t *>(in.data()), in.size()}, ctx_, r,
                               &close, session);
  EXPECT_EQ(n, in.find("stats", 1)) << "only the first listing";
  EXPECT_TRUE(session.paused);
  EXPECT_TRUE(session.wants_turn());
  EXPECT_GE(r.bytes(), kTurnReplyBudget);
  Reply r2;
  const size_t m = handle_text({reinterpret_cast<const uint8_t *>(in.data()) + n, in.size() - n},
                               ctx_, r2, &close, session);
  EXPECT_EQ(n + m, in.find("version")) << "the second listing, then a pause again";
  Reply r3;
  EXPECT_EQ(handle_text({reinterpret_cast<const uint8_t *>(in.data()) + n + m, in.size() - n - m},
                        ctx_, r3, &close, session),
            in.size() - n - m);
  EXPECT_FALSE(session.paused);
}

TEST(McTextDump, MetadumpIsRefusedUnderDashX) {
  ServerSettings s;
  s.dump_enabled = false;
  Context ctx(s);
  EXPECT_EQ(Conn(ctx).feed("lru_crawler metadump all\r\n"), "ERROR metadump not allowed\r\n");
}

TEST(McStoreLimit, ALoweredLimitEvictsAsStoresNeedRoom) {
  StoreConfig cfg;
  cfg.memory_limit = 8u << 20;
  cfg.stripes = 1;
  Store store(cfg);
  const std::string value(100'000, 'v');
  for (int i = 0; i < 60; ++i)
    ASSERT_EQ(store.store(StoreCmd::Set, "k" + std::to_string(i), value, 0, 0, 0, kNow, nullptr),
              StoreStatus::Stored);
  EXPECT_EQ(store.stats(kNow).evictions, 0u);
  store.set_memory_limit(4u << 20);
  ASSERT_EQ(store.store(StoreCmd::Set, "last", value, 0, 0, 0, kNow, nullptr), StoreStatus::Stored);
  EXPECT_GT(store.stats(kNow).evictions, 0u);
  EXPECT_LE(store.stats(kNow).bytes, uint64_t{4} << 20);
}

TEST_F(McText, StoreOverAnExpiredItemCountsAReclaim) {
  run("set r 0 1 1\r\nx\r\n");
  ctx_.set_manual_now(kNow + 2);
  run("set r 0 0 1\r\ny\r\n");
  EXPECT_NE(run("stats\r\n").find("STAT reclaimed 1\r\n"), std::string::npos)
      << "memcached's t/issue_183.t: the new item takes the dead one's memory";
  run("set g 0 1 1\r\nx\r\n");
  ctx_.set_manual_now(kNow + 4);
  const std::string stats = run("get g\r\nstats\r\n");
  EXPECT_NE(stats.find("STAT reclaimed 1\r\n"), std::string::npos) << "a get is no reclaim";
  EXPECT_NE(stats.find("STAT get_expired 1\r\n"), std::string::npos);
}

TEST_F(McText, HttpRequestClosesWithoutReply) {
  for (std::string_view req :
       {"GET / HTTP/1.0\r\n\r\n", "PUT /x HTTP/1.1\r\n", "HTTP/1.1\r\n", "foo bar HTTP/1.1\r\n"}) {
    Conn c(ctx_);
    EXPECT_EQ(c.feed(req), "") << req;
    EXPECT_TRUE(c.closed()) << req;
  }
  Conn c(ctx_);
  EXPECT_EQ(c.feed("get / HTTP/1.1\r\nfoo HTTP/1.1 x\r\n"), "END\r\nERROR\r\n")
      << "a known command, or HTTP/ not last, is served as usual";
  EXPECT_FALSE(c.closed());
}

TEST_F(McText, VerbosityIgnoresASecondArgument) {
  EXPECT_EQ(run("verbosity 1 2\r\n"), "OK\r\n");
  EXPECT_EQ(ctx_.verbosity(), 1);
}

TEST_F(McText, MetaModeTokensMustBeOneLetter) {
  EXPECT_EQ(run("ms a 1 Mxx\r\nq\r\n"), "CLIENT_ERROR incorrect length for M token\r\n");
  EXPECT_EQ(run("ms a 1 M\r\nq\r\nmn\r\n"), "CLIENT_ERROR incorrect length for M token\r\nMN\r\n")
      << "the data block is skipped";
  EXPECT_EQ(run("ma n Mxx\r\n"), "CLIENT_ERROR invalid or duplicate flag\r\n");
  EXPECT_EQ(run("ma n Mx\r\n"), "CLIENT_ERROR invalid mode for ma M token\r\n");
}

TEST_F(McText, MetaArithQuietHidesTheValueToo) {
  EXPECT_EQ(run("ma n N0 J5 q v\r\nma n q v\r\nmn\r\n"), "MN\r\n");
  EXPECT_EQ(run("ma n v\r\n"), "VA 1\r\n7\r\n");
}

TEST_F(McText, EmptyValueIsNonNumericBeforeTheCasCompare) {
  run("set e 0 0 0\r\n\r\nset t 0 0 3\r\nabc\r\n");
  EXPECT_EQ(run("ma e C1 v\r\n"),
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  EXPECT_EQ(run("ma t C1 v\r\n"), "EX\r\n") << "a non-empty value is compared first";
}

TEST_F(McText, MetaFlagsAsMemcached1618ParsesThem) {
  run("set a 0 0 1\r\n1\r\n");
  EXPECT_EQ(run("mg a D1 F1 I J1 L1 M1 P1 v\r\n"), "VA 1\r\n1\r\n") << "known letters are ignored";
  EXPECT_EQ(run("mg a E1\r\nms a 1 S1\r\n1\r\n"),
            "CLIENT_ERROR invalid flag\r\nCLIENT_ERROR invalid flag\r\n");
  EXPECT_EQ(run("mg a O" + std::string(31, 'o') + "\r\n"), "HD O" + std::string(31, 'o') + "\r\n");
  EXPECT_EQ(run("mg a O" + std::string(32, 'o') + "\r\n"),
            "CLIENT_ERROR opaque token too long\r\n");
  std::string flags;
  for (const char c : std::string_view("cfhklstuvDJLMNPR")) flags += std::string(" ") + c;
  EXPECT_EQ(run("mg a" + flags + " O1 T1\r\n"), "CLIENT_ERROR options flags are too long\r\n")
      << "20 words";
  EXPECT_EQ(run("md a" + flags + " O1 T1\r\n"), "CLIENT_ERROR options flags too long\r\n");
  EXPECT_EQ(run("ms a 1" + flags + " O1\r\n1\r\n"),
            "CLIENT_ERROR options flags too long\r\nERROR\r\n")
      << "the data block is read as a command";
}

TEST_F(McText, CasZeroIsACompareButForMa) {
  run("set a 0 0 1\r\n1\r\n");
  EXPECT_EQ(run("cas a 0 0 1 0\r\n2\r\nms a 1 C0\r\n2\r\nmd a C0\r\n"), "EXISTS\r\nEX\r\nEX\r\n");
  EXPECT_EQ(run("ma a C0\r\n"), "HD\r\n");
}

TEST_F(McText, SignedArgumentsAreCutTo32BitsAsMemcachedStoresThem) {
  EXPECT_EQ(run("set a 0 2147483648 1\r\n1\r\nget a\r\n"), "STORED\r\nEND\r\n")
      << "2^31 becomes -2^31: already expired";
  EXPECT_EQ(run("set a 0 4294967297 1\r\n1\r\nget a\r\n"), "STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\n")
      << "2^32 + 1 becomes 1: one second to live";
  EXPECT_EQ(run("set a 0 0 2147483648\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(run("set a 0 99999999999999999999 1\r\n1\r\n"),
            "CLIENT_ERROR bad command line format\r\nERROR\r\n")
      << "past a 64-bit long";
}

TEST_F(McText, NoreplyIsTheLastWordWhereverItFalls) {
  EXPECT_EQ(run("add a b c noreply\r\nincr a noreply\r\ntouch a noreply\r\nmn\r\n"), "MN\r\n")
      << "each a bad command line, each silent";
}

TEST_F(McText, StatsIgnoresWordsAfterTheGroup) {
  EXPECT_TRUE(run("stats settings x y\r\n").starts_with("STAT maxbytes "));
  EXPECT_EQ(run("stats reset x y\r\n"), "RESET\r\n");
  EXPECT_EQ(run("stats detail on x y z\r\nstats detail off x\r\n"), "OK\r\nOK\r\n");
  EXPECT_EQ(run("stats x y z\r\n"), "ERROR\r\n");
}

TEST_F(McText, MetaKeyThatDoesNotDecode) {
  EXPECT_EQ(run("mg D2 b v\r\n"), "CLIENT_ERROR error decoding key\r\n");
  EXPECT_EQ(run("md D2 b\r\nma D2 b\r\n"),
            "CLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\n");
  EXPECT_EQ(run("me s I b\r\n"), "EN\r\n") << "me takes b only right after the key";
}

TEST_F(McText, MetaDebug) {
  EXPECT_EQ(run("me nope\r\n"), "EN\r\n");
  EXPECT_EQ(run("me\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(run("me a b c\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(run("me " + std::string(251, 'k') + "\r\n"),
            "CLIENT_ERROR bad command line format\r\n");
  const std::string stored = run("ms a 1 c\r\nx\r\n");  // "HD c<cas>", without fetching
  ASSERT_TRUE(stored.starts_with("HD c")) << stored;
  const std::string cas = stored.substr(4, stored.size() - 6);
  // memcached's item of key "a" and a 1-byte value: 48 + 8 (cas) + 2 + 3 bytes.
  EXPECT_EQ(run("me a\r\n"), "ME a exp=-1 la=0 cas=" + cas + " fetch=no cls=1 size=61\r\n");
  run("get a\r\n");
  EXPECT_EQ(run("me a x\r\n"), "ME a exp=-1 la=0 cas=" + cas + " fetch=yes cls=1 size=61\r\n")
      << "an unknown flag is ignored; me itself does not count as a fetch";
  run("ms ab 3 T100 F1\r\nabc\r\n");
  const std::string out = run("me ab\r\n");
  EXPECT_TRUE(out.starts_with("ME ab exp=-100 la=0 ")) << out;
  EXPECT_TRUE(out.ends_with(" fetch=no cls=1 size=68\r\n")) << out << " (flags take 4 bytes)";
  run("ms Zm9v 3 b\r\nbar\r\n");
  EXPECT_TRUE(run("me Zm9v b\r\n").starts_with("ME Zm9v exp=-1 "));
  run("set big 0 0 1000\r\n" + std::string(1000, 'v') + "\r\n");
  EXPECT_TRUE(run("me big\r\n").ends_with(" cls=12 size=1062\r\n"))
      << "memcached's classes: 96, 120, 152, 192, 240, 304, 384, 480, 600, 752, 944, 1184";
}

TEST_F(McText, StaleSetKeepsTheRecacheToken) {
  run("ms q 1\r\nq\r\nmd q I\r\n");
  EXPECT_EQ(run("ms q 1 I C1\r\nu\r\n"), "HD\r\n");
  EXPECT_EQ(run("mg q v\r\n"), "VA 1 X W\r\nu\r\n");
  EXPECT_EQ(run("ms q 1 I C1\r\nw\r\n"), "HD\r\n");
  EXPECT_EQ(run("mg q v\r\n"), "VA 1 Z X\r\nw\r\n")
      << "the client that won the token is still recaching: no second W";
}

TEST_F(McText, StaleSetKeepsTheItemsTtl) {
  // memcached's t/metaget.t: a stale value set under an older CAS must not
  // extend the life of the item it replaces.
  run("ms t 1 T100\r\nq\r\nmd t I T30\r\n");
  EXPECT_EQ(run("ms t 1 I T90 C1\r\nu\r\nmg t t v\r\n"), "HD\r\nVA 1 t30 X W\r\nu\r\n");
}

TEST_F(McText, StatsGroupsInMemcachedsFormat) {
  EXPECT_EQ(run("stats items\r\n"), "END\r\n") << "no class holds items yet";
  run("set a 0 0 1\r\nx\r\n");
  const std::string items = run("stats items\r\n");
  EXPECT_TRUE(items.starts_with("STAT items:1:number 1\r\nSTAT items:1:number_hot ")) << items;
  EXPECT_NE(items.find("STAT items:1:hits_to_temp "), std::string::npos);
  const std::string slabs = run("stats slabs\r\n");
  EXPECT_TRUE(slabs.starts_with("STAT 1:chunk_size ")) << slabs;
  EXPECT_NE(slabs.find("STAT 1:touch_hits 0\r\nSTAT active_slabs 1\r\nSTAT total_malloced "),
            std::string::npos);
  const std::string settings = run("stats settings\r\n");
  EXPECT_TRUE(settings.starts_with("STAT maxbytes ")) << settings;
  for (std::string_view line :
       {"STAT shutdown_command no\r\n", "STAT cas_enabled yes\r\n", "STAT flush_enabled yes\r\n",
        "STAT detail_enabled no\r\n", "STAT memory_file (null)\r\nEND\r\n"})
    EXPECT_NE(settings.find(line), std::string::npos) << line;
  const std::string general = run("stats\r\n");
  EXPECT_NE(general.find("STAT version " + std::string(ctx_.version()) + "\r\nSTAT libevent "),
            std::string::npos);
  EXPECT_TRUE(general.ends_with("STAT lru_bumps_dropped 0\r\nEND\r\n"));
  EXPECT_EQ(run("stats sizes\r\n"), "STAT sizes_status disabled\r\nEND\r\n");
  EXPECT_EQ(run("stats detail on\r\n"), "OK\r\n");
  EXPECT_NE(run("stats settings\r\n").find("STAT detail_enabled yes\r\n"), std::string::npos);
  EXPECT_EQ(run("stats detail dump\r\n"), "END\r\n");
  EXPECT_EQ(run("stats detail off\r\n"), "OK\r\n");
  EXPECT_EQ(run("stats detail\r\nstats detail x\r\n"),
            "CLIENT_ERROR usage: stats detail on|off|dump\r\n"
            "CLIENT_ERROR usage: stats detail on|off|dump\r\n");
}

// A server started with other settings (memcached -A, -F, -C).
class McTextSettings : public ::testing::Test {
 protected:
  static ServerSettings with(void (*change)(ServerSettings &)) {
    ServerSettings s;
    s.store.item_size_max = 1 << 20;
    change(s);
    return s;
  }
  std::string run(Context &ctx, std::string_view in, bool *closed = nullptr) {
    ctx.set_manual_now(kNow);
    Conn c(ctx);
    std::string out = c.feed(in);
    if (closed != nullptr) *closed = c.closed();
    return out;
  }
};

TEST_F(McTextSettings, ShutdownNotEnabledByDefault) {
  Context ctx(with([](ServerSettings &) {}));
  EXPECT_EQ(run(ctx, "shutdown\r\nshutdown graceful\r\n"),
            "ERROR: shutdown not enabled\r\nERROR: shutdown not enabled\r\n");
  EXPECT_FALSE(ctx.shutdown_requested());
}

TEST_F(McTextSettings, ShutdownWithA) {
  Context ctx(with([](ServerSettings &s) { s.shutdown_enabled = true; }));
  EXPECT_EQ(run(ctx, "shutdown now\r\nshutdown graceful x\r\n"),
            "CLIENT_ERROR invalid shutdown mode\r\nCLIENT_ERROR invalid shutdown mode\r\n");
  EXPECT_FALSE(ctx.shutdown_requested());
  EXPECT_NE(run(ctx, "stats settings\r\n").find("STAT shutdown_command yes\r\n"),
            std::string::npos);
  bool closed = false;
  EXPECT_EQ(run(ctx, "shutdown\r\nget a\r\n", &closed), "");
  EXPECT_TRUE(closed);
  EXPECT_TRUE(ctx.shutdown_requested());
  EXPECT_FALSE(ctx.shutdown_graceful());
  Context graceful(with([](ServerSettings &s) { s.shutdown_enabled = true; }));
  EXPECT_EQ(run(graceful, "shutdown graceful\r\n", &closed), "");
  EXPECT_TRUE(closed);
  EXPECT_TRUE(graceful.shutdown_requested());
  EXPECT_TRUE(graceful.shutdown_graceful());
}

TEST_F(McTextSettings, FlushAllRefusedWithF) {
  Context ctx(with([](ServerSettings &s) { s.flush_enabled = false; }));
  EXPECT_EQ(
      run(ctx, "set a 0 0 1\r\na\r\nflush_all\r\nflush_all 0\r\nflush_all noreply\r\nget a\r\n"),
      "STORED\r\nCLIENT_ERROR flush_all not allowed\r\nCLIENT_ERROR flush_all not allowed\r\n"
      "VALUE a 0 1\r\na\r\nEND\r\n");
  EXPECT_NE(run(ctx, "stats settings\r\n").find("STAT flush_enabled no\r\n"), std::string::npos);
}

TEST_F(McTextSettings, NoCasWithC) {
  Context ctx(with([](ServerSettings &s) { s.cas_enabled = false; }));
  EXPECT_EQ(run(ctx, "set a 0 0 1\r\na\r\ngets a\r\n"), "STORED\r\nVALUE a 0 1 0\r\na\r\nEND\r\n");
  EXPECT_EQ(run(ctx, "cas a 0 0 1 0\r\nb\r\ncas a 0 0 1 1\r\nb\r\ncas zz 0 0 1 1\r\nb\r\n"),
            "EXISTS\r\nEXISTS\r\nNOT_FOUND\r\n");
  EXPECT_EQ(run(ctx, "mg a c v\r\nms a 1 c\r\nx\r\nms a 1 C0\r\nx\r\nmd a C5\r\nma n N0 c\r\n"),
            "VA 1 c0\r\na\r\nHD c0\r\nEX\r\nEX\r\nHD c0\r\n");
  EXPECT_EQ(run(ctx, "me a\r\n"), "ME a exp=-1 la=0 cas=0 fetch=no cls=1 size=53\r\n");
  EXPECT_NE(run(ctx, "stats settings\r\n").find("STAT cas_enabled no\r\n"), std::string::npos);
}

}  // namespace
}  // namespace ix::mc
