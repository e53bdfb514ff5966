// linux-udp-echo: a UDP echo server on the Linux socket API, the peer IX is
// compared with. It batches with recvmmsg/sendmmsg (the best a plain socket
// server can do) and can busy-poll instead of sleeping in the kernel.
//
//   linux-udp-echo --port 7 [--seconds N] [--busy-poll]
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {
volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char **argv) {
  int port = 7;
  double seconds = 0;
  bool busy = false;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--port" && i + 1 < argc)
      port = std::atoi(argv[++i]);
    else if (k == "--seconds" && i + 1 < argc)
      seconds = std::atof(argv[++i]);
    else if (k == "--busy-poll")
      busy = true;
    else {
      std::fprintf(stderr, "usage: linux-udp-echo --port N [--seconds S] [--busy-poll]\n");
      return 2;
    }
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    std::perror("linux-udp-echo: bind");
    return 1;
  }
  int big = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  constexpr int kBatch = 64;
  std::vector<std::vector<char>> bufs(kBatch, std::vector<char>(65536));
  std::vector<iovec> iov(kBatch);
  std::vector<sockaddr_in> peers(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  unsigned long total = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!g_stop && (seconds <= 0 || std::chrono::steady_clock::now() < end)) {
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {bufs[i].data(), bufs[i].size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &peers[i];
      msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
    }
    if (!busy) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
    }
    int n = recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) continue;
    for (int i = 0; i < n; ++i) iov[i].iov_len = msgs[i].msg_len;
    sendmmsg(fd, msgs.data(), n, 0);
    total += n;
  }
  std::printf("linux-udp-echo: echoed %lu datagrams\n", total);
  close(fd);
  return 0;
}
