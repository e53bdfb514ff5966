// ConnTable: the rows `stats conns` lists (see conn_table.hh).
#include "memcached/conn_table.hh"

#include <cstdio>

namespace ix::mc {

namespace {
// The listener's id: memcached numbers rows by file descriptor, and its
// listening socket comes before any client's; connection ids start above it.
constexpr uint32_t kListenerId = 0;
}  // namespace

const char *conn_state_name(ConnState s) {
  switch (s) {
    case ConnState::kRead:
      return "conn_read";
    case ConnState::kParseCmd:
      return "conn_parse_cmd";
    case ConnState::kNread:
      return "conn_nread";
    case ConnState::kSwallow:
      return "conn_swallow";
    case ConnState::kMwrite:
      return "conn_mwrite";
    case ConnState::kClosing:
      return "conn_closing";
    case ConnState::kWatch:
      return "conn_watch";
  }
  return "conn_read";
}

std::string conn_address(uint32_t addr, uint16_t port) {
  char b[48];
  std::snprintf(b, sizeof b, "tcp:%u.%u.%u.%u:%u", addr >> 24, (addr >> 16) & 0xff,
                (addr >> 8) & 0xff, addr & 0xff, unsigned{port});
  return b;
}

void ConnRow::opened(uint32_t raddr, uint16_t rport, uint32_t laddr, uint16_t lport, uint32_t now) {
  remote_addr.store(raddr, std::memory_order_relaxed);
  remote_port.store(rport, std::memory_order_relaxed);
  local_addr.store(laddr, std::memory_order_relaxed);
  local_port.store(lport, std::memory_order_relaxed);
  state.store(ConnState::kRead, std::memory_order_relaxed);
  last_cmd.store(now, std::memory_order_relaxed);
  open.store(true, std::memory_order_relaxed);
}

void ConnTable::set_listener(uint32_t addr, uint16_t port, uint32_t since) {
  listen_addr_.store(addr, std::memory_order_relaxed);
  listen_port_.store(port, std::memory_order_relaxed);
  listen_since_.store(since, std::memory_order_relaxed);
}

ConnRow &ConnTable::add() {
  std::lock_guard<std::mutex> lock(mu_);
  return rows_.emplace_back(kListenerId + 1 + static_cast<uint32_t>(rows_.size()));
}

std::vector<std::pair<std::string, std::string>> ConnTable::rows(uint32_t now) const {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&out](uint32_t id, const char *name, std::string value) {
    out.emplace_back(std::to_string(id) + ":" + name, std::move(value));
  };
  const uint16_t port = listen_port_.load(std::memory_order_relaxed);
  if (port != 0) {
    const uint32_t since = listen_since_.load(std::memory_order_relaxed);
    add(kListenerId, "addr", conn_address(listen_addr_.load(std::memory_order_relaxed), port));
    add(kListenerId, "state", "conn_listening");
    add(kListenerId, "secs_since_last_cmd", std::to_string(now > since ? now - since : 0));
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const ConnRow &r : rows_) {
    if (!r.open.load(std::memory_order_relaxed)) continue;
    add(r.id, "addr",
        conn_address(r.remote_addr.load(std::memory_order_relaxed),
                     r.remote_port.load(std::memory_order_relaxed)));
    add(r.id, "listen_addr",
        conn_address(r.local_addr.load(std::memory_order_relaxed),
                     r.local_port.load(std::memory_order_relaxed)));
    add(r.id, "state", conn_state_name(r.get_state()));
    add(r.id, "secs_since_last_cmd", std::to_string(r.idle_for(now)));
  }
  return out;
}

}  // namespace ix::mc
