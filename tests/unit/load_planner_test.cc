// ix-load's run planning: --search against a synthetic server whose p99
// grows with the rate, and the scan and single-run plans.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "load/load_options.hh"
#include "load/run_planner.hh"

namespace ix::load {
namespace {

LoadConfig config_with(const std::vector<std::string> &args) {
  std::vector<std::string> argv = {"ix-load", "--server", "10.0.0.1:11211"};
  argv.insert(argv.end(), args.begin(), args.end());
  OptionValues values;
  bool help = false;
  EXPECT_EQ(parse_args(argv, values, help), "");
  LoadConfig c;
  EXPECT_EQ(config_from(values, c), "");
  return c;
}

// A server that keeps p99 at 100 us up to 40,000/s and then degrades.
RunSummary fake_run(double rate, int index) {
  RunSummary s;
  s.index = index;
  s.target_rate = rate;
  s.seconds = 1;
  s.counters.issued = s.counters.completed = static_cast<uint64_t>(rate);
  s.achieved_rate = rate;
  s.p99 = s.p99_due = rate <= 40000 ? 100 : 100 + (rate - 40000);
  return s;
}

TEST(LoadPlanner, SearchSweepsUpThenBisectsToTheHighestPassingRate) {
  const LoadConfig c = config_with(
      {"--rate", "100000", "--search", "500", "--search-sweep", "3", "--search-steps", "6"});
  RunPlanner planner(c);
  int runs = 0;
  std::vector<double> rates;
  while (auto next = planner.next()) {
    rates.push_back(next->rate);
    planner.record(fake_run(next->rate, ++runs));
  }
  ASSERT_GE(rates.size(), 4u);
  EXPECT_EQ(rates[0], 12500);  // 100k / 2^3, then upward
  EXPECT_EQ(rates[1], 25000);
  const auto v = planner.verdict();
  ASSERT_TRUE(v && v->best);
  const double best = rates[*v->best];
  EXPECT_LE(best, 40400);  // passes: p99 <= 500 up to 40,400/s
  EXPECT_GE(best * v->knee_ratio, 40400);
  EXPECT_LE(v->knee_ratio, std::pow(2.0, 1.0 / 64) + 1e-9);  // six halvings of log 2
}

TEST(LoadPlanner, SearchFromClosedLoopUsesItsThroughputAsTheTop) {
  const LoadConfig c = config_with({"--rate", "0", "--search", "500", "--search-sweep", "2"});
  RunPlanner planner(c);
  auto first = planner.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->rate, 0);
  EXPECT_EQ(first->phase, "search-max");
  RunSummary closed = fake_run(0, 1);
  closed.achieved_rate = 60000;
  planner.record(closed);
  auto second = planner.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->rate, 15000);
  EXPECT_EQ(second->phase, "search-sweep");
}

TEST(LoadPlanner, ARunThatSkipsOrFallsShortOfItsRateDoesNotPass) {
  const LoadConfig c = config_with({"--rate", "30000", "--search", "500"});
  RunPlanner planner(c);
  RunSummary s = fake_run(30000, 1);
  s.achieved_rate = 20000;  // good p99 only because most requests never went out
  EXPECT_FALSE(planner.passes(s));
  s = fake_run(30000, 1);
  s.p99_due = std::numeric_limits<double>::infinity();  // skipped: beyond the bound
  EXPECT_FALSE(planner.passes(s));
  s = fake_run(30000, 1);
  s.counters.conn_failures = 1;
  EXPECT_FALSE(planner.passes(s));
  EXPECT_TRUE(planner.passes(fake_run(30000, 1)));
}

TEST(LoadPlanner, ScanAndSingleRun) {
  RunPlanner scan(config_with({"--scan", "1000:3000:1000"}));
  std::vector<double> rates;
  while (auto n = scan.next()) {
    rates.push_back(n->rate);
    scan.record(fake_run(n->rate, static_cast<int>(rates.size())));
  }
  EXPECT_EQ(rates, (std::vector<double>{1000, 2000, 3000}));
  RunPlanner one(config_with({"--rate", "777"}));
  auto n = one.next();
  ASSERT_TRUE(n);
  EXPECT_EQ(n->rate, 777);
  one.record(fake_run(777, 1));
  EXPECT_FALSE(one.next());
}

// --steps: --time seconds at each rate, cut into runs of --interval seconds.
TEST(LoadPlanner, StepsCutIntoIntervals) {
  const LoadConfig c =
      config_with({"--steps", "1000,9000,1000", "--time", "2", "--interval", "0.5"});
  EXPECT_DOUBLE_EQ(c.time_s, 0.5);
  RunPlanner steps(c);
  std::vector<double> rates;
  while (auto n = steps.next()) {
    EXPECT_EQ(n->phase, "step");
    rates.push_back(n->rate);
    steps.record(fake_run(n->rate, static_cast<int>(rates.size())));
  }
  EXPECT_EQ(rates, (std::vector<double>{1000, 1000, 1000, 1000, 9000, 9000, 9000, 9000, 1000, 1000,
                                        1000, 1000}));
}

TEST(LoadOptions, BadValuesNameTheOption) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--conns", "0"}, "conns"},
      {{"--rate", "-5"}, "rate"},
      {{"--workload", "zipf"}, "workload"},
      {{"--keysize", "gev:1"}, "keysize"},
      {{"--update", "2"}, "update"},
      {{"--arrival", "poisson"}, "arrival"},
      {{"--scan", "5:1:1"}, "scan"},
      {{"--steps", "1000,x"}, "steps"},
      {{"--steps", "1000", "--interval", "9"}, "interval"},
      {{"--interval", "1"}, "interval"},
      {{"--search", "-1"}, "search"},
      {{"--pin", "a,b"}, "pin"},
      {{"--preload", "maybe"}, "preload"},
      {{"--time", "0"}, "time"},
      {{"--server", "nohost"}, "server"},
      {{"--transport", "dpdk"}, "transport"},
  };
  for (const auto &[args, name] : cases) {
    std::vector<std::string> argv = {"ix-load", "--server", "10.0.0.1:11211"};
    argv.insert(argv.end(), args.begin(), args.end());
    OptionValues values;
    bool help = false;
    ASSERT_EQ(parse_args(argv, values, help), "");
    LoadConfig c;
    const std::string err = config_from(values, c);
    EXPECT_EQ(err.rfind(name + ":", 0), 0u) << err;
  }
  OptionValues values;
  bool help = false;
  EXPECT_NE(parse_args({"ix-load", "--dev", "ix0"}, values, help), "");
  EXPECT_NE(parse_args({"ix-load", "--conns"}, values, help), "");
  // A bare --preload means 1.
  char a0[] = "ix-load", a1[] = "--preload", a2[] = "--rate", a3[] = "5";
  char *argv[] = {a0, a1, a2, a3};
  const auto norm = normalize_flags(4, argv);
  EXPECT_EQ(norm[1], "--preload=1");
}

}  // namespace
}  // namespace ix::load
