// The dataplane's control socket (--control-socket PATH): a Unix stream
// socket served by a thread of its own, never by an elastic thread. Each
// connection carries one command line and gets one answer, after which the
// server closes it (`ixctl PATH conns` is such a client). Clients are served
// one at a time; one that sends nothing within kClientTimeout, or a line
// longer than kMaxLine, gets an error line. The socket file is made
// readable and writable by its owner only: it shows every connection.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace ix::control {

class ControlServer {
 public:
  using Handler = std::function<std::string(std::string_view line)>;
  static constexpr size_t kMaxLine = 4096;
  static constexpr std::chrono::milliseconds kClientTimeout{2000};

  // Binds and listens at `path` (a socket file left there by a dataplane
  // that is gone is replaced; anything else there is refused) and starts
  // serving with `handler`. Throws std::runtime_error saying what failed.
  ControlServer(std::string path, Handler handler);
  // Stops serving and removes the socket file.
  ~ControlServer();
  ControlServer(const ControlServer &) = delete;
  ControlServer &operator=(const ControlServer &) = delete;

  const std::string &path() const { return path_; }

 private:
  void serve();
  void serve_client(int fd);

  std::string path_;
  Handler handler_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: wakes the server thread to stop
  std::thread thread_;
};

}  // namespace ix::control
