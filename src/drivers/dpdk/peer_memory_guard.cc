#include "drivers/dpdk/peer_memory_guard.hh"

#include <pthread.h>
#include <signal.h>

#include <mutex>

namespace ix::drivers {

namespace peer_memory_guard_detail {
thread_local sigjmp_buf *t_env = nullptr;

void after_fault() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGSEGV);
  sigaddset(&s, SIGBUS);
  pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
}
}  // namespace peer_memory_guard_detail

namespace {

struct sigaction g_previous_segv {};
struct sigaction g_previous_bus {};

void on_fault(int sig, siginfo_t *info, void *) {
  // Only a fault the kernel raised for an access (si_code > 0), not a
  // signal another process sent, cuts a guarded call short.
  if (sigjmp_buf *env = peer_memory_guard_detail::t_env; env != nullptr && info->si_code > 0)
    siglongjmp(*env, 1);
  // Not ours: the earlier disposition takes over, as the kernel would apply
  // it (its mask and flags). A fault re-runs its instruction when we return;
  // a sent signal is raised again (pending until we return). Our guard is
  // gone from then on, for a process that is dying or whose earlier handler
  // chose otherwise.
  sigaction(sig, sig == SIGSEGV ? &g_previous_segv : &g_previous_bus, nullptr);
  if (info->si_code <= 0) raise(sig);
}

}  // namespace

void install_peer_memory_guard() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = &on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_previous_segv);
    sigaction(SIGBUS, &sa, &g_previous_bus);
  });
}

}  // namespace ix::drivers
