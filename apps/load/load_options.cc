#include "load/load_options.hh"

#include <arpa/inet.h>

#include <charconv>
#include <cmath>

namespace ix::load {

namespace {

constexpr OptionDef kOptions[] = {
    {"transport", "linux", "linux (epoll sockets) or ix (the IX dataplane; its flags apply)"},
    {"server", "", "server, IPv4:PORT (this or --servers is required)"},
    {"servers", "",
     "a pool, IPv4:PORT,IPv4:PORT,...: --conns connections to each; every key goes to its "
     "server by --distribution"},
    {"distribution", "ketama",
     "how a pool's keys map to servers: ketama (libmemcached's MEMCACHED_BEHAVIOR_KETAMA "
     "with MD5: 100 points per server) or ketama-weighted (libmemcached's KETAMA_WEIGHTED "
     "and twemproxy's ketama with hash md5: 160 points per server)"},
    {"protocol", "memcache",
     "memcache (text get/set) or echo (--size-byte messages the server sends back)"},
    {"size", "64", "--protocol echo: bytes per message"},
    {"conns", "16", "connections in all (split over the threads)"},
    {"depth", "4", "most requests outstanding per connection; beyond, a due request is skipped"},
    {"rate", "1000",
     "requests per second in all; 0 = closed loop (each connection keeps depth "
     "requests outstanding)"},
    {"arrival", "", "inter-arrival times: exp, fixed or fb_ia (default: the workload's)"},
    {"workload", "etc", "etc, usr or fixed (30-byte keys, 200-byte values, 10% sets)"},
    {"keysize", "", "key size distribution overriding the workload's (see below)"},
    {"valuesize", "", "value size distribution overriding the workload's"},
    {"update", "", "fraction of requests that are sets, 0..1 (default: the workload's)"},
    {"records", "10000", "keys in the key space (popularity is uniform)"},
    {"preload", "0", "1: set every key once before measuring (--preload alone means 1)"},
    {"warmup", "1", "seconds of load before each measurement (not counted)"},
    {"time", "5", "seconds measured per run"},
    {"search", "",
     "P99_US: find the highest rate whose p99 stays under P99_US microseconds (a sweep up from "
     "the upper end, --rate or with --rate 0 a closed-loop run's, then bisection; a failing "
     "rate is measured twice)"},
    {"search-sweep", "5", "--search: the sweep starts this many halvings below the upper end"},
    {"search-steps", "4",
     "--search: bisection runs between the last rate met and the first failed"},
    {"scan", "", "START:STOP:STEP: one run per rate"},
    {"steps", "",
     "R1,R2,...: a load that steps from rate to rate (requests/s in all), --time seconds at each, "
     "with no pause but the drain between runs; each step is cut into runs of --interval "
     "seconds (phase \"step\"), so throughput and p99 come per interval"},
    {"interval", "", "--steps: seconds per run within a step (default: the whole step)"},
    {"drain-ms", "2000", "after a run, wait this long for outstanding replies"},
    {"connect-timeout-ms", "5000", "give up connecting after this long"},
    {"threads", "1", "Linux transport: load threads (IX: one per dataplane CPU)"},
    {"pin", "", "Linux transport: CPUs to pin the threads to, e.g. 0,1 (cycled)"},
    {"spin", "0",
     "Linux transport: 1 = poll epoll without sleeping (lowest latency, a full core per thread)"},
    {"json", "", "write every run's results as JSON to this file"},
    {"csv", "", "write one CSV row per run to this file"},
    {"seed", "1", "seed of every random choice"},
};

std::optional<double> parse_double(const std::string &s) {
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc{} || r.ptr != s.data() + s.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

std::optional<uint64_t> parse_uint(const std::string &s, uint64_t min, uint64_t max) {
  uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc{} || r.ptr != s.data() + s.size() || v < min || v > max)
    return std::nullopt;
  return v;
}

std::string range_error(const char *name, const std::string &v, uint64_t min, uint64_t max) {
  return std::string(name) + ": '" + v + "' is not an integer in " + std::to_string(min) + ".." +
         std::to_string(max);
}

bool is_bool_flag(std::string_view name) { return name == "preload" || name == "spin"; }

std::optional<bool> parse_bool(const std::string &v) {
  if (v == "1" || v == "true" || v == "yes") return true;
  if (v == "0" || v == "false" || v == "no") return false;
  return std::nullopt;
}

bool is_bool_value(std::string_view v) {
  return v == "0" || v == "1" || v == "true" || v == "false" || v == "yes" || v == "no";
}

}  // namespace

std::span<const OptionDef> option_table() { return kOptions; }

std::vector<std::string> normalize_flags(int argc, char **argv) {
  std::vector<std::string> out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i] ? argv[i] : "";
    if (i > 0 && a.starts_with("--") && is_bool_flag(a.substr(2)) &&
        (i + 1 >= argc || !is_bool_value(argv[i + 1] ? argv[i + 1] : "")))
      a += "=1";
    out.push_back(std::move(a));
  }
  return out;
}

