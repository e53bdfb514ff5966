#include "net/tcp/conn_table.hh"

#include <algorithm>
#include <array>

#include "net/tcp/isn_generator.hh"

namespace ix::net::tcp {

namespace {
constexpr uint32_t kNone = UINT32_MAX;

uint64_t mix(uint64_t x) {  // a 64-bit finalizer: every input bit moves every output bit
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}
}  // namespace

ConnTable::ConnTable(uint32_t max_connections, uint32_t ooo_segments, uint32_t rcv_buf)
    : max_(std::clamp<uint32_t>(max_connections, 1, kMaxSlots)),
      ooo_segments_(ooo_segments),
      rcv_buf_(rcv_buf),
      slots_(max_) {
  free_.reserve(max_);
  for (uint32_t i = max_; i > 0; --i) free_.push_back(i - 1);
  uint32_t n = 1;
  while (n < max_) n <<= 1;
  buckets_ = std::make_unique<uint32_t[]>(n);
  std::fill_n(buckets_.get(), n, kNone);
  bucket_mask_ = n - 1;
  // A secret salt keeps a peer from choosing tuples that share a bucket.
  std::array<uint8_t, 16> key;
  random_key(key);
  salt_ = 0;
  for (int i = 0; i < 8; ++i) salt_ = (salt_ << 8) | key[i];
}

ConnTable::~ConnTable() = default;

Tcb *ConnTable::alloc() {
  if (free_.empty()) return nullptr;
  const uint32_t i = free_.back();
  free_.pop_back();
  if (!slots_[i]) slots_[i] = std::make_unique<Tcb>(i, ooo_segments_, rcv_buf_);
  Tcb *t = slots_[i].get();
  t->in_use = true;
  ++in_use_;
  return t;
}

void ConnTable::free(Tcb *t) {
  if (!t->in_use) return;
  if (t->hashed) remove(t);
  t->in_use = false;
  t->generation = (t->generation + 1) & 0xffffff;
  if (t->generation == 0) t->generation = 1;
  free_.push_back(t->slot);
  --in_use_;
}

uint32_t ConnTable::bucket(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport) const {
  const uint64_t a = (uint64_t{local.v} << 32) | remote.v;
  const uint64_t b = (uint64_t{lport} << 16) | rport;
  return static_cast<uint32_t>(mix(a ^ salt_) ^ mix(b + salt_)) & bucket_mask_;
}

void ConnTable::insert(Tcb *t) {
  const uint32_t b = bucket(t->local, t->lport, t->remote, t->rport);
  t->hash_next = buckets_[b];
  buckets_[b] = t->slot;
  t->hashed = true;
}

void ConnTable::remove(Tcb *t) {
  uint32_t *link = &buckets_[bucket(t->local, t->lport, t->remote, t->rport)];
  while (*link != kNone) {
    Tcb *c = slots_[*link].get();
    if (c == t) {
      *link = t->hash_next;
      break;
    }
    link = &c->hash_next;
  }
  t->hash_next = kNone;
  t->hashed = false;
}

Tcb *ConnTable::lookup(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport) const {
  for (uint32_t i = buckets_[bucket(local, lport, remote, rport)]; i != kNone;) {
    Tcb *t = slots_[i].get();
    if (t->lport == lport && t->rport == rport && t->remote == remote && t->local == local)
      return t;
    i = t->hash_next;
  }
  return nullptr;
}

Tcb *ConnTable::by_handle(ConnHandle h) const {
  const uint32_t slot = static_cast<uint32_t>(h & 0xffffff);
  const uint32_t gen = static_cast<uint32_t>((h >> 24) & 0xffffff);
  if (slot >= max_ || gen == 0 || !slots_[slot]) return nullptr;
  Tcb *t = slots_[slot].get();
  if (!t->in_use || t->generation != gen || t->app_gone) return nullptr;
  return t;
}

}  // namespace ix::net::tcp
