// Reads a PEFT LoRA adapter folder as a library expert.
//
//   <dir>/adapter_config.json        peft_type "LORA", r, lora_alpha, use_rslora,
//                                    rank_pattern, alpha_pattern, target_modules, ...
//   <dir>/adapter_model.safetensors  base_model.model.<module>.lora_{A,B}.weight (F32/F16/BF16)
//
// Tensors are renamed to <module>.lora_{A,B}.weight and keep their dtype and
// bits. rank_pattern / alpha_pattern are resolved per module as PEFT does
// (peft_pattern.h) into LoraParams::module_rank / module_alpha. Adapters that
// would import wrongly are rejected with the reason: DoRA (use_dora), other
// peft_types, fan_in_fan_out, trained biases, modules_to_save, tensors other
// than lora_A/lora_B.
//
//   LIBRA_ASSIGN_OR_RETURN(PeftImport adapter, ReadPeftAdapter("adapters/cola"));
//   adapter.record.name = "cola";
//   LIBRA_RETURN_IF_ERROR(library.Add(adapter.record, adapter.file_bytes).status());
#ifndef LIBRA_CORE_PEFT_PEFT_IMPORT_H_
#define LIBRA_CORE_PEFT_PEFT_IMPORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/core/io/safetensors.h"
#include "src/core/library/manifest.h"

namespace libra {

inline constexpr char kPeftConfigFile[] = "adapter_config.json";
inline constexpr char kPeftWeightsFile[] = "adapter_model.safetensors";
inline constexpr char kPeftKeyPrefix[] = "base_model.model.";

struct PeftImport {
  ExpertRecord record;     // type, LoRA params, target modules, training config
  std::string file_bytes;  // the expert file in library naming
};

absl::StatusOr<PeftImport> ReadPeftAdapter(const std::string& dir);

// The same from an adapter_config.json text and weights already open
// (fuzzing, WebAssembly); `config_label` names the configuration in errors.
absl::StatusOr<PeftImport> ParsePeftAdapter(absl::string_view config_json, const std::string& config_label,
                                            const SafetensorsFile& weights);

}  // namespace libra

#endif  // LIBRA_CORE_PEFT_PEFT_IMPORT_H_
