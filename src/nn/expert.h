// Experts between the model and files: the adapters attached to a model as
// per-module weights (LoRA A, B and scale; or a dense delta), converted
// without loss to and from the core's ModuleDelta (src/core/merge/merge.h)
// and saved as safetensors in the layout the core reads
// (src/core/merge/expert_file.h):
//   <module>.lora_A.weight [r, in], <module>.lora_B.weight [out, r],
//   metadata lora_scale (and lora_alpha, lora_rank, use_rslora); or
//   <module>.delta [out, in] for a full fine-tuning delta; or
//   <module>.sparse.values [nnz] F32, <module>.sparse.indices [nnz] I64 (flat
//   row-major, ascending) and <module>.sparse.shape [2] I64 for a sparse
//   adapter (only the kept entries are stored).
//
//   std::vector<ExpertModule> expert = ExtractExpert(*model);
//   LIBRA_RETURN_IF_ERROR(SaveExpert("experts/sort.safetensors", expert, {{"task", "sort"}}));
//   LIBRA_ASSIGN_OR_RETURN(expert, LoadExpert("experts/sort.safetensors"));
//   LIBRA_RETURN_IF_ERROR(ApplyExpert(*model, expert, /*trainable=*/false));
#ifndef LIBRA_NN_EXPERT_H_
#define LIBRA_NN_EXPERT_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/core/merge/merge.h"
#include "src/nn/adapters.h"
#include "src/nn/model.h"

namespace libra::nn {

struct ExpertModule {
  enum class Kind { kLora, kDense, kSparse };
  std::string module;  // "model.layers.0.self_attn.q_proj"
  Kind kind = Kind::kLora;
  torch::Tensor lora_a;  // [r, in]
  torch::Tensor lora_b;  // [out, r]
  double scale = 1.0;
  torch::Tensor delta;  // [out, in]
  torch::Tensor sparse_indices;  // [nnz] int64, flat into [out, in], ascending
  torch::Tensor sparse_values;   // [nnz]
  std::vector<int64_t> sparse_shape;  // {out, in}
};

// The attached LoRA, full and sparse adapters (CPU copies), sorted by module.
std::vector<ExpertModule> ExtractExpert(CausalLMImpl& model);

merge::ModuleDelta ToCoreDelta(const ExpertModule& module);
absl::StatusOr<ExpertModule> FromCoreDelta(const std::string& module,
                                           const merge::ModuleDelta& delta);

// Writes atomically; all LoRA modules must share one scale. `metadata` is
// added to the file's __metadata__.
absl::Status SaveExpert(const std::string& path, const std::vector<ExpertModule>& modules,
                        const std::map<std::string, std::string>& metadata = {});
absl::StatusOr<std::vector<ExpertModule>> LoadExpert(const std::string& path);

// Attaches each module's adapter with the given weights (replacing any
// adapter there). Errors name a module the model lacks or a shape mismatch.
absl::Status ApplyExpert(CausalLMImpl& model, const std::vector<ExpertModule>& modules,
                         bool trainable);

// Attaches a MixtureAdapter to every module the LoRA experts share, with one
// router for all modules.
absl::Status AttachMixture(CausalLMImpl& model,
                           const std::vector<std::vector<ExpertModule>>& experts,
                           std::shared_ptr<RouterImpl> router, MixingMode mode);

// Checks that every expert of a mixture is LoRA on the same modules as the
// others, each module in the model with shapes that fit it; errors name the
// expert (`names[e]`, else its index) and the tensor. AttachMixture checks
// this first.
absl::Status CheckMixtureFitsModel(CausalLMImpl& model,
                                   const std::vector<std::vector<ExpertModule>>& experts,
                                   const std::vector<std::string>& names = {});

// The router of one module (Arrow's prototypes differ per module).
using RouterFactory =
    std::function<absl::StatusOr<std::shared_ptr<RouterImpl>>(const std::string& module)>;

// The same with one router per module, made by `make_router(module)`.
absl::Status AttachMixture(CausalLMImpl& model,
                           const std::vector<std::vector<ExpertModule>>& experts,
                           const RouterFactory& make_router, MixingMode mode);

}  // namespace libra::nn

#endif  // LIBRA_NN_EXPERT_H_
