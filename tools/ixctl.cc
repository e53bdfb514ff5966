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
#include <cstdio>
#include <string>

#include "control_client.hh"

namespace {

int usage(const char *argv0) {
  std::fprintf(stderr,
               "usage: %s SOCKET COMMAND [ARGS]\n"
               "  commands: conns, conns json, stats, help (and ixcp's: groups, status, ...)\n"
               "  SOCKET is the dataplane's --control-socket path\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 3) return usage(argv[0]);
  const std::string path = argv[1];
  if (path == "-h" || path == "--help") return usage(argv[0]), 0;
  std::string line;
  for (int i = 2; i < argc; ++i) line += (i > 2 ? " " : "") + std::string(argv[i]);
  return ix::tools::ask("ixctl", path, line);
}
