#include "mem/mbuf_pool.hh"

#include <sys/mman.h>

#include <new>
#include <stdexcept>

namespace ix::mem {

namespace {
constexpr size_t kHugePage = 2u << 20;

size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }
}  // namespace

MbufPool::MbufPool(const MbufPoolConfig &cfg)
    : name_(cfg.name), count_(cfg.count + cfg.device_share), headroom_(cfg.headroom) {
  if (cfg.count == 0) throw std::invalid_argument(name_ + ": pool size must be at least 1");
  if (cfg.device_share > (1u << 24) || cfg.count > (1u << 30))
    throw std::invalid_argument(name_ + ": pool size or device share out of range");
  device_share_ = cfg.device_share;
  if (cfg.rx_reserve >= cfg.count)
    throw std::invalid_argument(name_ + ": the RX reserve must leave buffers for sending");
  rx_reserve_ = cfg.rx_reserve;
  uint32_t buffer_bytes = static_cast<uint32_t>(cfg.headroom) + cfg.data_size;
  if (cfg.buffer_stride != 0) {
    const uint32_t s = cfg.buffer_stride;
    if (s < 1024 || s > 16384 || (s & (s - 1)) != 0 || s <= cfg.headroom)
      throw std::invalid_argument(name_ + ": buffer_stride " + std::to_string(s) +
                                  " must be a power of two from 1024 to 16384 larger than the " +
                                  "headroom (" + std::to_string(cfg.headroom) + ")");
    buffer_bytes = s;
    buffer_stride_ = s;
  } else {
    if (buffer_bytes > 0xffff)
      throw std::invalid_argument(name_ + ": headroom + data_size must fit in 16 bits");
    buffer_stride_ = static_cast<uint32_t>(round_up(buffer_bytes, 64));
  }
  const size_t header_bytes = round_up(sizeof(Mbuf) * static_cast<size_t>(count_), 4096);
  const size_t bytes = header_bytes + static_cast<size_t>(buffer_stride_) * count_;

  void *mem = MAP_FAILED;
  if (cfg.try_huge_pages) {
    map_bytes_ = round_up(bytes, kHugePage);
    mem = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
    huge_ = mem != MAP_FAILED;
  }
  if (mem == MAP_FAILED) {
    map_bytes_ = round_up(bytes, 4096);
    mem = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  }
  if (mem == MAP_FAILED)
    throw std::runtime_error(name_ + ": cannot map " + std::to_string(bytes) +
                             " bytes for packet buffers; lower the pool size");
  base_ = static_cast<uint8_t *>(mem);
  headers_ = base_;
  data_ = base_ + header_bytes;
  free_ = new Mbuf *[count_];

  for (uint32_t i = 0; i < count_; ++i) {
    auto *m = new (headers_ + static_cast<size_t>(i) * sizeof(Mbuf)) Mbuf{};
    m->pool = this;
    m->index = i;
    m->own_buf = data_ + static_cast<size_t>(i) * buffer_stride_;
    m->own_buf_len = static_cast<uint16_t>(buffer_bytes);
    m->buf = m->own_buf;
    m->buf_len = m->own_buf_len;
    m->in_use = 0;
    // Push in reverse so the first allocations come from the start of memory.
    free_[count_ - 1 - i] = m;
  }
  free_top_ = count_;
}

MbufPool::~MbufPool() {
  delete[] free_;
  if (base_ != nullptr) munmap(base_, map_bytes_);
}

uint32_t MbufPool::alloc_bulk(Mbuf **out, uint32_t n) {
  uint32_t got = 0;
  while (got < n) {
    Mbuf *m = alloc();
    if (m == nullptr) break;
    out[got++] = m;
  }
  return got;
}

uint32_t MbufPool::reclaim_slow() {
  Mbuf *m = returned_.exchange(nullptr, std::memory_order_acquire);
  uint32_t n = 0;
  while (m != nullptr) {
    Mbuf *next = m->next;
    m->away = 0;
    free_one(m);
    ++stats_.returned;
    ++n;
    m = next;
  }
  return n;
}

void MbufPool::free_one(Mbuf *m) {
  if (m->in_use == 0) {  // already free: count misuse, never corrupt the free list
    ++stats_.double_frees;
    return;
  }
  if (m->ext_release != nullptr) {
    ExtReleaseFn fn = m->ext_release;
    m->ext_release = nullptr;
    fn(m, m->ext_arg);
  }
  m->in_use = 0;
  m->app_held = 0;
  m->next = nullptr;
  ++m->generation;
  ++stats_.frees;
  free_[free_top_++] = m;
}

}  // namespace ix::mem
