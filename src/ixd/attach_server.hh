// The dataplane process's front door: a Unix SOCK_SEQPACKET socket where
// applications attach. Its own thread accepts an application, creates its
// shared regions (Session), hands them over with the reply, posts the
// session to every elastic thread, and watches the application's socket:
// when it closes (exit, crash, kill -9) the session is marked gone, the
// elastic threads let go of it (resetting its connections and returning its
// buffers), and the server frees it and logs its counters.
#pragma once

#include <atomic>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "ixd/serve_loop.hh"
#include "ixd/session.hh"

namespace ix::ixd {

class AttachServer {
 public:
  // Binds `path` (replacing a stale socket file) and starts the thread.
  // Throws std::system_error if the socket cannot be made.
  AttachServer(std::string path, unsigned threads, const SessionConfig &cfg,
               std::vector<PortMailbox> &mailboxes, std::ostream &log);
  // Stops the thread and frees every session: call once the elastic
  // threads have returned (they let go of their ports first).
  ~AttachServer();

  // Applications attached now, and ever.
  unsigned attached() const { return attached_.load(); }
  uint64_t total_attached() const { return total_.load(); }

 private:
  void run();
  void attach(int fd);
  void reap();

  std::string path_;
  unsigned threads_;
  SessionConfig cfg_;
  std::vector<PortMailbox> &mailboxes_;
  std::ostream &log_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::vector<std::unique_ptr<Session>> sessions_;  // the server thread's only
  uint32_t next_id_ = 1;
  std::atomic<unsigned> attached_{0};
  std::atomic<uint64_t> total_{0};
  std::thread thread_;
};

}  // namespace ix::ixd
