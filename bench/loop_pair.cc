#include "loop_pair.hh"

#include <algorithm>
#include <cstring>

namespace ix::bench {
namespace {

const net::MacAddr kClientMac{{0x02, 0, 0, 0, 0, 0xc1}};
const net::MacAddr kServerMac{{0x02, 0, 0, 0, 0, 0x5e}};
constexpr net::Ipv4Addr kClientIp = net::ipv4(10, 0, 0, 1);
constexpr net::Ipv4Addr kServerIp = net::ipv4(10, 0, 0, 2);

core::ElasticThreadConfig thread_config(unsigned id, net::MacAddr mac, net::Ipv4Addr addr,
                                        const LoopEchoConfig &config) {
  core::ElasticThreadConfig c;
  c.id = id;
  c.pool.count = config.pool_buffers;
  c.pool.try_huge_pages = false;
  c.stack.mac = mac;
  c.stack.addr = addr;
  c.stack.gratuitous_arp = false;
  // Room for every connection plus a wave of half-open ones.
  c.stack.tcp.max_connections =
      std::max<uint64_t>(config.conns + 1024, c.stack.tcp.max_connections);
  c.stack.tcp.syn_backlog = config.syn_backlog;
  // Both threads share this core: an idle poll must not give it away to
  // the scheduler (the other side has work to do on it).
  c.idle_polls_before_yield = 0;
  return c;
}

}  // namespace

const std::array<uint8_t, kEchoMsgLen> kEchoMessage = [] {
  std::array<uint8_t, kEchoMsgLen> m{};
  for (uint32_t i = 0; i < kEchoMsgLen; ++i) m[i] = static_cast<uint8_t>('a' + i % 26);
  return m;
}();

IxApp::IxApp(core::ElasticThread &t) : ctx(t, nullptr) {
  // A turn's reactions: up to a send and a recv_done per event.
  cmds.reserve(4 * kMaxEvents);
  iovs.reserve(4 * kMaxEvents);
}

ix_cmd &IxApp::add(uint16_t op, uint64_t cookie) {
  ix_cmd &c = cmds.emplace_back();
  c = ix_cmd{};
  c.op = op;
  c.cookie = cookie;
  return c;
}

std::span<const ix_event> IxApp::run() {
  const int n = ix_run_io(&ctx, cmds.data(), cmds.size(), events.data(), events.size());
  return {events.data(), n > 0 ? static_cast<size_t>(n) : 0};
}

LoopEchoPair::LoopEchoPair(const LoopEchoConfig &config, NextMessage next)
    : wire_(clock_),
      client_port_(wire_.add_port({.name = "client",
                                   .mac = kClientMac,
                                   .queues = 1,
                                   .ring_depth = config.ring_depth,
                                   .trusted_link = config.trusted_link})),
      server_port_(wire_.add_port({.name = "server",
                                   .mac = kServerMac,
                                   .queues = 1,
                                   .ring_depth = config.ring_depth,
                                   .trusted_link = config.trusted_link})),
      client_thread_(thread_config(0, kClientMac, kClientIp, config), client_port_, clock_),
      server_thread_(thread_config(1, kServerMac, kServerIp, config), server_port_, clock_),
      client_(client_thread_),
      server_(server_thread_),
      conns_(config.conns),
      config_(config),
      next_message_(next) {}

bool LoopEchoPair::open() {
  for (uint16_t p = 0; p < config_.listen_ports; ++p)
    server_.add(IX_CMD_TCP_LISTEN, 0).u.tcp_listen.port = kFirstPort + p;
  // The first connection goes alone: while the server's address resolves,
  // the stack holds only a few packets for it (arp_hold_per_entry), and
  // SYNs beyond those would wait for a retransmission timeout.
  size_t done = 0;
  while (done < conns_.size()) {
    const size_t wave = done == 0 ? 1 : std::min(config_.open_wave, conns_.size() - done);
    for (size_t i = done; i < done + wave; ++i)
      client_.add(IX_CMD_TCP_CONNECT, i).u.tcp_connect.dst =
          ix_endpoint{kServerIp.v, static_cast<uint16_t>(kFirstPort + i % config_.listen_ports), 0};
    done += wave;
    for (int idle = 0; (connected_ < done || accepted_ < done) && errors_ == 0; ++idle) {
      if (step() != 0) idle = 0;
      if (idle > kStallTurns) return false;
    }
    if (errors_ != 0) return false;
  }
  return true;
}

void LoopEchoPair::start(size_t in_flight) {
  in_flight = std::min(in_flight, conns_.size());
  for (size_t i = 0; i < in_flight; ++i) send_message(i);
  next_conn_ = in_flight % conns_.size();
}

uint64_t LoopEchoPair::step() {
  const uint64_t before = events_;
  turn(server_, [this](const ix_event &e) { server_event(e); });
  turn(client_, [this](const ix_event &e) { client_event(e); });
  return events_ - before;
}

uint64_t LoopEchoPair::segments() {
  return client_thread_.stack().tcp().stats().segments_tx +
         server_thread_.stack().tcp().stats().segments_tx;
}

uint64_t LoopEchoPair::retransmits() {
  return client_thread_.stack().tcp().stats().retransmits +
         server_thread_.stack().tcp().stats().retransmits;
}

uint64_t LoopEchoPair::drops() {
  return client_thread_.stack().counters().total_drops() +
         server_thread_.stack().counters().total_drops();
}

template <class React>
void LoopEchoPair::turn(IxApp &app, React react) {
  for (int round = 0; round < 4; ++round) {
    auto events = app.run();
    check_results(app);
    app.cmds.clear();
    app.iovs.clear();
    events_ += events.size();
    for (const ix_event &e : events) react(e);
    if (app.cmds.empty()) return;
  }
}

void LoopEchoPair::check_results(IxApp &app) {
  for (const ix_cmd &c : app.cmds) {
    if (c.op == IX_CMD_TCP_SENDV) {
      uint64_t want = 0;
      for (uint32_t i = 0; i < c.u.tcp_sendv.iovcnt; ++i) want += c.u.tcp_sendv.iov[i].len;
      if (c.result < 0 || static_cast<uint64_t>(c.result) != want) ++errors_;
    } else if (c.op == IX_CMD_TCP_CONNECT) {
      if (c.result != IX_OK)
        ++errors_;
      else
        conns_[c.cookie].handle = c.u.tcp_conn.handle;
    } else if (c.result != IX_OK) {
      ++errors_;
    }
  }
}

void LoopEchoPair::server_event(const ix_event &e) {
  switch (e.type) {
    case IX_EV_TCP_KNOCK:
      server_.add(IX_CMD_TCP_ACCEPT, 0).u.tcp_conn.handle = e.u.tcp_knock.handle;
      ++accepted_;
      break;
    case IX_EV_TCP_RECV: {
      if (e.u.tcp.len == 0) {
        ++errors_;  // nobody closes during a benchmark
        break;
      }
      // Zero-copy echo: send from the packet buffer we were lent. The iovec
      // must outlive this run_io only; the bytes stay lent until the client
      // acknowledges them (IX_EV_TCP_SENT below).
      server_.iovs.push_back({e.u.tcp.data, e.u.tcp.len});
      ix_cmd &c = server_.add(IX_CMD_TCP_SENDV, 0);
      c.u.tcp_sendv = {e.u.tcp.handle, &server_.iovs.back(), 1};
      break;
    }
    case IX_EV_TCP_SENT: {
      // What we echo is exactly what we received, in order, so the
      // acknowledged bytes are the oldest received ones: give them back.
      ix_cmd &c = server_.add(IX_CMD_TCP_RECV_DONE, 0);
      c.u.tcp_recv_done = {e.u.tcp.handle, e.u.tcp.len};
      break;
    }
    case IX_EV_TCP_DEAD:
      ++errors_;
      break;
    default:
      break;
  }
}

void LoopEchoPair::client_event(const ix_event &e) {
  switch (e.type) {
    case IX_EV_TCP_CONNECTED:
      if (e.result != IX_OK) ++errors_;
      ++connected_;
      break;
    case IX_EV_TCP_RECV: {
      ClientConn &cc = conns_[e.cookie];
      const uint32_t len = static_cast<uint32_t>(e.u.tcp.len);
      if (len == 0 || cc.received + len > kEchoMsgLen ||
          std::memcmp(e.u.tcp.data, kEchoMessage.data() + cc.received, len) != 0) {
        ++errors_;
        break;
      }
      // The client checks and is done with the bytes at once.
      ix_cmd &c = client_.add(IX_CMD_TCP_RECV_DONE, 0);
      c.u.tcp_recv_done = {cc.handle, len};
      cc.received += len;
      if (cc.received == kEchoMsgLen) {
        cc.received = 0;
        ++round_trips_;
        if (next_message_ == NextMessage::kSameConnection) {
          send_message(e.cookie);
        } else if (next_message_ == NextMessage::kNextConnection) {
          send_message(next_conn_);
          next_conn_ = next_conn_ + 1 == conns_.size() ? 0 : next_conn_ + 1;
        }
      }
      break;
    }
    case IX_EV_TCP_DEAD:
      ++errors_;
      break;
    default:
      break;  // IX_EV_TCP_SENT: kEchoMessage is never reused, nothing to free
  }
}

void LoopEchoPair::send_message(size_t conn) {
  client_.iovs.push_back({kEchoMessage.data(), kEchoMsgLen});
  ix_cmd &c = client_.add(IX_CMD_TCP_SENDV, conn);
  c.u.tcp_sendv = {conns_[conn].handle, &client_.iovs.back(), 1};
}

}  // namespace ix::bench
