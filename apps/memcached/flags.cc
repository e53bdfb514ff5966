// memcached's flags rewritten for run_app (see flags.hh).
#include "memcached/flags.hh"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "memcached/context.hh"

namespace ix::mc {

namespace {

enum class Takes { Nothing, Value };
enum class Kind {
  Option,    // --target VALUE for run_app
  Switch,    // --target=1 for run_app
  Verbose,   // -v, -vv: --verbosity N
  Help,      // --help
  Local,     // handled before the dataplane starts (TranslatedArgs fields)
  Ignored,   // accepted; changes nothing here (warning says why)
  Refused,   // an error: serving without it would not be what was asked for
  Extended,  // -o key[=value],...
};

struct Flag {
  char letter;
  std::string_view name;  // memcached's long form, without "--"
  Takes takes;
  Kind kind;
  std::string_view target_or_why = {};  // run_app option, or the reason
};

// memcached 1.6.18's flags (memcached -h), in its order.
constexpr Flag kFlags[] = {
    {'p', "port", Takes::Value, Kind::Option, "port"},
    {'U', "udp-port", Takes::Value, Kind::Option, "udp-port"},
    {'s', "unix-socket", Takes::Value, Kind::Refused,
     "a UNIX socket would bypass the dataplane; ix-memcached serves TCP on its NIC (use -p)"},
    {'a', "unix-mask", Takes::Value, Kind::Ignored, "applies only to a UNIX socket (-s)"},
    {'A', "enable-shutdown", Takes::Nothing, Kind::Switch, "enable-shutdown"},
    {'l', "listen", Takes::Value, Kind::Option, "listen"},
    {'d', "daemon", Takes::Nothing, Kind::Refused,
     "a dataplane runs in the foreground on the cores it owns; start it in the background with "
     "your supervisor (systemd, start-stop-daemon --background, or '&')"},
    {'r', "enable-coredumps", Takes::Nothing, Kind::Local},
    {'u', "user", Takes::Value, Kind::Ignored,
     "the dataplane keeps the privileges its NIC needs (AF_XDP or DPDK)"},
    {'m', "memory-limit", Takes::Value, Kind::Option, "memory-limit"},
    {'M', "disable-evictions", Takes::Nothing, Kind::Switch, "disable-evictions"},
    {'c', "conn-limit", Takes::Value, Kind::Option, "conn-limit"},
    {'k', "lock-memory", Takes::Nothing, Kind::Local},
    {'v', "verbose", Takes::Nothing, Kind::Verbose},
    {'h', "help", Takes::Nothing, Kind::Help},
    {'i', "license", Takes::Nothing, Kind::Local},
    {'V', "version", Takes::Nothing, Kind::Local},
    {'P', "pidfile", Takes::Value, Kind::Local},
    {'f', "slab-growth-factor", Takes::Value, Kind::Ignored,
     "items are allocated to size, so there are no slab classes to grow"},
    {'n', "slab-min-size", Takes::Value, Kind::Ignored,
     "items are allocated to size, so there is no smallest slab chunk"},
    {'L', "enable-largepages", Takes::Nothing, Kind::Ignored,
     "item memory comes from the C allocator; the dataplane's packet buffers use huge pages on "
     "their own when reserved"},
    {'D', "", Takes::Value, Kind::Option, "prefix-delimiter"},
    {'t', "threads", Takes::Value, Kind::Option, "threads"},
    {'R', "max-reqs-per-event", Takes::Value, Kind::Ignored,
     "a connection's turn is bounded by what one receive batch brought (at most --batch "
     "frames per elastic thread), so no connection can starve the others"},
    {'C', "disable-cas", Takes::Nothing, Kind::Switch, "disable-cas"},
    // Recorded (stats settings shows it) with a warning: see apply().
    {'b', "listen-backlog", Takes::Value, Kind::Option, "listen-backlog"},
    {'B', "protocol", Takes::Value, Kind::Option, "protocol"},
    {'I', "max-item-size", Takes::Value, Kind::Option, "max-item-size"},
    {'S', "enable-sasl", Takes::Nothing, Kind::Refused,
     "SASL authentication is not implemented, and serving without the authentication asked for "
     "would be unsafe"},
    {'F', "disable-flush-all", Takes::Nothing, Kind::Switch, "disable-flush-all"},
    {'X', "disable-dumping", Takes::Nothing, Kind::Switch, "disable-dumping"},
    {'W', "disable-watch", Takes::Nothing, Kind::Ignored, "there are no watch commands to disable"},
    {'Y', "auth-file", Takes::Value, Kind::Refused,
     "text-protocol authentication is not implemented, and serving without it would be unsafe"},
    {'e', "memory-file", Takes::Value, Kind::Refused,
     "a restartable cache in a memory file is not implemented"},
    {'Z', "enable-ssl", Takes::Nothing, Kind::Refused,
     "TLS is not implemented, and serving in the clear instead would be unsafe"},
    {'o', "extended", Takes::Value, Kind::Extended},
    {'N', "napi_ids", Takes::Value, Kind::Ignored,
     "elastic threads own their NIC queues, so there are no NAPI ids to spread over"},
};

const Flag *by_letter(char c) {
  for (const Flag &f : kFlags)
    if (f.letter == c) return &f;
  return nullptr;
}

const Flag *by_name(std::string_view name) {
  for (const Flag &f : kFlags)
    if (!f.name.empty() && f.name == name) return &f;
  return nullptr;
}

// memcached's -o options and what each means here. Those that apply are
// taken; the others are memcached's own machinery (LRU maintainer and
// crawler, slab mover, extstore, TLS, logging buffers), which this server
// replaces with its own design or does not have.
struct Extended {
  std::string_view key;  // a trailing '*' matches a prefix
  bool applies;
  std::string_view why;  // for the warning when it does not apply
  // The run_app options it sets, "name=value" separated by spaces (empty:
  // none); "name=" takes the -o option's own value.
  std::string_view sets = {};
};

constexpr Extended kExtended[] = {
    {"maxconns_fast", true, ""},  // over -c, tell the client and close: what ix-memcached does
    {"modern", true, ""},         // 1.6.18: "currently: nothing"
    // memcached's no_modern also stops its crawler and maintainer threads.
    {"no_modern", false, "1.4's defaults are not emulated", "lru-crawler=0 lru-maintainer=0"},
    {"no_maxconns_fast", false, "connections over -c are always told and closed at once"},
    {"hashpower", false, "each lock stripe's table grows by itself"},
    {"no_hashexpand", false, "each lock stripe's table grows by itself"},
    {"hash_algorithm", false, "the store uses its own key hash"},
    {"tail_repair_time", false, "items are reference counted; none is stuck at an LRU tail"},
    {"idle_timeout", true, "", "idle-timeout="},
    {"read_buf_mem_limit", false, "connection buffers are per connection, not pooled"},
    {"resp_obj_mem_limit", false, "replies are built per connection, not pooled"},
    {"slab_chunk_max", false, "items are allocated to size, so there are no slab chunks"},
    {"slab_reassign", false, "items are allocated to size, so there are no slab pages to move"},
    {"no_slab_reassign", false, "items are allocated to size, so there are no slab pages to move"},
    {"slab_automove*", false, "items are allocated to size, so there are no slab pages to move"},
    {"no_slab_automove", false, "items are allocated to size, so there are no slab pages to move"},
    // The crawler and maintainer switches are recorded: stats and stats
    // settings show what memcached's would (ServerSettings::lru_crawler).
    {"lru_crawler", false, "expired items are reclaimed on access and at the LRU tails",
     "lru-crawler=1"},
    {"no_lru_crawler", false, "expired items are reclaimed on access and at the LRU tails",
     "lru-crawler=0"},
    {"lru_crawler*", false, "expired items are reclaimed on access and at the LRU tails"},
    {"lru_maintainer", false, "each lock stripe keeps one LRU list, with no background thread",
     "lru-maintainer=1"},
    {"no_lru_maintainer", false, "each lock stripe keeps one LRU list, with no background thread",
     "lru-maintainer=0"},
    {"lru_segmented", false, "each lock stripe keeps one LRU list"},
    {"no_lru_segmented", false, "each lock stripe keeps one LRU list"},
    {"hot_lru_pct", false, "each lock stripe keeps one LRU list"},
    {"warm_lru_pct", false, "each lock stripe keeps one LRU list"},
    {"hot_max_factor", false, "each lock stripe keeps one LRU list"},
    {"warm_max_factor", false, "each lock stripe keeps one LRU list"},
    {"temporary_ttl", false, "each lock stripe keeps one LRU list"},
    {"expirezero_does_not_evict", false, "each lock stripe keeps one LRU list"},
    {"track_sizes", false, "item sizes are not histogrammed"},
    {"watcher_logbuf_size", false, "there are no watch commands"},
    {"worker_logbuf_size", false, "there are no watch commands"},
    {"inline_ascii_resp", false, "replies are always built in place"},
    {"no_inline_ascii_resp", false, "replies are always built in place"},
    {"sock_cookie_id", false, "sockets belong to the dataplane, not to the kernel"},
    {"large_memory_pages", false, "item memory comes from the C allocator"},
    {"ext_*", false, "external storage (extstore) is not implemented; items stay in memory"},
    {"ssl_*", false, "TLS is not implemented"},
};

const Extended *extended_option(std::string_view key) {
  for (const Extended &e : kExtended) {
    if (e.key.ends_with('*') ? key.starts_with(e.key.substr(0, e.key.size() - 1)) : key == e.key)
      return &e;
  }
  return nullptr;
}

// -o a,b=1,c: every key must be one of memcached's (else, like memcached,
// "Illegal suboption"); those that do not apply here are warned about once.
std::string take_extended(std::string_view list, TranslatedArgs *out) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (item.empty()) continue;
    const std::string_view key = item.substr(0, item.find('='));
    const Extended *e = extended_option(key);
    if (e == nullptr)
      return "Illegal suboption \"" + std::string(item) + "\" (-o takes memcached 1.6's " +
             "extended options, comma separated)";
    for (std::string_view sets = e->sets; !sets.empty();) {
      const size_t sp = sets.find(' ');
      const std::string_view one = sets.substr(0, sp);
      sets = sp == std::string_view::npos ? std::string_view{} : sets.substr(sp + 1);
      const size_t eq = one.find('=');
      std::string value(one.substr(eq + 1));
      if (value.empty()) {
        // memcached: "Missing numeric argument for idle_timeout".
        if (item.find('=') == std::string_view::npos)
          return "-o " + std::string(key) + " needs a value (-o " + std::string(key) + "=N)";
        value = std::string(item.substr(item.find('=') + 1));
      }
      out->args.push_back("--" + std::string(one.substr(0, eq)));
      out->args.push_back(value);
    }
    if (!e->applies)
      out->warnings.push_back("-o " + std::string(key) +
                              " does not apply to ix-memcached: " + std::string(e->why) +
                              (e->sets.empty() ? "; ignored" : "; shown in stats settings"));
  }
  return "";
}

