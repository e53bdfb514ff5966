// ix-http: an HTTP/1.1 keep-alive server on ixev. GET (and HEAD) of "/"
// answers a fixed body of --body-size bytes; any other target is 404, other
// methods 405. Requests may be pipelined and split anywhere; each connection
// parses from its own bounded head buffer (copying receive), skips request
// bodies, and answers in order: the head is copied into ixev's send buffer,
// the body is sent zero copy from one read-only buffer all connections share.
// Malformed requests get their 4xx/5xx with "Connection: close" and the
// connection closes once it is sent.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "http/http_date.hh"
#include "http/request_parser.hh"
#include "http/response.hh"
#include "ix/app.hh"
#include "ix/ixev.hh"

namespace {

using ix::ev::Conn;
using ix::ev::Ixev;

constexpr std::string_view kNotFoundBody = "not found\n";
constexpr std::string_view kMethodBody = "method not allowed\n";

struct Shared {
  http::ParseLimits limits;
  std::vector<uint8_t> body;  // the GET / body, never written after start-up
  http::DateCache date;
  uint64_t requests = 0, errors = 0;
};

class HttpServer;

class HttpConn final : public Conn {
 public:
  HttpConn(Ixev &ev, HttpServer &server, Shared &shared)
      : ev_(ev), server_(server), shared_(shared), buf_(shared.limits.max_head) {}

  void start() {
    len_ = 0;
    skip_ = 0;
    closing_ = false;
    close_when_sent_ = false;
    pending_len_ = 0;
    pending_body_ = false;
  }
  void on_readable() override { process(); }
  void on_writable() override { process(); }
  void on_hangup(int status) override;

 private:
  // Parses and answers every complete request that has arrived, reading more
  // as long as the head buffer has room and no reply is stuck.
  void process() {
    if (!flush_pending()) return;
    while (!closing_) {
      if (skip_ > 0 && !skip_body()) return;
      const std::string_view have(reinterpret_cast<const char *>(buf_.data()), len_);
      const http::ParseResult r = http::parse_request(have, shared_.limits);
      if (r.status == http::ParseStatus::kComplete) {
        answer(r.request);  // before consume(): the request's views point into buf_
        consume(r.head_len);
        skip_ = r.request.content_length;
        if (!r.request.keep_alive) close_after_reply();
        if (!flush_pending()) return;
        continue;
      }
      if (r.status == http::ParseStatus::kError) {
        ++shared_.errors;
        reply_error(r.error_status, r.error_reason);
        close_after_reply();
        flush_pending();
        return;
      }
      if (!read_more()) return;
    }
  }

  // Reads into the free tail of the head buffer; false when nothing came.
  bool read_more() {
    if (len_ == buf_.size()) return false;  // the parser reports a full buffer itself
    const int64_t n = ev_.recv(*this, buf_.data() + len_, buf_.size() - len_);
    if (n > 0) {
      len_ += static_cast<size_t>(n);
      return true;
    }
    if (n == 0) {
      // The peer finished sending; a partial request dies with it.
      closing_ = true;
      ev_.close(*this);
    }
    return false;
  }

  // Drops request-body bytes; true once the whole body is gone.
  bool skip_body() {
    const size_t from_buf = static_cast<size_t>(std::min<uint64_t>(skip_, len_));
    consume(from_buf);
    skip_ -= from_buf;
    while (skip_ > 0) {
      const int64_t n =
          ev_.recv(*this, buf_.data(), static_cast<size_t>(std::min<uint64_t>(skip_, buf_.size())));
      if (n <= 0) {
        if (n == 0) {
          closing_ = true;
          ev_.close(*this);
        }
        return false;
      }
      skip_ -= static_cast<uint64_t>(n);
    }
    return true;
  }

  void consume(size_t n) {
    std::memmove(buf_.data(), buf_.data() + n, len_ - n);
    len_ -= n;
  }

  void answer(const http::Request &q) {
    ++shared_.requests;
    http::ResponseHead h;
    h.close = !q.keep_alive;
    h.keep_alive_10 = q.keep_alive && q.minor_version == 0;
    const bool head_only = q.method == "HEAD";
    std::string_view small_body;
    const bool get_or_head = q.method == "GET" || head_only;
    if (get_or_head && q.target == "/") {
      h.content_type = "application/octet-stream";
      h.content_length = shared_.body.size();
    } else if (!get_or_head) {
      h.status = 405;
      h.allow_get_head = true;
      small_body = kMethodBody;
      h.content_length = small_body.size();
    } else {
      h.status = 404;
      small_body = kNotFoundBody;
      h.content_length = small_body.size();
    }
    send_head(h);
    if (head_only) return;
    if (h.status == 200)
      pending_body_ = !shared_.body.empty();
    else
      queue_copy(small_body.data(), small_body.size());
  }

  void reply_error(int status, std::string_view why) {
    http::ResponseHead h;
    h.status = status;
    h.close = true;
    char body[128];
    const int n =
        std::snprintf(body, sizeof body, "%d %.*s: %.*s\n", status,
                      static_cast<int>(http::reason_phrase(status).size()),
                      http::reason_phrase(status).data(), static_cast<int>(why.size()), why.data());
    const size_t body_len = n > 0 ? std::min(static_cast<size_t>(n), sizeof body - 1) : 0;
    h.content_length = body_len;
    send_head(h);
    queue_copy(body, body_len);
  }

