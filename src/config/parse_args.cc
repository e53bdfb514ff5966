#include "config/parse_args.hh"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <vector>

#include "config/option_table.hh"
#include "config/suggest.hh"
#include "config/value_parsers.hh"

namespace ix::config {
namespace {

constexpr size_t kMaxConfigFileBytes = 1 << 20;

// What a name given in the file or on the command line sets.
struct Target {
  const OptionSpec *spec = nullptr;  // a dataplane setting, or
  const AppOption *app = nullptr;    // an application option
  explicit operator bool() const { return spec != nullptr || app != nullptr; }
};

bool is_reserved_flag(const std::string &canonical) {
  return canonical == "config" || canonical == "help" || canonical == "h";
}

Target find_target(std::string_view name, std::span<const AppOption> app_options) {
  if (const OptionSpec *spec = find_option(name)) return {spec, nullptr};
  const std::string want = canonical_name(name);
  for (const AppOption &o : app_options)
    if (canonical_name(o.name) == want) return {nullptr, &o};
  return {};
}

std::string check_app_options(std::span<const AppOption> app_options) {
  std::vector<std::string> seen;
  for (const AppOption &o : app_options) {
    const std::string canonical = canonical_name(o.name);
    bool well_formed = !o.name.empty() && o.name.front() != '-' &&
                       std::all_of(o.name.begin(), o.name.end(), [](char c) {
                         return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') || c == '-' || c == '_';
                       });
    if (!well_formed)
      return "application option " + quote_for_message(o.name) +
             " is not a valid name (use letters, digits, '-' and '_')";
    if (find_option(o.name) != nullptr || is_reserved_flag(canonical))
      return "application option " + quote_for_message(o.name) +
             " clashes with a dataplane option of that name (rename it)";
    if (std::find(seen.begin(), seen.end(), canonical) != seen.end())
      return "application option " + quote_for_message(o.name) + " is declared twice";
    seen.push_back(canonical);
  }
  return {};
}

std::string apply(const Target &t, std::string_view value, DataplaneConfig &out) {
  if (t.spec != nullptr) return t.spec->set(value, out);
  out.app[t.app->name] = std::string(value);
  return {};
}

std::string flag_of(const Target &t) {
  std::string name(t.spec != nullptr ? t.spec->flag : std::string_view(t.app->name));
  for (char &c : name)
    if (c == '_') c = '-';
  return "--" + name;
}

std::string value_example(const Target &t) {
  return flag_of(t) + " " + std::string(t.spec != nullptr ? t.spec->value_name : "VALUE");
}

std::string did_you_mean(std::string_view word, std::vector<std::string> candidates,
                         std::string_view prefix) {
  std::string best = closest_name(word, candidates);
  return best.empty() ? std::string() : " (did you mean " + std::string(prefix) + best + "?)";
}

std::vector<std::string> all_flag_names(std::span<const AppOption> app_options) {
  std::vector<std::string> names = {"config", "help"};
  for (const OptionSpec &o : dataplane_options()) {
    names.emplace_back(o.flag);
    names.emplace_back(o.key);
    for (char &c : names.back())
      if (c == '_') c = '-';
  }
  for (const AppOption &o : app_options) {
    names.push_back(o.name);
    for (char &c : names.back())
      if (c == '_') c = '-';
  }
  return names;
}

std::vector<std::string> all_key_names(std::span<const AppOption> app_options) {
  std::vector<std::string> names;
  for (const OptionSpec &o : dataplane_options()) names.emplace_back(o.key);
  for (const AppOption &o : app_options) names.push_back(canonical_name(o.name));
  return names;
}

// Drops a `#` comment, leaving any `#` inside quotes alone.
std::string_view strip_comment(std::string_view line) {
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#') {
      return line.substr(0, i);
    }
  }
  return line;
}

ParseResult error(std::string message) { return {ParseResult::kError, std::move(message)}; }

// One `--name[=value] [value]` from the command line.
struct FlagUse {
  std::string shown;  // as typed, for messages
  Target target;
  std::string value;
};

void pad_to(std::string &line, size_t column) {
  line += line.size() < column ? std::string(column - line.size(), ' ') : std::string("  ");
}

