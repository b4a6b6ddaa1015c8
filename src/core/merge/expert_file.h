// ExpertFile: an expert's safetensors file seen as modules, loaded one module
// at a time for streaming merges.
//
// Tensor names (PEFT's ".weight" suffix optional on LoRA factors, PEFT's
// "base_model.model." prefix dropped from module names):
//   <m>.lora_A.weight [r, in] and <m>.lora_B.weight [out, r]  -> LoRA module <m>
//   <m>.sparse.values [nnz] (float), <m>.sparse.indices [nnz] (integer, flat
//     row-major) and <m>.sparse.shape [rank] (integer)         -> sparse module <m>
//   <m>.delta.weight                                           -> dense module <m>
//   any other float tensor <t> (a bias, a full weight)         -> dense module <t>
// The LoRA scale comes from the file's metadata: "lora_scale", else
// "lora_alpha" / r ("use_rslora" = "true": / sqrt(r)), else 1. A PEFT
// adapter (a folder, or an adapter_model.safetensors with adapter_config.json
// beside it) takes lora_alpha, use_rslora and alpha_pattern from its config.
//
//   LIBRA_ASSIGN_OR_RETURN(ExpertFile expert, ExpertFile::Open("a.safetensors"));
//   for (const ModuleEntry& module : expert.modules()) {
//     LIBRA_ASSIGN_OR_RETURN(ModuleDelta delta, expert.Load(module));
//   }
#ifndef LIBRA_CORE_MERGE_EXPERT_FILE_H_
#define LIBRA_CORE_MERGE_EXPERT_FILE_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/core/io/safetensors.h"
#include "src/core/merge/merge.h"

namespace libra::merge {

struct ModuleEntry {
  std::string name;
  ModuleDelta::Kind kind = ModuleDelta::Kind::kDense;
  Shape delta_shape;              // [out, in] for LoRA
  int64_t rank = 0;               // LoRA
  int64_t nnz = 0;                // sparse
  std::vector<std::string> tensors;  // LoRA: A, B; sparse: values, indices, shape; dense: delta
  float scale = 1.0f;                // LoRA
};

// Where a LoRA's scale comes from (metadata or PEFT's adapter_config.json).
struct LoraScaling {
  std::optional<double> scale;  // explicit, for every module
  std::optional<double> alpha;  // lora_alpha
  bool rslora = false;          // alpha / sqrt(r) instead of alpha / r
  std::map<std::string, double> alpha_pattern;  // module (suffix) -> alpha
  // Overrides all of the above (e.g. an expert library's record).
  std::function<double(const std::string& module, int64_t rank)> scale_of;
  double ScaleFor(const std::string& module, int64_t rank) const;
};

class ExpertFile {
 public:
  // `path`: a safetensors file, or a PEFT adapter folder. `scaling`, if
  // given, replaces what the file or its adapter_config.json say.
  static absl::StatusOr<ExpertFile> Open(const std::string& path,
                                         const LoraScaling* scaling = nullptr);
  // Scaling from the file's own metadata when `scaling` is null.
  static absl::StatusOr<ExpertFile> FromFile(SafetensorsFile file,
                                             const LoraScaling* scaling = nullptr);

  const std::string& label() const { return file_.label(); }
  // Modules sorted by name.
  const std::vector<ModuleEntry>& modules() const { return modules_; }
  const ModuleEntry* Find(const std::string& module) const;
  // Reads one module's tensors (validated shapes).
  absl::StatusOr<ModuleDelta> Load(const ModuleEntry& module) const;
  // Sparse module's indices only (planning the merged mask).
  absl::StatusOr<std::vector<int64_t>> LoadIndices(const ModuleEntry& module) const;

 private:
  explicit ExpertFile(SafetensorsFile file) : file_(std::move(file)) {}
  absl::Status Index(const LoraScaling& scaling);
  SafetensorsFile file_;
  std::vector<ModuleEntry> modules_;
};

// Output tensor names for merged modules (the same layout, so merges reload).
std::string LoraATensorName(const std::string& module);
std::string LoraBTensorName(const std::string& module);
std::string DenseDeltaTensorName(const std::string& module);

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_EXPERT_FILE_H_
