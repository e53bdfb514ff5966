#include "load/distribution.hh"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace ix::load {

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A finite number filling the whole of `text`.
std::optional<double> parse_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc{} || r.ptr != text.data() + text.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string_view::npos ? s.npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

// Parses exactly `want` numbers after the kind; empty on error.
std::vector<double> parse_params(const std::vector<std::string_view> &parts, size_t want,
                                 std::string_view spec, std::string &error) {
  if (parts.size() != want + 1) {
    error = "'" + std::string(spec) + "': " + std::string(parts[0]) + " takes " +
            std::to_string(want) + " parameter" + (want == 1 ? "" : "s") + " separated by ':'";
    return {};
  }
  std::vector<double> out;
  for (size_t i = 1; i < parts.size(); ++i) {
    auto v = parse_number(parts[i]);
    if (!v) {
      error = "'" + std::string(spec) + "': '" + std::string(parts[i]) + "' is not a number";
      return {};
    }
    out.push_back(*v);
  }
  return out;
}

}  // namespace

Distribution Distribution::fixed(double value) {
  return Distribution(Kind::kFixed, value, 0, 0, "fixed:" + num(value));
}

Distribution Distribution::uniform(double low, double high) {
  return Distribution(Kind::kUniform, std::floor(low), std::floor(high), 0,
                      "uniform:" + num(low) + ":" + num(high));
}

Distribution Distribution::exponential(double mean) {
  return Distribution(Kind::kExponential, mean, 0, 0, "exp:" + num(mean));
}

Distribution Distribution::gpareto(double loc, double scale, double shape) {
  return Distribution(Kind::kGPareto, loc, scale, shape,
                      "gpareto:" + num(loc) + ":" + num(scale) + ":" + num(shape));
}

Distribution Distribution::gev(double loc, double scale, double shape) {
  return Distribution(Kind::kGev, loc, scale, shape,
                      "gev:" + num(loc) + ":" + num(scale) + ":" + num(shape));
}

Distribution Distribution::pmf(std::vector<std::pair<double, double>> head,
                               std::optional<Distribution> tail) {
  std::string text = "pmf:";
  Distribution d(Kind::kPmf, 0, 0, 0, "");
  double cumulative = 0;
  for (size_t i = 0; i < head.size(); ++i) {
    cumulative += head[i].second;
    d.head_.push_back({head[i].first, cumulative});
    text += (i ? "," : "") + num(head[i].first) + "=" + num(head[i].second);
  }
  d.head_mass_ = cumulative;
  if (tail) {
    text += "+" + tail->describe();
    d.tail_.push_back(std::move(*tail));
  } else if (!d.head_.empty()) {
    // Without a tail the head is the whole distribution: rounding in the
    // given probabilities must not leave a gap at the top.
    d.head_.back().second = 1.0;
    d.head_mass_ = 1.0;
  }
  d.text_ = std::move(text);
  return d;
}

Distribution Distribution::fb_key() {
  Distribution d = gev(30.7984, 8.20449, 0.078688);
  d.text_ = "fb_key";
  return d;
}

Distribution Distribution::fb_value() {
  static constexpr double kHead[15] = {0.00536, 0.00047, 0.17820, 0.09239, 0.00018,
                                       0.02740, 0.00065, 0.00606, 0.00023, 0.00837,
                                       0.00837, 0.08989, 0.00092, 0.00326, 0.01980};
  std::vector<std::pair<double, double>> head;
  for (int size = 0; size < 15; ++size) head.push_back({size, kHead[size]});
  Distribution d = pmf(std::move(head), gpareto(0, 214.476, 0.348238));
  d.text_ = "fb_value";
  return d;
}

Distribution Distribution::fb_ia_us() {
  Distribution d = gpareto(0, 16.0292, 0.154971);
  d.text_ = "fb_ia";
  return d;
}

