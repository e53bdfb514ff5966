// The client side of a dataplane's control socket (--control-socket PATH):
// one command line out, the answer (everything until the dataplane closes
// the connection) in. Shared by ixctl and ixcp.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace ix::tools {

inline bool send_all(int fd, const std::string &s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Sends `line` (without its newline) and prints the answer on stdout.
// Exit status as ixctl documents: 0 answered, 1 an error line, 2 no answer.
inline int ask(const char *prog, const std::string &path, const std::string &line) {
  if (line.find('\n') != std::string::npos) {
    std::fprintf(stderr, "%s: a command cannot contain a newline\n", prog);
    return 2;
  }
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) {
    std::fprintf(stderr, "%s: socket path longer than %zu bytes: %s\n", prog, sizeof a.sun_path - 1,
                 path.c_str());
    return 2;
  }
  std::memcpy(a.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::fprintf(stderr, "%s: socket: %s\n", prog, std::strerror(errno));
    return 2;
  }
  if (connect(fd, reinterpret_cast<const sockaddr *>(&a), sizeof a) != 0) {
    std::fprintf(stderr,
                 "%s: cannot connect to %s: %s (is the dataplane running with "
                 "--control-socket %s?)\n",
                 prog, path.c_str(), std::strerror(errno), path.c_str());
    close(fd);
    return 2;
  }
  if (!send_all(fd, line + "\n")) {
    std::fprintf(stderr, "%s: sending to %s: %s\n", prog, path.c_str(), std::strerror(errno));
    close(fd);
    return 2;
  }
  shutdown(fd, SHUT_WR);
  std::string answer;
  char buf[65536];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::fprintf(stderr, "%s: reading from %s: %s\n", prog, path.c_str(), std::strerror(errno));
      close(fd);
      return 2;
    }
    if (n == 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  std::fwrite(answer.data(), 1, answer.size(), stdout);
  const bool error =
      answer.rfind("error: ", 0) == 0 || answer.find("\nerror: ") != std::string::npos;
  return error ? 1 : 0;
}

}  // namespace ix::tools
