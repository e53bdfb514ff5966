// ixcp: the control plane's commands on a running dataplane (its
// --control-socket PATH): what runs where, and where it should run.
//
//   ixcp PATH status        threads in service, flow groups per thread and
//                           their load signals, then the policy's (--elastic)
//   ixcp PATH cores N       run on elastic threads 0..N-1, park the others
//   ixcp PATH move G T      flow group G to elastic thread T
//   ixcp PATH park T        take thread T (owning no group) out of service
//   ixcp PATH resume T
//
// Exit status: 0 when done, 1 when the dataplane refused (its error line
// says why), 2 for a usage error or when the socket cannot be reached.
#include <cstdio>
#include <cstring>
#include <string>

#include "control_client.hh"

namespace {

int usage(const char *argv0) {
  std::fprintf(stderr,
               "usage: %s SOCKET status | cores N | move GROUP THREAD | park THREAD | "
               "resume THREAD\n"
               "  SOCKET is the dataplane's --control-socket path\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0))
    return usage(argv[0]), 0;
  if (argc < 3) return usage(argv[0]);
  const std::string cmd = argv[2];
  const int want = cmd == "status"                                      ? 0
                   : cmd == "cores" || cmd == "park" || cmd == "resume" ? 1
                   : cmd == "move"                                      ? 2
                                                                        : -1;
  if (want < 0) {
    std::fprintf(stderr, "ixcp: unknown command '%s'\n", cmd.c_str());
    return usage(argv[0]);
  }
  if (argc != 3 + want) {
    std::fprintf(stderr, "ixcp: %s takes %d argument%s\n", cmd.c_str(), want, want == 1 ? "" : "s");
    return usage(argv[0]);
  }
  std::string line = cmd;
  for (int i = 3; i < argc; ++i) line += " " + std::string(argv[i]);
  return ix::tools::ask("ixcp", argv[1], line);
}
