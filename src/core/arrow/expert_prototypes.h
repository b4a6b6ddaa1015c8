// Arrow prototypes of a whole expert, and their auxiliary safetensors file.
//
// An expert's prototypes are one entry per LoRA module (in the module order
// of lora_modules.h): the top-k right singular vectors [k, in] of
// dW = scale * B A and their singular values [k]. Row 0 is the Arrow
// prototype. The file stores, per module,
//   "<module>.prototypes"       F32 [k, in]
//   "<module>.singular_values"  F32 [k]
// with metadata {"format": "libra.arrow_prototypes", "version": "1",
// "top_k", "scale", "source_hash"}. `source_hash` is whatever hash the
// caller uses for the expert's tensor file (the library manifest's), so a
// stale file can be detected and recomputed.
//
//   LIBRA_ASSIGN_OR_RETURN(std::vector<NamedLoraModule> modules, ReadLoraModules(file));
//   LIBRA_ASSIGN_OR_RETURN(arrow::ExpertPrototypes protos,
//                          arrow::ComputeExpertPrototypes(modules, scale, /*top_k=*/1));
//   protos.source_hash = manifest_hash;
//   LIBRA_RETURN_IF_ERROR(arrow::WriteExpertPrototypes(protos, dir + "/arrow.safetensors"));
//   ...
//   // [E, in] matrix for one module, for the router:
//   LIBRA_ASSIGN_OR_RETURN(Tensor p, arrow::StackPrototypes(experts, "model.layers.0.q_proj"));
#ifndef LIBRA_CORE_ARROW_EXPERT_PROTOTYPES_H_
#define LIBRA_CORE_ARROW_EXPERT_PROTOTYPES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "src/core/io/safetensors.h"
#include "src/core/lora/lora_modules.h"
#include "src/core/tensor.h"

namespace libra::arrow {

inline constexpr char kPrototypesFormat[] = "libra.arrow_prototypes";

struct ModulePrototypes {
  std::string module;
  Tensor vectors;             // [k, in], unit rows, sign per prototype.h
  std::vector<float> values;  // [k], descending
};

struct ExpertPrototypes {
  std::vector<ModulePrototypes> modules;  // sorted by module path
  int top_k = 1;
  float scale = 1.0f;
  std::string source_hash;

  const ModulePrototypes* Find(absl::string_view module) const;
};

absl::StatusOr<ExpertPrototypes> ComputeExpertPrototypes(const std::vector<NamedLoraModule>& modules,
                                                         float scale, int top_k = 1);
// One scale per module (rank_pattern / alpha_pattern experts); the file's
// "scale" metadata then records the first module's.
absl::StatusOr<ExpertPrototypes> ComputeExpertPrototypes(const std::vector<NamedLoraModule>& modules,
                                                         absl::Span<const float> module_scales,
                                                         int top_k = 1);

// The file image (wasm, tests) and the atomic write.
absl::StatusOr<std::string> SerializeExpertPrototypes(const ExpertPrototypes& prototypes);
absl::Status WriteExpertPrototypes(const ExpertPrototypes& prototypes, const std::string& path);
absl::StatusOr<ExpertPrototypes> ReadExpertPrototypes(const SafetensorsFile& file);

// Row 0 (the Arrow prototype) of `module` for every expert, stacked [E, in].
absl::StatusOr<Tensor> StackPrototypes(absl::Span<const ExpertPrototypes* const> experts,
                                       absl::string_view module);

}  // namespace libra::arrow

#endif  // LIBRA_CORE_ARROW_EXPERT_PROTOTYPES_H_
