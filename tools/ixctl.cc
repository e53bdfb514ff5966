// ixctl: asks a running dataplane through its control socket
// (--control-socket PATH) and prints the answer.
//
//   ixctl PATH conns         one line per TCP connection (like ss -ti)
//   ixctl PATH conns json    the same as JSON
//   ixctl PATH stats         every elastic thread's counters as JSON
//   ixctl PATH help          the commands the dataplane knows
//
// Exit status: 0 when answered, 1 when the dataplane answered with an
// error line, 2 for a usage error or when the socket cannot be reached.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

int usage(const char *argv0) {
  std::fprintf(stderr,
               "usage: %s SOCKET COMMAND [ARGS]\n"
               "  commands: conns, conns json, stats, help\n"
               "  SOCKET is the dataplane's --control-socket path\n",
               argv0);
  return 2;
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

int main(int argc, char **argv) {
  if (argc < 3) return usage(argv[0]);
  const std::string path = argv[1];
  if (path == "-h" || path == "--help") return usage(argv[0]), 0;
  std::string line;
  for (int i = 2; i < argc; ++i) {
    if (std::strchr(argv[i], '\n') != nullptr) {
      std::fprintf(stderr, "ixctl: a command cannot contain a newline\n");
      return 2;
    }
    line += (i > 2 ? " " : "") + std::string(argv[i]);
  }
  line += '\n';

  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) {
    std::fprintf(stderr, "ixctl: socket path longer than %zu bytes: %s\n", sizeof a.sun_path - 1,
                 path.c_str());
    return 2;
  }
  std::memcpy(a.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::fprintf(stderr, "ixctl: socket: %s\n", std::strerror(errno));
    return 2;
  }
  if (connect(fd, reinterpret_cast<const sockaddr *>(&a), sizeof a) != 0) {
    std::fprintf(stderr,
                 "ixctl: cannot connect to %s: %s (is the dataplane running with "
                 "--control-socket %s?)\n",
                 path.c_str(), std::strerror(errno), path.c_str());
    close(fd);
    return 2;
  }
  if (!send_all(fd, line)) {
    std::fprintf(stderr, "ixctl: sending to %s: %s\n", path.c_str(), std::strerror(errno));
    close(fd);
    return 2;
  }
  shutdown(fd, SHUT_WR);

  // The answer is everything until the dataplane closes the connection.
  std::string answer;
  char buf[65536];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::fprintf(stderr, "ixctl: reading from %s: %s\n", path.c_str(), std::strerror(errno));
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
