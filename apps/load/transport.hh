// What the load engine needs from a network: a fixed set of connections to
// the server (or to each server of a pool: connection i goes to server
// i % servers), byte streams on them, a clock, and a way to wait for events
// until a deadline. One Transport belongs to one load thread. Two
// implementations: Linux sockets with epoll (linux_transport.hh) and the IX
// dataplane through ixev (ix_transport.hh).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ix::load {

struct ServerEndpoint {
  std::string host;   // as given on the command line (ketama hashes this text)
  uint32_t addr = 0;  // IPv4, host byte order
  uint16_t port = 0;
};

class TransportSink {
 public:
  virtual ~TransportSink() = default;
  // Bytes received on connection `conn`, in order.
  virtual void on_data(size_t conn, const uint8_t *data, size_t len) = 0;
  // The connection ended (reset, closed by the server, error); no more
  // data follows on it.
  virtual void on_broken(size_t conn, const std::string &why) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void set_sink(TransportSink *sink) = 0;
  // Opens `count` connections, connection i to server i % servers; "" when
  // all are up, else why not.
  virtual std::string connect_all(size_t count, uint32_t timeout_ms) = 0;
  virtual uint64_t now_ns() = 0;
  // Queues bytes for connection `conn`; they leave at the latest in the next
  // poll(). The transport keeps what the network cannot take yet.
  virtual void send(size_t conn, const uint8_t *data, size_t len) = 0;
  // Sends what is queued, then delivers events, returning when something
  // happened or at deadline_ns (at once if it has passed).
  virtual void poll(uint64_t deadline_ns) = 0;
  // Drops one connection (after a protocol error); no events follow for it.
  virtual void drop(size_t conn) = 0;
  // Closes every connection, waiting a little for orderly closes.
  virtual void close_all() = 0;
  // True once the program was asked to stop (signal, dataplane deadline).
  virtual bool should_stop() = 0;
};

}  // namespace ix::load
