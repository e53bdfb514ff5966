// The stats JSON carries every counter group of every thread, TCP's included.
#include "core/stats_report.hh"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace ix::core {
namespace {

TEST(StatsReport, JsonHasTheTcpCountersOfEachThread) {
  ThreadSnapshot a, b;
  a.tcp.retransmits = 7;
  a.tcp.challenge_acks_suppressed = 3;
  b.tcp.fin_wait2_timeouts = 2;
  std::ostringstream os;
  write_json(os, {a, b}, nullptr);
  const std::string j = os.str();
  const size_t first = j.find("\"tcp\":{");
  ASSERT_NE(first, std::string::npos) << j;
  const size_t second = j.find("\"tcp\":{", first + 1);
  ASSERT_NE(second, std::string::npos) << "one tcp object per thread";
  EXPECT_NE(j.find("\"retransmits\":7"), std::string::npos);
  EXPECT_NE(j.find("\"challenge_acks_suppressed\":3"), std::string::npos);
  EXPECT_NE(j.find("\"fin_wait2_timeouts\":2", second), std::string::npos);
  EXPECT_EQ(j.find("\"tcp.retransmits\""), std::string::npos) << "names without the prefix";
}

}  // namespace
}  // namespace ix::core