std::optional<Distribution> Distribution::parse(std::string_view spec, std::string &error) {
  if (spec == "fb_key") return fb_key();
  if (spec == "fb_value") return fb_value();
  if (spec == "fb_ia") return fb_ia_us();
  if (auto v = parse_number(spec)) {
    if (*v < 0) {
      error = "'" + std::string(spec) + "' is negative";
      return std::nullopt;
    }
    return fixed(*v);
  }
  const auto parts = split(spec, ':');
  const std::string_view kind = parts[0];
  if (kind == "pmf") {
    if (parts.size() != 2 || parts[1].empty()) {
      error =
          "'" + std::string(spec) + "': pmf takes VALUE=PROBABILITY pairs, e.g. pmf:2=0.9,100=0.1";
      return std::nullopt;
    }
    std::vector<std::pair<double, double>> head;
    double total = 0;
    for (std::string_view pair : split(parts[1], ',')) {
      const size_t eq = pair.find('=');
      auto v = eq == std::string_view::npos ? std::nullopt : parse_number(pair.substr(0, eq));
      auto p = eq == std::string_view::npos ? std::nullopt : parse_number(pair.substr(eq + 1));
      if (!v || !p || *v < 0 || *p <= 0 || *p > 1) {
        error = "'" + std::string(spec) + "': '" + std::string(pair) +
                "' is not VALUE=PROBABILITY with a value >= 0 and a probability in (0, 1]";
        return std::nullopt;
      }
      head.push_back({*v, *p});
      total += *p;
    }
    if (std::fabs(total - 1.0) > 1e-3) {
      error = "'" + std::string(spec) + "': the probabilities sum to " + num(total) + ", not 1";
      return std::nullopt;
    }
    return pmf(std::move(head));
  }
  size_t want = 0;
  if (kind == "fixed" || kind == "exp")
    want = 1;
  else if (kind == "uniform")
    want = 2;
  else if (kind == "gpareto" || kind == "gev")
    want = 3;
  else {
    error = "'" + std::string(spec) +
            "' is not a distribution (N, fixed:N, uniform:A:B, exp:MEAN, gpareto:LOC:SCALE:SHAPE, "
            "gev:LOC:SCALE:SHAPE, pmf:V=P,..., fb_key, fb_value, fb_ia)";
    return std::nullopt;
  }
  const auto p = parse_params(parts, want, spec, error);
  if (p.empty()) return std::nullopt;
  if (kind == "fixed") {
    if (p[0] < 0) {
      error = "'" + std::string(spec) + "': the value is negative";
      return std::nullopt;
    }
    return fixed(p[0]);
  }
  if (kind == "exp") {
    if (p[0] <= 0) {
      error = "'" + std::string(spec) + "': the mean must be positive";
      return std::nullopt;
    }
    return exponential(p[0]);
  }
  if (kind == "uniform") {
    if (p[0] < 0 || p[1] < p[0]) {
      error = "'" + std::string(spec) + "': needs 0 <= A <= B";
      return std::nullopt;
    }
    return uniform(p[0], p[1]);
  }
  if (p[1] <= 0) {
    error = "'" + std::string(spec) + "': the scale must be positive";
    return std::nullopt;
  }
  if (std::fabs(p[2]) > 10) {
    error = "'" + std::string(spec) + "': the shape must be within -10..10";
    return std::nullopt;
  }
  return kind == "gev" ? gev(p[0], p[1], p[2]) : gpareto(p[0], p[1], p[2]);
}

double Distribution::continuous_quantile(double u) const {
  switch (kind_) {
    case Kind::kFixed:
      return a_;
    case Kind::kUniform: {
      const double span = b_ - a_ + 1;
      return a_ + std::min(std::floor(u * span), span - 1);
    }
    case Kind::kExponential:
      return -a_ * std::log1p(-u);
    case Kind::kGPareto:
      // F(x) = 1 - (1 + k (x - loc) / scale)^(-1/k)
      if (c_ == 0) return a_ - b_ * std::log1p(-u);
      return a_ + b_ * (std::pow(1 - u, -c_) - 1) / c_;
    case Kind::kGev:
      // F(x) = exp(-(1 + k (x - loc) / scale)^(-1/k))
      if (c_ == 0) return a_ - b_ * std::log(-std::log(u));
      return a_ + b_ * (std::pow(-std::log(u), -c_) - 1) / c_;
    case Kind::kPmf:
      break;
  }
  return 0;
}

double Distribution::quantile(double u) const {
  if (kind_ != Kind::kPmf) return continuous_quantile(u);
  for (const auto &[value, cumulative] : head_)
    if (u < cumulative) return value;
  if (tail_.empty()) return head_.empty() ? 0 : head_.back().first;
  // The part of (0, 1) above the head, stretched back to (0, 1): the tail
  // is sampled with the same uniform, so quantile() stays a function of u.
  const double v = (u - head_mass_) / (1 - head_mass_);
  return tail_.front().quantile(std::clamp(v, 1e-300, std::nextafter(1.0, 0.0)));
}

double Distribution::mean() const {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  switch (kind_) {
    case Kind::kFixed:
      return a_;
    case Kind::kUniform:
      return (a_ + b_) / 2;
    case Kind::kExponential:
      return a_;
    case Kind::kGPareto:
      return c_ < 1 ? a_ + b_ / (1 - c_) : kInf;
    case Kind::kGev:
      if (c_ >= 1) return kInf;
      if (c_ == 0) return a_ + b_ * 0.5772156649015329;  // Euler-Mascheroni
      return a_ + b_ * (std::tgamma(1 - c_) - 1) / c_;
    case Kind::kPmf: {
      double m = 0, previous = 0;
      for (const auto &[value, cumulative] : head_) {
        m += value * (cumulative - previous);
        previous = cumulative;
      }
      if (!tail_.empty()) m += (1 - head_mass_) * tail_.front().mean();
      return m;
    }
  }
  return 0;
}

}  // namespace ix::load
