// LoRA modules of an adapter file: lora_A / lora_B pairs keyed by module.
//
// PEFT stores `base_model.model.<module path>.lora_A.weight` [r, in] and
// `...lora_B.weight` [out, r]. ReadLoraModules pairs them by module path
// (the "base_model.model." prefix dropped, so the key is the model's own
// module path), checks that every A has its B with matching rank, and
// returns the modules sorted by path: the fixed module order that MBC's
// flattening and the prototype files rely on. Tensors that are not LoRA
// factors (biases, modules_to_save) are ignored.
//
//   LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
//   LIBRA_ASSIGN_OR_RETURN(std::vector<NamedLoraModule> modules, ReadLoraModules(file));
//   // modules[i].name = "model.layers.0.self_attn.q_proj", .a [r, in], .b [out, r]
#ifndef LIBRA_CORE_LORA_LORA_MODULES_H_
#define LIBRA_CORE_LORA_LORA_MODULES_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/core/io/safetensors.h"
#include "src/core/tensor.h"

namespace libra {

// Named, unlike the library's LoraModule (src/core/library/expert_weights.h,
// keyed by a map): lists of these keep the module order explicit.
struct NamedLoraModule {
  std::string name;  // module path, e.g. "model.layers.0.self_attn.q_proj"
  Tensor a;          // [r, in]
  Tensor b;          // [out, r]
};

// Module path of a LoRA factor tensor name and whether it is A or B; false
// if `tensor_name` is not a LoRA factor.
bool ParseLoraTensorName(absl::string_view tensor_name, std::string* module, bool* is_a);

// A module's tensors without their values (for streaming readers).
struct LoraModuleInfo {
  std::string name;
  std::string a_tensor;  // tensor names in the file
  std::string b_tensor;
  Shape a_shape;  // [r, in]
  Shape b_shape;  // [out, r]
};

// Pairs and checks the factors from the header alone, sorted by module.
absl::StatusOr<std::vector<LoraModuleInfo>> IndexLoraModules(const SafetensorsFile& file);
absl::StatusOr<std::vector<NamedLoraModule>> ReadLoraModules(const SafetensorsFile& file);
absl::StatusOr<NamedLoraModule> ReadLoraModule(const SafetensorsFile& file, const LoraModuleInfo& info);

// The LoRA scale s of dW = s B A from file metadata: "lora_scale" if
// present, else "lora_alpha" / r ("use_rslora" = "true": / sqrt(r)), else 1.
// A value that does not parse is an error, not a silent 1.
absl::StatusOr<float> LoraScaleFromMetadata(const std::map<std::string, std::string>& metadata,
                                            int64_t rank, absl::string_view label);

// Checks that `modules` is a valid, sorted, uniquely named module list with
// consistent A/B shapes; `label` names the source in errors.
absl::Status ValidateLoraModules(const std::vector<NamedLoraModule>& modules, absl::string_view label);

}  // namespace libra

#endif  // LIBRA_CORE_LORA_LORA_MODULES_H_
