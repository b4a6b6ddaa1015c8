#include "src/core/merge/registry.h"

#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace libra::merge {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kMaxSeed = 9007199254740992.0;  // 2^53: exact in a double

//                              name         required default min    max   (min  per_expert
const ParamSpec kWeight = {"weight", false, 1.0, -kInf, kInf, false, true};
const ParamSpec kDensity = {"density", true, 1.0, 0.0, 1.0, true, true};
const ParamSpec kLambda = {"lambda", false, 1.0, -kInf, kInf, false, false};
const ParamSpec kBeta = {"beta", false, 0.01, 0.0, 1.0, false, false};
const ParamSpec kSeed = {"seed", false, 0.0, 0.0, kMaxSeed, false, false};
const ParamSpec kNormalize = {"normalize", false, 0.0, 0.0, 1.0, false, false};

std::vector<MethodSpec> BuildMethods() {
  using S = Sparsification;
  using C = Consensus;
  const char* kTies = "https://arxiv.org/abs/2306.01708";
  const char* kDare = "https://arxiv.org/abs/2311.03099";
  return {
      {"linear", "https://arxiv.org/abs/2203.05482", {kWeight, kNormalize}, Family::kLinear},
      {"uniform", "https://arxiv.org/abs/2405.11157", {}, Family::kLinear, S::kNone, C::kNone,
       /*uniform=*/true},
      {"task_arithmetic", "https://arxiv.org/abs/2212.04089", {kWeight, kLambda, kNormalize},
       Family::kTaskArithmetic, S::kNone, C::kNone},
      {"ties", kTies, {kWeight, kDensity, kLambda}, Family::kTaskArithmetic, S::kMagnitude,
       C::kSign},
      {"dare_linear", kDare, {kWeight, kDensity, kLambda, kSeed, kNormalize},
       Family::kTaskArithmetic, S::kRandom, C::kNone},
      {"dare_ties", kDare, {kWeight, kDensity, kLambda, kSeed}, Family::kTaskArithmetic,
       S::kRandom, C::kSign},
      {"magnitude_prune", kTies, {kWeight, kDensity, kLambda, kNormalize},
       Family::kTaskArithmetic, S::kMagnitude, C::kNone},
      {"breadcrumbs", "https://arxiv.org/abs/2312.06795",
       {kWeight, kDensity, kBeta, kLambda, kNormalize}, Family::kTaskArithmetic,
       S::kMagnitudeOutliers, C::kNone},
      {"breadcrumbs_ties", "https://arxiv.org/abs/2312.06795",
       {kWeight, kDensity, kBeta, kLambda}, Family::kTaskArithmetic, S::kMagnitudeOutliers,
       C::kSign},
      {"sparse_overlap", "https://github.com/microsoft/mttl", {}, Family::kSparseOverlap},
  };
}

}  // namespace

absl::Span<const MethodSpec> AllMethods() {
  // Built on first use (function-local, so no static-initialisation order).
  static const std::vector<MethodSpec>* const methods =
      new std::vector<MethodSpec>(BuildMethods());
  return *methods;
}

std::string KnownMethodNames() {
  std::string names;
  for (const MethodSpec& method : AllMethods()) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", method.name);
  }
  return names;
}

absl::StatusOr<const MethodSpec*> FindMethod(absl::string_view name) {
  for (const MethodSpec& method : AllMethods()) {
    if (name == method.name) return &method;
  }
  return absl::NotFoundError(
      absl::StrCat("unknown merge method \"", name, "\" (known: ", KnownMethodNames(), ")"));
}

}  // namespace libra::merge
