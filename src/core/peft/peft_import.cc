#include "src/core/peft/peft_import.h"

#include <sys/stat.h>

#include <cmath>
#include <map>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/library/expert_weights.h"
#include "src/core/peft/peft_pattern.h"
#include "src/core/status_macros.h"

namespace libra {
namespace {

using Json = nlohmann::ordered_json;

struct Pattern {
  std::vector<std::string> keys;
  std::vector<double> values;
};

absl::StatusOr<Pattern> ReadPattern(const Json& config, const char* field, const std::string& label) {
  Pattern pattern;
  auto it = config.find(field);
  if (it == config.end() || it->is_null()) return pattern;
  if (!it->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": expected an object (", label, ")"));
  }
  for (auto entry = it->begin(); entry != it->end(); ++entry) {
    if (!entry.value().is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, "[\"", entry.key(), "\"]: expected a number (", label, ")"));
    }
    pattern.keys.push_back(entry.key());
    pattern.values.push_back(entry.value().get<double>());
  }
  return pattern;
}

absl::StatusOr<double> Resolve(const Pattern& pattern, const std::string& module, double fallback,
                               const char* field, const std::string& label) {
  absl::StatusOr<int> index = FirstMatchingPattern(pattern.keys, module);
  if (!index.ok()) return absl::InvalidArgumentError(absl::StrCat(field, ": ", index.status().message(), " (", label, ")"));
  return *index < 0 ? fallback : pattern.values[*index];
}

std::string JsonText(const Json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

// Ranks above this are no LoRA a model could hold; refused before any cast.
constexpr double kMaxRank = 1 << 20;

// nlohmann's value() throws on a field of another type; these name the field.
absl::StatusOr<bool> BoolField(const Json& config, const char* field, const std::string& label) {
  auto it = config.find(field);
  if (it == config.end() || it->is_null()) return false;
  if (!it->is_boolean()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": expected true or false, got ", it->dump(), " (", label, ")"));
  }
  return it->get<bool>();
}

absl::StatusOr<double> NumberField(const Json& config, const char* field, double fallback, const std::string& label) {
  auto it = config.find(field);
  if (it == config.end() || it->is_null()) return fallback;
  if (!it->is_number()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": expected a number, got ", it->dump(), " (", label, ")"));
  }
  return it->get<double>();
}

absl::Status CheckRank(double rank, absl::string_view what, const std::string& label) {
  if (rank > 0 && rank <= kMaxRank && rank == std::floor(rank)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " must be a positive integer of at most ", kMaxRank, ", got ", rank, " (", label, ")"));
}

// adapter_config.json, checked before the weights are read.
struct PeftConfig {
  Json json;
  double r = 8;
  double alpha = 8;
  bool use_rslora = false;
  Pattern rank_pattern, alpha_pattern;
};

absl::StatusOr<PeftConfig> ParsePeftConfig(absl::string_view text, const std::string& label) {
  PeftConfig out;
  out.json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  const Json& config = out.json;
  if (config.is_discarded() || !config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("not a JSON object (", label, ")"));
  }
  auto reject = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(what, " (", label, ")"));
  };
  auto type = config.find("peft_type");
  const std::string peft_type = type != config.end() ? JsonText(*type) : "";
  if (peft_type != "LORA") {
    return reject(absl::StrCat("peft_type \"", peft_type, "\" is not supported; only LORA adapters import"));
  }
  LIBRA_ASSIGN_OR_RETURN(bool use_dora, BoolField(config, "use_dora", label));
  if (use_dora) {
    return reject("DoRA adapters (use_dora: true) are not supported: their magnitude vectors change "
                  "the update, so importing them as plain LoRA would be wrong");
  }
  LIBRA_ASSIGN_OR_RETURN(bool fan_in_fan_out, BoolField(config, "fan_in_fan_out", label));
  if (fan_in_fan_out) return reject("fan_in_fan_out: true (Conv1D layers, transposed weights) is not supported");
  LIBRA_ASSIGN_OR_RETURN(bool lora_bias, BoolField(config, "lora_bias", label));
  if (lora_bias) return reject("lora_bias: true (a trained bias on lora_B) is not supported");
  if (auto bias = config.find("bias"); bias != config.end() && bias->is_string() && *bias != "none") {
    return reject(absl::StrCat("bias \"", bias->get<std::string>(), "\" (trained biases) is not supported"));
  }
  if (auto save = config.find("modules_to_save"); save != config.end() && !save->is_null() && !save->empty()) {
    return reject("modules_to_save (fully trained modules) is not supported");
  }
  LIBRA_ASSIGN_OR_RETURN(out.r, NumberField(config, "r", 8, label));
  LIBRA_RETURN_IF_ERROR(CheckRank(out.r, "r", label));
  LIBRA_ASSIGN_OR_RETURN(out.alpha, NumberField(config, "lora_alpha", 8, label));
  if (!std::isfinite(out.alpha)) return reject(absl::StrCat("lora_alpha must be finite, got ", out.alpha));
  LIBRA_ASSIGN_OR_RETURN(out.use_rslora, BoolField(config, "use_rslora", label));
  LIBRA_ASSIGN_OR_RETURN(out.rank_pattern, ReadPattern(config, "rank_pattern", label));
  LIBRA_ASSIGN_OR_RETURN(out.alpha_pattern, ReadPattern(config, "alpha_pattern", label));
  for (size_t i = 0; i < out.rank_pattern.values.size(); ++i) {
    LIBRA_RETURN_IF_ERROR(CheckRank(out.rank_pattern.values[i],
                                    absl::StrCat("rank_pattern[\"", out.rank_pattern.keys[i], "\"]"), label));
  }
  for (double value : out.alpha_pattern.values) {
    if (!std::isfinite(value)) return reject("alpha_pattern values must be finite");
  }
  return out;
}

