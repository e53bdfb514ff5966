#include "drivers/dpdk/eal.hh"

#include <pthread.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <sched.h>

#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "drivers/dpdk/dpdk_config.hh"

namespace ix::drivers {

namespace {

// Set-up only (never on the fast path): guards the one initialisation.
std::mutex g_eal_mu;
bool g_eal_tried = false;
std::string g_eal_args;
std::string g_eal_error;  // set when the one attempt failed

std::string describe_args(std::string_view args) {
  return args.empty() ? std::string("(no arguments)") : "'" + std::string(args) + "'";
}

// The thread that calls rte_eal_init becomes the EAL's main lcore and is
// pinned to that lcore's CPU. IX's main thread only starts and watches the
// elastic threads (which pin themselves), so it keeps the affinity it had.
class AffinityKeeper {
 public:
  AffinityKeeper() { ok_ = pthread_getaffinity_np(pthread_self(), sizeof set_, &set_) == 0; }
  ~AffinityKeeper() {
    if (ok_) pthread_setaffinity_np(pthread_self(), sizeof set_, &set_);
  }

 private:
  cpu_set_t set_{};
  bool ok_ = false;
};

struct EalThreadRegistration {
  bool tried = false;
  bool registered = false;  // the thread has an lcore id (ours or the EAL's)
  bool owned = false;       // we registered it, so we release it
  ~EalThreadRegistration() {
    if (owned) rte_thread_unregister();
  }
};
thread_local EalThreadRegistration t_registration;

}  // namespace

void init_eal(std::string_view args) {
  std::lock_guard<std::mutex> lock(g_eal_mu);
  if (g_eal_tried) {
    if (!g_eal_error.empty())
      throw std::runtime_error(g_eal_error +
                               " (the EAL cannot be initialised twice in one process; restart "
                               "the program with corrected arguments)");
    if (args != g_eal_args)
      throw std::invalid_argument(
          "dpdk_args: the DPDK EAL already runs in this process with " + describe_args(g_eal_args) +
          ", not " + describe_args(args) +
          "; it can be initialised only once per process, so every DPDK port of a process "
          "must use the same dpdk_args");
    return;
  }
  std::vector<std::string> words = split_eal_args(args);
  words.insert(words.begin(), "ix");
  std::vector<char *> argv;
  for (std::string &w : words) argv.push_back(w.data());
  argv.push_back(nullptr);

  g_eal_tried = true;
  int rc = 0;
  {
    AffinityKeeper keep;
    rc = rte_eal_init(static_cast<int>(words.size()), argv.data());
  }
  if (rc < 0) {
    const int err = rte_errno;
    g_eal_error = "dpdk: EAL initialisation failed with " + describe_args(args) + ": " +
                  rte_strerror(err) +
                  " (see the EAL: lines above). Usual fixes: without huge pages pass "
                  "--no-huge -m 512; with no PCI device bound to vfio-pci/uio pass --no-pci "
                  "and a --vdev; when another DPDK process runs give each its own "
                  "--file-prefix NAME; a real NIC needs -a BUS:DEV.FN and a "
                  "driver bound with dpdk-devbind.py";
    throw std::runtime_error(g_eal_error);
  }
  g_eal_args = std::string(args);
}

std::string eal_args_in_use() {
  std::lock_guard<std::mutex> lock(g_eal_mu);
  return g_eal_error.empty() ? g_eal_args : std::string();
}

bool register_eal_thread() {
  EalThreadRegistration &r = t_registration;
  if (__builtin_expect(r.tried, 1)) return r.registered;
  r.tried = true;
  if (rte_lcore_id() != LCORE_ID_ANY) {
    r.registered = true;  // an EAL thread already (e.g. the main lcore): nothing to release
    return true;
  }
  if (rte_thread_register() == 0) {
    r.registered = r.owned = true;
    return true;
  }
  std::fprintf(stderr,
               "dpdk: warning: cannot register thread as an EAL lcore (%s); its mempool "
               "operations go to the shared ring without a per-lcore cache\n",
               rte_strerror(rte_errno));
  return false;
}

}  // namespace ix::drivers
