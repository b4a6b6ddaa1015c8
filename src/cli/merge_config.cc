#include "src/cli/merge_config.h"

#include <cmath>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace libra::cli {
namespace {

// Larger ranks are no SVD truncation a module could have.
constexpr double kMaxMergeRank = 1 << 20;

absl::Status Invalid(const std::string& label, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(what, " (", label, ")"));
}

// A number, or a boolean as 1 / 0 (normalize: true).
absl::StatusOr<double> Number(const YAML::Node& node, const std::string& where,
                              const std::string& label) {
  if (node.IsScalar()) {
    double value;
    bool flag;
    if (YAML::convert<double>::decode(node, value)) return value;
    if (YAML::convert<bool>::decode(node, flag)) return flag ? 1.0 : 0.0;
  }
  return Invalid(label, absl::StrCat(where, " must be a number"));
}

absl::Status ReadParameters(const YAML::Node& node, const std::string& where,
                            const std::string& label, std::map<std::string, double>* out) {
  if (!node) return absl::OkStatus();
  if (!node.IsMap()) return Invalid(label, absl::StrCat(where, " must be a mapping"));
  for (const auto& item : node) {
    const std::string name = item.first.as<std::string>();
    absl::StatusOr<double> value = Number(item.second, absl::StrCat(where, ".", name), label);
    if (!value.ok()) return value.status();
    (*out)[name] = *value;
  }
  return absl::OkStatus();
}

absl::StatusOr<MergeConfig> Parse(const YAML::Node& root, const std::string& label) {
  if (!root.IsMap()) return Invalid(label, "expected a mapping at the top level");
  static const std::set<std::string> kKeys = {"merge_method", "models", "parameters", "base_model",
                                              "dtype", "mode", "rank"};
  MergeConfig config;
  for (const auto& item : root) {
    const std::string key = item.first.as<std::string>();
    if (!kKeys.count(key)) {
      return Invalid(label, absl::StrCat("unknown key \"", key, "\" (known: merge_method, models, "
                                                               "parameters, base_model, dtype, mode, rank)"));
    }
  }
  if (!root["merge_method"] || !root["merge_method"].IsScalar()) {
    return Invalid(label, "missing merge_method");
  }
  config.method = root["merge_method"].as<std::string>();
  if (root["base_model"]) {
    config.warnings.push_back("base_model is ignored: libra merges the experts' task vectors");
  }
  const YAML::Node models = root["models"];
  if (!models || !models.IsSequence() || models.size() == 0) {
    return Invalid(label, "models must be a non-empty list of {model: NAME, parameters: {..}}");
  }
  std::map<std::string, std::vector<double>> per_model;
  std::map<std::string, int> given;
  for (size_t i = 0; i < models.size(); ++i) {
    const YAML::Node model = models[i];
    const std::string where = absl::StrCat("models[", i, "]");
    if (!model.IsMap() || !model["model"] || !model["model"].IsScalar()) {
      return Invalid(label, absl::StrCat(where, " needs a model name"));
    }
    config.models.push_back(model["model"].as<std::string>());
    std::map<std::string, double> parameters;
    absl::Status status = ReadParameters(model["parameters"], where + ".parameters", label, &parameters);
    if (!status.ok()) return status;
    for (const auto& [name, value] : parameters) {
      per_model[name].resize(models.size());
      per_model[name][i] = value;
      ++given[name];
    }
  }
  for (const auto& [name, count] : given) {
    if (count != static_cast<int>(models.size())) {
      return Invalid(label, absl::StrCat("parameter \"", name, "\" given for ", count, " of ",
                                         models.size(), " models"));
    }
  }
  config.args.per_expert = std::move(per_model);
  absl::Status status =
      ReadParameters(root["parameters"], "parameters", label, &config.args.scalars);
  if (!status.ok()) return status;
  if (root["mode"]) config.mode = root["mode"].as<std::string>();
  if (root["rank"]) {
    absl::StatusOr<double> rank = Number(root["rank"], "rank", label);
    if (!rank.ok()) return rank.status();
    // Checked before the cast: a rank of .inf or 1e30 would be undefined behaviour.
    if (!(*rank >= 1 && *rank <= kMaxMergeRank && *rank == std::floor(*rank))) {
      return Invalid(label, absl::StrCat("rank must be a whole number from 1 to ", kMaxMergeRank, ", got ",
                                         root["rank"].as<std::string>()));
    }
    config.rank = static_cast<int64_t>(*rank);
  }
  if (root["dtype"]) {
    const std::string dtype = root["dtype"].as<std::string>();
    if (dtype == "float32") {
      config.dtype = DType::kF32;
    } else if (dtype == "float16") {
      config.dtype = DType::kF16;
    } else if (dtype == "bfloat16") {
      config.dtype = DType::kBF16;
    } else {
      return Invalid(label, absl::StrCat("dtype \"", dtype, "\" is not float32, float16 or bfloat16"));
    }
  }
  return config;
}

}  // namespace

absl::StatusOr<MergeConfig> ParseMergeConfig(const std::string& yaml, const std::string& label) {
  // yaml-cpp reports errors by exception; they stop here.
  try {
    return Parse(YAML::Load(yaml), label);
  } catch (const YAML::Exception& error) {
    return Invalid(label, absl::StrCat("YAML: ", error.what()));
  }
}

}  // namespace libra::cli
