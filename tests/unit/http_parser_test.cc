// ix-http's request parser, response heads and Date cache: pipelined and
// split requests (at every byte), bodies, keep-alive rules, and every kind of
// malformed or oversized head the server must refuse.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/http_date.hh"
#include "http/request_parser.hh"
#include "http/response.hh"

namespace http {
namespace {

constexpr std::string_view kGet = "GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n";

ParseResult parse(std::string_view s, ParseLimits l = {}) { return parse_request(s, l); }

// What a connection does: parse, drop head + body, repeat; stops at the first
// incomplete request or error. Returns the targets (or "E<status>").
std::vector<std::string> drain(std::string buf) {
  std::vector<std::string> out;
  for (;;) {
    const ParseResult r = parse(buf);
    if (r.status == ParseStatus::kIncomplete) return out;
    if (r.status == ParseStatus::kError) {
      out.push_back("E" + std::to_string(r.error_status));
      return out;
    }
    out.emplace_back(r.request.target);
    const size_t total = r.head_len + r.request.content_length;
    if (total > buf.size()) return out;  // body still to come
    buf.erase(0, total);
  }
}

TEST(HttpParser, SimpleGet) {
  const ParseResult r = parse(kGet);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.head_len, kGet.size());
  EXPECT_EQ(r.request.method, "GET");
  EXPECT_EQ(r.request.target, "/");
  EXPECT_EQ(r.request.minor_version, 1);
  EXPECT_TRUE(r.request.keep_alive);
  EXPECT_EQ(r.request.content_length, 0u);
  EXPECT_EQ(r.request.header_count, 2u);
}

TEST(HttpParser, SplitAtEveryByte) {
  const std::string req =
      "POST /x?y=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\n";
  for (size_t cut = 0; cut < req.size(); ++cut) {
    const ParseResult r = parse(std::string_view(req).substr(0, cut));
    EXPECT_EQ(r.status, ParseStatus::kIncomplete) << "cut at " << cut;
  }
  const std::string whole = req + "hello";  // the result's views point into it
  const ParseResult r = parse(whole);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.head_len, req.size());
  EXPECT_EQ(r.request.content_length, 5u);
  EXPECT_FALSE(r.request.keep_alive);
  EXPECT_EQ(r.request.target, "/x?y=1");
}

TEST(HttpParser, PipelinedWithBodies) {
  std::string buf;
  buf += "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  buf += "PUT /b HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789";
  buf += "\r\n";  // a stray empty line before the next request is allowed
  buf += "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
  buf += "GET /d HTTP/1.1\r\nHo";  // incomplete
  EXPECT_EQ(drain(buf), (std::vector<std::string>{"/a", "/b", "/c"}));
  // A body that looks like a request is skipped, not parsed.
  const std::string evil = "GET /evil HTTP/1.1\r\nX: y\r\n\r\n";
  std::string tricky =
      "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(evil.size()) + "\r\n\r\n" +
      evil;
  tricky += std::string(kGet);
  EXPECT_EQ(drain(tricky), (std::vector<std::string>{"/p", "/"}));
}

