// What `stats conns` lists: every open connection with its addresses, its
// state and the seconds since its last command, and the listener.
//
// A connection's own thread writes its row (relaxed atomics, on the row's own
// cache line, so the fast path shares no written memory); whichever thread
// serves `stats conns` reads every row. Like memcached's listing, it is a
// snapshot that may be a moment out of date, never a torn value. Rows are
// created with their connection context, which is pooled and never freed, so
// the table only grows, under a mutex (a connection context is made only when
// a thread has more connections at once than ever before; the listing takes
// the same mutex; neither is on the per-request path).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ix::mc {

// memcached's connection states that a connection here can be in (its
// conn_* names; the rest of memcached's states have no counterpart).
enum class ConnState : uint8_t {
  kRead,      // waiting for (the rest of) a command line: idle
  kParseCmd,  // running commands
  kNread,     // a command line arrived, its data block has not
  kSwallow,   // skipping the data block of a refused store
  kMwrite,    // replies wait for acknowledgement before more is read
  kClosing,
  kWatch,  // an lru_crawler metadump is being written
};
const char *conn_state_name(ConnState s);

struct alignas(64) ConnRow {
  explicit ConnRow(uint32_t id) : id(id) {}
  const uint32_t id;
  std::atomic<bool> open{false};
  std::atomic<uint32_t> remote_addr{0}, local_addr{0};  // host byte order
  std::atomic<uint16_t> remote_port{0}, local_port{0};
  std::atomic<ConnState> state{ConnState::kRead};
  std::atomic<uint32_t> last_cmd{0};  // Context::now() of its last command

  void opened(uint32_t raddr, uint16_t rport, uint32_t laddr, uint16_t lport, uint32_t now);
  void set_state(ConnState s) { state.store(s, std::memory_order_relaxed); }
  ConnState get_state() const { return state.load(std::memory_order_relaxed); }
  void touched(uint32_t now) { last_cmd.store(now, std::memory_order_relaxed); }
  // Seconds since the last command, as memcached's idle check counts them.
  uint32_t idle_for(uint32_t now) const {
    const uint32_t last = last_cmd.load(std::memory_order_relaxed);
    return now > last ? now - last : 0;
  }
  void closed() { open.store(false, std::memory_order_relaxed); }
};

class ConnTable {
 public:
  // The listening port and address (0: any) and when it started listening.
  void set_listener(uint32_t addr, uint16_t port, uint32_t since);
  // A row for a new connection context; it lives as long as the table.
  ConnRow &add();
  // `stats conns`: memcached's "N:addr", "N:listen_addr", "N:state" and
  // "N:secs_since_last_cmd" rows, the listener first, then each open
  // connection.
  std::vector<std::pair<std::string, std::string>> rows(uint32_t now) const;

 private:
  mutable std::mutex mu_;
  std::deque<ConnRow> rows_;  // a deque: rows never move
  std::atomic<uint32_t> listen_addr_{0};
  std::atomic<uint16_t> listen_port_{0};
  std::atomic<uint32_t> listen_since_{0};
};

// "tcp:a.b.c.d:port", memcached's form of an address.
std::string conn_address(uint32_t addr, uint16_t port);

}  // namespace ix::mc
