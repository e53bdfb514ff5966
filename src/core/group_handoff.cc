// An elastic thread's steps in a flow-group move (the protocol is in
// group_move.hh). Each runs on the thread itself, between batches, as a
// control task's step: the thread's connections, views and queues are
// touched only by it.
#include <memory>

#include "core/elastic_thread.hh"
#include "core/group_move.hh"

namespace ix::core {

void ElasticThread::expect_group(uint16_t group, uint16_t from) {
  if (group >= hold_from_.size() || hold_from_[group] != 0) return;
  hold_from_[group] = static_cast<uint16_t>(from + 1);
  parcel_in_[group] = 0;
  ++holding_;
}

bool ElasticThread::release_group(uint16_t group, uint16_t to, bool *refused) {
  *refused = false;
  FrameLink *link = to < fwd_out_.size() ? fwd_out_[to] : nullptr;
  if (link == nullptr || group >= flows_->groups()) {
    *refused = true;
    return false;
  }
  // The parcel goes behind every frame already waiting for `to`.
  if (!outbox_empty(to) || !link->has_room()) return false;
  auto parcel = std::make_unique<GroupParcel>();
  parcel->group = group;
  if (stack_->tcp().export_group(group, parcel->conns) != 0) {
    *refused = true;
    return false;
  }
  // Room was checked and only this thread pushes on the link.
  link->push_marker(FrameLink::Marker{kParcelMarker, group, parcel.release()});
  set_group_owner(group, to);
  ++stats_.groups_out;
  return true;
}

void ElasticThread::abandon_group(uint16_t group) {
  if (group >= hold_from_.size() || hold_from_[group] == 0) return;
  hold_from_[group] = 0;
  parcel_in_[group] = 0;
  --holding_;
  auto &q = held_[group];
  for (mem::Mbuf *m : q)
    if (!steer_away(m)) stack_->input(m);
  q.clear();
}

void ElasticThread::set_group_owner(uint16_t group, uint16_t owner) {
  if (group >= flows_->groups()) return;
  flows_->set_owner(group, owner);
  steer_ = false;
  for (uint16_t g = 0; g < flows_->groups(); ++g) steer_ = steer_ || !flows_->owns_group(g);
}

bool ElasticThread::flush_groups(std::span<const uint16_t> groups, uint16_t to,
                                 uint64_t not_before_ns) {
  if (groups.empty()) return true;
  const uint16_t group = groups.front();
  // A poll that started after the switch (and the settling time) comes
  // first; then marks on the RX queue and on every in-link say how far this
  // thread must read to have taken every frame steered or forwarded to it
  // before the switch. It reads that far at its own pace: a busy thread
  // whose every poll returns a full batch gets there within a ring's worth
  // of frames, however long its queue stays busy.
  if (last_poll_start_ns_ < not_before_ns) return false;
  if (flush_group_ != group || flush_not_before_ != not_before_ns) {
    flush_group_ = group;
    flush_not_before_ = not_before_ns;
    flush_pushed_ = 0;
    flush_rx_mark_ = dev_.rx_mark(cfg_.queue);
    // Queues of parked siblings polled here count as this thread's own.
    flush_adopted_marks_.clear();
    for (const AdoptedQueue &a : adopted_) {
      const uint64_t mark = dev_.rx_mark(a.queue);
      if (mark == drivers::Device::kNoRxMark) flush_rx_mark_ = mark;  // then: a drained poll
      flush_adopted_marks_.push_back({a.queue, mark});
    }
    flush_link_marks_.assign(fwd_in_.size(), 0);
    for (size_t i = 0; i < fwd_in_.size(); ++i)
      if (fwd_in_[i] != nullptr) flush_link_marks_[i] = fwd_in_[i]->pushed();
    return false;  // at least one more poll
  }
  bool passed = flush_rx_mark_ == drivers::Device::kNoRxMark
                    ? drained_all_
                    : dev_.rx_passed(cfg_.queue, flush_rx_mark_);
  if (flush_rx_mark_ != drivers::Device::kNoRxMark)
    for (const auto &[queue, mark] : flush_adopted_marks_)
      passed = passed && dev_.rx_passed(queue, mark);
  for (size_t i = 0; i < fwd_in_.size() && passed; ++i)
    if (fwd_in_[i] != nullptr) passed = fwd_in_[i]->consumed() >= flush_link_marks_[i];
  if (!passed) return false;
  // What held for the marks holds for every group moving with them; a full
  // link takes the rest of the markers at a later step.
  FrameLink *link = to < fwd_out_.size() ? fwd_out_[to] : nullptr;
  if (!outbox_empty(to)) return false;  // the markers go behind those frames
  for (; flush_pushed_ < groups.size() && link != nullptr; ++flush_pushed_)
    if (!link->push_marker(FrameLink::Marker{kFlushedMarker, groups[flush_pushed_], nullptr}))
      return false;
  flush_group_ = -1;
  return true;
}

int ElasticThread::held_group_of(const mem::Mbuf *m) const {
  const net::FrameFlow f = net::parse_frame_flow({m->data(), m->data_len});
  if (f.kind != net::FrameFlow::kIpv4L4) return -1;
  const uint16_t g = flows_->group_of_flow(f.src, f.dst, f.sport, f.dport);
  return hold_from_[g] != 0 ? g : -1;
}

void ElasticThread::hold(uint16_t group, mem::Mbuf *m) {
  auto &q = held_[group];
  if (q.size() >= kMaxHeldPerGroup) {
    ++stats_.move_held_dropped;
    mem::MbufPool::free_chain(m);
    return;
  }
  ++stats_.move_held;
  q.push_back(m);  // control path: the vector keeps its capacity across moves
}

void ElasticThread::on_marker(unsigned from, const FrameLink::Marker &mk) {
  const uint16_t g = mk.group;
  if (mk.kind == kParcelMarker) {
    std::unique_ptr<GroupParcel> parcel(static_cast<GroupParcel *>(mk.parcel));
    if (g >= flows_->groups()) return;
    // The connections carry times read by the old owner (segments' send
    // times, timer deadlines); this thread's iteration time may be older
    // than those. A fresh read is not: the export happened before the pop.
    refresh_clock();
    stack_->tcp().import_conns(parcel->conns, move_map_, move_map_arg_);
    set_group_owner(g, flows_->self());
    if (hold_from_[g] == from + 1) parcel_in_[g] = 1;
    ++stats_.groups_in;
    return;
  }
  if (mk.kind == kFlushedMarker && g < flows_->groups() && hold_from_[g] == from + 1)
    release_held(g);
}

void ElasticThread::release_held(uint16_t group) {
  hold_from_[group] = 0;
  parcel_in_[group] = 0;
  --holding_;
  auto &q = held_[group];
  for (mem::Mbuf *m : q) stack_->input(m);
  q.clear();
}

}  // namespace ix::core
