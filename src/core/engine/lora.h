// LoRA experts for the engine, and their Arrow prototypes.
//
// An expert is a map from an adapted module (layer, projection) to its
// factors: A [r, in], B [out, r] and scale s, so the module computes
// W x + s B A x. Files use PEFT's names, with any prefix before "layers.":
//   base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight  [r, d]
//   base_model.model.model.layers.3.self_attn.q_proj.lora_B.weight  [h*hd, r]
// The scale comes from the file's metadata: "lora_scale", else "lora_alpha"
// / r ("use_rslora" = "true": / sqrt(r)), else 1 (as src/core/merge reads it).
//
// Arrow's prototype of a module is the top right singular vector of s B A
// (src/core/arrow/prototype.h): unit norm, in input space.
//
//   LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
//   LIBRA_ASSIGN_OR_RETURN(LoraExpert expert, LoadLoraExpert("math", file, config));
//   const LoraModule* q = expert.Find(0, Proj::kQ);  // null when not adapted
#ifndef LIBRA_CORE_ENGINE_LORA_H_
#define LIBRA_CORE_ENGINE_LORA_H_

#include <map>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/core/engine/config.h"
#include "src/core/io/safetensors.h"
#include "src/core/tensor.h"

namespace libra::engine {

enum class Proj { kQ = 0, kK, kV, kO, kGate, kUp, kDown };
inline constexpr int kNumProj = 7;

// HF module path inside a layer: "self_attn.q_proj", "mlp.down_proj", ...
const char* ProjName(Proj proj);
// Output and input sizes of a projection under `config`.
int64_t ProjOutDim(const LlamaConfig& config, Proj proj);
int64_t ProjInDim(const LlamaConfig& config, Proj proj);

struct LoraModule {
  Tensor a;          // [r, in]
  Tensor b;          // [out, r]
  float scale = 1;   // s
  Tensor prototype;  // [in], Arrow
};

struct LoraExpert {
  std::string name;
  std::map<std::pair<int, int>, LoraModule> modules;  // (layer, Proj) -> factors

  const LoraModule* Find(int layer, Proj proj) const {
    auto it = modules.find({layer, static_cast<int>(proj)});
    return it == modules.end() ? nullptr : &it->second;
  }
};

// Reads every "lora_A"/"lora_B" pair of `file`, checks shapes against
// `config`, and computes the Arrow prototypes. Rejects unpaired factors,
// unknown modules, layers out of range and rank mismatches, naming the
// tensor; a file without any LoRA module is an error too.
absl::StatusOr<LoraExpert> LoadLoraExpert(std::string name, const SafetensorsFile& file,
                                          const LlamaConfig& config);

}  // namespace libra::engine

#endif  // LIBRA_CORE_ENGINE_LORA_H_