// Appends `left` padded to `column`, then `text` word-wrapped to `width`
// with continuation lines indented to `column`.
void append_wrapped(std::string &out, std::string left, std::string_view text, size_t column,
                    size_t width) {
  pad_to(left, column);
  std::string line = std::move(left);
  bool line_has_word = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t space = text.find(' ', pos);
    std::string_view word =
        text.substr(pos, space == std::string_view::npos ? text.npos : space - pos);
    pos = space == std::string_view::npos ? text.size() : space + 1;
    if (word.empty()) continue;
    if (line_has_word && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = std::string(column, ' ');
      line_has_word = false;
    }
    if (line_has_word) line += ' ';
    line += word;
    line_has_word = true;
  }
  out += line + "\n";
}

}  // namespace

ParseResult parse_config_text(std::string_view text, std::string_view origin,
                              std::span<const AppOption> app_options, DataplaneConfig &out) {
  if (std::string err = check_app_options(app_options); !err.empty()) return error(err);
  std::map<std::string, unsigned> first_line_of;  // canonical key -> line it was set on
  unsigned line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end == std::string_view::npos ? text.npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    ++line_no;
    const std::string where =
        "config file " + quote_for_message(origin) + ": line " + std::to_string(line_no) + ": ";

    line = trim(strip_comment(line));
    if (!line.empty() && line.back() == ';') line = trim(line.substr(0, line.size() - 1));
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      return error(where + "expected 'key = value', got " + quote_for_message(line));
    std::string_view key = trim(line.substr(0, eq));
    std::string_view value = trim(line.substr(eq + 1));
    if (key.empty()) return error(where + "expected 'key = value' (the key is missing)");
    if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
      if (value.size() < 2 || value.back() != value.front())
        return error(where + std::string(key) + ": the quote in " + quote_for_message(value) +
                     " is not closed");
      value = value.substr(1, value.size() - 2);
    }
    if (canonical_name(key) == "config")
      return error(where + "'config' cannot be set inside a config file");
    Target target = find_target(key, app_options);
    if (!target)
      return error(where + "unknown key " + quote_for_message(key) +
                   did_you_mean(canonical_name(key), all_key_names(app_options), ""));
    const std::string canonical =
        target.spec != nullptr ? std::string(target.spec->key) : canonical_name(target.app->name);
    auto [it, inserted] = first_line_of.emplace(canonical, line_no);
    if (!inserted)
      return error(where + std::string(key) + " is set twice (first on line " +
                   std::to_string(it->second) + "); keep one");
    if (std::string err = apply(target, value, out); !err.empty())
      return error(where + std::string(key) + ": " + err);
  }
  return {};
}

