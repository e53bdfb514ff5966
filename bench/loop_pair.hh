// Two IX elastic threads on one loop wire, driven in turn from the calling
// thread: a client that sends 64-byte messages and checks every echoed
// byte, and a server that echoes them zero copy. tcp_echo_bench and
// tcp_conn_scale_bench measure this one setup with different connection
// counts and message patterns.
//
// The server echoes with IX_CMD_TCP_SENDV straight from the received packet
// buffer and gives the bytes back (IX_CMD_TCP_RECV_DONE) only once
// IX_EV_TCP_SENT says the client acknowledged them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "api/io_context.hh"
#include "core/elastic_thread.hh"
#include "drivers/loop/loop_wire.hh"
#include "ix/syscall.h"
#include "timing/clock.hh"

namespace ix::bench {

inline constexpr uint32_t kEchoMsgLen = 64;

// A side's turn that completes nothing this many times in a row means a
// lost message or handshake: stop with an error instead of spinning.
inline constexpr int kStallTurns = 2'000'000;

// The message every connection sends. It is never modified, so the client's
// zero-copy sends may all point at it at once.
extern const std::array<uint8_t, kEchoMsgLen> kEchoMessage;

// One side's application: its pending commands, the events of its last
// run_io, and the iovecs its sends point at (alive until the next run_io).
struct IxApp {
  static constexpr size_t kMaxEvents = 512;
  explicit IxApp(core::ElasticThread &t);

  api::LocalContext ctx;
  std::vector<ix_cmd> cmds;
  std::vector<ix_iovec> iovs;  // reserved: commands point into it until run()
  std::array<ix_event, kMaxEvents> events{};

  ix_cmd &add(uint16_t op, uint64_t cookie);
  // Submit the pending commands and poll once; returns the events.
  std::span<const ix_event> run();
};

struct LoopEchoConfig {
  size_t conns = 1;
  uint32_t pool_buffers = 4096;  // per side
  uint32_t ring_depth = 1024;    // frames per RX ring
  uint32_t syn_backlog = 1024;   // server's half-open connections
  // Connection i goes to server port kFirstPort + i % listen_ports: one
  // destination port has only 16384 ephemeral source ports.
  uint16_t listen_ports = 1;
  // After the first connection, how many are opened at a time (as a paced
  // client would); the default opens all the rest at once.
  size_t open_wave = SIZE_MAX;
  // Both ports trusted (LoopPortConfig::trusted_link): no checksums, as
  // between two IX processes over a trusted memif link.
  bool trusted_link = false;
};

// What the client does when the echo of a message is complete.
enum class NextMessage {
  kNone,            // nothing: the caller starts each round trip (ping-pong)
  kSameConnection,  // send the next message on the same connection
  kNextConnection,  // send it on the next connection in round-robin order
};

// Member order is destruction order in reverse: contexts go before their
// threads, threads before the wire.
class LoopEchoPair {
 public:
  static constexpr uint16_t kFirstPort = 7000;

  LoopEchoPair(const LoopEchoConfig &config, NextMessage next);

  // Listens, connects every client and waits for all to be accepted.
  // False if a connection failed or the handshakes stalled.
  bool open();

  // Puts one message in flight on each of the first `in_flight` connections.
  void start(size_t in_flight);

  // One turn of each side. Returns the events both sides handled (0: idle).
  uint64_t step();

  uint64_t round_trips() const { return round_trips_; }
  uint64_t errors() const { return errors_; }
  // Sums over both stacks.
  uint64_t segments();
  uint64_t retransmits();
  uint64_t drops();

 private:
  struct ClientConn {
    ix_tcp_handle handle = 0;
    uint32_t received = 0;  // bytes of the current message echoed so far
  };

  // A side's turn: run_io with its pending commands, react to the events,
  // and submit the reaction at once if there is one (as an application's
  // loop would), a few times at most so the other side gets the core.
  template <class React>
  void turn(IxApp &app, React react);
  void check_results(IxApp &app);
  void server_event(const ix_event &e);
  void client_event(const ix_event &e);
  void send_message(size_t conn);

  timing::MonotonicClock clock_;
  drivers::LoopWire wire_;
  drivers::LoopPort &client_port_;
  drivers::LoopPort &server_port_;
  core::ElasticThread client_thread_;
  core::ElasticThread server_thread_;
  IxApp client_;
  IxApp server_;
  std::vector<ClientConn> conns_;
  const LoopEchoConfig config_;
  const NextMessage next_message_;
  size_t next_conn_ = 0;  // NextMessage::kNextConnection: where the next message goes
  size_t connected_ = 0;
  size_t accepted_ = 0;
  uint64_t events_ = 0;
  uint64_t round_trips_ = 0;
  uint64_t errors_ = 0;
};

}  // namespace ix::bench
