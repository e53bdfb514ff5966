#include "load/ix_transport.hh"

#include <cstdint>

namespace ix::load {

using ix::ev::Bytes;

// One connection: ixev handlers forward to the transport's sink. Bytes the
// dataplane cannot take yet (send buffer full) wait in `backlog`, in order.
class IxTransport::Connection final : public ix::ev::Conn {
 public:
  Connection(IxTransport &owner, size_t index) : owner_(owner), index_(index) {}

  void on_connected(int status) override {
    connect_status = status;
    connected = status == IX_OK;
    if (!connected) gone = true;  // detached: no on_hangup follows
  }
  void on_readable() override {
    for (;;) {
      const Bytes b = owner_.ev_.recv_zc(*this, SIZE_MAX);
      if (b.len == 0) break;
      if (!gone && owner_.sink_) owner_.sink_->on_data(index_, b.data, b.len);
    }
    if (owner_.ev_.peer_closed(*this) && !gone) hang_up("the server closed the connection");
  }
  void on_writable() override { owner_.push(*this); }
  void on_hangup(int status) override {
    hung_up = true;
    hang_up(std::string("connection ended: ") + ix_status_name(status));
  }

  void hang_up(const std::string &why) {
    if (gone) return;
    gone = true;
    backlog.clear();
    if (owner_.sink_ && connected) owner_.sink_->on_broken(index_, why);
  }

  std::vector<uint8_t> backlog;
  size_t backlog_off = 0;
  int connect_status = 1;  // no IX status is positive: not yet known
  bool connected = false, gone = false, hung_up = false;

 private:
  IxTransport &owner_;
  size_t index_;
};

IxTransport::IxTransport(ix::ev::Ixev &ev, const std::vector<ServerEndpoint> &servers) : ev_(ev) {
  for (const ServerEndpoint &s : servers) {
    ix_endpoint e{};
    e.addr = s.addr;
    e.port = s.port;
    servers_.push_back(e);
  }
}

IxTransport::~IxTransport() {
  // Deleting an attached Conn resets its connection (ixev's rule).
  conns_.clear();
}

std::string IxTransport::connect_all(size_t count, uint32_t timeout_ms) {
  conns_.clear();
  for (size_t i = 0; i < count; ++i) {
    conns_.push_back(std::make_unique<Connection>(*this, i));
    if (const int rc = ev_.dial(*conns_.back(), servers_[i % servers_.size()]); rc != IX_OK)
      return std::string("dial: ") + ix_status_name(rc);
  }
  const uint64_t deadline = ev_.now_ns() + uint64_t{timeout_ms} * 1'000'000;
  for (;;) {
    size_t up = 0;
    for (const auto &c : conns_) {
      if (c->connect_status != 1 && c->connect_status != IX_OK)
        return std::string("connect: ") + ix_status_name(c->connect_status);
      if (c->connected) ++up;
    }
    if (up == count) return "";
    if (ev_.now_ns() >= deadline || ev_.should_stop())
      return std::to_string(count - up) + " of " + std::to_string(count) +
             " connections not established within " + std::to_string(timeout_ms) + " ms";
    ev_.poll();
  }
}

void IxTransport::push(Connection &c) {
  while (!c.gone && c.backlog_off < c.backlog.size()) {
    const int64_t n =
        ev_.send(c, c.backlog.data() + c.backlog_off, c.backlog.size() - c.backlog_off);
    if (n <= 0) break;  // IX_EAGAIN: on_writable follows; IX_ECLOSED: on_hangup follows
    c.backlog_off += static_cast<size_t>(n);
  }
  if (c.backlog_off == c.backlog.size()) {
    c.backlog.clear();
    c.backlog_off = 0;
  }
}

void IxTransport::send(size_t conn, const uint8_t *data, size_t len) {
  Connection &c = *conns_[conn];
  if (c.gone) return;
  if (c.backlog.empty()) {
    const int64_t n = ev_.send(c, data, len);
    if (n == static_cast<int64_t>(len)) return;
    const size_t taken = n > 0 ? static_cast<size_t>(n) : 0;
    data += taken;
    len -= taken;
  }
  c.backlog.insert(c.backlog.end(), data, data + len);
}

void IxTransport::poll(uint64_t /*deadline_ns*/) { ev_.poll(); }

void IxTransport::drop(size_t conn) {
  Connection &c = *conns_[conn];
  if (c.gone) return;
  c.gone = true;
  c.backlog.clear();
  if (c.attached()) ev_.abort(c);
}

void IxTransport::close_all() {
  for (auto &c : conns_)
    if (c->attached() && !c->hung_up) ev_.close(*c);
  for (auto &c : conns_) c->gone = true;
  // Let the closes reach the server (bounded: a server that never answers
  // the FIN must not hold the program).
  const uint64_t deadline = ev_.now_ns() + 1'000'000'000;
  while (ev_.now_ns() < deadline && !ev_.should_stop()) {
    bool open = false;
    for (auto &c : conns_) open = open || (c->attached() && !c->hung_up);
    if (!open) break;
    ev_.poll();
  }
}

}  // namespace ix::load
