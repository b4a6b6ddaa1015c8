#include "src/core/arrow/prototype_cache.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "src/core/arrow/expert_prototypes.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/lora/lora_modules.h"
#include "src/core/sha256.h"
#include "src/core/status_macros.h"

namespace libra::arrow {

bool PrototypesUpToDate(const SafetensorsFile& prototypes, const std::string& source_hash,
                        int top_k) {
  absl::StatusOr<ExpertPrototypes> existing = ReadExpertPrototypes(prototypes);
  return existing.ok() && existing->source_hash == source_hash && existing->top_k == top_k;
}

bool PrototypesUpToDate(const std::string& prototypes_path, const std::string& source_hash,
                        int top_k) {
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(prototypes_path);
  return file.ok() && PrototypesUpToDate(*file, source_hash, top_k);
}

bool HasLoraTensors(const SafetensorsFile& expert) {
  return std::any_of(expert.tensors().begin(), expert.tensors().end(),
                     [](const TensorInfo& info) {
                       std::string module;
                       bool is_a;
                       return ParseLoraTensorName(info.name, &module, &is_a);
                     });
}

absl::StatusOr<ExpertPrototypes> ComputeFilePrototypes(const SafetensorsFile& expert,
                                                       const std::string& source_hash, int top_k,
                                                       const ScaleFn& scale_of) {
  LIBRA_ASSIGN_OR_RETURN(std::vector<NamedLoraModule> modules, ReadLoraModules(expert));
  std::vector<float> scales;
  for (const NamedLoraModule& module : modules) {
    const int64_t rank = module.a.dim(0);
    if (scale_of) {
      scales.push_back(static_cast<float>(scale_of(module.name, rank)));
    } else {
      LIBRA_ASSIGN_OR_RETURN(float scale,
                             LoraScaleFromMetadata(expert.metadata(), rank, expert.label()));
      scales.push_back(scale);
    }
  }
  absl::StatusOr<ExpertPrototypes> prototypes = ComputeExpertPrototypes(modules, scales, top_k);
  if (!prototypes.ok()) {
    return absl::Status(prototypes.status().code(),
                        absl::StrCat(prototypes.status().message(), " (", expert.label(), ")"));
  }
  prototypes->source_hash = source_hash;
  return prototypes;
}

absl::StatusOr<RefreshResult> RefreshPrototypes(const std::string& expert_path,
                                                const std::string& prototypes_path,
                                                const std::string& source_hash, int top_k,
                                                const ScaleFn& scale_of) {
  if (absl::StatusOr<SafetensorsFile> existing = SafetensorsFile::Open(prototypes_path);
      existing.ok() && PrototypesUpToDate(*existing, source_hash, top_k)) {
    return RefreshResult{RefreshOutcome::kUpToDate,
                         static_cast<int>(ReadExpertPrototypes(*existing)->modules.size())};
  }
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(expert_path));
  if (!HasLoraTensors(file)) return RefreshResult{RefreshOutcome::kNotLora, 0};
  LIBRA_ASSIGN_OR_RETURN(ExpertPrototypes prototypes,
                         ComputeFilePrototypes(file, source_hash, top_k, scale_of));
  LIBRA_RETURN_IF_ERROR(WriteExpertPrototypes(prototypes, prototypes_path));
  return RefreshResult{RefreshOutcome::kComputed, static_cast<int>(prototypes.modules.size())};
}

absl::StatusOr<std::string> FileFingerprint(const std::string& path) {
  return Sha256File(path);
}

}  // namespace libra::arrow
