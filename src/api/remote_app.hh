// ix::run_app in protected mode: attach to the dataplane process at
// cfg.dataplane, map the shared regions it hands over, and run the
// application's loop on one thread per elastic thread of the dataplane, each
// with a RemoteContext. The NIC, the stack and their settings are the
// dataplane's.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "api/remote_context.hh"
#include "api/remote_moves.hh"
#include "config/config.hh"
#include "ipc/attach.hh"
#include "ipc/shared_region.hh"
#include "ix/app.hh"

namespace ix::api {

// An application attached to the dataplane process: the socket, the shared
// regions mapped, and one RemoteContext per elastic thread (sharing one
// MoveDesk). Detaches when destroyed (the dataplane then resets whatever
// connections are left).
class AttachedApp {
 public:
  // nullptr with *err set (naming the socket and what to do) if the
  // dataplane cannot be reached, refuses, or answers malformed.
  static std::unique_ptr<AttachedApp> attach(const std::string &socket_path, const char *name,
                                             const std::atomic<bool> *stop, std::string *err);
  ~AttachedApp();
  AttachedApp(const AttachedApp &) = delete;
  AttachedApp &operator=(const AttachedApp &) = delete;

  unsigned threads() const { return static_cast<unsigned>(ctxs_.size()); }
  uint32_t app_id() const { return welcome_.app_id; }
  RemoteContext &context(unsigned t) { return *ctxs_[t]; }
  // A context found the dataplane gone (exited or killed).
  bool dataplane_gone() const;

 private:
  AttachedApp() = default;
  int sock_ = -1;
  ipc::Welcome welcome_{};
  ipc::Mapping send_;
  std::vector<ipc::Mapping> channels_, recvs_;
  std::unique_ptr<MoveDesk> desk_;
  std::vector<std::unique_ptr<RemoteContext>> ctxs_;
};

// Returns the process exit code: 0, or 1 when the dataplane cannot be
// reached or refuses (the message names the socket and what to do).
int run_attached(const char *program, const config::DataplaneConfig &cfg,
                 const AppOptions &app_values, const ThreadMain &thread_main);

}  // namespace ix::api
