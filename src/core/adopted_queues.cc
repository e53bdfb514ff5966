// RX queues of parked siblings, polled by a running elastic thread. A
// device that steers (its RSS table programmed with the flow groups) sends
// nothing to a thread that owns no group, so parking needs no more there.
// A device that does not (veth: the peer's TX queue picks the RX queue;
// memif) keeps delivering to every queue, and a parked thread's frames
// would sit in its ring until dropped: a running thread polls that queue
// for it, and steers what it finds like its own frames.
#include <algorithm>

#include "core/elastic_thread.hh"

namespace ix::core {

void ElasticThread::adopt_queue(uint16_t owner, uint16_t queue, mem::MbufPool *pool,
                                std::vector<LinkMark> wait) {
  for (const AdoptedQueue &a : adopted_)
    if (a.queue == queue) return;
  adopted_.push_back({owner, queue, pool, std::move(wait)});
  adopt_scratch_.resize(std::max<size_t>(adopt_scratch_.size(), 64 * 1024));
}

void ElasticThread::release_queue(uint16_t queue) {
  std::erase_if(adopted_, [&](const AdoptedQueue &a) { return a.queue == queue; });
}

std::vector<ElasticThread::AdoptedRef> ElasticThread::take_adopted() {
  std::vector<AdoptedRef> refs;
  for (const AdoptedQueue &a : adopted_) refs.push_back({a.owner, a.queue, a.pool});
  adopted_.clear();
  return refs;
}

bool ElasticThread::passed(std::vector<LinkMark> &wait) {
  for (const LinkMark &w : wait)
    if (w.link->consumed() < w.mark) return false;
  wait.clear();
  return true;
}

void ElasticThread::poll_adopted() {
  for (AdoptedQueue &a : adopted_) {
    if (!a.wait.empty() && !passed(a.wait)) {
      drained_all_ = false;  // its frames are not taken yet
      continue;
    }
    // Buffers of the parked thread's pool that others freed: the device
    // refills the queue's ring from that pool.
    a.pool->reclaim();
    const uint16_t n = dev_.rx_burst(a.queue, rx_batch_.data(), cfg_.batch);
    if (n == cfg_.batch) drained_all_ = false;
    stats_.rx_frames += n;
    stats_.adopted_rx += n;
    for (uint16_t i = 0; i < n; ++i) {
      mem::Mbuf *m = rx_batch_[i];
      // A copy in this thread's pool: the parked thread's buffer goes back
      // to its pool now (this thread stands in for its owner), so nothing
      // of that pool is held when the owner resumes.
      mem::Mbuf *c = nullptr;
      if (m->next == nullptr) {
        c = copy_frame_to_pool(*pool_, {m->data(), m->data_len});
      } else if (m->pkt_len <= adopt_scratch_.size()) {
        m->copy_out(adopt_scratch_.data());
        c = copy_frame_to_pool(*pool_, {adopt_scratch_.data(), m->pkt_len});
      }
      if (c != nullptr) {
        c->ol_flags = m->ol_flags;
        c->rss_hash = m->rss_hash;
      }
      mem::MbufPool::free_chain(m);
      if (c == nullptr) {
        ++stats_.adopted_nombuf;
        continue;
      }
      if ((steer_ || holding_ != 0) && steer_away(c)) continue;
      stack_->input(c);
    }
  }
}

}  // namespace ix::core
