// Keeps an expert's auxiliary Arrow prototype file in step with its tensors.
//
// RefreshPrototypes reads the LoRA expert at `expert_path` (PEFT-style
// lora_A/lora_B tensors, scale from metadata per lora_modules.h) and writes
// its prototypes (expert_prototypes.h) atomically to `prototypes_path`,
// unless that file already holds prototypes for the same `source_hash` and
// top_k. `source_hash` identifies the expert's tensor file: the library
// manifest's sha256, or FileFingerprint() for a loose file. `scale_of`
// gives the LoRA scale per module (the manifest's LoraParams::ScaleOf);
// without it the file's metadata decides (lora_modules.h).
//
//   LIBRA_ASSIGN_OR_RETURN(std::string hash, arrow::FileFingerprint(expert));
//   LIBRA_ASSIGN_OR_RETURN(arrow::RefreshOutcome outcome,
//                          arrow::RefreshPrototypes(expert, aux, hash, /*top_k=*/1));
#ifndef LIBRA_CORE_ARROW_PROTOTYPE_CACHE_H_
#define LIBRA_CORE_ARROW_PROTOTYPE_CACHE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "src/core/arrow/expert_prototypes.h"
#include "src/core/io/safetensors.h"

namespace libra::arrow {

// kNotLora: the file has no lora_A/lora_B tensors (a sparse or dense
// expert); nothing is written.
enum class RefreshOutcome { kComputed, kUpToDate, kNotLora };

struct RefreshResult {
  RefreshOutcome outcome = RefreshOutcome::kComputed;
  int modules = 0;
};

// Whether `prototypes_path` is a readable prototype file for `source_hash`
// with top_k == `top_k`. A missing or unreadable file is simply stale.
bool PrototypesUpToDate(const std::string& prototypes_path, const std::string& source_hash,
                        int top_k);
bool PrototypesUpToDate(const SafetensorsFile& prototypes, const std::string& source_hash,
                        int top_k);

// Whether the file holds any lora_A / lora_B tensor.
bool HasLoraTensors(const SafetensorsFile& expert);

// Scale of dW = s B A for `module` of rank `rank`.
using ScaleFn = std::function<double(const std::string& module, int64_t rank)>;

absl::StatusOr<RefreshResult> RefreshPrototypes(const std::string& expert_path,
                                                const std::string& prototypes_path,
                                                const std::string& source_hash, int top_k = 1,
                                                const ScaleFn& scale_of = nullptr);

// The prototypes of an expert file already open (the library's files),
// tagged with `source_hash`. The file must hold LoRA modules.
absl::StatusOr<ExpertPrototypes> ComputeFilePrototypes(const SafetensorsFile& expert,
                                                       const std::string& source_hash, int top_k,
                                                       const ScaleFn& scale_of = nullptr);

// Lowercase hex SHA-256 of the file: the same hash the library manifest
// records for an expert's tensor file.
absl::StatusOr<std::string> FileFingerprint(const std::string& path);

}  // namespace libra::arrow

#endif  // LIBRA_CORE_ARROW_PROTOTYPE_CACHE_H_
