#include "src/core/merge/method.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace libra::merge {
namespace {

std::string ParamNames(const MethodSpec& method) {
  std::string names;
  for (const ParamSpec& param : method.params) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", param.name);
  }
  return names.empty() ? "none" : names;
}

const ParamSpec* FindParam(const MethodSpec& method, const std::string& name) {
  for (const ParamSpec& param : method.params) {
    if (name == param.name) return &param;
  }
  return nullptr;
}

std::string Range(const ParamSpec& param) {
  return absl::StrFormat("%s%g, %g]", param.min_exclusive ? "(" : "[", param.min, param.max);
}

absl::Status CheckValue(const MethodSpec& method, const ParamSpec& param, double value) {
  const bool below = param.min_exclusive ? value <= param.min : value < param.min;
  if (!std::isfinite(value) || below || value > param.max) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "method \"%s\": %s %g outside %s", method.name, param.name, value, Range(param)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MergeParams> BindParams(const MethodSpec& method, const MergeArguments& args,
                                       int num_experts) {
  if (num_experts < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("method \"", method.name, "\": no experts to merge"));
  }
  // Unknown names first: a typo must not silently fall back to a default.
  for (const auto& [name, value] : args.scalars) {
    if (FindParam(method, name) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("method \"", method.name,
                                                     "\" has no parameter \"", name,
                                                     "\" (it takes: ", ParamNames(method), ")"));
    }
  }
  for (const auto& [name, values] : args.per_expert) {
    const ParamSpec* param = FindParam(method, name);
    if (param == nullptr || !param->per_expert) {
      return absl::InvalidArgumentError(
          absl::StrCat("method \"", method.name, "\" has no per-expert parameter \"", name,
                       "\" (it takes: ", ParamNames(method), ")"));
    }
    if (static_cast<int>(values.size()) != num_experts) {
      return absl::InvalidArgumentError(absl::StrCat("method \"", method.name, "\": ",
                                                     values.size(), " values of \"", name,
                                                     "\" for ", num_experts, " experts"));
    }
  }

  std::map<std::string, std::vector<double>> bound;
  for (const ParamSpec& param : method.params) {
    std::vector<double> values;
    if (auto it = args.per_expert.find(param.name); it != args.per_expert.end()) {
      values = it->second;
    } else if (auto it = args.scalars.find(param.name); it != args.scalars.end()) {
      values.assign(param.per_expert ? num_experts : 1, it->second);
    } else if (param.required) {
      return absl::InvalidArgumentError(absl::StrCat(
          "method \"", method.name, "\": missing required parameter \"", param.name, "\""));
    } else {
      values.assign(param.per_expert ? num_experts : 1, param.default_value);
    }
    for (double value : values) {
      if (absl::Status status = CheckValue(method, param, value); !status.ok()) return status;
    }
    bound[param.name] = std::move(values);
  }

  MergeParams params;
  params.weights.assign(num_experts, 1.0);
  params.densities.assign(num_experts, 1.0);
  if (auto it = bound.find("weight"); it != bound.end()) params.weights = it->second;
  if (auto it = bound.find("density"); it != bound.end()) params.densities = it->second;
  if (auto it = bound.find("lambda"); it != bound.end()) params.lambda = it->second[0];
  if (auto it = bound.find("beta"); it != bound.end()) params.beta = it->second[0];
  if (auto it = bound.find("seed"); it != bound.end()) {
    if (it->second[0] != std::floor(it->second[0])) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "method \"%s\": seed %g is not a whole number", method.name, it->second[0]));
    }
    params.seed = static_cast<uint64_t>(it->second[0]);
  }
  if (auto it = bound.find("normalize"); it != bound.end()) {
    if (it->second[0] != 0.0 && it->second[0] != 1.0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "method \"%s\": normalize %g is not 0 or 1", method.name, it->second[0]));
    }
    params.normalize = it->second[0] == 1.0;
  }
  if (method.uniform) {
    params.weights.assign(num_experts, 1.0);
    params.normalize = true;
  }
  if (method.sparsification == Sparsification::kMagnitudeOutliers) {
    for (double density : params.densities) {
      if (density + params.beta > 1.0) {
        return absl::InvalidArgumentError(
            absl::StrFormat("method \"%s\": density %g + beta %g exceeds 1", method.name,
                            density, params.beta));
      }
    }
  }
  if (params.normalize && method.consensus == Consensus::kNone) {
    double sum = 0.0;
    for (double weight : params.weights) sum += weight;
    if (sum == 0.0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "method \"", method.name, "\": normalize needs weights that do not sum to 0"));
    }
  }
  return params;
}

uint64_t ModuleSeed(uint64_t seed, const std::string& module_name) {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char c : module_name) hash = (hash ^ c) * 0x100000001b3ull;
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (hash | 1);  // splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace libra::merge
