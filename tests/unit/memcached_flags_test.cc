// memcached's command line as ix-memcached takes it: short and long forms,
// clusters, -o extended options, the flags that are warned about and those
// that are refused.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "memcached/flags.hh"

namespace ix::mc {
namespace {

using Args = std::vector<std::string>;

TranslatedArgs tr(const Args &a) { return translate_memcached_args(a); }

TEST(McFlags, ShortFlagsBecomeRunAppOptions) {
  const TranslatedArgs t = tr({"-p", "11311", "-m64", "-c", "10", "-I", "2m", "-U", "0"});
  ASSERT_EQ(t.error, "");
  EXPECT_EQ(t.args, (Args{"--port", "11311", "--memory-limit", "64", "--conn-limit", "10",
                          "--max-item-size", "2097152", "--udp-port", "0"}));
  EXPECT_TRUE(t.warnings.empty());
}

TEST(McFlags, SwitchesClusterAsGetoptReadsThem) {
  const TranslatedArgs t = tr({"-AFCM", "-vv", "-Bbinary"});
  ASSERT_EQ(t.error, "");
  EXPECT_EQ(t.args, (Args{"--enable-shutdown=1", "--disable-flush-all=1", "--disable-cas=1",
                          "--disable-evictions=1", "--protocol", "binary", "--verbosity", "2"}));
}

TEST(McFlags, LongFormsAndDataplaneOptionsPassThrough) {
  const TranslatedArgs t = tr({"--port=11311", "--enable-shutdown", "--protocol", "ascii", "--dev",
                               "ix0", "--disable-cas=1"});
  ASSERT_EQ(t.error, "");
  EXPECT_EQ(t.args, (Args{"--port", "11311", "--enable-shutdown=1", "--protocol", "ascii", "--dev",
                          "ix0", "--disable-cas=1"}));
}

TEST(McFlags, ExtendedOptionsThatDoNotApplyAreWarnedAboutByName) {
  const TranslatedArgs t = tr({"-o", "modern,slab_chunk_max=512,maxconns_fast,ext_path=/x:1G"});
  ASSERT_EQ(t.error, "");
  ASSERT_EQ(t.warnings.size(), 2u);
  EXPECT_NE(t.warnings[0].find("slab_chunk_max"), std::string::npos);
  EXPECT_NE(t.warnings[1].find("ext_path"), std::string::npos);
  EXPECT_NE(tr({"-o", "no_such_option"}).error.find("Illegal suboption \"no_such_option\""),
            std::string::npos);
}

TEST(McFlags, FlagsWithoutEffectHereWarnOnce) {
  const TranslatedArgs t = tr({"-u", "memcache", "-R", "20"});
  ASSERT_EQ(t.error, "");
  EXPECT_TRUE(t.args.empty());
  ASSERT_EQ(t.warnings.size(), 2u);
  EXPECT_EQ(t.warnings[0].rfind("-u (--user)", 0), 0u);
}

TEST(McFlags, BacklogDumpingIdleTimeoutAndLruSwitchesAreRecorded) {
  const TranslatedArgs t =
      tr({"-b", "8675", "-X", "-o", "idle_timeout=3,no_lru_crawler,lru_maintainer"});
  ASSERT_EQ(t.error, "");
  EXPECT_EQ(t.args, (Args{"--listen-backlog", "8675", "--disable-dumping=1", "--idle-timeout", "3",
                          "--lru-crawler", "0", "--lru-maintainer", "1"}));
  // -b bounds nothing here, and there is no crawler or maintainer thread:
  // each says so once; idle_timeout and -X apply and are silent.
  ASSERT_EQ(t.warnings.size(), 3u);
  EXPECT_EQ(t.warnings[0].rfind("-b is shown in stats settings", 0), 0u);
  EXPECT_NE(t.warnings[1].find("no_lru_crawler"), std::string::npos);
  EXPECT_NE(tr({"-o", "idle_timeout"}).error.find("needs a value"), std::string::npos)
      << "memcached: Missing numeric argument for idle_timeout";
}

TEST(McFlags, DashDSetsThePrefixDelimiter) {
  const TranslatedArgs t = tr({"-D", "/"});
  ASSERT_EQ(t.error, "");
  EXPECT_EQ(t.args, (Args{"--prefix-delimiter", "/"}));
  EXPECT_TRUE(t.warnings.empty());
}

TEST(McFlags, NoModernStopsTheCrawlerAndMaintainerAsInMemcached) {
  const TranslatedArgs t = tr({"-o", "no_modern"});
  ASSERT_EQ(t.error, "");
  EXPECT_EQ(t.args, (Args{"--lru-crawler", "0", "--lru-maintainer", "0"}));
  ASSERT_EQ(t.warnings.size(), 1u);
}

TEST(McFlags, AnItemLimitOverHalfTheMemoryIsRefusedBeforeStart) {
  // memcached's t/item_size_max.t: -I 32m with the default -m 64 starts,
  // -I 33m does not, nor -I 2m with -m 3.
  EXPECT_EQ(tr({"-I", "32m"}).error, "");
  const std::string e = tr({"-I", "33m"}).error;
  EXPECT_NE(e.find("more than half of memory-limit (-m 64 MB): raise -m or lower -I"),
            std::string::npos)
      << e;
  EXPECT_NE(tr({"-m", "3", "-I", "2m"}).error, "");
  EXPECT_EQ(tr({"-m", "4", "-I", "2m"}).error, "");
}

TEST(McFlags, ZeroThreadsIsRefusedAsMemcachedRefusesIt) {
  EXPECT_NE(tr({"-t", "0"}).error.find("must be greater than 0"), std::string::npos)
      << "memcached's t/00-startup.t";
  EXPECT_NE(tr({"--threads=00"}).error.find("must be greater than 0"), std::string::npos);
  EXPECT_EQ(tr({"-t", "1"}).error, "");
}

TEST(McFlags, RefusedAndMalformedFlagsNameTheProblem) {
  EXPECT_NE(tr({"-S"}).error.find("SASL"), std::string::npos);
  EXPECT_NE(tr({"-s", "/tmp/mc.sock"}).error.find("UNIX socket"), std::string::npos);
  EXPECT_NE(tr({"-d"}).error.find("foreground"), std::string::npos);
  EXPECT_NE(tr({"-p"}).error.find("-p needs a value"), std::string::npos);
  EXPECT_NE(tr({"-q"}).error.find("-q is not a memcached flag"), std::string::npos);
  EXPECT_NE(tr({"-I", "3x"}).error.find("max-item-size"), std::string::npos);
}

TEST(McFlags, ProcessFlagsAreReturnedToMain) {
  const TranslatedArgs t = tr({"-k", "-r", "-P", "/run/mc.pid", "-V"});
  ASSERT_EQ(t.error, "");
  EXPECT_TRUE(t.lock_memory);
  EXPECT_TRUE(t.enable_coredumps);
  EXPECT_TRUE(t.print_version);
  EXPECT_EQ(t.pid_file, "/run/mc.pid");
}

TEST(McFlags, ThreadsMustAgreeWithCpu) {
  EXPECT_EQ(tr({"-t", "2"}).args, (Args{"--threads", "2", "--cpu", "0,1"}));
  EXPECT_NE(tr({"-t", "2", "--cpu", "0"}).error.find("gives 1 elastic threads"), std::string::npos);
  EXPECT_NE(tr({"-l", "10.0.0.9", "--host-addr", "10.0.0.2/24"}).error.find("not the dataplane"),
            std::string::npos);
}

}  // namespace
}  // namespace ix::mc
