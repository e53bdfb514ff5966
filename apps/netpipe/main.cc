// ix-netpipe: a NetPIPE receiver on ixev, so that the stock NPtcp transmitter
// (`NPtcp -h HOST`) measures the dataplane as it measures a Linux `NPtcp`
// receiver. The protocol and the size schedule live in receiver.hh and
// schedule.hh; this file moves bytes between them and ixev.
//
// Like NPtcp's receiver it reads a whole message before echoing it (echoing
// early would overlap the two directions and flatter large sizes). Message
// bytes are copied once, out of the packet buffers into the session's message
// buffer (holding packet buffers instead would close the receive window for
// messages larger than it), and echoed zero copy from there; the next message
// is read only once the peer acknowledged the echo (on_sent), so the buffer
// is never overwritten while the dataplane may still transmit from it.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

#include "ix/app.hh"
#include "ix/ixev.hh"
#include "netpipe/receiver.hh"

namespace {

using ix::ev::Bytes;
using ix::ev::Conn;
using ix::ev::Ixev;
using netpipe::Receiver;

class Server;

class Session final : public Conn {
 public:
  Session(Ixev &ev, Server &server, const netpipe::ScheduleOptions &opts, unsigned id)
      : ev_(ev), server_(server), rx_(opts), id_(id) {}

  void on_connected(int status) override {
    if (status == IX_OK) std::printf("ix-netpipe: session %u: transmitter connected\n", id_);
  }
  void on_readable() override { drain(); }
  void on_sent(uint64_t) override {
    echo_in_flight_ = false;
    drain();
  }
  void on_hangup(int status) override;

 private:
  // Feeds the receiver exactly what it can take before it next answers, so
  // every byte handed out by recv_zc is consumed before the next poll.
  void drain() {
    while (!echo_in_flight_ && !stopped_) {
      const size_t want = rx_.wanted();
      if (want == 0) return;
      const Bytes b = ev_.recv_zc(*this, want);
      if (b.len == 0) return;
      const auto r = rx_.feed({b.data, b.len}, ev_.now_ns());
      if (r.consumed != b.len && r.step != Receiver::Step::kError) {
        fail("receiver left input unconsumed (internal error)");
        return;
      }
      act(r.step);
      report_points();
    }
  }

  void act(Receiver::Step step) {
    switch (step) {
      case Receiver::Step::kNeedMore:
        return;
      case Receiver::Step::kReplySync:
        reply(netpipe::kSync, netpipe::kSyncLen);
        return;
      case Receiver::Step::kEcho: {
        const auto m = rx_.message();
        const ix_iovec iov{m.data(), m.size()};
        if (ev_.sendv_zc(*this, &iov, 1, ++echoes_) != IX_OK) {
          fail("cannot send the echo");
          return;
        }
        echo_in_flight_ = true;
        return;
      }
      case Receiver::Step::kReplyQuit:
        reply(netpipe::kQuit, netpipe::kQuitLen);
        stopped_ = true;
        std::printf("ix-netpipe: session %u: complete: %zu points, latency %.2f usec\n", id_,
                    rx_.results().size(), rx_.latency_seconds() * 1e6);
        ev_.close(*this);
        return;
      case Receiver::Step::kError:
        fail(rx_.error());
        return;
    }
  }

  void reply(const char *token, size_t len) {
    if (ev_.send(*this, token, len) != static_cast<int64_t>(len)) fail("cannot queue a reply");
  }

  void fail(const std::string &why) {
    std::printf("ix-netpipe: session %u: protocol error: %s\n", id_, why.c_str());
    stopped_ = true;
    ev_.abort(*this);
  }

  // One line per point, as the transmitter prints them (here timed on the
  // receiver's side). A line per point is a handful of writes per second.
  void report_points() {
    const auto &res = rx_.results();
    for (; reported_ < res.size(); ++reported_) {
      const auto &p = res[reported_];
      const double mbps = p.seconds > 0 ? p.size * 8.0 / (p.seconds * 1024 * 1024) : 0;
      std::printf(
          "ix-netpipe: session %u: %3u: %8u bytes %7u times --> %9.2f Mbps in %10.2f usec\n", id_,
          p.index, p.size, p.repeats, mbps, p.seconds * 1e6);
    }
    std::fflush(stdout);
  }