std::string transport_of(const std::vector<std::string> &args) {
  std::string t = "linux";
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--transport" && i + 1 < args.size()) t = args[i + 1];
    if (args[i].starts_with("--transport=")) t = args[i].substr(12);
  }
  return t;
}

std::string parse_args(const std::vector<std::string> &args, OptionValues &values, bool &help) {
  help = false;
  for (const OptionDef &o : kOptions) values[o.name] = o.default_value;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (a == "-h" || a == "--help") {
      help = true;
      continue;
    }
    if (!a.starts_with("--") || a.size() == 2)
      return "unexpected argument '" + a + "' (options start with --; see --help)";
    const size_t eq = a.find('=');
    const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    bool known = false;
    for (const OptionDef &o : kOptions) known = known || name == o.name;
    if (!known)
      return "unknown option --" + name +
             " (dataplane options such as --dev and --cpu need --transport ix; see --help)";
    if (eq != std::string::npos) {
      values[name] = a.substr(eq + 1);
    } else if (i + 1 < args.size() && !args[i + 1].starts_with("--")) {
      values[name] = args[++i];
    } else {
      return "--" + name + " needs a value";
    }
  }
  return "";
}

std::string usage_text(const char *program) {
  std::string s = std::string("usage: ") + program +
                  " --server IPv4:PORT [options]\n\n"
                  "A load generator for memcached (text protocol get/set) or echo servers\n"
                  "(--protocol echo), open loop at --rate or closed loop (--rate 0), over\n"
                  "Linux sockets or the IX dataplane (--transport ix with the dataplane's flags,\n"
                  "see ix-load --transport ix --help).\n\nOptions:\n";
  for (const OptionDef &o : kOptions) {
    std::string left = std::string("  --") + o.name;
    if (left.size() < 24) left.resize(24, ' ');
    s += left + " " + o.help;
    if (o.default_value[0] != '\0') s += std::string(" [") + o.default_value + "]";
    s += "\n";
  }
  s += "\nSize distributions: N, fixed:N, uniform:A:B, exp:MEAN, gpareto:LOC:SCALE:SHAPE,\n"
       "gev:LOC:SCALE:SHAPE, pmf:V=P,V=P,..., fb_key, fb_value (the ETC fits).\n"
       "Latency is measured from the time a request was due (its place in the schedule)\n"
       "to its reply, so a client that falls behind never flatters the server.\n";
  return s;
}

