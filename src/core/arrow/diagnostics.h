// Arrow diagnostics for the paper reports.
//
// A briefly trained LoRA's prototype can lie largely in the row span of A's
// random initialisation A0: B A ≈ B A0 has right singular vectors inside
// span(rows of A0), which says more about the seed than about the task.
// InitSpanEnergy measures that share: ||P p||^2 / ||p||^2, where P projects
// onto span(rows of A0). 1 means the prototype is entirely in the initial
// span; for a random direction in R^in it is about r / in.
//
//   LIBRA_ASSIGN_OR_RETURN(double share, arrow::InitSpanEnergy(prototype, a0));
#ifndef LIBRA_CORE_ARROW_DIAGNOSTICS_H_
#define LIBRA_CORE_ARROW_DIAGNOSTICS_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/core/tensor.h"

namespace libra::arrow {

// `prototype` [in] (any nonzero norm), `initial_a` [r, in]. Rank-deficient
// A0 is handled (the span of its independent rows).
absl::StatusOr<double> InitSpanEnergy(const Tensor& prototype, const Tensor& initial_a,
                                      absl::string_view module = "");

}  // namespace libra::arrow

#endif  // LIBRA_CORE_ARROW_DIAGNOSTICS_H_
