// Runs a call that reads memory a peer process maps into ours and may take
// away at any moment, and turns a fault there into a failed call instead of
// a crash.
//
// Why: DPDK 22.11's net_memif maps the peer's shared rings and buffers, and
// when the peer disconnects the EAL's interrupt thread unmaps them while
// the elastic thread may be inside rx_burst or tx_burst (the PMD locates its
// ring, and copies from the peer's buffers, with no lock against the
// teardown); a peer may also shrink its memfd under us (SIGBUS). A faulting
// access inside guarded() jumps back out of it (sigsetjmp/siglongjmp); any
// other fault, and a SIGSEGV or SIGBUS sent by a process, goes to the
// disposition that was installed before ours, with its own flags and mask
// (the process still dies on its own bugs; a sanitizer still reports them).
//
// What a fault costs: whatever the PMD had allocated in that call (at most a
// burst of rte_mbufs) is lost, since its bookkeeping was cut off half way;
// the caller counts the fault. The connection is being torn down at that
// point, and the PMD resets its rings when the peer connects again.
#pragma once

#include <atomic>
#include <csetjmp>
#include <cstdint>

namespace ix::drivers {

namespace peer_memory_guard_detail {
// The jump target of this thread's guarded call (null outside one).
extern thread_local sigjmp_buf *t_env;
void after_fault();
}  // namespace peer_memory_guard_detail

// Installs the SIGSEGV and SIGBUS handlers (once per process; thread-safe).
void install_peer_memory_guard();

// Runs f(); false if a SIGSEGV or SIGBUS inside it was caught (f did not
// finish). install_peer_memory_guard() must have run. Not reentrant.
template <class F>
bool guarded(F &&f) {
  sigjmp_buf env;
  // No signal mask saved (that would be a system call per call): the
  // handler's blocked SIGSEGV/SIGBUS are unblocked by after_fault().
  if (sigsetjmp(env, 0) != 0) {
    peer_memory_guard_detail::t_env = nullptr;
    peer_memory_guard_detail::after_fault();
    return false;
  }
  // The fences keep the compiler from moving the stores across f() (the
  // handler reads t_env on this thread).
  peer_memory_guard_detail::t_env = &env;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  f();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  peer_memory_guard_detail::t_env = nullptr;
  return true;
}

}  // namespace ix::drivers