// memcached's size syntax for -I: bytes, or a number with k or m.
bool parse_size(const std::string &v, long long *out) {
  if (v.empty()) return false;
  long long mult = 1;
  std::string digits = v;
  const char last = v.back();
  if (last == 'k' || last == 'K') mult = 1024;
  if (last == 'm' || last == 'M') mult = 1024 * 1024;
  if (mult != 1) digits.pop_back();
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
      digits.size() > 12)
    return false;
  *out = std::stoll(digits) * mult;
  return true;
}

std::string flag_label(const Flag &f) {
  std::string s = "-";
  s += f.letter;
  if (!f.name.empty()) s += " (--" + std::string(f.name) + ")";
  return s;
}

// One flag with its value (if it takes one) into out. Returns an error or "".
std::string apply(const Flag &f, const std::string &value, int *verbosity, TranslatedArgs *out) {
  switch (f.kind) {
    case Kind::Option:
      if (f.letter == 't' && value.find_first_not_of('0') == std::string::npos)
        // memcached: "Number of threads must be greater than 0".
        return "threads: -t '" + value + "': the number of threads must be greater than 0";
      if (f.letter == 'b')
        out->warnings.push_back(
            "-b is shown in stats settings (tcp_backlog) but bounds nothing: ix-memcached takes "
            "each connection as it is established, and the dataplane's SYN backlog and SYN "
            "cookies bound the half-open ones");
      if (f.target_or_why == "max-item-size") {
        long long bytes = 0;
        if (!parse_size(value, &bytes))
          return "max-item-size: '" + value + "' is not a size like 1048576, 512k or 2m";
        out->args.push_back("--max-item-size");
        out->args.push_back(std::to_string(bytes));
        return "";
      }
      out->args.push_back("--" + std::string(f.target_or_why));
      out->args.push_back(value);
      return "";
    case Kind::Switch:
      out->args.push_back("--" + std::string(f.target_or_why) + "=1");
      return "";
    case Kind::Verbose:
      ++*verbosity;
      return "";
    case Kind::Help:
      out->args.push_back("--help");
      return "";
    case Kind::Local:
      if (f.letter == 'r') out->enable_coredumps = true;
      if (f.letter == 'k') out->lock_memory = true;
      if (f.letter == 'i') out->print_license = true;
      if (f.letter == 'V') out->print_version = true;
      if (f.letter == 'P') out->pid_file = value;
      return "";
    case Kind::Ignored:
      out->warnings.push_back(flag_label(f) + " does not apply to ix-memcached: " +
                              std::string(f.target_or_why) + "; ignored");
      return "";
    case Kind::Refused:
      return flag_label(f) + " is not supported: " + std::string(f.target_or_why);
    case Kind::Extended:
      return take_extended(value, out);
  }
  return "";
}

