// Arrow routing: score tokens against expert prototypes, keep the top k,
// softmax over those k.
//
// For hidden states x [tokens, in] at one LoRA layer and prototypes
// p [E, in] (one per expert, from prototype.h):
//   1. logit[t, e] = |<x_t, p_e>| / temperature   (|.| removes the sign ambiguity)
//   2. keep the k largest logits per token (ties: the lower expert index)
//   3. weight[t, j] = softmax over those k logits
// The method is zero-shot: no training, no data. Faithful Arrow uses
// temperature 1 and raw (unnormalised) hidden states.
//
//   arrow::RouterOptions options;  // top_k = 4, temperature = 1
//   LIBRA_ASSIGN_OR_RETURN(arrow::Routing routing,
//                          arrow::Route(hidden, prototypes, options));
//   // token t: experts routing.experts[t * k + j], weights routing.weights[t * k + j],
//   // j = 0..k-1 in descending logit order.
//
// RouteRaw works on plain row-major buffers, so a caller holding a LibTorch
// or wasm buffer routes without copying into a Tensor. The inner loops are
// dot products with several independent accumulators, which compilers turn
// into SIMD (AVX2 natively, simd128 under Emscripten).
#ifndef LIBRA_CORE_ARROW_ROUTER_H_
#define LIBRA_CORE_ARROW_ROUTER_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "src/core/tensor.h"

namespace libra::arrow {

struct RouterOptions {
  int top_k = 4;             // k in the paper; 1 <= top_k <= number of experts
  float temperature = 1.0f;  // logits are divided by it; > 0
};

struct Routing {
  int64_t tokens = 0;
  int top_k = 0;
  std::vector<int32_t> experts;  // [tokens, top_k], descending logit
  std::vector<float> weights;    // [tokens, top_k], each row sums to 1
};

// hidden [tokens, in] (or [in] for one token), prototypes [E, in].
absl::StatusOr<Routing> Route(const Tensor& hidden, const Tensor& prototypes,
                              const RouterOptions& options);

// The same on raw buffers: hidden [tokens, dim], prototypes [experts, dim],
// experts_out and weights_out [tokens, top_k].
absl::Status RouteRaw(const float* hidden, int64_t tokens, const float* prototypes,
                      int64_t experts, int64_t dim, const RouterOptions& options,
                      int32_t* experts_out, float* weights_out);

// Step 1 alone: logits [tokens, E] = |<x_t, p_e>| / temperature, for
// diagnostics (routing entropy over all experts, per-expert scores).
absl::StatusOr<Tensor> ArrowLogits(const Tensor& hidden, const Tensor& prototypes,
                                   float temperature = 1.0f);

// <a, b> over n floats: src/core/engine/kernels.h's Dot (SIMD, native and wasm).
float Dot(const float* a, const float* b, int64_t n);

}  // namespace libra::arrow

#endif  // LIBRA_CORE_ARROW_ROUTER_H_
