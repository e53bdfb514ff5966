// One application attached to the dataplane process: its socket, its shared
// regions (created and sealed here), and the state its elastic threads and
// the attach server share. Created by the attach server; each elastic thread
// builds its own AppPort from it; destroyed by the server once every thread
// has let go of it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ipc/channel.hh"
#include "ipc/shared_region.hh"

namespace ix::ixd {

// Per-application counters, summed over its threads when it detaches.
#define IXD_APP_COUNTERS(X)                                                                  \
  X(batches)                  /* run_io calls served */                                      \
  X(commands)                 /* commands executed */                                        \
  X(rejected_bad_ref)         /* data or iovecs outside the application's regions */         \
  X(rejected_bad_handle)      /* stale, foreign (other thread or application) handles */     \
  X(rejected_invalid)         /* malformed arguments (IX_EINVAL) */                          \
  X(rejected_unknown_op)      /* commands this dataplane does not know */                    \
  X(bad_rx_frees)             /* receive-region frees of nothing the application held */     \
  X(rx_bytes_copied)          /* received bytes copied into its receive regions */           \
  X(rx_region_full)           /* deliveries postponed: its receive region was full */        \
  X(udp_dropped)              /* datagrams dropped: region full or backlog over its cap */   \
  X(conns_moved_out)          /* its connections that left a thread with their flow group */ \
  X(conns_moved_in)           /* ... and arrived at another */                               \
  X(rx_copied_at_move)        /* received bytes still owed to it, copied when they moved */  \
  X(rx_held_at_detach)        /* received buffers its connections held in the engine then */ \
  X(rx_region_live_at_detach) /* receive-region allocations it had not freed then */         \
  X(turns_cut_short)          /* turns that ended at cmds_per_turn, its batch unfinished */

struct AppCounters {
#define IXD_DECLARE(name) uint64_t name = 0;
  IXD_APP_COUNTERS(IXD_DECLARE)
#undef IXD_DECLARE
  void add(const AppCounters &o) {
#define IXD_ADD(name) name += o.name;
    IXD_APP_COUNTERS(IXD_ADD)
#undef IXD_ADD
  }
  std::string to_string() const;
};

struct SessionConfig {
  ipc::ChannelLimits limits;
  uint64_t send_region_bytes = 64ull << 20;  // whole application, split between threads
  uint64_t recv_region_bytes = 16ull << 20;  // per thread
  // Received buffers an application's connections may hold in the engine
  // on each thread (data it has not taken yet): beyond, their windows close
  // (TcpEvents::set_rx_buffer_quota). 0: a quarter of the thread's pool.
  uint32_t rx_buffers = 0;
  // Connections one application may have on each thread (opening and
  // waiting to be accepted included; TcpEvents::set_connection_quota).
  // 0: half of the thread's connection table.
  uint32_t max_conns = 0;
  // TCP listeners and UDP bindings one application may hold on each thread
  // (LocalContext::set_port_quota). 0: half of the thread's listener table.
  uint32_t max_ports = 0;
  // Units of one application's batch (a command; a SENDV one more per 16
  // iovecs) an elastic thread runs per turn before it serves the others
  // and polls; the rest waits for its next turn (it is answered when all
  // ran). Bounds the time one application's big batches take from the
  // others. 0: whole batches.
  uint32_t cmds_per_turn = 256;
};

class Session {
 public:
  // Creates the regions for `threads` elastic threads and maps the
  // dataplane's side of them. Throws std::system_error if it cannot.
  Session(uint32_t id, int sock, int pid, std::string name, unsigned threads,
          const SessionConfig &cfg);
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  uint32_t id() const { return id_; }
  int sock() const { return sock_; }
  int pid() const { return pid_; }
  const std::string &name() const { return name_; }
  unsigned threads() const { return static_cast<unsigned>(channels_.size()); }
  const SessionConfig &config() const { return cfg_; }

  // Descriptors to hand to the application, in ipc::Welcome's order.
  std::vector<int> fds_for_app() const;

  ipc::ChannelHeader *channel(unsigned t) const {
    return reinterpret_cast<ipc::ChannelHeader *>(channels_[t].data());
  }
  unsigned char *channel_base(unsigned t) const { return channels_[t].data(); }
  const ipc::Mapping &send_region() const { return send_; }
  const ipc::Mapping &recv_region(unsigned t) const { return recvs_[t]; }

  // Set by the attach server when the application's socket closes; read by
  // the elastic threads once per loop iteration (a relaxed load).
  std::atomic<bool> gone{false};
  // Threads that have not yet let go of their AppPort (set to threads()
  // before the session is handed to them). Each adds its counters under
  // counters_mu (once, at detach) before it drops this.
  std::atomic<unsigned> ports_live{0};
  std::mutex counters_mu;
  AppCounters counters;

 private:
  uint32_t id_;
  int sock_;
  int pid_;
  std::string name_;
  SessionConfig cfg_;
  int send_fd_ = -1;
  std::vector<int> channel_fds_, recv_fds_;
  ipc::Mapping send_;
  std::vector<ipc::Mapping> channels_, recvs_;
};

}  // namespace ix::ixd