  Ixev &ev_;
  Server &server_;
  Receiver rx_;
  unsigned id_;
  uint64_t echoes_ = 0;
  size_t reported_ = 0;
  bool echo_in_flight_ = false;
  bool stopped_ = false;

  friend class Server;
};

// Each session owns a message buffer as large as the schedule's largest
// message, allocated when the transmitter connects; max_sessions bounds how
// many exist at once (NPtcp's own receiver serves exactly one).
class Server final : public ix::ev::Listener {
 public:
  Server(Ixev &ev, const netpipe::ScheduleOptions &opts, unsigned max_sessions)
      : ev_(ev), opts_(opts), max_sessions_(max_sessions) {}

  Conn *on_knock(const ix_endpoint &, const ix_endpoint &) override {
    if (live_ >= max_sessions_) {
      ++refused_;
      return nullptr;
    }
    ++live_;
    return new Session(ev_, *this, opts_, ++started_);
  }
  void ended(Session *s, int status) {
    if (s->rx_.finished())
      ++completed_;
    else if (!s->stopped_)
      std::printf("ix-netpipe: session %u: connection ended (%s) before QUIT\n", s->id_,
                  ix_status_name(status));
    --live_;
    delete s;
  }
  void report(unsigned thread) const {
    std::printf("ix-netpipe: thread %u: sessions %u completed %u refused %u\n", thread, started_,
                completed_, refused_);
  }

 private:
  Ixev &ev_;
  netpipe::ScheduleOptions opts_;
  unsigned max_sessions_;
  unsigned live_ = 0, started_ = 0, completed_ = 0, refused_ = 0;
};

void Session::on_hangup(int status) { server_.ended(this, status); }

void serve(ix_ctx *ctx, const ix::AppOptions &opts) {
  netpipe::ScheduleOptions sched;
  sched.lower = static_cast<uint32_t>(std::stoul(opts.at("lower")));
  sched.upper = static_cast<uint32_t>(std::stoul(opts.at("upper")));
  sched.perturbation = static_cast<uint32_t>(std::stoul(opts.at("perturbation")));
  // A schedule NPtcp would refuse (lower > upper) stops the dataplane with
  // the reason (run_app reports an elastic thread's exception and exits 1).
  if (const std::string err = netpipe::check(sched); !err.empty())
    throw std::invalid_argument("lower/upper/perturbation: " + err);
  const auto port = static_cast<uint16_t>(std::stoi(opts.at("port")));
  Ixev ev(ctx);
  Server server(ev, sched, static_cast<unsigned>(std::stoul(opts.at("max-sessions"))));
  if (const int rc = ev.listen(port, server); rc != IX_OK) {
    std::cerr << "ix-netpipe: cannot listen on TCP port " << port << ": " << ix_status_name(rc)
              << "\n";
    return;
  }
  while (!ev.should_stop()) ev.poll();
  server.report(ev.thread_id());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char **argv) {
  const ix::AppOption options[] = {
      {"port", "5002", "TCP port (NPtcp's default)", true, 1, 65535},
      {"lower", "1", "smallest message size: the transmitter's -l", true, 1, 2147483647},
      {"upper", "10000000", "largest base message size: the transmitter's -u", true, 1, 2147483647},
      {"perturbation", "3", "size perturbation: the transmitter's -p (0: none)", true, 0, 1000000},
      {"max-sessions", "4",
       "transmitters served at once per thread (each holds a buffer of "
       "upper + perturbation bytes)",
       true, 1, 64},
  };
  return ix::run_app("ix-netpipe", argc, argv, options,
                     [](ix_ctx *ctx, const ix::AppOptions &opts) { serve(ctx, opts); });
}
