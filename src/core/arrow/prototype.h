// Arrow prototypes: the top right singular vectors of a LoRA module's delta.
//
// A LoRA module stores A [r, in] and B [out, r] with scale s; its delta is
// dW = s B A [out, in]. Arrow routes a token x by |<x, p>| where p is dW's
// top right singular vector (an input-space direction). Forming dW costs
// out * in memory and an SVD of it O(out * in * min(out, in)); instead:
//
//   B   = Qb Rb          (thin QR, Qb [out, r])
//   A^T = Qa Ra          (thin QR, Qa [in, r])
//   dW  = Qb (s Rb Ra^T) Qa^T,  core C = s Rb Ra^T is r x r
//   C   = U S V^T        =>  dW = (Qb U) S (Qa V)^T
//
// so the right singular vectors are the columns of Qa V, in O((in + out) r^2).
// Arithmetic is in double; results are float32.
//
// Sign convention: a singular vector's sign is arbitrary (Arrow uses |<x, p>|).
// libra flips each right vector so that its largest-magnitude component is
// positive (the first such index on ties), and flips its left vector with it
// so that u s v^T is unchanged. Results are therefore reproducible.
//
// A zero delta (B = 0, as at LoRA initialisation) has all singular values 0;
// its "singular vectors" are then unit vectors in the row span of A (the
// columns of Qa), valid but uninformative.
//
//   LIBRA_ASSIGN_OR_RETURN(Tensor p, arrow::TopRightSingularVector(a, b, 16.0f / 4));
//   // p: [in], unit norm
//   LIBRA_ASSIGN_OR_RETURN(arrow::SingularTriplets t,
//                          arrow::TopSingularTriplets(a, b, 4.0f, /*k=*/2));
//   // t.values[0] >= t.values[1]; t.right [2, in]; t.left [2, out]
#ifndef LIBRA_CORE_ARROW_PROTOTYPE_H_
#define LIBRA_CORE_ARROW_PROTOTYPE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/core/tensor.h"

namespace libra::arrow {

struct SingularTriplets {
  std::vector<float> values;  // [k], descending, >= 0
  Tensor right;               // [k, in], unit rows: the prototypes
  Tensor left;                // [k, out], unit rows
};

// Top-k singular triplets of dW = scale * B A. `lora_a` [r, in], `lora_b`
// [out, r]; 1 <= k <= min(r, in, out). `module` names the module in errors.
absl::StatusOr<SingularTriplets> TopSingularTriplets(const Tensor& lora_a,
                                                     const Tensor& lora_b, float scale,
                                                     int k,
                                                     absl::string_view module = "");

// The Arrow prototype: the top right singular vector, shape [in], unit norm.
absl::StatusOr<Tensor> TopRightSingularVector(const Tensor& lora_a, const Tensor& lora_b,
                                              float scale,
                                              absl::string_view module = "");

// Flips `vector` in place so that its largest-magnitude entry is positive;
// returns -1 if it flipped, +1 otherwise. The convention used above.
int CanonicalizeSign(float* vector, int64_t size);

}  // namespace libra::arrow

#endif  // LIBRA_CORE_ARROW_PROTOTYPE_H_
