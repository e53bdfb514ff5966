#include "control/control_server.hh"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ix::control {

namespace {

std::runtime_error failure(const std::string &path, const std::string &what) {
  return std::runtime_error("control_socket " + path + ": " + what + ": " + std::strerror(errno));
}

sockaddr_un unix_address(const std::string &path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof a.sun_path)
    throw std::runtime_error("control_socket '" + path + "': a path of 1.." +
                             std::to_string(sizeof a.sun_path - 1) + " bytes is needed");
  std::memcpy(a.sun_path, path.data(), path.size());
  return a;
}

// A socket file nobody listens on any more (a dataplane that did not exit
// cleanly) may be replaced; a live one or any other file may not.
void clear_stale_socket(const std::string &path, const sockaddr_un &a) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return;  // nothing there
  if (!S_ISSOCK(st.st_mode))
    throw std::runtime_error("control_socket " + path + ": exists and is not a socket");
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) throw failure(path, "socket");
  const bool live = connect(probe, reinterpret_cast<const sockaddr *>(&a), sizeof a) == 0;
  close(probe);
  if (live)
    throw std::runtime_error("control_socket " + path +
                             ": another process is serving it (is a dataplane running?)");
  unlink(path.c_str());
}

bool send_all(int fd, const std::string &s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

ControlServer::ControlServer(std::string path, Handler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {
  const sockaddr_un a = unix_address(path_);
  clear_stale_socket(path_, a);
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw failure(path_, "socket");
  // Owner only from the start: the socket file takes its mode from the umask.
  const mode_t old_mask = umask(077);
  const int bound = bind(listen_fd_, reinterpret_cast<const sockaddr *>(&a), sizeof a);
  umask(old_mask);
  if (bound != 0 || listen(listen_fd_, 16) != 0) {
    const std::runtime_error e = failure(path_, bound != 0 ? "bind" : "listen");
    close(listen_fd_);
    if (bound == 0) unlink(path_.c_str());
    throw e;
  }
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) {
    const std::runtime_error e = failure(path_, "eventfd");
    close(listen_fd_);
    unlink(path_.c_str());
    throw e;
  }
  thread_ = std::thread([this] { serve(); });
}

ControlServer::~ControlServer() {
  const uint64_t one = 1;
  if (write(stop_fd_, &one, sizeof one) < 0) {
  }  // cannot fail on a fresh eventfd; nothing else to do if it did
  thread_.join();
  close(stop_fd_);
  close(listen_fd_);
  unlink(path_.c_str());
}

void ControlServer::serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;  // the client gave up already, or no memory: serve the next
    serve_client(fd);
    close(fd);
  }
}

void ControlServer::serve_client(int fd) {
  // A silent or slow client must not hold the server for long.
  timeval tv{};
  tv.tv_sec = kClientTimeout.count() / 1000;
  tv.tv_usec = static_cast<suseconds_t>(kClientTimeout.count() % 1000 * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string line;
  char buf[512];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      send_all(fd, "error: no command received\n");
      return;
    }
    if (n == 0) break;  // the command may end at EOF without a newline
    line.append(buf, static_cast<size_t>(n));
    if (line.find('\n') != std::string::npos) break;
    if (line.size() > kMaxLine) {
      send_all(fd, "error: command line longer than " + std::to_string(kMaxLine) + " bytes\n");
      return;
    }
  }
  const size_t nl = line.find('\n');
  if (nl != std::string::npos) line.resize(nl);
  if (line.size() > kMaxLine) {
    send_all(fd, "error: command line longer than " + std::to_string(kMaxLine) + " bytes\n");
    return;
  }
  std::string answer;
  try {
    answer = handler_(line);
  } catch (const std::exception &e) {
    answer = std::string("error: ") + e.what() + "\n";
  }
  send_all(fd, answer);
}

}  // namespace ix::control
