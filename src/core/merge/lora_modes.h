// LoRA-specific merge modes.
//
//   delta: merge the task vectors dW_i = s_i B_i A_i (any method; the default).
//   ab:    merge A and B separately, A = sum_i c_i A_i, B = sum_i c_i B_i (the
//          reference code's "uniform"; linear and uniform only). This is NOT
//          the mean of the deltas: B A picks up cross terms B_i A_j.
//   svd:   merge in delta space, then refactor into a rank-R LoRA by
//          truncated SVD. A linear merge of LoRAs is refactored from the
//          concatenated factors [c_i s_i B_i] and [A_i] by two thin QRs and an
//          SVD of the small core: O((out + in) K^2) for total rank K, never an
//          out x in matrix. Other merges are refactored from the dense result
//          (randomized range finder, or exact SVD for small matrices).
// Results carry scale 1 (lora_alpha = r) with B = U sqrt(S), A = sqrt(S) V^T.
//
//   LIBRA_ASSIGN_OR_RETURN(LoraFactors merged, LowRankFromFactors(loras, coefficients, 16));
#ifndef LIBRA_CORE_MERGE_LORA_MODES_H_
#define LIBRA_CORE_MERGE_LORA_MODES_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "src/core/tensor.h"

namespace libra::merge {

// dW = scale * B A with A [rank, in] and B [out, rank].
struct LoraFactors {
  Tensor a;
  Tensor b;
  float scale = 1.0f;
};

// Error naming `label` unless A is [r, in] and B is [out, r] with r >= 1.
absl::Status CheckLoraShapes(const LoraFactors& lora, absl::string_view label);

// Dense scale * B A.
Tensor LoraDelta(const LoraFactors& lora, int threads);

// ab mode. Ranks and shapes must agree. If the scales differ, each s_i is
// folded into B_i and the result has scale 1.
absl::StatusOr<LoraFactors> AverageFactors(absl::Span<const LoraFactors> loras,
                                           absl::Span<const double> coefficients);

// svd mode for linear merges: rank-`rank` truncation of sum_i c_i s_i B_i A_i.
absl::StatusOr<LoraFactors> LowRankFromFactors(absl::Span<const LoraFactors> loras,
                                               absl::Span<const double> coefficients,
                                               int64_t rank);

// svd mode for any merge: rank-`rank` truncation of a dense [out, in] delta.
// Exact SVD when the matrix is small relative to the rank, else a randomized
// range finder (two power iterations, oversampling 10) seeded by `seed`.
absl::StatusOr<LoraFactors> TruncatedSvd(const Tensor& delta, int64_t rank, uint64_t seed);

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_LORA_MODES_H_