// Values that must agree with the dataplane's settings: -l against
// --host-addr, -t against --cpu (adds --cpu 0..t-1 when only -t is given).
std::string cross_check(std::vector<std::string> *args) {
  std::string cpu, host, threads, listen, memory, item;
  for (size_t i = 0; i < args->size(); ++i) {
    std::string name = (*args)[i], value;
    const size_t eq = name.find('=');
    if (name.starts_with("--") && eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < args->size()) {
      value = (*args)[i + 1];
    }
    if (name == "--cpu" || name == "--cores") cpu = value;
    if (name == "--host-addr") host = value.substr(0, value.find('/'));
    if (name == "--threads") threads = value;
    if (name == "--listen") listen = value;
    if (name == "--memory-limit") memory = value;
    if (name == "--max-item-size") item = value;
  }
  // memcached refuses an item limit over half the memory limit at start-up
  // (one item could take more than half of the memory). Checked here, before
  // the dataplane starts; main.cc checks values from a config file again.
  const auto digits = [](const std::string &v) {
    return !v.empty() && v.size() <= 12 && v.find_first_not_of("0123456789") == std::string::npos;
  };
  const long long memory_mb = digits(memory) ? std::stoll(memory) : (memory.empty() ? 64 : -1);
  const long long item_bytes = digits(item) ? std::stoll(item) : (item.empty() ? 1 << 20 : -1);
  if (memory_mb > 0 && item_bytes > 0 && item_bytes > (memory_mb << 20) / 2)
    return "max-item-size (memcached -I) " + std::to_string(item_bytes) +
           " B is more than half of memory-limit (-m " + std::to_string(memory_mb) +
           " MB): raise -m or lower -I";
  in_addr parsed{};
  if (!listen.empty() && listen != "0.0.0.0" && inet_pton(AF_INET, listen.c_str(), &parsed) != 1)
    return "listen: '" + listen + "' is not an IPv4 address";
  if (!listen.empty() && listen != "0.0.0.0" && !host.empty() && listen != host)
    return "listen: " + listen + " is not the dataplane's address (host-addr " + host + ")";
  if (threads.empty() || threads == "0") return "";
  long long n = 0;
  if (threads.find_first_not_of("0123456789") != std::string::npos || threads.size() > 3 ||
      (n = std::stoll(threads)) < 1 || n > Context::kMaxThreads)
    return "threads: '" + threads + "' is not a thread count in 1.." +
           std::to_string(Context::kMaxThreads);
  if (cpu.empty()) {
    // Each memcached worker thread is an elastic thread on its own core.
    std::string list;
    for (long long c = 0; c < n; ++c) list += (c ? "," : "") + std::to_string(c);
    args->push_back("--cpu");
    args->push_back(list);
    return "";
  }
  const long long listed = 1 + std::count(cpu.begin(), cpu.end(), ',');
  if (listed != n)
    return "threads: -t " + threads + " asks for " + threads + " threads but --cpu '" + cpu +
           "' gives " + std::to_string(listed) + " elastic threads";
  return "";
}

}  // namespace

