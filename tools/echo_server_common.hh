// What the Linux echo servers (linux-tcp-echo, linux-uring-echo) share: the
// command line every one of them takes (--port N [--seconds S]), stopping on
// SIGINT/SIGTERM, and the listening socket. Header-only: each tool is one
// .cc compiled on its own.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <utility>

namespace echo_server {

// Set by SIGINT/SIGTERM; the server loop ends when it sees it.
inline volatile sig_atomic_t g_stop = 0;

inline void stop_on_signals() {
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = 1; };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

struct Args {
  long port = -1;
  double seconds = 0;  // 0: until a signal
};

// Parses --port N (required) and --seconds S. `switches` are the tool's
// options without a value (each sets its bool); `option(key, value)` parses
// the tool's options with a value and returns false for a key it does not
// know. `usage(message)` reports a bad command line and does not return.
template <class Option>
Args parse_args(int argc, char **argv,
                std::initializer_list<std::pair<const char *, bool *>> switches,
                void (*usage)(const char *), Option option) {
  // usage() does not return; exiting here too keeps that true for any
  // caller (a function pointer cannot carry [[noreturn]] in every compiler).
  auto fail = [usage](const char *message) {
    usage(message);
    std::exit(2);
  };
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    bool is_switch = false;
    for (const auto &[name, flag] : switches) {
      if (k == name) {
        *flag = true;
        is_switch = true;
      }
    }
    if (is_switch) continue;
    if (i + 1 >= argc) fail(("missing value for " + k).c_str());
    char *end = nullptr;
    if (k == "--port") {
      a.port = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || a.port < 1 || a.port > 65535) fail("--port must be 1..65535");
    } else if (k == "--seconds") {
      a.seconds = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(a.seconds >= 0)) fail("--seconds must be a non-negative number");
    } else if (!option(k, argv[++i])) {
      fail(("unknown argument " + k).c_str());
    }
  }
  if (a.port < 0) fail("--port is required");
  return a;
}

// A TCP socket listening on every address at `port`, SO_REUSEADDR so a
// restarted server can bind at once; `type_flags` adds SOCK_NONBLOCK etc.
// Returns -1 (errno set) on failure.
inline int listen_tcp(long port, int type_flags) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | type_flags, 0);
  if (fd < 0) return -1;
  int one = 1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || listen(fd, 4096) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// Whether the server should keep running: no stop signal, and the --seconds
// limit (if any) not reached.
class RunUntil {
 public:
  explicit RunUntil(double seconds)
      : seconds_(seconds),
        end_(std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds)) {}
  bool running() const {
    return !g_stop && (seconds_ <= 0 || std::chrono::steady_clock::now() < end_);
  }

 private:
  double seconds_;
  // In fractional nanoseconds, as now() + a duration<double> is.
  decltype(std::chrono::steady_clock::now() + std::chrono::duration<double>()) end_;
};

}  // namespace echo_server
