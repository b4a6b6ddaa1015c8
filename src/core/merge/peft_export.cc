#include "src/core/merge/peft_export.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/library/manifest.h"
#include "src/core/merge/expert_file.h"
#include "src/core/peft/peft_export.h"

namespace libra::merge {

absl::Status ExportMergedLoraAsPeft(const std::string& merged_path, const std::string& dir,
                                    const std::string& base_model) {
  absl::StatusOr<ExpertFile> merged = ExpertFile::Open(merged_path);
  if (!merged.ok()) return merged.status();
  SafetensorsWriter writer;
  std::map<std::string, int64_t> ranks;
  std::map<int64_t, int> rank_counts;
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
  }
  if (ranks.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no LoRA modules to export (", merged_path, ")"));
  }
  // The library's PEFT config (PeftConfigFor): the most common rank is r,
  // other modules get rank_pattern / alpha_pattern keys that select them
  // alone under both PEFT matching rules; alpha = rank keeps scale 1.
  ExpertRecord record;
  record.name = merged_path;
  record.type = AdapterType::kLora;
  record.lora.rank = static_cast<int32_t>(rank_counts.begin()->first);
  for (const auto& [rank, count] : rank_counts) {
    if (count > rank_counts[record.lora.rank]) record.lora.rank = static_cast<int32_t>(rank);
  }
  record.lora.alpha = record.lora.rank;
  std::vector<std::string> modules;
  for (const auto& [module, rank] : ranks) {
    modules.push_back(module);
    if (rank != record.lora.rank) {
      record.lora.module_rank[module] = static_cast<int32_t>(rank);
      record.lora.module_alpha[module] = static_cast<double>(rank);
    }
  }
  absl::StatusOr<nlohmann::ordered_json> config = PeftConfigFor(record, modules, modules, base_model);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(config.status().message(), " (", merged_path, ")"));
  }
  writer.SetMetadata("format", "pt");
  writer.SetMetadata("lora_scale", "1");
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("cannot create folder: ", std::strerror(errno), " (",
                                            dir, ")"));
  }
  absl::Status status = writer.WriteAtomically(dir + "/adapter_model.safetensors");
  if (!status.ok()) return status;
  return WriteFileAtomically(dir + "/adapter_config.json", config->dump(2) + "\n");
}

}  // namespace libra::merge
