#include "api/remote_moves.hh"

#include <utility>

namespace ix::api {

void MoveDesk::deposit(const MoveKey &k, RemoteConn &&c) {
  std::lock_guard<std::mutex> lock(mu_);
  deposited_.emplace(k, std::move(c));
  deposits_.fetch_add(1, std::memory_order_release);
}

bool MoveDesk::take(const MoveKey &k, RemoteConn *out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = deposited_.find(k);
  if (it == deposited_.end()) return false;
  *out = std::move(it->second);
  deposited_.erase(it);
  return true;
}

void MoveDesk::hand_back(const RemotePiece &p, bool rx) {
  if (p.alloc == 0 || p.owner >= inbox_.size()) return;
  std::lock_guard<std::mutex> lock(mu_);
  Inbox &in = inbox_[p.owner];
  (rx ? in.items.rx : in.items.send).push_back(p.alloc);
  in.pending.store(true, std::memory_order_release);
}

MoveDesk::Returned MoveDesk::take_returns(unsigned t) {
  std::lock_guard<std::mutex> lock(mu_);
  Inbox &in = inbox_[t];
  in.pending.store(false, std::memory_order_relaxed);
  return std::exchange(in.items, Returned{});
}

}  // namespace ix::api
