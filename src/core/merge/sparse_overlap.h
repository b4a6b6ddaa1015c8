// sparse_overlap (paper (b), sparse adapters): each entry of the merge is
// the sum of the experts' masked deltas divided by how many experts' masks
// cover that entry; entries no mask covers stay 0 (absent).
//
// MergeSparseOverlap works on the sparse index/value form directly and
// returns the union of the masks: cost O(nnz log nnz), or O(size + nnz) with
// a dense accumulator when the masks cover a quarter of the entries or more
// (the same result either way). Dense
// and LoRA inputs (mixed libraries) go through MergeSparseOverlapViews,
// where an entry is covered by an expert when its delta there is non-zero.
//
//   SparseDelta a{{4, 4}, {0, 5}, {1.0f, 2.0f}}, b{{4, 4}, {5, 9}, {4.0f, 1.0f}};
//   merged = MergeSparseOverlap({a, b});  // {0: 1, 5: 3, 9: 1}
#ifndef LIBRA_CORE_MERGE_SPARSE_OVERLAP_H_
#define LIBRA_CORE_MERGE_SPARSE_OVERLAP_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "src/core/merge/delta_view.h"
#include "src/core/merge/method.h"
#include "src/core/tensor.h"

namespace libra::merge {

// A masked delta: values at flat row-major indices of a dense `shape`.
struct SparseDelta {
  Shape shape;
  std::vector<int64_t> indices;  // unique, any order
  std::vector<float> values;
};

// Union of the masks, indices ascending. Errors: shapes differ, index out of
// range or repeated, indices/values lengths differ.
absl::StatusOr<SparseDelta> MergeSparseOverlap(absl::Span<const SparseDelta> experts);

// Dense form of a (checked) sparse delta.
Tensor Densify(const SparseDelta& sparse);

// Dense fallback: out = sum_i x_i / #{i : x_i != 0} entry by entry.
absl::Status MergeSparseOverlapViews(absl::Span<const DeltaView> views, int threads,
                                     float* out);

absl::StatusOr<Tensor> MergeSparseOverlapTensors(const Tensor* base,
                                                 absl::Span<const Tensor> experts,
                                                 const MergeParams& params);

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_SPARSE_OVERLAP_H_
