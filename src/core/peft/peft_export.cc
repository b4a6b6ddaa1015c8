#include "src/core/peft/peft_export.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <algorithm>
#include <set>

#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/core/io/atomic_file.h"
#include "src/core/peft/peft_import.h"
#include "src/core/peft/peft_pattern.h"
#include "src/core/status_macros.h"

namespace libra {
namespace {

using Json = nlohmann::ordered_json;

Json Number(double value) {
  if (value == std::floor(value) && std::abs(value) < 1e15) return static_cast<int64_t>(value);
  return value;
}

// Matches exactly one of `known` (namely `module`) under both PEFT rules.
absl::StatusOr<bool> Unambiguous(const std::string& key, const std::string& module,
                                 const std::vector<std::string>& known, bool need_legacy) {
  for (const std::string& other : known) {
    for (PeftPatternStyle style : {PeftPatternStyle::kCurrent, PeftPatternStyle::kLegacy}) {
      if (style == PeftPatternStyle::kLegacy && !need_legacy) continue;
      LIBRA_ASSIGN_OR_RETURN(bool matches, PeftPatternMatches(key, other, style));
      if (matches != (other == module)) return false;
    }
  }
  return true;
}

// The module name without its first component works with both PEFT rules;
// the full name only with the current one.
absl::StatusOr<std::string> PatternKeyFor(const std::string& module, const std::vector<std::string>& known) {
  const size_t dot = module.find('.');
  if (dot != std::string::npos) {
    const std::string suffix = module.substr(dot + 1);
    LIBRA_ASSIGN_OR_RETURN(bool ok, Unambiguous(suffix, module, known, /*need_legacy=*/true));
    if (ok) return suffix;
  }
  LIBRA_ASSIGN_OR_RETURN(bool ok, Unambiguous(module, module, known, /*need_legacy=*/false));
  if (ok) return module;
  return absl::FailedPreconditionError(
      absl::StrCat("module \"", module, "\": no rank_pattern key selects it alone"));
}

}  // namespace

absl::StatusOr<nlohmann::ordered_json> PeftConfigFor(const ExpertRecord& record,
                                                     const std::vector<std::string>& modules,
                                                     const std::vector<std::string>& known_modules,
                                                     const std::string& base_model) {
  if (record.type != AdapterType::kLora) {
    return absl::FailedPreconditionError(absl::StrCat("expert \"", record.name, "\" is a ",
                                                      AdapterTypeName(record.type),
                                                      " expert; only LoRA experts export to PEFT"));
  }
  const bool from_peft = record.training_config.count("source") && record.training_config.at("source") == "peft";
  auto config_value = [&](const std::string& key, const std::string& fallback) {
    auto it = record.training_config.find("peft." + key);
    return it == record.training_config.end() ? fallback : it->second;
  };
  Json config;
  config["peft_type"] = "LORA";
  config["base_model_name_or_path"] = config_value("base_model_name_or_path", base_model);
  config["r"] = record.lora.rank;
  config["lora_alpha"] = Number(record.lora.alpha);
  double dropout = 0;
  if (!absl::SimpleAtod(config_value("lora_dropout", "0"), &dropout)) dropout = 0;
  config["lora_dropout"] = Number(dropout);
  if (from_peft && record.training_config.count("peft.target_modules_regex") && !record.target_modules.empty()) {
    config["target_modules"] = record.target_modules.front();
  } else if (from_peft && !record.target_modules.empty()) {
    config["target_modules"] = record.target_modules;
  } else {
    config["target_modules"] = modules;  // exact names: PEFT adapts these layers and no others
  }
  config["bias"] = "none";
  config["fan_in_fan_out"] = false;
  config["use_rslora"] = record.lora.use_rslora;
  config["use_dora"] = false;
  Json rank_pattern = Json::object();
  Json alpha_pattern = Json::object();
  std::set<std::string> module_set(modules.begin(), modules.end());
  std::vector<std::string> known = known_modules;
  for (const std::string& module : modules) {
    if (!std::count(known.begin(), known.end(), module)) known.push_back(module);
  }
  for (const auto& [module, rank] : record.lora.module_rank) {
    if (!module_set.count(module)) continue;
    LIBRA_ASSIGN_OR_RETURN(std::string key, PatternKeyFor(module, known));
    rank_pattern[key] = rank;
  }
  for (const auto& [module, alpha] : record.lora.module_alpha) {
    if (!module_set.count(module)) continue;
    LIBRA_ASSIGN_OR_RETURN(std::string key, PatternKeyFor(module, known));
    alpha_pattern[key] = Number(alpha);
  }
  config["rank_pattern"] = rank_pattern;
  config["alpha_pattern"] = alpha_pattern;
  config["modules_to_save"] = nullptr;
  config["task_type"] = config_value("task_type", "CAUSAL_LM");
  config["inference_mode"] = true;
  return config;
}

absl::Status ExportPeftAdapter(const ExpertLibrary& library, absl::string_view expert, const std::string& out_dir) {
  LIBRA_ASSIGN_OR_RETURN(ExpertRecord record, library.Show(expert));
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, library.OpenExpertFile(expert));
  LIBRA_ASSIGN_OR_RETURN(ExpertLayout layout, InspectExpertFile(file, record.type));
  std::vector<std::string> modules;
  for (const auto& [module, info] : layout.modules) modules.push_back(module);
  std::vector<std::string> known;
  for (const auto& [module, shape] : library.manifest().module_shapes) known.push_back(module);
  LIBRA_ASSIGN_OR_RETURN(Json config, PeftConfigFor(record, modules, known, library.manifest().base_model));

  const std::string config_path = out_dir + "/" + kPeftConfigFile;
  const std::string weights_path = out_dir + "/" + kPeftWeightsFile;
  // Like mkdir -p: every missing folder on the way.
  for (size_t slash = out_dir.find('/', 1); ; slash = out_dir.find('/', slash + 1)) {
    const std::string prefix = out_dir.substr(0, slash);
    if (!prefix.empty() && mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::UnavailableError(absl::StrCat("cannot create folder: ", std::strerror(errno), " (", prefix, ")"));
    }
    if (slash == std::string::npos) break;
  }
  struct stat info;
  for (const std::string& path : {config_path, weights_path}) {
    if (stat(path.c_str(), &info) == 0) {
      return absl::AlreadyExistsError(absl::StrCat("an adapter is already there; choose another folder (", path, ")"));
    }
  }
  SafetensorsWriter writer;
  writer.SetMetadata("format", "pt");
  for (const TensorInfo& tensor : file.tensors()) {
    LIBRA_ASSIGN_OR_RETURN(Tensor values, file.ReadFloat(tensor.name));
    LIBRA_RETURN_IF_ERROR(writer.Add(kPeftKeyPrefix + tensor.name, values, tensor.dtype));
  }
  LIBRA_RETURN_IF_ERROR(writer.WriteAtomically(weights_path));
  absl::Status status = WriteFileAtomically(config_path, config.dump(2) + "\n");
  if (!status.ok()) {
    unlink(weights_path.c_str());
    return status;
  }
  return absl::OkStatus();
}

}  // namespace libra
