// The XDP tests run in a network namespace of their own (and a mount
// namespace, to see its interfaces in /sys), so the veth pairs they create
// never touch the host's interfaces and vanish with the process.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (geteuid() != 0) {
    std::fprintf(stderr,
                 "ix_xdp_tests: needs root (it creates a network namespace and veth "
                 "pairs, and attaches XDP); run it with sudo\n");
    return 1;
  }
  if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0 ||
      mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      umount2("/sys", MNT_DETACH) != 0 || mount("sysfs", "/sys", "sysfs", 0, nullptr) != 0) {
    std::fprintf(stderr, "ix_xdp_tests: cannot enter a private network namespace: %s\n",
                 std::strerror(errno));
    return 1;
  }
  return RUN_ALL_TESTS();
}
