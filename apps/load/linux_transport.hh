// The Linux transport: non-blocking TCP sockets (TCP_NODELAY) watched by one
// epoll instance per load thread. Writes are batched per poll(); what the
// socket does not take waits in a per-connection buffer until EPOLLOUT.
// Waits use epoll_pwait2, whose nanosecond timeout lets the open-loop
// schedule be kept to within the kernel's timer slack instead of 1 ms.
#pragma once

#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

#include "load/transport.hh"

namespace ix::load {

class LinuxTransport final : public Transport {
 public:
  // spin: poll() never sleeps; it calls epoll with a zero timeout until an
  // event or the deadline (--spin).
  explicit LinuxTransport(std::vector<ServerEndpoint> servers, bool spin = false);
  ~LinuxTransport() override;

  void set_sink(TransportSink *sink) override { sink_ = sink; }
  std::string connect_all(size_t count, uint32_t timeout_ms) override;
  uint64_t now_ns() override;
  void send(size_t conn, const uint8_t *data, size_t len) override;
  void poll(uint64_t deadline_ns) override;
  void drop(size_t conn) override;
  void close_all() override;
  bool should_stop() override;

  // Set by SIGINT/SIGTERM (installed by the program, not by this class).
  static volatile std::sig_atomic_t stop_requested;

 private:
  struct Socket {
    int fd = -1;
    std::vector<uint8_t> out;
    size_t out_off = 0;
    bool dirty = false, want_write = false;
  };
  void flush(size_t conn);
  void broken(size_t conn, const std::string &why);
  void set_want_write(size_t conn, bool want);

  std::vector<ServerEndpoint> servers_;
  bool spin_;
  int epfd_ = -1;
  TransportSink *sink_ = nullptr;
  std::vector<Socket> socks_;
  std::vector<size_t> dirty_;
  std::vector<uint8_t> rbuf_;
};

}  // namespace ix::load
