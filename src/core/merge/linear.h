// linear and uniform merging: merged = sum_i c_i tau_i, with c_i = w_i, or
// w_i / sum_j w_j under `normalize` (uniform: c_i = 1/N).
//
// When every input is a LoRA (tau_i = s_i B_i A_i) the sum is one product of
// concatenated factors, [c_1 s_1 B_1 .. c_N s_N B_N] [A_1; ..; A_N], computed a
// block of rows at a time: no expert's dense delta is ever formed.
//
//   LIBRA_ASSIGN_OR_RETURN(Tensor merged, MergeLinear(nullptr, experts, params));
#ifndef LIBRA_CORE_MERGE_LINEAR_H_
#define LIBRA_CORE_MERGE_LINEAR_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "src/core/merge/delta_view.h"
#include "src/core/merge/method.h"
#include "src/core/tensor.h"

namespace libra::merge {

// The coefficients c_i of `params` (weights, normalize) times `scale`.
std::vector<double> LinearCoefficients(const MergeParams& params, double scale);

// out[rows * cols] = sum_i coefficients[i] * views[i].
absl::Status MergeLinearViews(absl::Span<const DeltaView> views,
                              absl::Span<const double> coefficients, int threads, float* out);

// Tensor API (linear and uniform): `base` may be null (experts are task vectors).
absl::StatusOr<Tensor> MergeLinear(const Tensor* base, absl::Span<const Tensor> experts,
                                   const MergeParams& params);

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_LINEAR_H_
