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

void on_fault(int sig, siginfo_t *info, void *ucontext) {
  if (sigjmp_buf *env = peer_memory_guard_detail::t_env; env != nullptr) siglongjmp(*env, 1);
  // Not ours: the handler before us decides (returning re-runs the faulting
  // instruction under it; under the default action the process dies there).
  const struct sigaction &prev = sig == SIGSEGV ? g_previous_segv : g_previous_bus;
  if ((prev.sa_flags & SA_SIGINFO) != 0 && prev.sa_sigaction != nullptr) {
    prev.sa_sigaction(sig, info, ucontext);
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN &&
             prev.sa_handler != nullptr) {
    prev.sa_handler(sig);
  } else {
    sigaction(sig, &prev, nullptr);
  }
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