  void send_head(const http::ResponseHead &h) {
    char head[http::kMaxResponseHead];
    const size_t n =
        http::format_response_head(h, shared_.date.get(ev_.now_ns()), head, sizeof head);
    queue_copy(head, n);
  }

  // A response is composed in pending_ (its head and any short body, copied
  // into ixev's send buffer by flush_pending) plus, for 200, the shared body
  // sent zero copy after them. Only one response is pending at a time:
  // process() answers the next request only once this one is handed over.
  void queue_copy(const char *p, size_t n) {
    if (pending_len_ + n > sizeof pending_) {
      // Cannot happen with the sizes above; refuse rather than overflow.
      closing_ = true;
      ev_.abort(*this);
      return;
    }
    std::memcpy(pending_ + pending_len_, p, n);
    pending_len_ += n;
  }

  // Hands the pending response to ixev; false while the send buffer cannot
  // take it all (send() then arms on_writable, which calls process()).
  bool flush_pending() {
    if (pending_len_ > 0) {
      const int64_t took = ev_.send(*this, pending_, pending_len_);
      if (took < 0 && took != IX_EAGAIN) return false;  // connection gone
      const size_t t = took > 0 ? static_cast<size_t>(took) : 0;
      std::memmove(pending_, pending_ + t, pending_len_ - t);
      pending_len_ -= t;
      if (pending_len_ > 0) return false;
    }
    if (pending_body_) {
      pending_body_ = false;
      const ix_iovec iov{shared_.body.data(), shared_.body.size()};
      ev_.sendv_zc(*this, &iov, 1, 0);
    }
    if (close_when_sent_) {
      close_when_sent_ = false;
      ev_.close(*this);  // a half close once every queued byte is handed over
      return false;
    }
    return true;
  }

  void close_after_reply() {
    closing_ = true;
    close_when_sent_ = true;
  }

  Ixev &ev_;
  HttpServer &server_;
  Shared &shared_;
  std::vector<uint8_t> buf_;
  size_t len_ = 0;
  uint64_t skip_ = 0;
  bool closing_ = false;          // no more requests are read
  bool close_when_sent_ = false;  // close once the pending response is handed over
  bool pending_body_ = false;     // the shared body follows pending_
  char pending_[http::kMaxResponseHead + 256];
  size_t pending_len_ = 0;
};

// Hands out connection contexts from a free list, so a warm server does not
// allocate per connection.
class HttpServer final : public ix::ev::Listener {
 public:
  HttpServer(Ixev &ev, Shared &shared) : ev_(ev), shared_(shared) {}

  Conn *on_knock(const ix_endpoint &, const ix_endpoint &) override {
    if (free_.empty()) {
      all_.push_back(std::make_unique<HttpConn>(ev_, *this, shared_));
      free_.push_back(all_.back().get());
    }
    HttpConn *c = free_.back();
    free_.pop_back();
    c->start();
    ++accepted_;
    return c;
  }
  void release(HttpConn *c) { free_.push_back(c); }
  uint64_t accepted() const { return accepted_; }

 private:
  Ixev &ev_;
  Shared &shared_;
  std::vector<std::unique_ptr<HttpConn>> all_;
  std::vector<HttpConn *> free_;
  uint64_t accepted_ = 0;
};

void HttpConn::on_hangup(int) { server_.release(this); }

void serve(ix_ctx *ctx, const ix::AppOptions &opts) {
  Shared shared;
  shared.body.resize(std::stoul(opts.at("body-size")));
  // A recognisable, printable body: lines of the alphabet.
  for (size_t i = 0; i < shared.body.size(); ++i)
    shared.body[i] = (i % 64 == 63) ? '\n' : static_cast<uint8_t>('a' + i % 26);
  shared.limits.max_head = std::stoul(opts.at("max-head"));
  const auto port = static_cast<uint16_t>(std::stoi(opts.at("port")));
  Ixev ev(ctx);
  HttpServer server(ev, shared);
  if (const int rc = ev.listen(port, server); rc != IX_OK) {
    std::cerr << "ix-http: cannot listen on TCP port " << port << ": " << ix_status_name(rc)
              << "\n";
    return;
  }
  while (!ev.should_stop()) ev.poll();
  std::printf("ix-http: thread %u: connections %llu requests %llu errors %llu\n", ev.thread_id(),
              static_cast<unsigned long long>(server.accepted()),
              static_cast<unsigned long long>(shared.requests),
              static_cast<unsigned long long>(shared.errors));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char **argv) {
  const ix::AppOption options[] = {
      {"port", "80", "TCP port", true, 1, 65535},
      {"body-size", "64", "bytes of the body GET / answers", true, 0, 64 << 20},
      {"max-head", "8192", "largest request head (431 beyond)", true, 256, 1 << 20},
  };
  return ix::run_app("ix-http", argc, argv, options,
                     [](ix_ctx *ctx, const ix::AppOptions &opts) { serve(ctx, opts); });
}
