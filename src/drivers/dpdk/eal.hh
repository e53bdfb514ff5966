// The DPDK Environment Abstraction Layer, initialised once per process.
//
// rte_eal_init may run only once in a process's life (a second call fails
// even after rte_eal_cleanup, and a failed call cannot be retried), so every
// DPDK port of a process shares one set of EAL arguments: the first
// init_eal() decides them, a later call with the same arguments is a no-op
// and one with different arguments is an error that says so.
#pragma once

#include <string>
#include <string_view>

namespace ix::drivers {

// Initialises the EAL with `args` (see DpdkConfig::eal_args) unless it already
// is. Throws std::runtime_error naming the arguments, the EAL's error and the
// usual fixes when initialisation fails, and std::invalid_argument when the
// EAL already runs with other arguments.
void init_eal(std::string_view args);

// The arguments the EAL was initialised with; empty if it is not.
std::string eal_args_in_use();

// Makes the calling thread an EAL thread (rte_thread_register) so that
// mempool operations use a per-lcore cache. Elastic threads are created by
// IX, not by the EAL, and without a registration every mbuf alloc/free goes
// to the mempool's shared ring (safe, as that ring is multi-producer /
// multi-consumer, but each operation is an atomic on a shared cache line).
// Cheap after the first call on a thread (one thread-local load); the
// registration is released when the thread exits. Returns false if the EAL
// has no free lcore slot (the thread then works uncached).
bool register_eal_thread();

}  // namespace ix::drivers
