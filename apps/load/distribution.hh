// Size distributions for keys and values (and the shapes the arrival process
// uses), each defined by its inverse CDF so a sample is quantile(uniform) and
// a test can compare sample statistics with the analytic ones.
//
// Spec strings (what --keysize / --valuesize accept):
//   N | fixed:N                 always N
//   uniform:A:B                 integers A..B, each equally likely
//   exp:MEAN                    exponential
//   gpareto:LOC:SCALE:SHAPE     generalized Pareto
//   gev:LOC:SCALE:SHAPE         generalized extreme value
//   pmf:V=P,V=P,...             a custom discrete distribution (P sum to 1)
//   fb_key | fb_value | fb_ia   the Facebook ETC fits (Atikoglu et al.,
//                               SIGMETRICS 2012) as mutilate names them
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "load/rng.hh"

namespace ix::load {

class Distribution {
 public:
  enum class Kind { kFixed, kUniform, kExponential, kGPareto, kGev, kPmf };

  static Distribution fixed(double value);
  static Distribution uniform(double low, double high);  // integers low..high
  static Distribution exponential(double mean);
  static Distribution gpareto(double loc, double scale, double shape);
  static Distribution gev(double loc, double scale, double shape);
  // A discrete head of (value, probability) pairs; when their probabilities
  // sum to less than 1, the rest of the mass follows `tail`.
  static Distribution pmf(std::vector<std::pair<double, double>> head,
                          std::optional<Distribution> tail = std::nullopt);

  // The ETC fits. Key size: GEV(30.7984, 8.20449, 0.078688). Value size: 15
  // discrete sizes 0..14 bytes carrying 44% of the mass, the rest a
  // generalized Pareto with location 0, scale 214.476, shape 0.348238.
  // Inter-arrival gap: generalized Pareto(0, 16.0292 us, 0.154971).
  // (mutilate's source passes the Pareto's scale and shape into a
  // (loc, scale, shape) constructor, which shifts them by one place; these
  // are the paper's parameters, which is what its authors meant.)
  static Distribution fb_key();
  static Distribution fb_value();
  static Distribution fb_ia_us();

  // Parses a spec string; nullopt with `error` set when it is malformed.
  static std::optional<Distribution> parse(std::string_view spec, std::string &error);

  // The inverse CDF at u in (0, 1).
  double quantile(double u) const;
  double sample(Rng &rng) const { return quantile(rng.uniform()); }
  // The analytic mean (infinity where it does not exist).
  double mean() const;
  Kind kind() const { return kind_; }
  const std::string &describe() const { return text_; }

 private:
  Distribution(Kind kind, double a, double b, double c, std::string text)
      : kind_(kind), a_(a), b_(b), c_(c), text_(std::move(text)) {}

  double continuous_quantile(double u) const;

  Kind kind_;
  double a_, b_, c_;  // fixed: value; uniform: low, high; exp: mean; gpareto/gev: loc, scale, shape
  std::vector<std::pair<double, double>> head_;  // (value, cumulative probability)
  double head_mass_ = 0;
  std::vector<Distribution> tail_;  // zero or one: the rest of a pmf's mass
  std::string text_;
};

}  // namespace ix::load
