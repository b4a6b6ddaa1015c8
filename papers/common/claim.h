// A paper's claim and how libra judges it over seeds.
//
// A claim compares two quantities, A and B: two named metrics measured on the
// same seeds, or a metric and a constant. Per seed s the difference is
// d_s = A_s - B_s (paired when both metrics have the seed; Welch's standard
// error otherwise). With d = mean(d_s), se = its standard error and the
// spread S = kSpreadFactor * se, the verdict is (README.md, "Judging"):
//
//   direction       excess e                     reproduced   not reproduced
//   kGreater        d - margin                   e >  S       e < -S
//   kLess           -d - margin                  e >  S       e < -S
//   kAtLeast        d + margin                   e >  S       e < -S
//   kAtMost         margin - d                   e >  S       e < -S
//   kApproxEqual    margin - |d|                 e >  S       e < -S
//
// and inconclusive otherwise (within the spread).
//
//   Claim claim;
//   claim.id = "expert_beats_base";
//   claim.a = Quantity::Metric("expert/own");
//   claim.b = Quantity::Metric("base");
//   claim.direction = Direction::kGreater;
//   claim.margin = 0.2;
//   ClaimResult r = JudgeClaim(claim, {{1, 0.9}, {2, 0.95}}, {{1, 0.2}, {2, 0.3}});
#ifndef LIBRA_PAPERS_COMMON_CLAIM_H_
#define LIBRA_PAPERS_COMMON_CLAIM_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace libra::papers {

// The factor on the standard error of the mean difference that makes the
// spread. 2 is a one-sided confidence of about 91% with 3 paired seeds
// (t distribution, 2 degrees of freedom) and 97.7% for many seeds.
inline constexpr double kSpreadFactor = 2.0;

enum class Direction { kGreater, kLess, kAtLeast, kAtMost, kApproxEqual };
enum class Verdict { kReproduced, kNotReproduced, kInconclusive };

// "greater", "less", "at_least", "at_most", "approx_equal".
std::string DirectionName(Direction d);
absl::StatusOr<Direction> ParseDirection(absl::string_view name);
// "reproduced", "not reproduced", "inconclusive" (the words results.json uses).
std::string VerdictName(Verdict v);
absl::StatusOr<Verdict> ParseVerdict(absl::string_view name);
// The relation as a symbol for tables: ">", "<", ">=", "<=", "~=".
std::string DirectionSymbol(Direction d);

// One side of a comparison: a metric name (per-seed values) or a constant.
struct Quantity {
  std::string metric;  // empty for a constant
  double constant = 0.0;
  static Quantity Metric(std::string name) { return Quantity{std::move(name), 0.0}; }
  static Quantity Constant(double value) { return Quantity{"", value}; }
  bool is_constant() const { return metric.empty(); }
  std::string Label() const;  // the metric name, or the constant printed
};

struct Claim {
  std::string id;
  std::string statement;  // the paper's words (or a faithful paraphrase)
  Quantity a;
  Quantity b;
  Direction direction = Direction::kGreater;
  double margin = 0.0;  // >= 0, in the metric's units
  // Whether the claim is a known failure, and why, is not the paper code's
  // to say: it is recorded in the paper's expectations file with the numbers
  // it was measured at (expectations.h).
};

// Per-seed values of one metric.
using SeedValues = std::map<int, double>;

struct Summary {
  int n = 0;
  double mean = 0.0;
  double std = 0.0;  // sample standard deviation (n - 1); 0 when n < 2
};
Summary Summarize(const SeedValues& values);
Summary Summarize(const std::vector<double>& values);

struct ClaimResult {
  Claim claim;
  Verdict verdict = Verdict::kInconclusive;
  std::vector<int> seeds;  // the seeds the difference was computed over
  bool paired = false;
  Summary a;           // condition A over its seeds (std 0 for a constant)
  Summary b;           // condition B
  double diff_mean = 0.0;  // mean of A - B
  double diff_se = 0.0;    // standard error of diff_mean
  double spread = 0.0;     // kSpreadFactor * diff_se
  double excess = 0.0;     // how far the claim holds beyond its margin (table above)
  std::string note;        // e.g. "one seed: no spread"
};

// Judges `claim` on the values of A and B (ignored for a constant side).
// Fails on an empty side, a negative margin, or two constants.
absl::StatusOr<ClaimResult> JudgeClaim(const Claim& claim, const SeedValues& a,
                                       const SeedValues& b);

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_CLAIM_H_
