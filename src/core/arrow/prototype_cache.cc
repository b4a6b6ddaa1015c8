#include "src/core/arrow/prototype_cache.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/core/arrow/expert_prototypes.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/lora/lora_modules.h"
#include "src/core/status_macros.h"

namespace libra::arrow {

bool PrototypesUpToDate(const std::string& prototypes_path, const std::string& source_hash,
                        int top_k) {
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(prototypes_path);
  if (!file.ok()) return false;
  absl::StatusOr<ExpertPrototypes> existing = ReadExpertPrototypes(*file);
  return existing.ok() && existing->source_hash == source_hash && existing->top_k == top_k;
}

absl::StatusOr<RefreshResult> RefreshPrototypes(const std::string& expert_path,
                                                const std::string& prototypes_path,
                                                const std::string& source_hash, int top_k) {
  if (PrototypesUpToDate(prototypes_path, source_hash, top_k)) {
    absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(prototypes_path);
    absl::StatusOr<ExpertPrototypes> existing = ReadExpertPrototypes(*file);
    return RefreshResult{RefreshOutcome::kUpToDate, static_cast<int>(existing->modules.size())};
  }
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(expert_path));
  LIBRA_ASSIGN_OR_RETURN(std::vector<LoraModule> modules, ReadLoraModules(file));
  LIBRA_ASSIGN_OR_RETURN(float scale,
                         LoraScaleFromMetadata(file.metadata(), modules[0].a.dim(0), file.label()));
  absl::StatusOr<ExpertPrototypes> prototypes = ComputeExpertPrototypes(modules, scale, top_k);
  if (!prototypes.ok()) {
    return absl::Status(prototypes.status().code(),
                        absl::StrCat(prototypes.status().message(), " (", expert_path, ")"));
  }
  prototypes->source_hash = source_hash;
  LIBRA_RETURN_IF_ERROR(WriteExpertPrototypes(*prototypes, prototypes_path));
  return RefreshResult{RefreshOutcome::kComputed, static_cast<int>(modules.size())};
}

absl::StatusOr<std::string> FileFingerprint(const std::string& path) {
  LIBRA_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return absl::StrFormat("fnv1a64:%016x", hash);
}

}  // namespace libra::arrow
