// The guard around bursts that read a peer's shared memory (net_memif): a
// fault inside it becomes a failed call, the thread goes on (and catches the
// next one too), and a fault anywhere else still kills the process.
#include "drivers/dpdk/peer_memory_guard.hh"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ix::drivers {
namespace {

// One page the test can take away: unmapped, or its file shrunk under it.
class PeerPage {
 public:
  PeerPage() {
    fd_ = memfd_create("peer-page", 0);
    if (fd_ >= 0 && ftruncate(fd_, page()) == 0)
      p_ = static_cast<volatile uint8_t *>(
          mmap(nullptr, page(), PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0));
  }
  ~PeerPage() {
    if (mapped()) munmap(const_cast<uint8_t *>(p_), page());
    if (fd_ >= 0) close(fd_);
  }
  bool mapped() const { return p_ != nullptr && p_ != MAP_FAILED; }
  volatile uint8_t *at() const { return p_; }
  void make_unreadable() { mprotect(const_cast<uint8_t *>(p_), page(), PROT_NONE); }
  void shrink_file() { ASSERT_EQ(ftruncate(fd_, 0), 0); }
  static size_t page() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

 private:
  int fd_ = -1;
  volatile uint8_t *p_ = nullptr;
};

TEST(PeerMemoryGuard, AFaultInsideBecomesAFailedCallAndTheThreadGoesOn) {
  install_peer_memory_guard();
  PeerPage page;
  ASSERT_TRUE(page.mapped());
  page.at()[0] = 7;
  int read = 0;
  EXPECT_TRUE(guarded([&] { read = page.at()[0]; }));
  EXPECT_EQ(read, 7);

  page.make_unreadable();      // SIGSEGV, as after the peer's rings are unmapped
  for (int i = 0; i < 3; ++i)  // each time: the signal is not left blocked
    EXPECT_FALSE(guarded([&] { read = page.at()[0]; })) << "fault " << i;
}

TEST(PeerMemoryGuard, APeerShrinkingItsFileIsCaughtToo) {
  install_peer_memory_guard();
  PeerPage page;
  ASSERT_TRUE(page.mapped());
  page.shrink_file();  // SIGBUS on the next access
  int read = 0;
  EXPECT_FALSE(guarded([&] { read = page.at()[0]; }));
  EXPECT_TRUE(guarded([&] { read = 1; }));
  EXPECT_EQ(read, 1);
}

class PeerMemoryGuardDeathTest : public ::testing::Test {
 protected:
  PeerMemoryGuardDeathTest() : style_(GTEST_FLAG_GET(death_test_style)) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
  }
  ~PeerMemoryGuardDeathTest() override { GTEST_FLAG_SET(death_test_style, style_); }

 private:
  std::string style_;
};

TEST_F(PeerMemoryGuardDeathTest, AFaultOutsideAGuardedCallStillKills) {
  EXPECT_DEATH(
      {
        install_peer_memory_guard();
        PeerPage page;
        page.make_unreadable();
        [[maybe_unused]] volatile uint8_t v = page.at()[0];
      },
      "");
}

// Only the kernel's fault report is taken for a peer's doing: a SIGSEGV
// another process sends (here the thread itself) during a guarded call is
// not swallowed as a failed call.
TEST_F(PeerMemoryGuardDeathTest, ASentSignalIsNotTakenForAFault) {
  EXPECT_DEATH(
      {
        install_peer_memory_guard();
        guarded([] { raise(SIGSEGV); });
        std::fprintf(stderr, "survived\n");
        std::exit(0);
      },
      "");
}

}  // namespace
}  // namespace ix::drivers
