#include "config/config.hh"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "config/option_table.hh"

namespace ix::config {
namespace {

// The message, if it contains `part`; a failure showing both otherwise.
::testing::AssertionResult Contains(const std::string &message, const std::string &part) {
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected to find \"" << part << "\" in:\n" << message;
}

// Runs parse_args on {"ix-test", args...}.
ParseResult parse(std::vector<std::string> args, DataplaneConfig &out,
                  std::span<const AppOption> app = {}) {
  std::vector<const char *> argv = {"ix-test"};
  for (const std::string &a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  return parse_args(static_cast<int>(argv.size() - 1), argv.data(), app, out);
}

// Minimal flags for a valid loop-driver configuration.
std::vector<std::string> base_flags(std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"--driver", "loop", "--host-addr", "10.0.0.2/24"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::string write_temp_file(const std::string &name, const std::string &text) {
  std::string path = ::testing::TempDir() + "ix_config_test_" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Expects parsing to fail with a message containing every one of `parts`.
void expect_error(const ParseResult &r, std::initializer_list<std::string> parts) {
  EXPECT_EQ(r.status, ParseResult::kError) << r.message;
  for (const std::string &p : parts) EXPECT_TRUE(Contains(r.message, p));
}

// Help text wraps long lines; this undoes the wrapping for comparisons.
std::string collapse_spaces(const std::string &s) {
  std::string out;
  for (char c : s) {
    bool space = c == ' ' || c == '\n';
    if (space && !out.empty() && out.back() == ' ') continue;
    out += space ? ' ' : c;
  }
  return out;
}

const std::vector<AppOption> kAppOptions = {
    {"port", "11211", "TCP port to listen on"},
    {"max_conns", "1000", "most connections accepted"},
    {"greeting", "", "text sent on connect"},
};

TEST(ConfigDefaults, MatchTheDocumentedValues) {
  DataplaneConfig c;
  EXPECT_EQ(c.driver, "xdp");
  EXPECT_EQ(c.xdp_mode, "auto");
  EXPECT_EQ(c.xdp_attach, "auto");
  EXPECT_EQ(c.cores, std::vector<int>{0});
  EXPECT_EQ(c.queues, 0);
  EXPECT_EQ(c.prefix_len, 24);
  EXPECT_EQ(c.batch, 64);
  EXPECT_EQ(c.mbufs_per_core, 0u);  // derived
  EXPECT_EQ(pool_size(c), 8192u);
  EXPECT_EQ(c.tcp_rcv_buf, 256u * 1024);
  EXPECT_EQ(c.tcp_snd_buf, 256u * 1024);
  EXPECT_EQ(c.flow_groups, 128);
  EXPECT_EQ(c.mtu, 0);
  EXPECT_EQ(c.run_seconds, 0.0);
  // A default config lacks the required host address and device.
  EXPECT_TRUE(Contains(validate(c), "driver 'xdp' needs --dev"));
  c.device = "eth0";
  EXPECT_TRUE(Contains(validate(c), "host_addr is required"));
  c.host_addr = net::ipv4(10, 0, 0, 2);
  EXPECT_EQ(validate(c), "");
}

TEST(ConfigFile, EveryKeyIsRead) {
  DataplaneConfig c;
  ParseResult r = parse_config_text(R"(# IX-style config
driver = "xdp"
device = veth0
xdp_mode = copy
xdp_attach = 'native'
cpu = [0, 1]
queues = 4
host_addr = "192.168.1.10/16"
gateway_addr = 192.168.0.1
batch = 32
mbufs = 4096
flow_groups = 256
mtu = 1400
stats_file = "/tmp/stats.json"
run_seconds = 2.5
)",
                                    "test.conf", {}, c);
  ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
  EXPECT_EQ(c.driver, "xdp");
  EXPECT_EQ(c.device, "veth0");
  EXPECT_EQ(c.xdp_mode, "copy");
  EXPECT_EQ(c.xdp_attach, "native");
  EXPECT_EQ(c.cores, (std::vector<int>{0, 1}));
  EXPECT_EQ(c.queues, 4);
  EXPECT_EQ(c.host_addr, net::ipv4(192, 168, 1, 10));
  EXPECT_EQ(c.prefix_len, 16);
  EXPECT_EQ(c.gateway, net::ipv4(192, 168, 0, 1));
  EXPECT_EQ(c.batch, 32);
  EXPECT_EQ(c.mbufs_per_core, 4096u);
  EXPECT_EQ(c.flow_groups, 256);
  EXPECT_EQ(c.mtu, 1400);
  EXPECT_EQ(c.stats_file, "/tmp/stats.json");
  EXPECT_EQ(c.run_seconds, 2.5);
  EXPECT_EQ(validate(c), "");
}

TEST(ConfigFile, IxSyntaxVariantsAreAccepted) {
  DataplaneConfig c;
  // IX's own spellings: devices as a list, cpu without brackets, trailing
  // semicolons, comments after values, CRLF line endings, no spaces.
  ParseResult r = parse_config_text(
      "devices=[\"eth1\"];\r\n"
      "cpu=0,1   # two cores\r\n"
      "host_addr=\"10.0.0.2/24\";\n"
      "   \n"
      "\t# indented comment\n"
      "stats_file = \"/tmp/a#b\"  # the # inside quotes stays\n"
      "host-addr-ignored-line-below = 1\n",
      "ix.conf", {}, c);
  // The last line is an unknown key: everything before it was applied.
  expect_error(r, {"line 7", "unknown key 'host-addr-ignored-line-below'"});
  EXPECT_EQ(c.device, "eth1");
  EXPECT_EQ(c.cores, (std::vector<int>{0, 1}));
  EXPECT_EQ(c.host_addr, net::ipv4(10, 0, 0, 2));
  EXPECT_EQ(c.stats_file, "/tmp/a#b");
}

TEST(ConfigFile, DashesAndUnderscoresAreAlike) {
  DataplaneConfig c;
  ParseResult r = parse_config_text(
      "host-addr = 10.1.2.3/8\nflow-groups = 64\nmbufs_per_core = 1024\n", "f", {}, c);
  ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
  EXPECT_EQ(c.host_addr, net::ipv4(10, 1, 2, 3));
  EXPECT_EQ(c.prefix_len, 8);
  EXPECT_EQ(c.flow_groups, 64);
  EXPECT_EQ(c.mbufs_per_core, 1024u);
}

TEST(ConfigFlags, EveryFlagIsRead) {
  DataplaneConfig c;
  ParseResult r = parse(
      {"--driver",     "xdp",           "--dev",         "veth1",      "--xdp-mode", "zerocopy",
       "--xdp-attach", "native",        "--cpu",         "1,0",        "--queues",   "2",
       "--host-addr",  "172.16.0.5/12", "--gateway",     "172.16.0.1", "--batch",    "128",
       "--mbufs",      "16384",         "--flow-groups", "512",        "--mtu",      "9000",
       "--stats-file", "/tmp/s.json",   "--seconds",     "10"},
      c);
  ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
  EXPECT_EQ(c.driver, "xdp");
  EXPECT_EQ(c.device, "veth1");
  EXPECT_EQ(c.xdp_mode, "zerocopy");
  EXPECT_EQ(c.xdp_attach, "native");
  EXPECT_EQ(c.cores, (std::vector<int>{1, 0}));
  EXPECT_EQ(c.queues, 2);
  EXPECT_EQ(c.host_addr, net::ipv4(172, 16, 0, 5));
  EXPECT_EQ(c.prefix_len, 12);
  EXPECT_EQ(c.gateway, net::ipv4(172, 16, 0, 1));
  EXPECT_EQ(c.batch, 128);
  EXPECT_EQ(c.mbufs_per_core, 16384u);
  EXPECT_EQ(c.flow_groups, 512);
  EXPECT_EQ(c.mtu, 9000);
  EXPECT_EQ(c.stats_file, "/tmp/s.json");
  EXPECT_EQ(c.run_seconds, 10.0);
}

TEST(ConfigFlags, EqualsFormAndAliases) {
  DataplaneConfig c;
  ParseResult r = parse({"--driver=xdp", "--device=eth2", "--cpu=[3]", "--host_addr=10.9.9.9/24",
                         "--gateway-addr=10.9.9.1", "--run-seconds=0.25", "--batch=1",
                         "--mbufs-per-core=64", "--tcp-rcv-buf=65536", "--stats-file="},
                        c);
  ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
  EXPECT_EQ(c.device, "eth2");
  EXPECT_EQ(c.cores, std::vector<int>{3});
  EXPECT_EQ(c.host_addr, net::ipv4(10, 9, 9, 9));
  EXPECT_EQ(c.gateway, net::ipv4(10, 9, 9, 1));
  EXPECT_EQ(c.run_seconds, 0.25);
  EXPECT_EQ(c.batch, 1);
  EXPECT_EQ(c.mbufs_per_core, 64u);
  EXPECT_EQ(c.stats_file, "");
}

TEST(ConfigFlags, TcpCongestionControlIsSelectable) {
  DataplaneConfig c;
  EXPECT_EQ(c.tcp_cc, "cubic");
  ParseResult r = parse({"--dev", "eth0", "--host-addr", "10.1.1.2/24", "--tcp-cc", "newreno"}, c);
  ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
  EXPECT_EQ(c.tcp_cc, "newreno");
  DataplaneConfig bad;
  r = parse({"--dev", "eth0", "--host-addr", "10.1.1.2/24", "--tcp-cc=bbr"}, bad);
  ASSERT_EQ(r.status, ParseResult::kError);
  EXPECT_TRUE(Contains(r.message, "tcp-cc"));
  EXPECT_TRUE(Contains(r.message, "bbr"));
}

TEST(ConfigFlags, IdleYieldIsAutoOrACount) {
  DataplaneConfig c;
  EXPECT_EQ(c.idle_yield, -1);  // auto
  ParseResult r = parse({"--dev", "eth0", "--host-addr", "10.1.1.2/24", "--idle-yield", "0"}, c);
  ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
  EXPECT_EQ(c.idle_yield, 0);
  r = parse({"--dev", "eth0", "--host-addr", "10.1.1.2/24", "--idle-yield=auto"}, c);
  ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
  EXPECT_EQ(c.idle_yield, -1);
  r = parse({"--dev", "eth0", "--host-addr", "10.1.1.2/24", "--idle-yield", "500"}, c);
  ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
  EXPECT_EQ(c.idle_yield, 500);
  DataplaneConfig bad;
  r = parse({"--dev", "eth0", "--host-addr", "10.1.1.2/24", "--idle-yield", "sometimes"}, bad);
  ASSERT_EQ(r.status, ParseResult::kError);
  EXPECT_TRUE(Contains(r.message, "idle-yield"));
  EXPECT_TRUE(Contains(r.message, "auto"));
}

TEST(ConfigFlags, NegativeValuesAreValuesNotFlags) {
  DataplaneConfig c;
  ParseResult r = parse(base_flags({"--cpu", "-1"}), c);
  ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
  EXPECT_EQ(c.cores, std::vector<int>{-1});
}

TEST(ConfigFlags, RepeatedFlagLastWins) {
  DataplaneConfig c;
  ASSERT_EQ(parse(base_flags({"--batch", "8", "--batch", "16"}), c).status, ParseResult::kOk);
  EXPECT_EQ(c.batch, 16);
}

TEST(ConfigFlags, OverrideTheFileWhateverTheOrder) {
  const std::string path = write_temp_file("override.conf",
                                           "driver = loop\n"
                                           "host_addr = 10.0.0.2/24\n"
                                           "batch = 16\n"
                                           "cpu = [0]\n"
                                           "mtu = 1500\n");
  {
    DataplaneConfig c;
    ParseResult r = parse({"--batch", "99", "--config", path, "--cpu", "0,1"}, c);
    ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
    EXPECT_EQ(c.batch, 99);                          // flag before --config still wins
    EXPECT_EQ(c.cores, (std::vector<int>{0, 1}));    // flag after --config wins
    EXPECT_EQ(c.mtu, 1500);                          // untouched by flags: from the file
    EXPECT_EQ(c.host_addr, net::ipv4(10, 0, 0, 2));  // from the file
  }
  {
    DataplaneConfig c;
    ParseResult r = parse({"--config=" + path}, c);
    ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
    EXPECT_EQ(c.batch, 16);
  }
}

TEST(ConfigFlags, CallerDefaultsAreKeptUnlessSet) {
  DataplaneConfig c;
  c.batch = 8;
  c.mbufs_per_core = 512;
  ASSERT_EQ(parse(base_flags({"--mbufs", "1024"}), c).status, ParseResult::kOk);
  EXPECT_EQ(c.batch, 8);
  EXPECT_EQ(c.mbufs_per_core, 1024u);
}

TEST(ConfigExample, ShippedExampleFileParsesAndValidates) {
  std::string source = __FILE__;
  std::string root = source.substr(0, source.rfind("tests/unit/"));
  DataplaneConfig c;
  ParseResult r = parse({"--config", root + "config/ix.conf.example"}, c);
  ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
  EXPECT_EQ(c.device, "veth-ix0");
  EXPECT_EQ(c.cores, (std::vector<int>{0, 1}));
  EXPECT_EQ(c.gateway, net::ipv4(10, 0, 0, 1));
}

TEST(ConfigApp, DefaultsFlagsAndFileKeys) {
  {
    DataplaneConfig c;
    ASSERT_EQ(parse(base_flags(), c, kAppOptions).status, ParseResult::kOk);
    EXPECT_EQ(c.app.at("port"), "11211");
    EXPECT_EQ(c.app.at("max_conns"), "1000");
    EXPECT_EQ(c.app.at("greeting"), "");
  }
  {
    DataplaneConfig c;
    ParseResult r = parse(base_flags({"--port", "80", "--max-conns=5", "--greeting", "hi there"}),
                          c, kAppOptions);
    ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
    EXPECT_EQ(c.app.at("port"), "80");
    EXPECT_EQ(c.app.at("max_conns"), "5");
    EXPECT_EQ(c.app.at("greeting"), "hi there");
  }
  {
    const std::string path =
        write_temp_file("app.conf", "port = 7000\nmax_conns = 9\ngreeting = \"a = b\"\n");
    DataplaneConfig c;
    ParseResult r = parse(base_flags({"--config", path, "--max_conns", "10"}), c, kAppOptions);
    ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
    EXPECT_EQ(c.app.at("port"), "7000");
    EXPECT_EQ(c.app.at("max_conns"), "10");  // flag overrides the file
    EXPECT_EQ(c.app.at("greeting"), "a = b");
  }
}

TEST(ConfigApp, BadDeclarationsAreReported) {
  DataplaneConfig c;
  std::vector<AppOption> clash = {{"batch", "1", "clashes"}};
  expect_error(parse(base_flags(), c, clash), {"'batch'", "clashes"});
  std::vector<AppOption> reserved = {{"config", "", ""}};
  expect_error(parse(base_flags(), c, reserved), {"'config'", "clashes"});
  std::vector<AppOption> twice = {{"port", "", ""}, {"port", "", ""}};
  expect_error(parse(base_flags(), c, twice), {"'port'", "twice"});
  std::vector<AppOption> bad_name = {{"po rt", "", ""}};
  expect_error(parse(base_flags(), c, bad_name), {"'po rt'", "not a valid name"});
  std::vector<AppOption> empty = {{"", "", ""}};
  expect_error(parse(base_flags(), c, empty), {"not a valid name"});
}

TEST(ConfigHelp, ListsEveryOptionDefaultAndKey) {
  DataplaneConfig c;
  for (const char *flag : {"--help", "-h"}) {
    ParseResult r = parse({"--batch", "0", flag}, c, kAppOptions);  // help wins over errors
    ASSERT_EQ(r.status, ParseResult::kHelp);
    const std::string &h = r.message;
    EXPECT_TRUE(Contains(h, "usage: ix-test"));
    for (const char *f :
         {"--config FILE", "--driver", "--dev", "--xdp-mode", "--xdp-attach", "--cpu", "--queues",
          "--host-addr", "--gateway", "--batch", "--mbufs", "--flow-groups", "--mtu",
          "--stats-file", "--seconds", "--help", "--port", "--max-conns", "--greeting"})
      EXPECT_TRUE(Contains(h, f));
    for (const OptionSpec &o : dataplane_options()) {
      EXPECT_TRUE(Contains(h, "  " + std::string(o.key))) << o.key;
      EXPECT_TRUE(Contains(collapse_spaces(h), std::string(o.help))) << o.key;
    }
    for (const char *d :
         {"[default: 64]", "[default: auto (8192)]", "[default: 262144]", "[default: 128]",
          "[default: xdp]", "[default: 11211]", "[default: 1000]", "TCP port to listen on"})
      EXPECT_TRUE(Contains(h, d));
    EXPECT_TRUE(Contains(h, "max_conns"));  // the app option's file key
  }
}

TEST(ConfigHelp, ShowsTheCallersDefaults) {
  DataplaneConfig c;
  c.batch = 32;
  ParseResult r = parse({"--help"}, c);
  ASSERT_EQ(r.status, ParseResult::kHelp);
  EXPECT_TRUE(Contains(r.message, "[default: 32]"));
}

TEST(ConfigErrors, MessagesFromTheBrief) {
  DataplaneConfig c;
  expect_error(parse_config_text("host_addr = 10.0.0.300/24\n", "x", {}, c),
               {"host_addr: '10.0.0.300/24' is not an IPv4 address with prefix (expected like "
                "10.0.0.2/24)"});
  expect_error(parse_config_text("batch = 0\n", "x", {}, c), {"batch: 0 is out of range 1..1024"});
  expect_error(parse({"--bach", "3"}, c), {"unknown option '--bach' (did you mean --batch?)"});
  expect_error(parse_config_text("# one\n\nnot a setting\n", "x", {}, c),
               {"config file 'x': line 3: expected 'key = value'"});
  expect_error(parse({"--host-addr", "10.0.0.2/24"}, c), {"driver 'xdp' needs --dev"});
}

struct BadValue {
  std::string flag;
  std::string value;
  std::vector<std::string> message_parts;
};

// Every setting's bad values, given as flags, name the flag and the value.
TEST(ConfigErrors, EveryFlagRejectsBadValues) {
  const std::vector<BadValue> cases = {
      {"--driver", "netmap", {"--driver: 'netmap' is not a known driver", "xdp, dpdk, loop"}},
      {"--dev", "[a, b]", {"--dev: '[a, b]' lists 2 names"}},
      {"--dev", "[eth0", {"--dev: '[eth0' has unbalanced brackets"}},
      {"--xdp-mode", "fast", {"--xdp-mode: 'fast'", "auto, copy, zerocopy"}},
      {"--xdp-attach", "hw", {"--xdp-attach: 'hw'", "auto, native, skb"}},
      {"--cpu", "0,a", {"--cpu: in '0,a': 'a' is not a whole number"}},
      {"--cpu", "0,,1", {"--cpu: '0,,1' has an empty entry"}},
      {"--cpu", "[]", {"--cpu: the list is empty"}},
      {"--cpu", "[0,1", {"--cpu: '[0,1' has unbalanced brackets"}},
      {"--cpu", "1024", {"--cpu: in '1024': 1024 is out of range -1..1023"}},
      {"--cpu", "-2", {"-2 is out of range -1..1023"}},
      {"--queues", "-1", {"--queues: -1 is out of range 0..1024"}},
      {"--queues", "2000", {"--queues: 2000 is out of range 0..1024"}},
      {"--host-addr", "10.0.0.2", {"--host-addr: '10.0.0.2' has no prefix length"}},
      {"--host-addr", "10.0.0.2/33", {"--host-addr: '10.0.0.2/33': prefix length '33'"}},
      {"--host-addr", "10.0.0.2/0", {"prefix length '0' is not a whole number in 1..32"}},
      {"--host-addr", "10.0.0.2/2x", {"prefix length '2x'"}},
      {"--host-addr", "host/24", {"'host/24' is not an IPv4 address with prefix"}},
      {"--gateway", "10.0.0.1/24", {"--gateway: '10.0.0.1/24' is not an IPv4 address"}},
      {"--batch", "1025", {"--batch: 1025 is out of range 1..1024"}},
      {"--batch", "0x10", {"--batch: '0x10' is not a whole number"}},
      {"--batch", "99999999999999999999999", {"'99999999999999999999999' is out of range 1..1024"}},
      {"--batch", "", {"--batch: no value given"}},
      {"--mbufs", "63", {"--mbufs: 63 is out of range 64..16777216"}},
      {"--flow-groups", "0", {"--flow-groups: 0 is out of range 1..4096"}},
      {"--mtu", "67", {"--mtu: 67 is out of range 68..9000"}},
      {"--mtu", "9001", {"--mtu: 9001 is out of range 0..9000"}},
      {"--seconds", "-1", {"--seconds: '-1' is out of range"}},
      {"--seconds", "soon", {"--seconds: 'soon' is not a number of seconds"}},
      {"--seconds", "inf", {"'inf' is not a number of seconds"}},
      {"--seconds", "nan", {"'nan' is not a number of seconds"}},
      {"--seconds", "1e300", {"is not a number of seconds"}},
  };
  for (const BadValue &b : cases) {
    SCOPED_TRACE(b.flag + " " + b.value);
    DataplaneConfig c;
    ParseResult r = parse(base_flags({b.flag, b.value}), c);
    EXPECT_EQ(r.status, ParseResult::kError);
    for (const std::string &part : b.message_parts) EXPECT_TRUE(Contains(r.message, part));
    // The same value in a config file names the key and the line.
    DataplaneConfig f;
    std::string key = b.flag.substr(2);
    ParseResult rf = parse_config_text("\n" + key + " = \"" + b.value + "\"\n", "bad.conf", {}, f);
    EXPECT_EQ(rf.status, ParseResult::kError);
    EXPECT_TRUE(Contains(rf.message, "config file 'bad.conf': line 2: " + key + ": "));
  }
}

// Values that parse alone but not together are caught by validate().
TEST(ConfigErrors, CombinationsNameTheField) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--cpu", "0,1,0"}, "cpu: CPU 0 is listed twice"},
      {{"--cpu", "0,1", "--queues", "1"}, "queues: 1 is fewer than the 2 elastic threads"},
      {{"--cpu", "0,1,2", "--flow-groups", "2"}, "flow_groups: 2 is fewer than the 3"},
      {{"--batch", "128", "--mbufs", "64"},
       "mbufs: 64 per core cannot hold a received batch and a batch of replies (batch 128) "
       "beside twice the receive-only reserve (8): use --mbufs 292 or more, or a smaller --batch"},
      {{"--batch", "64", "--mbufs", "128"}, "use --mbufs 146 or more"},
      {{"--host-addr", "10.0.0.0/24"}, "host_addr: 10.0.0.0/24 is the network address"},
      {{"--host-addr", "10.0.0.255/24"}, "host_addr: 10.0.0.255/24 is the broadcast address"},
      {{"--host-addr", "127.0.0.1/8"}, "host_addr: 127.0.0.1/8 is not a unicast host address"},
      {{"--host-addr", "224.0.0.1/24"}, "host_addr: 224.0.0.1/24 is not a unicast"},
      {{"--host-addr", "0.0.0.0/24"}, "host_addr is required"},
      {{"--gateway", "10.0.1.1"}, "gateway_addr: 10.0.1.1 is not in the host's subnet 10.0.0.0/24"},
      {{"--gateway", "10.0.0.2"}, "gateway_addr: 10.0.0.2 is the host's own address"},
      {{"--gateway", "255.255.255.255"}, "gateway_addr: 255.255.255.255 is not a unicast"},
      {{"--driver", "xdp"}, "driver 'xdp' needs --dev"},
      {{"--driver", "xdp", "--dev", "a-very-long-interface-name"},
       "device: 'a-very-long-interface-name' is longer than 15 characters"},
      {{"--dev", "eth/0"}, "device: 'eth/0' is not a valid interface name"},
      {{"--driver", "xdp", "--dev", "eth0", "--xdp-mode", "zerocopy", "--xdp-attach", "skb"},
       "xdp_mode: 'zerocopy' needs a native XDP attach"},
  };
  for (const auto &[flags, message] : cases) {
    SCOPED_TRACE(message);
    DataplaneConfig c;
    expect_error(parse(base_flags(flags), c), {message});
  }
}

TEST(ConfigErrors, CommandLineShape) {
  DataplaneConfig c;
  expect_error(parse(base_flags({"extra"}), c), {"unexpected argument 'extra'", "--help"});
  expect_error(parse(base_flags({"-b", "3"}), c), {"unexpected argument '-b'"});
  expect_error(parse(base_flags({"--"}), c), {"unexpected argument '--'"});
  expect_error(parse(base_flags({"--batch"}), c), {"--batch needs a value (e.g. --batch N)"});
  expect_error(parse(base_flags({"--batch", "--mtu", "1500"}), c), {"--batch needs a value"});
  expect_error(parse(base_flags({"--config"}), c), {"--config needs a value"});
  expect_error(parse(base_flags({"--config", "a", "--config", "b"}), c),
               {"--config is given twice"});
  expect_error(parse(base_flags({"--xdpmode", "copy"}), c), {"did you mean --xdp-mode?"});
  expect_error(parse(base_flags({"--zzzzzzzz", "1"}), c), {"unknown option '--zzzzzzzz'"});
  ParseResult far = parse(base_flags({"--zzzzzzzz", "1"}), c);
  EXPECT_FALSE(Contains(far.message, "did you mean"));
  expect_error(parse(base_flags({"--prot", "1"}), c, kAppOptions), {"did you mean --port?"});
}

TEST(ConfigErrors, FileShape) {
  DataplaneConfig c;
  expect_error(parse_config_text("= 3\n", "f", {}, c), {"line 1", "the key is missing"});
  expect_error(parse_config_text("batch = \"12\n", "f", {}, c),
               {"line 1", "batch: the quote in '\"12' is not closed"});
  expect_error(parse_config_text("bach = 3\n", "f", {}, c),
               {"line 1: unknown key 'bach' (did you mean batch?)"});
  expect_error(parse_config_text("batch = 3\nmtu = 1500\nbatch = 4\n", "f", {}, c),
               {"line 3: batch is set twice (first on line 1)"});
  expect_error(parse_config_text("device = a\ndevices = [b]\n", "f", {}, c),
               {"line 2: devices is set twice"});
  expect_error(parse_config_text("config = other.conf\n", "f", {}, c),
               {"'config' cannot be set inside a config file"});
  DataplaneConfig d;
  expect_error(parse({"--config", "/nonexistent/ix.conf"}, d),
               {"config file '/nonexistent/ix.conf': cannot open it", "No such file"});
  expect_error(parse({"--config", "/"}, d), {"config file '/': cannot read it"});
  const std::string bad =
      write_temp_file("bad_line.conf", "driver = loop\n\n\nhost_addr 10.0.0.2\n");
  expect_error(parse({"--config", bad}, d),
               {"config file '" + bad + "': line 4: expected 'key = value'"});
  const std::string big = write_temp_file("big.conf", std::string((1 << 20) + 10, '#'));
  expect_error(parse({"--config", big}, d), {"larger than 1048576 bytes"});
}

TEST(ConfigEdges, BoundaryValuesAreAccepted) {
  DataplaneConfig c;
  ParseResult r =
      parse(base_flags({"--batch",     "1024",       "--mbufs",   "16777216",  "--flow-groups",
                        "4096",        "--mtu",      "68",        "--queues",  "1024",
                        "--cpu",       "1023,-1,-1", "--seconds", "0",         "--host-addr",
                        "10.0.0.1/32", "--batch",    "+1024",     "--gateway", ""}),
            c);
  ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
  EXPECT_EQ(c.batch, 1024);
  EXPECT_EQ(c.mbufs_per_core, 16777216u);
  EXPECT_EQ(c.flow_groups, 4096);
  EXPECT_EQ(c.mtu, 68);
  EXPECT_EQ(c.queues, 1024);
  EXPECT_EQ(c.cores, (std::vector<int>{1023, -1, -1}));  // unpinned threads may repeat
  EXPECT_EQ(c.prefix_len, 32);
  EXPECT_TRUE(c.gateway.is_zero());

  DataplaneConfig d;
  r = parse(base_flags({"--batch", " 1 ", "--mtu", "0", "--host-addr", "11.0.0.1/1"}), d);
  ASSERT_EQ(r.status, ParseResult::kOk) << r.message;
  EXPECT_EQ(d.batch, 1);
  EXPECT_EQ(d.prefix_len, 1);
}

TEST(ConfigEdges, HostileInputNeverCrashesAndIsQuotedSafely) {
  std::mt19937 rng(99);
  const std::string alphabet =
      "=#\"'[],;-_ \t\n\r\x01\xff"
      "abcdehilmnopqrstuvx0123456789./";
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    size_t len = rng() % 200;
    for (size_t i = 0; i < len; ++i) text += alphabet[rng() % alphabet.size()];
    DataplaneConfig c;
    ParseResult r = parse_config_text(text, "fuzz", kAppOptions, c);
    EXPECT_NE(r.status, ParseResult::kHelp);
  }
  DataplaneConfig c;
  ParseResult r = parse({"--driver", std::string("\x01\xff") + std::string(500, 'x')}, c);
  expect_error(r, {"'\\x01\\xffxxx", "...'"});
  EXPECT_LT(r.message.size(), 200u);
}

// The pool follows the windows and the connection limit unless set.
TEST(ConfigPool, DerivedFromTheWindowsAndTheConnectionLimit) {
  DataplaneConfig c;
  // Default windows: eight of them fit the 8192 floor with room to spare.
  EXPECT_EQ(pool_size(c), kMinDerivedMbufs);
  // Large windows: eight full ones beside two batches, above twice the reserve.
  c.tcp_rcv_buf = 4u << 20;
  const uint64_t n = pool_size(c);
  const uint64_t window = buffers_for_window(c.tcp_rcv_buf);
  EXPECT_EQ(window, (4u << 20) / 1448 + 1);
  EXPECT_GE(n, 8 * window + 2 * c.batch + 2 * mem::default_rx_reserve(static_cast<uint32_t>(n)));
  EXPECT_LT(n - 1, 8 * window + 2 * c.batch +
                       2 * mem::default_rx_reserve(static_cast<uint32_t>(n - 1)) + 1)
      << "the smallest such pool";
  // No more windows than connections.
  c.tcp_max_conns = 2;
  EXPECT_LT(pool_size(c), n);
  c.tcp_rcv_buf = kMaxTcpRcvBuf;
  c.tcp_max_conns = 1;
  EXPECT_EQ(pool_size(c), kMinDerivedMbufs) << "one 8 MB window fits the floor";
  // A set size is the size.
  c.mbufs_per_core = 100000;
  EXPECT_EQ(pool_size(c), 100000u);
}

TEST(ConfigPool, WindowsThePoolCannotHoldAreRefused) {
  DataplaneConfig c;
  ASSERT_EQ(
      parse({"--dev", "veth0", "--host-addr", "10.0.0.2/24", "--tcp-rcv-buf", "4194304"}, c).status,
      ParseResult::kOk);
  c.mbufs_per_core = 2048;
  const uint64_t need = min_mbufs_for(c.batch, c.tcp_rcv_buf, 1);
  EXPECT_GT(need, 2048u);
  EXPECT_EQ(validate(c),
            "mbufs: 2048 per core cannot hold one receive window of tcp_rcv_buf "
            "4194304 bytes (2897 buffers of 1448-byte segments) beside two batches "
            "and twice the receive-only reserve: use --mbufs " +
                std::to_string(need) + " or more, or a smaller --tcp-rcv-buf");
  c.mbufs_per_core = static_cast<uint32_t>(need);
  EXPECT_EQ(validate(c), "");
  // Derived (the default, or "auto"): always enough.
  ASSERT_EQ(parse({"--dev", "veth0", "--host-addr", "10.0.0.2/24", "--mbufs", "auto",
                   "--tcp-rcv-buf", "4194304"},
                  c)
                .status,
            ParseResult::kOk);
  EXPECT_EQ(c.mbufs_per_core, 0u);
  EXPECT_EQ(validate(c), "");
  EXPECT_TRUE(Contains(describe(c), std::to_string(pool_size(c)) + " mbufs per core (derived;"));
  EXPECT_TRUE(Contains(describe(c), "full receive windows of 4194304 bytes for 8 connections"));
  // Out of range values name the bounds.
  expect_error(parse({"--tcp-rcv-buf", "8388481"}, c),
               {"--tcp-rcv-buf: 8388481 is out of range 4096..8388480"});
  expect_error(parse({"--tcp-snd-buf", "100"}, c),
               {"--tcp-snd-buf: 100 is out of range 4096..67108864"});
  expect_error(parse({"--mbufs", "10"}, c), {"--mbufs: 10 is out of range 64..16777216"});
  // Flags that parse alone but not with the pool: the same message.
  expect_error(parse({"--dev", "veth0", "--host-addr", "10.0.0.2/24", "--mbufs", "2048",
                      "--tcp-rcv-buf", "4194304"},
                     c),
               {"mbufs: 2048 per core cannot hold one receive window", "use --mbufs"});
}

TEST(ConfigDescribe, SummarizesTheSettings) {
  DataplaneConfig c;
  ASSERT_EQ(parse({"--dev", "veth0", "--cpu", "0,1", "--host-addr", "10.0.0.2/24", "--gateway",
                   "10.0.0.1", "--stats-file", "/tmp/x.json", "--seconds", "1.5", "--port", "80"},
                  c, kAppOptions)
                .status,
            ParseResult::kOk);
  std::string d = describe(c);
  for (const char *part : {"driver xdp on veth0", "mode auto", "2 elastic threads on CPUs 0,1",
                           "2 NIC queues", "host 10.0.0.2/24", "gateway 10.0.0.1", "batch 64",
                           "8192 mbufs per core (derived; 512 only for reception; received data "
                           "not held below 1024 free; out of order at most 2048; full receive "
                           "windows of 262144 bytes for 38 connections at once)",
                           "TCP send buffer 262144 bytes", "128 flow groups", "MTU from the device",
                           "stats to /tmp/x.json", "running for 1.5 s", "port=80"})
    EXPECT_TRUE(Contains(d, part));
  EXPECT_EQ(d.find('\n'), std::string::npos);  // one paragraph

  DataplaneConfig loop;
  loop.driver = "loop";
  loop.host_addr = net::ipv4(10, 0, 0, 1);
  loop.cores = {-1};
  std::string dl = describe(loop);
  EXPECT_TRUE(Contains(dl, "1 elastic thread on CPU any"));
  EXPECT_TRUE(Contains(dl, "no gateway"));
  EXPECT_TRUE(Contains(dl, "until SIGINT/SIGTERM"));
}

TEST(ConfigValidate, ChecksProgrammaticConfigs) {
  DataplaneConfig c;
  c.driver = "loop";
  c.host_addr = net::ipv4(10, 0, 0, 2);
  EXPECT_EQ(validate(c), "");
  auto with = [&](auto change) {
    DataplaneConfig d = c;
    change(d);
    return validate(d);
  };
  EXPECT_TRUE(Contains(with([](auto &d) { d.driver = "pcap"; }), "driver: 'pcap'"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.xdp_mode = "x"; }), "xdp_mode: 'x'"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.xdp_attach = "x"; }), "xdp_attach: 'x'"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.tcp_cc = "bbr"; }), "tcp_cc: 'bbr'"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.cores.clear(); }), "cpu: the list is empty"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.cores = {5000}; }), "cpu: 5000 is out of range"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.cores.assign(1025, -1); }), "cpu: 1025 entries"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.queues = 5000; }), "queues: 5000 is out of range"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.prefix_len = 0; }), "host_addr: prefix length 0"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.batch = 0; }), "batch: 0 is out of range"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.mbufs_per_core = 1; }), "mbufs: 1 is out of range"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.tcp_rcv_buf = 100; }), "tcp_rcv_buf: 100 is out of"));
  EXPECT_TRUE(
      Contains(with([](auto &d) { d.tcp_snd_buf = 1u << 30; }), "tcp_snd_buf: 1073741824 is out"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.flow_groups = 0; }), "flow_groups: 0"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.mtu = 10; }), "mtu: 10 is out of range"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.run_seconds = -1; }), "run_seconds:"));
  EXPECT_TRUE(Contains(with([](auto &d) { d.run_seconds = 1.0 / 0.0; }), "run_seconds:"));
}

}  // namespace
}  // namespace ix::config
