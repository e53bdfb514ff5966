// A small TCP + UDP application for the flow group tests, written against
// run_io only: echo servers (TCP and UDP) that record every flow they see,
// and a TCP client that opens connections, sends one message naming its
// elastic thread, and waits for the echo. The same code runs on every elastic
// thread of a Runtime and on the single-threaded peer.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "ix/syscall.h"

namespace ix::flow_test {

// A flow as the receiving side saw it arrive.
struct SeenFlow {
  uint32_t remote = 0;
  uint16_t rport = 0;
  uint32_t local = 0;
  uint16_t lport = 0;
  int claimed_thread = -1;  // TCP: the thread id the client wrote in its message
};

struct FlowAppConfig {
  uint16_t tcp_listen_port = 0;  // 0: no TCP echo server
  uint16_t udp_port = 0;         // 0: no UDP echo server
  uint32_t connect_addr = 0;     // TCP clients: where to
  uint16_t connect_port = 0;
  unsigned connects = 0;            // how many connections to open
  std::vector<uint16_t> src_ports;  // explicit source ports (else 0: the dataplane picks)
  unsigned udp_sends = 0;           // datagrams to send to udp_dst, one per source port
  uint32_t udp_dst_addr = 0;
  uint16_t udp_dst_port = 0;
  uint16_t udp_first_sport = 0;
};

class FlowApp {
 public:
  static constexpr uint32_t kMsgLen = 16;

  FlowApp(ix_ctx *ctx, const FlowAppConfig &cfg) : ctx_(ctx), cfg_(cfg) {
    thread_ = ix_thread_id(ctx);
    if (cfg.tcp_listen_port != 0) {
      ix_cmd &c = push(IX_CMD_TCP_LISTEN);
      c.u.tcp_listen.port = cfg.tcp_listen_port;
    }
    if (cfg.udp_port != 0) {
      ix_cmd &c = push(IX_CMD_UDP_BIND);
      c.u.udp_bind.port = cfg.udp_port;
    }
  }

  // Queue the client work (connections, datagrams).
  void start_clients() {
    for (unsigned i = 0; i < cfg_.connects; ++i) {
      ix_cmd &c = push(IX_CMD_TCP_CONNECT);
      c.u.tcp_connect.dst = ix_endpoint{cfg_.connect_addr, cfg_.connect_port, 0};
      c.u.tcp_connect.src_port = i < cfg_.src_ports.size() ? cfg_.src_ports[i] : 0;
      c.cookie = i + 1;
    }
    static const char kDatagram[8] = "flowgrp";
    for (unsigned i = 0; i < cfg_.udp_sends; ++i) {  // to hear the echoes
      ix_cmd &c = push(IX_CMD_UDP_BIND);
      c.u.udp_bind.port = static_cast<uint16_t>(cfg_.udp_first_sport + i);
    }
    for (unsigned i = 0; i < cfg_.udp_sends; ++i) {
      ix_cmd &c = push(IX_CMD_UDP_SEND);
      c.u.udp_send.data = kDatagram;
      c.u.udp_send.len = sizeof kDatagram;
      c.u.udp_send.src_port = static_cast<uint16_t>(cfg_.udp_first_sport + i);
      c.u.udp_send.dst = ix_endpoint{cfg_.udp_dst_addr, cfg_.udp_dst_port, 0};
      c.cookie = 0;  // static data: nothing to give back on IX_EV_UDP_SENT
    }
  }

  // One run_io round: the queued commands in, events handled.
  void step() {
    std::vector<ix_cmd> cmds;
    cmds.swap(pending_);
    ix_event evs[256];
    const int n = ix_run_io(ctx_, cmds.data(), cmds.size(), evs, 256);
    for (const ix_cmd &c : cmds) check_result(c);
    iovs_.clear();  // the commands that pointed at them have run
    for (int i = 0; i < n; ++i) handle(evs[i]);
  }

  unsigned thread() const { return thread_; }
  const std::vector<SeenFlow> &tcp_seen() const { return tcp_seen_; }
  const std::vector<SeenFlow> &udp_seen() const { return udp_seen_; }
  unsigned connected() const { return connected_; }
  unsigned echoed() const { return echoed_; }  // client connections whose echo came back
  unsigned udp_echoes() const { return udp_echoes_; }
  unsigned failures() const { return failures_; }
  int first_error() const { return first_error_; }
  unsigned connect_errors(int status) const {
    unsigned n = 0;
    for (int e : connect_results_) n += e == status;
    return n;
  }

 private:
  struct Conn {
    bool client = false;
    bool closing = false;  // CLOSE sent: the handle may die any round now
    uint32_t got = 0;      // client: echo bytes received
    uint32_t filled = 0;
    int seen = -1;  // server: index into tcp_seen_
    uint8_t buf[256];
  };

  ix_cmd &push(uint16_t op) {
    pending_.emplace_back();
    ix_cmd &c = pending_.back();
    std::memset(&c, 0, sizeof c);
    c.op = op;
    return c;
  }

  void fail(int status) {
    ++failures_;
    if (first_error_ == 0) first_error_ = status;
  }

  void check_result(const ix_cmd &c) {
    if (c.op == IX_CMD_TCP_CONNECT) {
      connect_results_.push_back(c.result);
      return;
    }
    // An echo send may take fewer bytes than asked only if the send
    // buffer were full, which 16-byte messages never make it.
    if (c.op == IX_CMD_TCP_SENDV) {
      if (c.result < 0) fail(c.result);
      return;
    }
    if (c.result != IX_OK) fail(c.result);
  }

