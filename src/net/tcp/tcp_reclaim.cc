// Out-of-order data is the one thing an engine holds that nobody is waiting
// for: the sender keeps every byte until it is cumulatively acknowledged
// (RFC 2018 8 lets a receiver give up what it SACKed). So when the pool
// gets down to its holding limit, the buffers held for reassembly on every
// connection go back, each connection's highest sequence first (the last
// to be needed), before reception itself can starve: the engine-wide cap
// (TcpConfig::ooo_max_segments_total) bounds how much there is, this makes
// sure it is given back when the pool needs it.
#include <algorithm>

#include "net/tcp/tcp.hh"

namespace ix::net::tcp {

namespace {
constexpr uint32_t kEnd = UINT32_MAX;
}  // namespace

void Tcp::sync_ooo_listing(Tcb &t) {
  stats_.ooo_held_peak = std::max<uint64_t>(stats_.ooo_held_peak, ooo_held_);
  // In the list: linked behind another, or its head.
  const bool listed = t.ooo_prev != kEnd || ooo_list_ == t.slot;
  if (!t.ooo.empty() && !listed) {
    t.ooo_prev = kEnd;
    t.ooo_next = ooo_list_;
    if (ooo_list_ != kEnd) table_.at(ooo_list_).ooo_prev = t.slot;
    ooo_list_ = t.slot;
  } else if (t.ooo.empty() && listed) {
    if (t.ooo_prev != kEnd) {
      table_.at(t.ooo_prev).ooo_next = t.ooo_next;
    } else {
      ooo_list_ = t.ooo_next;
    }
    if (t.ooo_next != kEnd) table_.at(t.ooo_next).ooo_prev = t.ooo_prev;
    t.ooo_prev = t.ooo_next = kEnd;
  }
}

void Tcp::reclaim_out_of_order() {
  // Round by round, the highest segment of each connection in the list,
  // until the pool is off its holding limit and out of pressure (not just
  // off the limit, so that the next few segments do not bring it straight
  // back), or nothing is held. At most the shortfall to half the pool is
  // freed per call: segments that came with a connection moved from another
  // thread go back to that thread's pool and relieve nothing here, and must
  // not make the engine strip every connection in one go.
  const mem::MbufPool &pool = ctx_.pool;
  const int64_t shortfall = int64_t{pool.stack_capacity()} / 2 - pool.stack_free();
  int64_t budget = std::max<int64_t>(shortfall, int64_t{2} * pool.rx_reserve()) + 1;
  auto short_of_buffers = [&pool] { return pool.holding_limit() || pool.under_pressure(); };
  while (ooo_list_ != kEnd && budget > 0 && short_of_buffers()) {
    for (uint32_t i = ooo_list_; i != kEnd && budget > 0 && short_of_buffers();) {
      Tcb &t = table_.at(i);
      i = t.ooo_next;
      const uint32_t freed = t.ooo.prune_highest(1);
      ooo_held_ -= freed;
      stats_.ooo_pruned += freed;
      budget -= freed;
      sync_ooo_listing(t);
    }
  }
  ++stats_.ooo_reclaims;
}

}  // namespace ix::net::tcp