TranslatedArgs translate_memcached_args(const std::vector<std::string> &argv) {
  TranslatedArgs out;
  int verbosity = 0;
  auto fail = [&out](std::string e) {
    out.error = std::move(e);
    return out;
  };
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string &a = argv[i];
    if (a.starts_with("--") && a.size() > 2) {
      // memcached's long form, or one of the dataplane's own options.
      const size_t eq = a.find('=');
      const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      const Flag *f = by_name(name);
      if (f == nullptr) {
        out.args.push_back(a);  // a dataplane or ix-memcached option: run_app checks it
        continue;
      }
      std::string value;
      if (f->takes == Takes::Value) {
        if (eq != std::string::npos) {
          value = a.substr(eq + 1);
        } else if (i + 1 < argv.size()) {
          value = argv[++i];
        } else {
          return fail("--" + name + " needs a value");
        }
      } else if (eq != std::string::npos) {
        // --enable-shutdown=1 is run_app's own spelling of the switch.
        out.args.push_back(a);
        continue;
      }
      if (std::string e = apply(*f, value, &verbosity, &out); !e.empty()) return fail(e);
      continue;
    }
    if (a.size() < 2 || a[0] != '-') {
      out.args.push_back(a);
      continue;
    }
    // A cluster of short flags, as getopt reads them: -AFC, -vv, -p11211, -p 11211.
    for (size_t k = 1; k < a.size(); ++k) {
      const Flag *f = by_letter(a[k]);
      if (f == nullptr)
        return fail(std::string("-") + a[k] +
                    " is not a memcached flag (ix-memcached --help "
                    "lists the dataplane's options)");
      std::string value;
      if (f->takes == Takes::Value) {
        if (k + 1 < a.size()) {
          value = a.substr(k + 1);
        } else if (i + 1 < argv.size()) {
          value = argv[++i];
        } else {
          return fail(std::string("-") + a[k] + " needs a value");
        }
        k = a.size();
      }
      if (std::string e = apply(*f, value, &verbosity, &out); !e.empty()) return fail(e);
    }
  }
  if (verbosity > 0) {
    out.args.push_back("--verbosity");
    out.args.push_back(std::to_string(std::min(verbosity, 3)));
  }
  if (std::string e = cross_check(&out.args); !e.empty()) return fail(e);
  return out;
}

}  // namespace ix::mc
