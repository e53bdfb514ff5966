// ix::ev::Ixev and Conn: the public face of the ixev engine.
#include "ix/ixev.hh"

#include "ixev/engine.hh"

namespace ix::ev {

Conn::~Conn() {
  if (engine_ != nullptr) engine_->forget(*this);
}

Ixev::Ixev(ix_ctx *ctx, const IxevConfig &cfg)
    : engine_(std::make_unique<detail::Engine>(ctx, cfg, this)) {}
Ixev::~Ixev() = default;

int Ixev::listen(uint16_t port, Listener &l) { return engine_->listen(port, l); }
int Ixev::unlisten(uint16_t port) { return engine_->unlisten(port); }
int Ixev::dial(Conn &c, ix_endpoint remote, uint16_t src_port) {
  return engine_->dial(c, remote, src_port);
}
int64_t Ixev::recv(Conn &c, void *buf, size_t len) { return engine_->recv(c, buf, len); }
Bytes Ixev::recv_zc(Conn &c, size_t max) { return engine_->recv_zc(c, max); }
int Ixev::set_manual_release(Conn &c, bool manual) {
  return engine_->set_manual_release(c, manual);
}
int Ixev::recv_release(Conn &c, size_t bytes) { return engine_->recv_release(c, bytes); }
size_t Ixev::readable_bytes(const Conn &c) const { return engine_->readable_bytes(c); }
bool Ixev::peer_closed(const Conn &c) const { return engine_->peer_closed(c); }
int64_t Ixev::send(Conn &c, const void *buf, size_t len) { return engine_->send(c, buf, len); }
size_t Ixev::send_space(const Conn &c) const { return engine_->send_space(c); }
int Ixev::sendv_zc(Conn &c, const ix_iovec *iov, size_t iovcnt, uint64_t cookie) {
  return engine_->sendv_zc(c, iov, iovcnt, cookie);
}
int Ixev::close(Conn &c) { return engine_->close(c); }
int Ixev::abort(Conn &c) { return engine_->abort(c); }
int Ixev::poll() { return engine_->poll(); }
bool Ixev::should_stop() const { return ix_should_stop(engine_->ctx()) != 0; }
uint64_t Ixev::now_ns() const { return ix_now_ns(engine_->ctx()); }
unsigned Ixev::thread_id() const { return ix_thread_id(engine_->ctx()); }
const IxevStats &Ixev::stats() const { return engine_->stats(); }
uint32_t Ixev::connections() const { return engine_->connections(); }
void Ixev::for_each_conn(void (*fn)(Conn &, void *), void *arg) { engine_->for_each_conn(fn, arg); }
bool Ixev::follows_moves() const { return engine_->follows_moves(); }

}  // namespace ix::ev