ParseResult parse_config_file(const std::string &path, std::span<const AppOption> app_options,
                              DataplaneConfig &out) {
  const std::string name = "config file " + quote_for_message(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(name + ": cannot open it (" + std::strerror(errno) + ")");
  std::string text(kMaxConfigFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return error(name + ": cannot read it (" + std::strerror(errno) + ")");
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxConfigFileBytes)
    return error(name + ": larger than " + std::to_string(kMaxConfigFileBytes) +
                 " bytes; is it the right file?");
  return parse_config_text(text, path, app_options, out);
}

ParseResult parse_args(int argc, const char *const *argv, std::span<const AppOption> app_options,
                       DataplaneConfig &out) {
  const std::string_view program = argc > 0 && argv[0] != nullptr ? argv[0] : "ix";
  if (std::string err = check_app_options(app_options); !err.empty()) return error(err);

  std::vector<FlagUse> uses;
  std::optional<std::string> config_path;
  std::string first_error;
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    if (argv[i] == nullptr) continue;
    const std::string_view arg = argv[i];
    auto fail = [&](std::string msg) {
      if (first_error.empty()) first_error = std::move(msg);
    };
    if (arg == "-h" || arg == "--help" || arg.starts_with("--help=")) {
      help = true;
      continue;
    }
    if (!arg.starts_with("--") || arg.size() == 2) {
      fail("unexpected argument " + quote_for_message(arg) +
           " (options start with --; see --help)");
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string_view name = arg.substr(2, eq == std::string_view::npos ? arg.npos : eq - 2);
    const bool is_config = canonical_name(name) == "config";
    Target target = is_config ? Target{} : find_target(name, app_options);
    if (!is_config && !target) {
      fail("unknown option " + quote_for_message("--" + std::string(name)) +
           did_you_mean(name, all_flag_names(app_options), "--"));
      continue;
    }
    std::string value;
    if (eq != std::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
    } else if (i + 1 < argc && argv[i + 1] != nullptr &&
               (!std::string_view(argv[i + 1]).starts_with("--") ||
                (target.spec != nullptr && target.spec->verbatim_value))) {
      value = argv[++i];
    } else {
      fail("--" + std::string(name) + " needs a value (e.g. " +
           (is_config ? std::string("--config FILE") : value_example(target)) + ")");
      continue;
    }
    if (is_config) {
      if (config_path) fail("--config is given twice; pass one config file");
      config_path = value;
    } else {
      uses.push_back({"--" + std::string(name), target, std::move(value)});
    }
  }
  if (help) return {ParseResult::kHelp, usage(program, app_options, out)};
  if (!first_error.empty()) return error(first_error);

  for (const AppOption &o : app_options) out.app.try_emplace(o.name, o.default_value);
  if (config_path) {
    ParseResult file = parse_config_file(*config_path, app_options, out);
    if (file.status != ParseResult::kOk) return file;
  }
  for (const FlagUse &use : uses) {
    if (std::string err = apply(use.target, use.value, out); !err.empty())
      return error(use.shown + ": " + err);
  }
  if (std::string err = validate(out); !err.empty()) return error(err);
  return {};
}

std::string usage(std::string_view program, std::span<const AppOption> app_options,
                  const DataplaneConfig &defaults) {
  constexpr size_t kHelpColumn = 32;
  constexpr size_t kHelpWidth = 100;
  std::string s = "usage: " + std::string(program) + " [--config FILE] [options]\n\n";
  s += "Runs an IX dataplane. Settings come from the config file, then from flags, which\n"
       "override it. Flags take --name value or --name=value; if one is repeated, the last\n"
       "wins.\n\nDataplane options:\n";
  auto add = [&s](std::string left, std::string_view help, const std::string &default_text) {
    std::string text(help);
    if (!default_text.empty()) text += " [default: " + default_text + "]";
    append_wrapped(s, std::move(left), text, kHelpColumn, kHelpWidth);
  };
  add("  --config FILE", "read settings from FILE (format below)", "");
  for (const OptionSpec &o : dataplane_options()) {
    std::string left = "  --" + std::string(o.flag) + " " + std::string(o.value_name);
    add(left, o.help, o.show(defaults));
  }
  add("  -h, --help", "print this help and exit", "");
  if (!app_options.empty()) {
    s += "\nApplication options:\n";
    for (const AppOption &o : app_options) {
      Target t{nullptr, &o};
      add("  " + value_example(t), o.help, o.default_value.empty() ? "none" : o.default_value);
    }
  }
  s += "\nConfig file (--config): one 'key = value' per line; '#' starts a comment; values may\n"
       "be quoted (\"...\" or '...'); lists are [0, 1] or 0,1; a trailing ';' is ignored;\n"
       "a key may appear once. Keys and the flags that set the same thing:\n";
  for (const OptionSpec &o : dataplane_options()) {
    std::string left = "  " + std::string(o.key);
    if (!o.alias.empty()) left += " (or " + std::string(o.alias) + ")";
    pad_to(left, kHelpColumn);
    s += left + "--" + std::string(o.flag) + "\n";
  }
  for (const AppOption &o : app_options) {
    Target t{nullptr, &o};
    std::string left = "  " + canonical_name(o.name);
    pad_to(left, kHelpColumn);
    s += left + flag_of(t) + "\n";
  }
  s += "Example: host_addr = \"10.0.0.2/24\", gateway_addr = 10.0.0.1, cpu = [0, 1].\n";
  return s;
}

}  // namespace ix::config