std::string config_from(const OptionValues &v, LoadConfig &c) {
  auto get = [&](const char *name) -> const std::string & { return v.at(name); };

  c.transport = get("transport");
  if (c.transport != "linux" && c.transport != "ix")
    return "transport: '" + c.transport + "' is not linux or ix";

  const std::string &one = get("server"), &pool = get("servers");
  if (one.empty() == pool.empty())
    return "server: give exactly one of --server IPv4:PORT and --servers IPv4:PORT,...";
  c.server_text = one.empty() ? pool : one;
  c.servers.clear();
  for (size_t start = 0; start <= c.server_text.size();) {
    size_t end = c.server_text.find(',', start);
    if (end == std::string::npos) end = c.server_text.size();
    const std::string s = c.server_text.substr(start, end - start);
    const size_t colon = s.rfind(':');
    in_addr a{};
    auto port =
        colon == std::string::npos ? std::nullopt : parse_uint(s.substr(colon + 1), 1, 65535);
    if (!port || inet_pton(AF_INET, s.substr(0, colon).c_str(), &a) != 1)
      return std::string(one.empty() ? "servers" : "server") + ": '" + s + "' is not IPv4:PORT";
    c.servers.push_back({s.substr(0, colon), ntohl(a.s_addr), static_cast<uint16_t>(*port)});
    start = end + 1;
  }
  if (c.servers.size() > 1024) return "servers: at most 1024";
  if (get("distribution") == "ketama")
    c.distribution = KetamaLayout::kConsistent;
  else if (get("distribution") == "ketama-weighted")
    c.distribution = KetamaLayout::kWeighted;
  else
    return "distribution: '" + get("distribution") + "' is not ketama or ketama-weighted";

  auto u = [&](const char *name, uint64_t min, uint64_t max, auto &out) -> std::string {
    auto x = parse_uint(get(name), min, max);
    if (!x) return range_error(name, get(name), min, max);
    out = static_cast<std::remove_reference_t<decltype(out)>>(*x);
    return "";
  };
  auto seconds = [&](const char *name, double min, double max, double &out) -> std::string {
    auto x = parse_double(get(name));
    if (!x || *x < min || *x > max)
      return std::string(name) + ": '" + get(name) + "' is not a number of seconds in " +
             std::to_string(min).substr(0, 4) + ".." + std::to_string(static_cast<int>(max));
    out = *x;
    return "";
  };
  std::string err;
  if (!(err = u("conns", 1, 65536, c.conns)).empty()) return err;
  if (!(err = u("depth", 1, 4096, c.depth)).empty()) return err;
  if (!(err = u("records", 1, 1'000'000'000, c.records)).empty()) return err;
  if (!(err = u("search-steps", 0, 30, c.search_steps)).empty()) return err;
  if (!(err = u("search-sweep", 0, 20, c.search_sweep)).empty()) return err;
  if (!(err = u("drain-ms", 1, 600'000, c.drain_ms)).empty()) return err;
  if (!(err = u("connect-timeout-ms", 1, 600'000, c.connect_timeout_ms)).empty()) return err;
  if (!(err = u("threads", 1, 256, c.threads)).empty()) return err;
  if (!(err = u("seed", 0, UINT64_MAX, c.seed)).empty()) return err;
  if (!(err = seconds("warmup", 0, 3600, c.warmup_s)).empty()) return err;
  if (!(err = seconds("time", 0.01, 86400, c.time_s)).empty()) return err;

  auto rate = parse_double(get("rate"));
  if (!rate || *rate < 0 || *rate > 1e9)
    return "rate: '" + get("rate") + "' is not a rate in 0..1e9 requests/s (0 = closed loop)";
  c.rate = *rate;

  auto wl = workload_preset(get("workload"));
  if (!wl) return "workload: '" + get("workload") + "' is not etc, usr or fixed";
  c.workload = *wl;
  for (const char *name : {"keysize", "valuesize"}) {
    if (get(name).empty()) continue;
    std::string why;
    auto d = Distribution::parse(get(name), why);
    if (!d) return std::string(name) + ": " + why;
    (std::string_view(name) == "keysize" ? c.workload.key_size : c.workload.value_size) = *d;
  }
  if (!get("update").empty()) {
    auto x = parse_double(get("update"));
    if (!x || *x < 0 || *x > 1) return "update: '" + get("update") + "' is not a fraction in 0..1";
    c.workload.update_ratio = *x;
  }
  c.arrival = c.workload.arrival;
  if (!get("arrival").empty()) {
    auto a = parse_arrival(get("arrival"));
    if (!a) return "arrival: '" + get("arrival") + "' is not exp, fixed or fb_ia";
    c.arrival = *a;
  }

  const auto preload = parse_bool(get("preload"));
  if (!preload) return "preload: '" + get("preload") + "' is not 0 or 1";
  c.preload = *preload;
  const auto spin = parse_bool(get("spin"));
  if (!spin) return "spin: '" + get("spin") + "' is not 0 or 1";
  c.spin = *spin;

  if (get("protocol") == "echo")
    c.protocol = Protocol::kEcho;
  else if (get("protocol") != "memcache")
    return "protocol: '" + get("protocol") + "' is not memcache or echo";
  if (!(err = u("size", 1, 1'000'000, c.echo_size)).empty()) return err;
  if (c.protocol == Protocol::kEcho && c.preload)
    return "preload: the echo protocol has no keys to preload (drop --preload)";

  if (!get("search").empty()) {
    auto x = parse_double(get("search"));
    if (!x || *x <= 0) return "search: '" + get("search") + "' is not a p99 bound in microseconds";
    c.search_p99_us = *x;
  }
  if (!get("scan").empty()) {
    const std::string &s = get("scan");
    const size_t a = s.find(':'), b = a == std::string::npos ? a : s.find(':', a + 1);
    std::optional<double> start, stop, step;
    if (b != std::string::npos) {
      start = parse_double(s.substr(0, a));
      stop = parse_double(s.substr(a + 1, b - a - 1));
      step = parse_double(s.substr(b + 1));
    }
    if (!start || !stop || !step || *start <= 0 || *stop < *start || *step <= 0)
      return "scan: '" + s + "' is not START:STOP:STEP with 0 < START <= STOP and STEP > 0";
    if ((*stop - *start) / *step > 1000) return "scan: '" + s + "' has more than 1000 steps";
    for (double r = *start; r <= *stop * (1 + 1e-9); r += *step) c.scan_rates.push_back(r);
  }
  if (c.search_p99_us && !c.scan_rates.empty()) return "search and scan: choose one";
  if (!get("steps").empty()) {
    if (c.search_p99_us || !c.scan_rates.empty()) return "steps: not with search or scan";
    const std::string &s = get("steps");
    for (size_t start = 0;;) {
      const size_t comma = s.find(',', start);
      const auto r =
          parse_double(s.substr(start, comma == std::string::npos ? s.npos : comma - start));
      if (!r || *r <= 0 || *r > 1e9)
        return "steps: '" + s + "' is not a list of rates in requests/s like 2000,18000,2000";
      c.step_rates.push_back(*r);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (c.step_rates.size() > 100) return "steps: at most 100 steps";
    c.runs_per_step = 1;
    if (!get("interval").empty()) {
      const auto iv = parse_double(get("interval"));
      if (!iv || *iv < 0.01 || *iv > c.time_s)
        return "interval: '" + get("interval") + "' is not seconds in 0.01..--time";
      c.runs_per_step = static_cast<uint32_t>(c.time_s / *iv + 0.5);
      if (c.runs_per_step * c.step_rates.size() > 20000)
        return "interval: more than 20000 runs in all; a longer --interval";
      c.time_s = c.time_s / c.runs_per_step;  // each run measures one interval
    }
  } else if (!get("interval").empty()) {
    return "interval: only with --steps";
  }

  if (!get("pin").empty()) {
    const std::string &s = get("pin");
    size_t start = 0;
    for (;;) {
      const size_t comma = s.find(',', start);
      auto cpu =
          parse_uint(s.substr(start, comma == std::string::npos ? s.npos : comma - start), 0, 4095);
      if (!cpu) return "pin: '" + s + "' is not a list of CPU numbers like 0,1";
      c.pin.push_back(static_cast<int>(*cpu));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  c.json_path = get("json");
  c.csv_path = get("csv");
  return "";
}

}  // namespace ix::load
