// The IX transport: the load thread is an elastic thread of the dataplane and
// its connections are ixev connections dialled from it (the dataplane picks
// source ports whose RSS hash lands on this thread). poll() runs one ixev
// round and returns: the dataplane polls rather than sleeps, so the engine
// loops around it and issues due requests between rounds.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ix/ixev.hh"
#include "load/transport.hh"

namespace ix::load {

class IxTransport final : public Transport {
 public:
  IxTransport(ix::ev::Ixev &ev, const std::vector<ServerEndpoint> &servers);
  ~IxTransport() override;

  void set_sink(TransportSink *sink) override { sink_ = sink; }
  std::string connect_all(size_t count, uint32_t timeout_ms) override;
  uint64_t now_ns() override { return ev_.now_ns(); }
  void send(size_t conn, const uint8_t *data, size_t len) override;
  void poll(uint64_t deadline_ns) override;
  void drop(size_t conn) override;
  void close_all() override;
  bool should_stop() override { return ev_.should_stop(); }

 private:
  class Connection;
  void push(Connection &c);

  ix::ev::Ixev &ev_;
  std::vector<ix_endpoint> servers_;  // connection i dials servers_[i % size]
  TransportSink *sink_ = nullptr;
  std::vector<std::unique_ptr<Connection>> conns_;
};

}  // namespace ix::load
