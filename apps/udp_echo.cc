// UDP echo server on the batched system-call interface. Each datagram is
// echoed zero copy: the reply is sent straight from the received packet
// buffer, which is returned to the dataplane (recv_done) only when the send
// completes (IX_EV_UDP_SENT carries the buffer handle as its cookie).
#include <fstream>
#include <iostream>
#include <vector>

#include "ix/app.hh"
#include "ix/ix.hh"

namespace {

void echo_loop(ix_ctx *ctx, uint16_t port) {
  ix::Batch batch(256, 512);
  batch.udp_bind(port);
  std::vector<ix_buf_handle> give_back;
  while (!ix_should_stop(ctx)) {
    auto events = batch.run(ctx);
    // Sends that failed (e.g. no buffer for the header) return their
    // buffer now instead of on IX_EV_UDP_SENT.
    for (const ix_cmd &c : batch.commands()) {
      if (c.op == IX_CMD_UDP_BIND && c.result != IX_OK) {
        std::cerr << "ix-udp-echo: cannot bind UDP port " << port << ": "
                  << ix_status_name(c.result) << "\n";
        return;
      }
      if (c.op == IX_CMD_UDP_SEND && c.result != IX_OK) give_back.push_back(c.cookie);
    }
    batch.clear();
    for (ix_buf_handle h : give_back) batch.recv_done(h);
    give_back.clear();
    for (const ix_event &e : events) {
      switch (e.type) {
        case IX_EV_UDP_RECV: {
          const auto &r = e.u.udp_recv;
          batch.udp_send(r.data, r.len, r.dst.port, r.src, r.buf);
          break;
        }
        case IX_EV_UDP_SENT:
          batch.recv_done(e.cookie);
          break;
        default:
          break;
      }
    }
  }
}

}  // namespace

int main(int argc, char **argv) {
  const ix::AppOption options[] = {{"port", "7", "UDP port to echo on", true, 1, 65535}};
  return ix::run_app("ix-udp-echo", argc, argv, options,
                     [](ix_ctx *ctx, const ix::AppOptions &opts) {
                       const int port = std::stoi(opts.at("port"));
                       echo_loop(ctx, static_cast<uint16_t>(port));
                     });
}
