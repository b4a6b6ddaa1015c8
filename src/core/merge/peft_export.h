// Writes a merged LoRA (the output of an ab or svd merge, expert_file.h
// layout, scale 1) as a PEFT adapter folder that PEFT and libra both reload:
//   <dir>/adapter_config.json        the library exporter's config (PeftConfigFor,
//                                    src/core/peft/peft_export.h): peft_type LORA,
//                                    r = the most common rank, lora_alpha = r
//                                    (scale 1), target_modules, rank_pattern /
//                                    alpha_pattern for modules of another rank
//   <dir>/adapter_model.safetensors  base_model.model.<module>.lora_{A,B}.weight
// Both files are written atomically; an existing folder's other files stay.
//
//   LIBRA_RETURN_IF_ERROR(ExportMergedLoraAsPeft("merged.safetensors", "out/", "phi-2"));
#ifndef LIBRA_CORE_MERGE_PEFT_EXPORT_H_
#define LIBRA_CORE_MERGE_PEFT_EXPORT_H_

#include <string>

#include "absl/status/status.h"

namespace libra::merge {

inline constexpr char kPeftModulePrefix[] = "base_model.model.";

// Error if `merged_path` holds anything but LoRA modules.
absl::Status ExportMergedLoraAsPeft(const std::string& merged_path, const std::string& dir,
                                    const std::string& base_model);

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_PEFT_EXPORT_H_