  void send(ix_tcp_handle h, Conn &conn, uint32_t from, uint32_t len) {
    // run_io reads the iovec when it executes the command (next step); the
    // bytes themselves stay referenced in conn.buf until acknowledged.
    iovs_.push_back(ix_iovec{conn.buf + from, len});
    ix_cmd &c = push(IX_CMD_TCP_SENDV);
    c.u.tcp_sendv = {h, &iovs_.back(), 1};
  }

  void handle(const ix_event &e) {
    switch (e.type) {
      case IX_EV_TCP_KNOCK: {
        auto conn = std::make_unique<Conn>();
        conn->seen = static_cast<int>(tcp_seen_.size());
        tcp_seen_.push_back({e.u.tcp_knock.src.addr, e.u.tcp_knock.src.port, e.u.tcp_knock.dst.addr,
                             e.u.tcp_knock.dst.port, -1});
        conns_[e.u.tcp_knock.handle] = std::move(conn);
        ix_cmd &c = push(IX_CMD_TCP_ACCEPT);
        c.u.tcp_conn.handle = e.u.tcp_knock.handle;
        c.cookie = 1;
        break;
      }
      case IX_EV_TCP_CONNECTED: {
        if (e.result != IX_OK) {
          fail(e.result);
          break;
        }
        ++connected_;
        auto conn = std::make_unique<Conn>();
        conn->client = true;
        std::snprintf(reinterpret_cast<char *>(conn->buf), kMsgLen, "T%03u:%010llu", thread_,
                      static_cast<unsigned long long>(e.cookie));
        Conn &ref = *conn;
        conns_[e.u.tcp.handle] = std::move(conn);
        send(e.u.tcp.handle, ref, 0, kMsgLen);
        break;
      }
      case IX_EV_TCP_RECV:
        on_recv(e);
        break;
      case IX_EV_TCP_DEAD:
        if (e.result != IX_OK) fail(e.result);
        conns_.erase(e.u.tcp.handle);
        break;
      case IX_EV_UDP_RECV: {
        const auto &r = e.u.udp_recv;
        if (cfg_.udp_port != 0 && r.dst.port == cfg_.udp_port) {
          udp_seen_.push_back({r.src.addr, r.src.port, r.dst.addr, r.dst.port, -1});
          // Echo zero copy: the buffer goes back when the send completes.
          ix_cmd &c = push(IX_CMD_UDP_SEND);
          c.u.udp_send.data = r.data;
          c.u.udp_send.len = r.len;
          c.u.udp_send.src_port = r.dst.port;
          c.u.udp_send.dst = r.src;
          c.cookie = r.buf;
        } else {
          ++udp_echoes_;
          ix_cmd &c = push(IX_CMD_UDP_RECV_DONE);
          c.u.recv_done.buf = r.buf;
        }
        break;
      }
      case IX_EV_UDP_SENT:
        if (e.cookie != 0) {
          ix_cmd &c = push(IX_CMD_UDP_RECV_DONE);
          c.u.recv_done.buf = e.cookie;
        }
        break;
      default:
        break;
    }
  }

  void on_recv(const ix_event &e) {
    const ix_tcp_handle h = e.u.tcp.handle;
    auto it = conns_.find(h);
    if (it == conns_.end()) {
      fail(IX_EBADH);
      return;
    }
    Conn &conn = *it->second;
    const uint32_t len = static_cast<uint32_t>(e.u.tcp.len);
    if (len == 0) {  // the peer's FIN: close our side too, unless we did
      if (!conn.closing) {
        conn.closing = true;
        ix_cmd &c = push(IX_CMD_TCP_CLOSE);
        c.u.tcp_conn.handle = h;
      }
      return;
    }
    if (conn.client) {
      conn.got += len;
      if (conn.got == kMsgLen) {
        ++echoed_;
        conn.closing = true;
        ix_cmd &c = push(IX_CMD_TCP_CLOSE);
        c.u.tcp_conn.handle = h;
      }
    } else if (conn.filled + len <= sizeof conn.buf) {
      std::memcpy(conn.buf + conn.filled, e.u.tcp.data, len);
      send(h, conn, conn.filled, len);
      conn.filled += len;
      SeenFlow &s = tcp_seen_[conn.seen];
      unsigned t = 0;
      if (s.claimed_thread < 0 && conn.filled >= 4 &&
          std::sscanf(reinterpret_cast<const char *>(conn.buf), "T%3u", &t) == 1)
        s.claimed_thread = static_cast<int>(t);
    } else {
      fail(IX_EMSGSIZE);
    }
    ix_cmd &done = push(IX_CMD_TCP_RECV_DONE);
    done.u.tcp_recv_done.handle = h;
    done.u.tcp_recv_done.bytes = len;
  }

  ix_ctx *ctx_;
  FlowAppConfig cfg_;
  unsigned thread_ = 0;
  std::vector<ix_cmd> pending_;
  std::deque<ix_iovec> iovs_;  // for the queued SENDVs; a deque keeps addresses stable
  std::unordered_map<ix_tcp_handle, std::unique_ptr<Conn>> conns_;
  std::vector<SeenFlow> tcp_seen_, udp_seen_;
  std::vector<int> connect_results_;
  unsigned connected_ = 0, echoed_ = 0, udp_echoes_ = 0, failures_ = 0;
  int first_error_ = 0;
};

}  // namespace ix::flow_test
