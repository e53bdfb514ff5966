// A thin C++ layer over the batched system-call interface (ix/syscall.h):
// a command batch that fills ix_cmd entries by name and submits them with
// one ix_run_io() call. It adds no state of its own beyond the arrays.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ix/syscall.h"

namespace ix {

class Batch {
 public:
  explicit Batch(size_t max_events = 256, size_t reserve_cmds = 256) : events_(max_events) {
    cmds_.reserve(reserve_cmds);
  }

  ix_cmd &udp_bind(uint16_t port) {
    ix_cmd &c = add(IX_CMD_UDP_BIND, 0);
    c.u.udp_bind.port = port;
    return c;
  }
  ix_cmd &udp_send(const void *data, uint32_t len, uint16_t src_port, ix_endpoint dst,
                   uint64_t cookie) {
    ix_cmd &c = add(IX_CMD_UDP_SEND, cookie);
    c.u.udp_send.data = data;
    c.u.udp_send.len = len;
    c.u.udp_send.src_port = src_port;
    c.u.udp_send.dst = dst;
    return c;
  }
  ix_cmd &recv_done(ix_buf_handle buf) {
    ix_cmd &c = add(IX_CMD_UDP_RECV_DONE, 0);
    c.u.recv_done.buf = buf;
    return c;
  }
  // TCP. connect's handle comes back in commands()[i].u.tcp_conn.handle
  // after run() (and in IX_EV_TCP_CONNECTED); sendv's result is the number
  // of bytes accepted.
  ix_cmd &tcp_listen(uint16_t port, uint64_t cookie) {
    ix_cmd &c = add(IX_CMD_TCP_LISTEN, cookie);
    c.u.tcp_listen.port = port;
    return c;
  }
  ix_cmd &tcp_connect(ix_endpoint dst, uint64_t cookie, uint16_t src_port = 0) {
    ix_cmd &c = add(IX_CMD_TCP_CONNECT, cookie);
    c.u.tcp_connect.dst = dst;
    c.u.tcp_connect.src_port = src_port;
    return c;
  }
  ix_cmd &tcp_accept(ix_tcp_handle h, uint64_t cookie) {
    return conn(IX_CMD_TCP_ACCEPT, h, cookie);
  }
  ix_cmd &tcp_reject(ix_tcp_handle h) { return conn(IX_CMD_TCP_REJECT, h, 0); }
  ix_cmd &tcp_close(ix_tcp_handle h) { return conn(IX_CMD_TCP_CLOSE, h, 0); }
  ix_cmd &tcp_abort(ix_tcp_handle h) { return conn(IX_CMD_TCP_ABORT, h, 0); }
  ix_cmd &tcp_sendv(ix_tcp_handle h, const ix_iovec *iov, uint32_t iovcnt) {
    ix_cmd &c = add(IX_CMD_TCP_SENDV, 0);
    c.u.tcp_sendv.handle = h;
    c.u.tcp_sendv.iov = iov;
    c.u.tcp_sendv.iovcnt = iovcnt;
    return c;
  }
  ix_cmd &tcp_recv_done(ix_tcp_handle h, uint64_t bytes) {
    ix_cmd &c = add(IX_CMD_TCP_RECV_DONE, 0);
    c.u.tcp_recv_done.handle = h;
    c.u.tcp_recv_done.bytes = bytes;
    return c;
  }
  ix_cmd &tcp_set_coalescing(ix_tcp_handle h, bool on) {
    ix_cmd &c = add(IX_CMD_TCP_SET_COALESCING, 0);
    c.u.tcp_option.handle = h;
    c.u.tcp_option.on = on ? 1 : 0;
    return c;
  }
  ix_cmd &tcp_set_keepalive(ix_tcp_handle h, bool on) {
    ix_cmd &c = add(IX_CMD_TCP_SET_KEEPALIVE, 0);
    c.u.tcp_option.handle = h;
    c.u.tcp_option.on = on ? 1 : 0;
    return c;
  }

  ix_cmd &timer_arm(uint64_t delay_ns, uint64_t cookie) {
    ix_cmd &c = add(IX_CMD_TIMER_ARM, cookie);
    c.u.timer_arm.delay_ns = delay_ns;
    return c;
  }

  // Submit the queued commands and collect events. The commands (with their
  // results) stay readable through commands() until the next clear().
  std::span<const ix_event> run(ix_ctx *ctx) {
    const int n = ix_run_io(ctx, cmds_.data(), cmds_.size(), events_.data(), events_.size());
    return {events_.data(), n > 0 ? static_cast<size_t>(n) : 0};
  }
  std::span<const ix_cmd> commands() const { return cmds_; }
  void clear() { cmds_.clear(); }
  size_t size() const { return cmds_.size(); }

 private:
  ix_cmd &add(uint16_t op, uint64_t cookie) {
    ix_cmd &c = cmds_.emplace_back();
    c = ix_cmd{};
    c.op = op;
    c.cookie = cookie;
    return c;
  }
  ix_cmd &conn(uint16_t op, ix_tcp_handle h, uint64_t cookie) {
    ix_cmd &c = add(op, cookie);
    c.u.tcp_conn.handle = h;
    return c;
  }
  std::vector<ix_cmd> cmds_;
  std::vector<ix_event> events_;
};

}  // namespace ix
