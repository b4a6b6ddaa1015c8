#include "papers/common/claim.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace libra::papers {

std::string DirectionName(Direction d) {
  switch (d) {
    case Direction::kGreater: return "greater";
    case Direction::kLess: return "less";
    case Direction::kAtLeast: return "at_least";
    case Direction::kAtMost: return "at_most";
    case Direction::kApproxEqual: return "approx_equal";
  }
  return "?";
}

std::string DirectionSymbol(Direction d) {
  switch (d) {
    case Direction::kGreater: return ">";
    case Direction::kLess: return "<";
    case Direction::kAtLeast: return ">=";
    case Direction::kAtMost: return "<=";
    case Direction::kApproxEqual: return "~=";
  }
  return "?";
}

absl::StatusOr<Direction> ParseDirection(absl::string_view name) {
  for (Direction d : {Direction::kGreater, Direction::kLess, Direction::kAtLeast,
                      Direction::kAtMost, Direction::kApproxEqual}) {
    if (name == DirectionName(d)) return d;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "direction \"", name, "\": expected greater, less, at_least, at_most or approx_equal"));
}

std::string VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kReproduced: return "reproduced";
    case Verdict::kNotReproduced: return "not reproduced";
    case Verdict::kInconclusive: return "inconclusive";
  }
  return "?";
}

absl::StatusOr<Verdict> ParseVerdict(absl::string_view name) {
  for (Verdict v : {Verdict::kReproduced, Verdict::kNotReproduced, Verdict::kInconclusive}) {
    if (name == VerdictName(v)) return v;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "verdict \"", name, "\": expected reproduced, not reproduced or inconclusive"));
}

std::string Quantity::Label() const {
  return is_constant() ? absl::StrFormat("%g", constant) : metric;
}

Summary Summarize(const std::vector<double>& values) {
  Summary s;
  s.n = static_cast<int>(values.size());
  if (s.n == 0) return s;
  double sum = 0.0;
  for (double v : values) sum += v;
  s.mean = sum / s.n;
  if (s.n < 2) return s;
  double ss = 0.0;
  for (double v : values) ss += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(ss / (s.n - 1));
  return s;
}

Summary Summarize(const SeedValues& values) {
  std::vector<double> v;
  v.reserve(values.size());
  for (const auto& [seed, value] : values) v.push_back(value);
  return Summarize(v);
}

namespace {

// How far the claim holds beyond its margin, given the mean difference A - B.
double Excess(Direction direction, double d, double margin) {
  switch (direction) {
    case Direction::kGreater: return d - margin;
    case Direction::kLess: return -d - margin;
    case Direction::kAtLeast: return d + margin;
    case Direction::kAtMost: return margin - d;
    case Direction::kApproxEqual: return margin - std::fabs(d);
  }
  return 0.0;
}

std::vector<int> Keys(const SeedValues& v) {
  std::vector<int> k;
  for (const auto& [seed, value] : v) k.push_back(seed);
  return k;
}

}  // namespace

absl::StatusOr<ClaimResult> JudgeClaim(const Claim& claim, const SeedValues& a,
                                       const SeedValues& b) {
  const std::string where = absl::StrCat("claim \"", claim.id, "\"");
  if (!(claim.margin >= 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": margin must be >= 0, got ", claim.margin));
  }
  if (claim.a.is_constant() && claim.b.is_constant()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": both sides are constants"));
  }
  if (!claim.a.is_constant() && a.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": no values for metric \"", claim.a.metric, "\""));
  }
  if (!claim.b.is_constant() && b.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": no values for metric \"", claim.b.metric, "\""));
  }
  for (const SeedValues* side : {&a, &b}) {
    for (const auto& [seed, value] : *side) {
      if (!std::isfinite(value)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": value for seed ", seed, " is not finite"));
      }
    }
  }

  ClaimResult r;
  r.claim = claim;
  if (claim.a.is_constant()) {
    r.a = Summary{1, claim.a.constant, 0.0};
  } else {
    r.a = Summarize(a);
  }
  if (claim.b.is_constant()) {
    r.b = Summary{1, claim.b.constant, 0.0};
  } else {
    r.b = Summarize(b);
  }

  if (claim.a.is_constant() || claim.b.is_constant()) {
    // One measured side: its standard error is the difference's.
    const SeedValues& measured = claim.a.is_constant() ? b : a;
    const Summary& m = claim.a.is_constant() ? r.b : r.a;
    std::vector<double> d;
    for (const auto& [seed, value] : measured) {
      d.push_back(claim.a.is_constant() ? claim.a.constant - value : value - claim.b.constant);
    }
    r.seeds = Keys(measured);
    r.paired = true;
    r.diff_mean = Summarize(d).mean;
    r.diff_se = m.n > 1 ? m.std / std::sqrt(static_cast<double>(m.n)) : 0.0;
  } else {
    std::vector<double> d;
    for (const auto& [seed, value] : a) {
      auto it = b.find(seed);
      if (it == b.end()) continue;
      d.push_back(value - it->second);
      r.seeds.push_back(seed);
    }
    if (d.size() == a.size() && d.size() == b.size()) {
      // Same seeds on both sides: the paired difference removes what a seed
      // shares between conditions (data order, initialisation).
      r.paired = true;
      Summary ds = Summarize(d);
      r.diff_mean = ds.mean;
      r.diff_se = ds.n > 1 ? ds.std / std::sqrt(static_cast<double>(ds.n)) : 0.0;
    } else {
      r.paired = false;
      r.seeds = Keys(a);
      for (int s : Keys(b)) {
        if (!a.count(s)) r.seeds.push_back(s);
      }
      r.diff_mean = r.a.mean - r.b.mean;
      r.diff_se = std::sqrt(r.a.std * r.a.std / r.a.n + r.b.std * r.b.std / r.b.n);
    }
  }
  r.spread = kSpreadFactor * r.diff_se;
  r.excess = Excess(claim.direction, r.diff_mean, claim.margin);
  if (r.excess > r.spread) {
    r.verdict = Verdict::kReproduced;
  } else if (r.excess < -r.spread) {
    r.verdict = Verdict::kNotReproduced;
  } else {
    r.verdict = Verdict::kInconclusive;
  }
  if (r.seeds.size() < 2) r.note = "one seed: no spread";
  if (!r.paired && !(claim.a.is_constant() || claim.b.is_constant())) {
    r.note = "unpaired seeds: Welch standard error";
  }
  return r;
}

}  // namespace libra::papers
