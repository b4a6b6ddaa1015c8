// Writes a library LoRA expert as a PEFT adapter folder that PEFT loads
// (PeftModel.from_pretrained) with the same per-module rank, alpha and
// scale, and whose tensors are bit-identical to the expert file's (same
// dtype).
//
//   <out>/adapter_model.safetensors  base_model.model.<module>.lora_{A,B}.weight
//   <out>/adapter_config.json        peft_type, base_model_name_or_path, r, lora_alpha,
//                                    lora_dropout, target_modules, bias, fan_in_fan_out,
//                                    use_rslora, use_dora, rank_pattern, alpha_pattern,
//                                    modules_to_save, task_type, inference_mode
//
// rank_pattern / alpha_pattern keys are chosen so that both the current and
// the older PEFT matching rules (peft_pattern.h) resolve every module to its
// own value; the export fails rather than write a config that would not.
// Refuses to overwrite an existing adapter in `out_dir`.
//
//   LIBRA_RETURN_IF_ERROR(ExportPeftAdapter(library, "cola", "out/cola"));
#ifndef LIBRA_CORE_PEFT_PEFT_EXPORT_H_
#define LIBRA_CORE_PEFT_PEFT_EXPORT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "src/core/library/expert_library.h"

namespace libra {

absl::Status ExportPeftAdapter(const ExpertLibrary& library, absl::string_view expert, const std::string& out_dir);

// The adapter_config.json ExportPeftAdapter writes, for `modules` (all LoRA
// modules of the expert) among `known_modules` (every module name the base
// model is known to have; pattern keys must not match any other).
absl::StatusOr<nlohmann::ordered_json> PeftConfigFor(const ExpertRecord& record,
                                                     const std::vector<std::string>& modules,
                                                     const std::vector<std::string>& known_modules,
                                                     const std::string& base_model);

}  // namespace libra

#endif  // LIBRA_CORE_PEFT_PEFT_EXPORT_H_
