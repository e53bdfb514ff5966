// ix-scribbler: a hostile application for the protected-mode tests. It
// attaches to ixd like any application (--dataplane PATH), then:
//   1. checks that its receive regions are out of its reach: a writable
//      mapping or mprotect fails, and a child that writes one dies of SIGSEGV;
//   2. sends commands through run_io that the dataplane must refuse: guessed
//      handles (other applications' connections among them), a listen on a
//      port another application holds, unknown operations;
//   3. for --scribble-ms: writes random bytes over every shared page it can
//      write (its channels and its send region) and posts batches of
//      plausible garbage by bumping the channel's request word itself.
// It prints one summary line; the dataplane's counters (logged when it
// detaches) say what was refused.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ipc/channel.hh"
#include "ix/app.hh"
#include "ix/syscall.h"

namespace {

struct Region {
  unsigned char *base;
  size_t bytes;
  std::string perms, name;
};

std::vector<Region> shared_regions() {
  std::vector<Region> out;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("memfd:ix-") == std::string::npos) continue;
    std::istringstream in(line);
    std::string range, perms, off, dev, inode, name;
    in >> range >> perms >> off >> dev >> inode >> name;
    const auto dash = range.find('-');
    const uintptr_t lo = std::stoull(range.substr(0, dash), nullptr, 16);
    const uintptr_t hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    out.push_back({reinterpret_cast<unsigned char *>(lo), hi - lo, perms, name});
  }
  return out;
}

int check_recv_regions_read_only(const std::vector<Region> &regions) {
  int checked = 0;
  for (const Region &r : regions) {
    if (r.name.find("ix-recv") == std::string::npos) continue;
    if (r.perms.find('w') != std::string::npos) {
      std::printf("scribbler: FAIL: receive region mapped writable (%s)\n", r.perms.c_str());
      return -1;
    }
    if (mprotect(r.base, r.bytes, PROT_READ | PROT_WRITE) == 0) {
      std::printf("scribbler: FAIL: mprotect made a receive region writable\n");
      return -1;
    }
    const pid_t child = fork();
    if (child == 0) {
      signal(SIGSEGV, SIG_DFL);
      volatile unsigned char *p = r.base;
      p[0] = 0xff;  // must fault
      _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFSIGNALED(status) || (WTERMSIG(status) != SIGSEGV && WTERMSIG(status) != SIGBUS)) {
      std::printf("scribbler: FAIL: a write to a receive region did not fault\n");
      return -1;
    }
    ++checked;
  }
  return checked;
}

uint64_t guessed_handle(std::mt19937_64 &rng) {
  // slot | generation << 24 | flow group << 48 | thread << 60 (io_context.hh)
  return (rng() % 64) | ((1 + rng() % 3) << 24) | ((rng() % 128) << 48);
}

