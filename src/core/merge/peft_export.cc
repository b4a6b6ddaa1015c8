#include "src/core/merge/peft_export.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/merge/expert_file.h"

namespace libra::merge {

absl::Status ExportMergedLoraAsPeft(const std::string& merged_path, const std::string& dir,
                                    const std::string& base_model) {
  absl::StatusOr<ExpertFile> merged = ExpertFile::Open(merged_path);
  if (!merged.ok()) return merged.status();
  SafetensorsWriter writer;
  std::map<std::string, int64_t> ranks;
  std::map<int64_t, int> rank_counts;
  std::set<std::string> targets;
  for (const ModuleEntry& module : merged->modules()) {
    if (module.kind != ModuleDelta::Kind::kLora) {
      return absl::InvalidArgumentError(absl::StrCat(
          "PEFT export needs LoRA modules; module \"", module.name,
          "\" is not one (merge with --mode ab or --mode svd) (", merged_path, ")"));
    }
    absl::StatusOr<ModuleDelta> lora = merged->Load(module);
    if (!lora.ok()) return lora.status();
    // Merged files carry scale 1; fold anything else into B so alpha = r holds.
    for (float& v : lora->lora.b.values()) v *= lora->lora.scale;
    const std::string name = kPeftModulePrefix + module.name;
    absl::Status status = writer.Add(LoraATensorName(name), lora->lora.a);
    if (status.ok()) status = writer.Add(LoraBTensorName(name), lora->lora.b);
    if (!status.ok()) return status;
    ranks[module.name] = module.rank;
    ++rank_counts[module.rank];
    const size_t dot = module.name.rfind('.');
    targets.insert(dot == std::string::npos ? module.name : module.name.substr(dot + 1));
  }
  if (ranks.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no LoRA modules to export (", merged_path, ")"));
  }
  int64_t r = rank_counts.begin()->first;
  for (const auto& [rank, count] : rank_counts) {
    if (count > rank_counts[r]) r = rank;
  }
  nlohmann::json rank_pattern = nlohmann::json::object(), alpha_pattern = nlohmann::json::object();
  for (const auto& [module, rank] : ranks) {
    if (rank != r) {
      rank_pattern[module] = rank;
      alpha_pattern[module] = rank;  // keeps scale = alpha / r = 1
    }
  }
  const nlohmann::json config = {
      {"peft_type", "LORA"},          {"base_model_name_or_path", base_model},
      {"r", r},                       {"lora_alpha", r},
      {"lora_dropout", 0.0},          {"target_modules", targets},
      {"bias", "none"},               {"fan_in_fan_out", false},
      {"use_rslora", false},          {"use_dora", false},
      {"rank_pattern", rank_pattern}, {"alpha_pattern", alpha_pattern},
      {"modules_to_save", nullptr},   {"task_type", "CAUSAL_LM"},
      {"inference_mode", true},
  };
  writer.SetMetadata("format", "pt");
  writer.SetMetadata("lora_scale", "1");
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("cannot create folder: ", std::strerror(errno), " (",
                                            dir, ")"));
  }
  absl::Status status = writer.WriteAtomically(dir + "/adapter_model.safetensors");
  if (!status.ok()) return status;
  return WriteFileAtomically(dir + "/adapter_config.json", config.dump(2) + "\n");
}

}  // namespace libra::merge
