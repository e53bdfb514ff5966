// TCP echo server on ixev. Every byte is echoed zero copy: the reply is sent
// straight from the received packet buffers (sendv_zc), which go back to the
// dataplane (recv_release -> recv_done) only once the peer acknowledged the
// echo. The connection closes after the peer's FIN, once all is echoed.
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <vector>

#include "ix/app.hh"
#include "ix/ixev.hh"

namespace {

using ix::ev::Bytes;
using ix::ev::Conn;
using ix::ev::Ixev;

class EchoServer;

class EchoConn final : public Conn {
 public:
  EchoConn(Ixev &ev, EchoServer &server) : ev_(ev), server_(server) {}

  void start() {
    unacked_ = 0;
    closing_ = false;
  }
  void on_connected(int status) override {
    if (status == IX_OK) ev_.set_manual_release(*this, true);
  }
  void on_readable() override {
    for (;;) {
      const Bytes b = ev_.recv_zc(*this, SIZE_MAX);
      if (b.len == 0) break;
      const ix_iovec iov{b.data, b.len};
      if (ev_.sendv_zc(*this, &iov, 1, b.len) != IX_OK) {
        ev_.recv_release(*this, b.len);  // cannot echo (closing): just give it back
        continue;
      }
      unacked_ += b.len;
    }
    maybe_close();
  }
  void on_sent(uint64_t bytes) override {
    ev_.recv_release(*this, bytes);
    unacked_ -= bytes;
    maybe_close();
  }
  void on_hangup(int status) override;

 private:
  void maybe_close() {
    if (!closing_ && ev_.peer_closed(*this) && ev_.readable_bytes(*this) == 0) {
      closing_ = true;
      ev_.close(*this);
    }
  }

  Ixev &ev_;
  EchoServer &server_;
  uint64_t unacked_ = 0;
  bool closing_ = false;
};

// Hands out connection contexts from a free list, so a warm server does not
// allocate per connection.
class EchoServer final : public ix::ev::Listener {
 public:
  explicit EchoServer(Ixev &ev) : ev_(ev) {}

  Conn *on_knock(const ix_endpoint &, const ix_endpoint &) override {
    if (free_.empty()) {
      all_.push_back(std::make_unique<EchoConn>(ev_, *this));
      free_.push_back(all_.back().get());
    }
    EchoConn *c = free_.back();
    free_.pop_back();
    c->start();
    ++accepted_;
    return c;
  }
  void release(EchoConn *c, int status) {
    free_.push_back(c);
    if (status == IX_OK)
      ++closed_ok_;
    else
      ++closed_other_;
  }
  // One stdio call per line: each elastic thread reports as it stops, and
  // a line written piecewise interleaves with the other threads' lines.
  void report(unsigned thread) const {
    std::printf("ix-tcp-echo: thread %u: accepted %llu closed %llu reset/failed %llu\n", thread,
                static_cast<unsigned long long>(accepted_),
                static_cast<unsigned long long>(closed_ok_),
                static_cast<unsigned long long>(closed_other_));
  }

 private:
  Ixev &ev_;
  std::vector<std::unique_ptr<EchoConn>> all_;
  std::vector<EchoConn *> free_;
  uint64_t accepted_ = 0, closed_ok_ = 0, closed_other_ = 0;
};

void EchoConn::on_hangup(int status) { server_.release(this, status); }

void serve(ix_ctx *ctx, uint16_t port) {
  Ixev ev(ctx);
  EchoServer server(ev);
  if (const int rc = ev.listen(port, server); rc != IX_OK) {
    std::cerr << "ix-tcp-echo: cannot listen on TCP port " << port << ": " << ix_status_name(rc)
              << "\n";
    return;
  }
  while (!ev.should_stop()) ev.poll();
  server.report(ev.thread_id());
  const auto &s = ev.stats();
  std::printf(
      "ix-tcp-echo: thread %u: ixev rounds %llu events %llu partial_sends %llu stale_events %llu "
      "stale_handles %llu pool_growths %llu\n",
      ev.thread_id(), static_cast<unsigned long long>(s.rounds),
      static_cast<unsigned long long>(s.events), static_cast<unsigned long long>(s.partial_sends),
      static_cast<unsigned long long>(s.stale_events),
      static_cast<unsigned long long>(s.stale_handles),
      static_cast<unsigned long long>(s.pool_growths));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char **argv) {
  const ix::AppOption options[] = {{"port", "7", "TCP port to echo on", true, 1, 65535}};
  return ix::run_app("ix-tcp-echo", argc, argv, options,
                     [](ix_ctx *ctx, const ix::AppOptions &opts) {
                       serve(ctx, static_cast<uint16_t>(std::stoi(opts.at("port"))));
                     });
}