void scribbler(ix_ctx *ctx, const ix::AppOptions &opts) {
  std::mt19937_64 rng(std::stoull(opts.at("seed")));
  const auto regions = shared_regions();
  const int ro = check_recv_regions_read_only(regions);
  if (ro <= 0) {
    std::printf("scribbler: FAIL: no receive region checked\n");
    std::fflush(stdout);
    _exit(1);
  }

  // Refused commands through the regular interface.
  uint64_t refused = 0, sent = 0;
  for (int round = 0; round < 200; ++round) {
    std::vector<ix_cmd> cmds(32);
    for (ix_cmd &c : cmds) {
      c = ix_cmd{};
      switch (rng() % 5) {
        case 0:
          c.op = IX_CMD_TCP_CLOSE;
          c.u.tcp_conn.handle = guessed_handle(rng);
          break;
        case 1:
          c.op = IX_CMD_TCP_ABORT;
          c.u.tcp_conn.handle = guessed_handle(rng);
          break;
        case 2:
          c.op = IX_CMD_TCP_RECV_DONE;
          c.u.tcp_recv_done.handle = guessed_handle(rng);
          c.u.tcp_recv_done.bytes = rng() % 4096;
          break;
        case 3:
          c.op = IX_CMD_TCP_LISTEN;
          c.u.tcp_listen.port = static_cast<uint16_t>(std::stoul(opts.at("steal-port")));
          break;
        default:
          c.op = static_cast<uint16_t>(100 + rng() % 50);
          break;  // no such operation
      }
    }
    ix_event evs[64];
    ix_run_io(ctx, cmds.data(), cmds.size(), evs, 64);
    for (const ix_cmd &c : cmds) {
      ++sent;
      if (c.result < 0) ++refused;
    }
  }

  // Garbage over every writable shared page, and batches posted by hand.
  std::vector<Region> chans, writable;
  for (const Region &r : regions) {
    if (r.perms.find('w') == std::string::npos) continue;
    writable.push_back(r);
    if (r.name.find("ix-channel") != std::string::npos) chans.push_back(r);
  }
  std::vector<ix::ipc::ChannelLayout> layouts;
  std::vector<ix::ipc::ChannelLimits> limits;
  for (const Region &c : chans) {
    const auto *h = reinterpret_cast<const ix::ipc::ChannelHeader *>(c.base);
    limits.push_back({h->max_cmds, h->max_iovs, h->max_events});
    layouts.push_back(ix::ipc::ChannelLayout::of(limits.back()));
  }
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(std::stoul(opts.at("scribble-ms")));
  uint64_t batches = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (const Region &r : writable)
      for (size_t i = 0; i + 8 <= r.bytes; i += 8) {
        const uint64_t v = rng();
        std::memcpy(r.base + i, &v, 8);
      }
    for (size_t k = 0; k < chans.size(); ++k) {
      auto *h = reinterpret_cast<ix::ipc::ChannelHeader *>(chans[k].base);
      auto *cmds = reinterpret_cast<ix_cmd *>(chans[k].base + layouts[k].cmds);
      const uint16_t ops[] = {
          IX_CMD_TCP_SENDV,    IX_CMD_UDP_SEND,      IX_CMD_TCP_CLOSE, IX_CMD_UDP_RECV_DONE,
          ix::ipc::kCmdRxFree, IX_CMD_TCP_RECV_DONE, IX_CMD_TCP_ABORT, 77};
      for (uint32_t i = 0; i < std::min<uint32_t>(limits[k].max_cmds, 256); ++i) {
        ix_cmd c{};
        c.op = ops[rng() % std::size(ops)];
        c.u.raw[0] = rng() % 2 ? guessed_handle(rng) : rng();
        // A reference past its region, or into no region at all.
        c.u.raw[1] =
            rng() % 2 ? ix::ipc::make_ref(ix::ipc::Region::kSend, rng() % (1ull << 40)) : rng();
        c.u.raw[2] = rng() % 2 ? rng() % 100000 : rng();
        if (c.op == IX_CMD_UDP_SEND) {
          c.u.udp_send.data = reinterpret_cast<const void *>(uintptr_t{c.u.raw[1]});
          c.u.udp_send.len = 1000;
          c.u.udp_send.src_port = 5000;
          c.u.udp_send.dst = ix_endpoint{0x0a4d0001, 9, 0};
        }
        cmds[i] = c;
      }
      h->ncmds = static_cast<uint32_t>(rng());
      h->events_wanted = static_cast<uint32_t>(rng());
      h->request.store(static_cast<uint32_t>(rng()));
      ++batches;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::printf(
      "scribbler: %d receive regions read-only; %llu of %llu commands refused; %llu batches of "
      "garbage over %zu writable regions\n",
      ro, static_cast<unsigned long long>(refused), static_cast<unsigned long long>(sent),
      static_cast<unsigned long long>(batches), writable.size());
  std::fflush(stdout);
  // The channel is garbage now: this process cannot use it again; leave.
  _exit(refused == sent ? 0 : 3);
}

}  // namespace

int main(int argc, char **argv) {
  static const ix::AppOption options[] = {
      {"seed", "1", "random seed", true, 0, 1'000'000'000},
      {"steal-port", "7", "a port another application listens on", true, 1, 65535},
      {"scribble-ms", "2000", "how long to write garbage", true, 0, 600'000},
  };
  return ix::run_app("ix-scribbler", argc, argv, options, scribbler);
}
