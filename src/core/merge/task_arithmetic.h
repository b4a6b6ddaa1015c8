// Generalized task arithmetic: task_arithmetic, ties, dare_linear, dare_ties,
// magnitude_prune, breadcrumbs and breadcrumbs_ties are one algorithm that
// differs only in the MethodSpec's Sparsification and Consensus enums.
//
// For each expert i with weight w_i, the trimmed task vector is
//   t_i = w_i * sparsify(tau_i)   (DARE also rescales kept entries by 1/density)
// and the merged task vector is
//   Consensus::kNone: lambda * sum_i t_i           (divided by sum_i w_i with normalize)
//   Consensus::kSign: elected sign s = sign(sum_i t_i) per entry (TIES);
//                     lambda * sum_{i: sign t_i = s} t_i / sum_{i: sign t_i = s} w_i,
//                     0 where no expert agrees.
// Thresholds are found first (one pass per expert, threads over experts),
// then row blocks are merged independently (threads over blocks).
//
//   LIBRA_ASSIGN_OR_RETURN(Tensor merged, MergeTaskArithmetic(*ties, nullptr, experts, params));
#ifndef LIBRA_CORE_MERGE_TASK_ARITHMETIC_H_
#define LIBRA_CORE_MERGE_TASK_ARITHMETIC_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "src/core/merge/delta_view.h"
#include "src/core/merge/method.h"
#include "src/core/tensor.h"

namespace libra::merge {

// out[rows * cols] = merged task vector. `module_seed` keys DARE's drops
// (ModuleSeed(params.seed, module name)).
absl::Status MergeTaskArithmeticViews(const MethodSpec& method,
                                      absl::Span<const DeltaView> views,
                                      const MergeParams& params, uint64_t module_seed,
                                      float* out);

// Tensor API; DARE uses params.seed directly as the module seed.
absl::StatusOr<Tensor> MergeTaskArithmetic(const MethodSpec& method, const Tensor* base,
                                           absl::Span<const Tensor> experts,
                                           const MergeParams& params);

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_TASK_ARITHMETIC_H_