TEST(HttpParser, KeepAliveRules) {
  auto ka = [](std::string_view s) { return parse(s).request.keep_alive; };
  EXPECT_TRUE(ka("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_FALSE(ka("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
  EXPECT_FALSE(ka("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n"));
  EXPECT_FALSE(ka("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(ka("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
  EXPECT_FALSE(ka("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"));
  const ParseResult r = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.request.minor_version, 0);
}

TEST(HttpParser, HeaderValuesAndCase) {
  const ParseResult r =
      parse("GET / HTTP/1.1\r\nhOsT:   h  \r\ncontent-LENGTH:\t0\t\r\nX-Empty:\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.request.header_count, 3u);
  // Repeated but equal Content-Length is allowed (RFC 9110 8.6).
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n")
                .request.content_length,
            3u);
}

struct Bad {
  const char *request;
  int status;
};

TEST(HttpParser, MalformedIs400AndFriends) {
  const Bad cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", 400},                          // no Host
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},    // two Hosts
      {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},              // space before colon
      {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400},    // obs-fold
      {"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400},    //
      {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n", 400},  // control char
      {"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400},         // bare LF
      {"GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400},         // bare CR
      {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},              // empty target
      {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},              // trailing space
      {"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400},           // DEL in target
      {"GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400},               //
      {"GET / HTTP/11\r\nHost: a\r\n\r\n", 400},                //
      {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},               // not a token
      {"GET\r\nHost: a\r\n\r\n", 400},                          //
      {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},               //
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
       400},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413},
  };
  for (const Bad &b : cases) {
    const ParseResult r = parse(b.request);
    EXPECT_EQ(r.status, ParseStatus::kError) << b.request;
    EXPECT_EQ(r.error_status, b.status) << b.request;
    EXPECT_FALSE(r.error_reason.empty());
  }
}

TEST(HttpParser, GarbageIsRejectedBeforeTheHeadEnds) {
  // A peer that does not speak HTTP is refused at once, not after 8 KiB.
  EXPECT_EQ(parse("\x16\x03\x01\x02").error_status, 400);  // a TLS hello
  EXPECT_EQ(parse("GE").status, ParseStatus::kIncomplete);
  EXPECT_EQ(parse("\r").status, ParseStatus::kIncomplete);
  EXPECT_EQ(parse("\r\n").status, ParseStatus::kIncomplete);
}

TEST(HttpParser, TooLargeHeads) {
  ParseLimits l;
  l.max_head = 256;
  l.max_headers = 4;
  std::string big = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(300, 'x');
  EXPECT_EQ(parse(big.substr(0, 255), l).status, ParseStatus::kIncomplete);
  EXPECT_EQ(parse(big.substr(0, 256), l).error_status, 431);
  EXPECT_EQ(parse(big + "\r\n\r\n", l).error_status, 431);
  const std::string long_line = "GET /" + std::string(300, 'a') + " HTTP/1.1\r\n";
  EXPECT_EQ(parse(long_line.substr(0, 256), l).error_status, 414);
  EXPECT_EQ(parse(long_line + "Host: h\r\n\r\n", l).error_status, 414);
  const std::string many =
      "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";  // 5 fields
  EXPECT_EQ(parse(many, l).error_status, 431);
  // Exactly at the limit is fine.
  std::string fits = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
  fits += std::string(256 - fits.size() - 4, 'y') + "\r\n\r\n";
  ASSERT_EQ(fits.size(), 256u);
  EXPECT_EQ(parse(fits, l).status, ParseStatus::kComplete);
}

TEST(HttpResponse, HeadFormat) {
  char out[kMaxResponseHead];
  ResponseHead h;
  h.content_length = 1234;
  const std::string date = "Sun, 06 Nov 1994 08:49:37 GMT";
  size_t n = format_response_head(h, date, out, sizeof out);
  EXPECT_EQ(std::string(out, n),
            "HTTP/1.1 200 OK\r\nServer: ix-http\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Type: text/plain\r\nContent-Length: 1234\r\n\r\n");
  h.status = 431;
  h.close = true;
  n = format_response_head(h, date, out, sizeof out);
  EXPECT_NE(std::string(out, n).find("431 Request Header Fields Too Large\r\n"), std::string::npos);
  EXPECT_NE(std::string(out, n).find("\r\nConnection: close\r\n\r\n"), std::string::npos);
  EXPECT_EQ(format_response_head(h, date, out, 20), 0u);  // too small: refused
}

TEST(HttpDate, ImfFixdate) {
  char out[kHttpDateLen];
  format_http_date(784111777, out);  // RFC 9110's example
  EXPECT_EQ(std::string(out, kHttpDateLen), "Sun, 06 Nov 1994 08:49:37 GMT");
  format_http_date(951782400, out);  // a leap day
  EXPECT_EQ(std::string(out, kHttpDateLen), "Tue, 29 Feb 2000 00:00:00 GMT");
}

TEST(HttpDate, CachedWithinASecond) {
  DateCache c;
  const std::string a(c.get(1'000'000'000));
  EXPECT_EQ(a.size(), kHttpDateLen);
  EXPECT_EQ(a.substr(25), " GMT");
  const std::string_view b = c.get(1'000'000'001);  // 1 ns later: the cached text
  EXPECT_EQ(b.data(), c.get(1'000'000'002).data());
  EXPECT_EQ(std::string(b), a);
}

}  // namespace
}  // namespace http