// The weights renamed to library naming, checked against the configuration.
absl::StatusOr<PeftImport> ConvertPeftWeights(const PeftConfig& peft, const std::string& config_label,
                                              const SafetensorsFile& weights) {
  const Json& config = peft.json;
  const std::string& weights_path = weights.label();
  PeftImport out;
  ExpertRecord& record = out.record;
  record.type = AdapterType::kLora;
  record.lora.rank = static_cast<int32_t>(peft.r);
  record.lora.alpha = peft.alpha;
  record.lora.use_rslora = peft.use_rslora;
  SafetensorsWriter writer;
  for (const TensorInfo& info : weights.tensors()) {
    absl::string_view name = info.name;
    if (!absl::ConsumePrefix(&name, kPeftKeyPrefix) ||
        !(absl::EndsWith(name, ".lora_A.weight") || absl::EndsWith(name, ".lora_B.weight"))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor \"", info.name, "\": only base_model.model.<module>.lora_A.weight / .lora_B.weight import (",
          weights_path, ")"));
    }
    if (info.dtype != DType::kF32 && info.dtype != DType::kF16 && info.dtype != DType::kBF16) {
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", info.name, "\": dtype ", DTypeName(info.dtype),
                                                     " is not F32, F16 or BF16 (", weights_path, ")"));
    }
    LIBRA_ASSIGN_OR_RETURN(Tensor tensor, weights.ReadFloat(info.name));
    LIBRA_RETURN_IF_ERROR(writer.Add(std::string(name), tensor, info.dtype));
    if (absl::EndsWith(name, ".lora_A.weight")) {
      const std::string module(absl::StripSuffix(name, ".lora_A.weight"));
      LIBRA_ASSIGN_OR_RETURN(double module_rank,
                             Resolve(peft.rank_pattern, module, peft.r, "rank_pattern", config_label));
      LIBRA_ASSIGN_OR_RETURN(double module_alpha,
                             Resolve(peft.alpha_pattern, module, peft.alpha, "alpha_pattern", config_label));
      if (info.shape.size() != 2 || info.shape[0] != static_cast<int64_t>(module_rank)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "tensor \"", info.name, "\": expected rank ", module_rank, " from adapter_config.json, got shape ",
            ShapeToString(info.shape), " (", weights_path, ")"));
      }
      if (module_rank != peft.r) record.lora.module_rank[module] = static_cast<int32_t>(module_rank);
      if (module_alpha != peft.alpha) record.lora.module_alpha[module] = module_alpha;
    }
  }
  // Other tools reading the expert file alone (libra merge) take the scaling
  // from its metadata; per-module alphas only live in the manifest.
  if (record.lora.module_alpha.empty()) {
    writer.SetMetadata("lora_alpha", absl::StrCat(peft.alpha));
    writer.SetMetadata("use_rslora", record.lora.use_rslora ? "true" : "false");
  }
  // The pairing and shape checks of library expert files.
  std::string bytes = writer.Serialize();
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile renamed, SafetensorsFile::FromBytes(bytes, weights_path));
  LIBRA_RETURN_IF_ERROR(InspectExpertFile(renamed, AdapterType::kLora).status());
  out.file_bytes = std::move(bytes);

  if (auto targets = config.find("target_modules"); targets != config.end()) {
    if (targets->is_string()) {
      record.target_modules = {targets->get<std::string>()};
      record.training_config["peft.target_modules_regex"] = "true";
    } else if (targets->is_array()) {
      for (const Json& target : *targets) {
        if (target.is_string()) record.target_modules.push_back(target.get<std::string>());
      }
    }
  }
  record.training_config["source"] = "peft";
  for (const char* field : {"base_model_name_or_path", "lora_dropout", "task_type", "bias"}) {
    if (auto it = config.find(field); it != config.end() && !it->is_null()) {
      record.training_config[absl::StrCat("peft.", field)] = JsonText(*it);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<PeftImport> ReadPeftAdapter(const std::string& dir) {
  const std::string config_path = dir + "/" + kPeftConfigFile;
  const std::string weights_path = dir + "/" + kPeftWeightsFile;
  LIBRA_ASSIGN_OR_RETURN(std::string config_text, ReadFile(config_path, kMaxConfigFileBytes));
  LIBRA_ASSIGN_OR_RETURN(PeftConfig config, ParsePeftConfig(config_text, config_path));
  struct stat info;
  if (stat(weights_path.c_str(), &info) != 0) {
    if (stat((dir + "/adapter_model.bin").c_str(), &info) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "adapter_model.bin (a pickle) is not read; save the adapter with safe_serialization=True (", dir, ")"));
    }
    return absl::NotFoundError(absl::StrCat("no ", kPeftWeightsFile, " (", weights_path, ")"));
  }
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile weights, SafetensorsFile::Open(weights_path));
  return ConvertPeftWeights(config, config_path, weights);
}

absl::StatusOr<PeftImport> ParsePeftAdapter(absl::string_view config_json, const std::string& config_label,
                                            const SafetensorsFile& weights) {
  LIBRA_ASSIGN_OR_RETURN(PeftConfig config, ParsePeftConfig(config_json, config_label));
  return ConvertPeftWeights(config, config_label, weights);
}

}  // namespace libra
