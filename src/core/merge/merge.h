// Merging one module of several experts, whatever their adapter types: the
// entry point the streaming driver and the CLI use, dispatching to the
// method families (linear.h, task_arithmetic.h, sparse_overlap.h) and the
// LoRA modes (lora_modes.h).
//
// Experts of mixed types (LoRA, dense delta, sparse) are merged in delta
// space. sparse_overlap of sparse experts stays sparse end to end.
//
//   LIBRA_ASSIGN_OR_RETURN(const MethodSpec* method, FindMethod("ties"));
//   LIBRA_ASSIGN_OR_RETURN(MergeParams params, BindParams(*method, args, experts.size()));
//   LIBRA_RETURN_IF_ERROR(CheckMode(*method, options));
//   LIBRA_ASSIGN_OR_RETURN(ModuleDelta merged,
//                          MergeModule(*method, params, options, "h.0.q", experts));
#ifndef LIBRA_CORE_MERGE_MERGE_H_
#define LIBRA_CORE_MERGE_MERGE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "src/core/merge/lora_modes.h"
#include "src/core/merge/method.h"
#include "src/core/merge/sparse_overlap.h"
#include "src/core/tensor.h"

namespace libra::merge {

enum class LoraMode { kDelta, kAb, kSvd };

absl::StatusOr<LoraMode> ParseLoraMode(absl::string_view name);  // "delta", "ab", "svd"
const char* LoraModeName(LoraMode mode);

struct MergeOptions {
  LoraMode mode = LoraMode::kDelta;
  int64_t rank = 0;  // svd only
};

// One expert's (or the merge's) delta for one module.
struct ModuleDelta {
  enum class Kind { kLora, kDense, kSparse };
  Kind kind = Kind::kDense;
  LoraFactors lora;    // kLora
  Tensor dense;        // kDense
  SparseDelta sparse;  // kSparse

  // Shape of the delta this stands for: [out, in] for LoRA.
  Shape DeltaShape() const;
};

// Rejects mode/method combinations before any tensor is read: ab only with
// linear and uniform, svd needs rank >= 1.
absl::Status CheckMode(const MethodSpec& method, const MergeOptions& options);

// Whether mode ab (a warning: not the mean of deltas) applies.
bool AbModeWarning(const MergeOptions& options);

// Merges one module. `module_name` names the module in errors and keys DARE.
absl::StatusOr<ModuleDelta> MergeModule(const MethodSpec& method, const MergeParams& params,
                                        const MergeOptions& options,
                                        absl::string_view module_name,
                                        absl::Span<const ModuleDelta> experts);

// Tensor-level merge of full weights (`base` non-null) or task vectors
// (`base` null) by any registered method.
absl::StatusOr<Tensor> Merge(const MethodSpec& method, const Tensor* base,
                             absl::Span<const Tensor> experts, const MergeParams& params);

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_MERGE_H_
