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

ConnTable::ConnTable(uint32_t max_connections, uint32_t ooo_segments, uint32_t ooo_bytes,
                     uint32_t send_chunks, uint32_t recv_chunks, uint32_t tx_records)
    : max_(std::clamp<uint32_t>(max_connections, 1, kMaxSlots)),
      ooo_segments_(ooo_segments),
      ooo_bytes_(ooo_bytes),
      send_arena_(send_chunks),
      recv_arena_(recv_chunks),
      tx_arena_(tx_records) {
  blocks_.reserve((max_ + kBlockSlots - 1) / kBlockSlots);
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

bool ConnTable::add_block() {
  if (made_ >= max_) return false;
  const uint32_t count = std::min(kBlockSlots, max_ - made_);
  // A whole block even when max_ ends inside it keeps slot() a shift and a
  // mask; the slots past max_ are never handed out.
  blocks_.push_back(std::make_unique<Tcb[]>(kBlockSlots));
  Tcb *b = blocks_.back().get();
  for (uint32_t i = 0; i < kBlockSlots; ++i) {
    b[i].slot = made_ + i;
    b[i].sq.init(&send_arena_);
    b[i].rq.init(&recv_arena_);
    b[i].txr.init(&tx_arena_);
    b[i].ooo = ReassemblyQueue(ooo_segments_, ooo_bytes_);
  }
  free_.reserve(made_ + count);
  for (uint32_t i = count; i > 0; --i) free_.push_back(made_ + i - 1);
  made_ += count;
  return true;
}

Tcb *ConnTable::alloc() {
  if (free_.empty() && !add_block()) return nullptr;
  const uint32_t i = free_.back();
  free_.pop_back();
  Tcb *t = &slot(i);
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

size_t ConnTable::index_bytes() const {
  return (size_t{bucket_mask_} + 1) * sizeof(uint32_t) + free_.capacity() * sizeof(uint32_t) +
         blocks_.capacity() * sizeof(blocks_[0]);
}

ConnTable::ChainStats ConnTable::chain_stats() const {
  ChainStats st;
  uint64_t total = 0;
  for (uint32_t b = 0; b <= bucket_mask_; ++b) {
    uint32_t len = 0;
    for (uint32_t i = buckets_[b]; i != kNone; i = slot(i).hash_next) ++len;
    if (len == 0) continue;
    ++st.buckets;
    total += len;
    st.longest = std::max(st.longest, len);
  }
  st.mean = st.buckets == 0 ? 0.0 : static_cast<double>(total) / st.buckets;
  return st;
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
    Tcb *c = &slot(*link);
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
    Tcb *t = &slot(i);
    if (t->lport == lport && t->rport == rport && t->remote == remote && t->local == local)
      return t;
    i = t->hash_next;
  }
  return nullptr;
}

namespace {
// The lines a segment's processing reads: the slot header and identity,
// the per-segment fields, the rings and the two per-segment timers, which
// tcb.hh keeps ahead of the rarely touched wait timer and SACK scoreboard.
void prefetch_tcb(const Tcb &t) {
  const auto *end = reinterpret_cast<const char *>(&t.wait_timer);
  for (const auto *p = reinterpret_cast<const char *>(&t); p < end; p += 64) __builtin_prefetch(p);
}
}  // namespace

void ConnTable::prefetch_chain_head(uint32_t b) const {
  const uint32_t i = buckets_[b];
  if (i != kNone) prefetch_tcb(slot(i));
}

void ConnTable::prefetch_handle(ConnHandle h) const {
  const uint32_t i = slot_index(h);
  if (i < made_) prefetch_tcb(slot(i));
}

Tcb *ConnTable::by_handle(ConnHandle h) const {
  const uint32_t slot = slot_index(h);
  const uint32_t gen = static_cast<uint32_t>((h >> 24) & 0xffffff);
  if (slot >= made_ || gen == 0) return nullptr;
  Tcb *t = &this->slot(slot);
  if (!t->in_use || t->generation != gen || t->app_gone) return nullptr;
  return t;
}

}  // namespace ix::net::tcp
