// Shared plumbing for the Tensor-level merge functions: shape checks and the
// optional base. Each method's core works on DeltaViews (task vectors); with
// a base, the experts are full weights, task vectors are expert - base, and
// the result is base + merged task vector.
//
//   return MergeTensors(base, experts, "ties", [&](Span<const DeltaView> views, float* out) {
//     return MergeTaskArithmeticViews(views, config, params, out);
//   });
#ifndef LIBRA_CORE_MERGE_TENSOR_MERGE_H_
#define LIBRA_CORE_MERGE_TENSOR_MERGE_H_

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "src/core/merge/delta_view.h"
#include "src/core/tensor.h"

namespace libra::merge {

using ViewsMergeFn = absl::FunctionRef<absl::Status(absl::Span<const DeltaView>, float*)>;

// Checks that every expert (and the base, if any) has one shape, then runs
// `merge` on their task vectors. `method` names the method in errors.
absl::StatusOr<Tensor> MergeTensors(const Tensor* base, absl::Span<const Tensor> experts,
                                    absl::string_view method, ViewsMergeFn merge);

// Error unless every view has the same rows and cols as views[0].
absl::Status CheckSameShape(absl::Span<const DeltaView> views, absl::string_view method);

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_TENSOR_MERGE_H_
