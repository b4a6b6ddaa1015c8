// DeltaView: one expert's task vector for one module, read a block of rows at
// a time, so that merges never hold every expert's dense delta at once.
//
// A view is either dense (a row-major [rows, cols] array, e.g. a full delta
// or a densified sparse adapter) or low-rank (LoRA: dW = scale * B A with
// B [rows, rank] and A [rank, cols]). Rows() returns a pointer straight into
// a dense view, and computes the block into caller scratch for a LoRA view.
// Views do not own memory: the tensors they point at must outlive them.
//
//   DeltaView view = DeltaView::Lora(lora_a, lora_b, /*scale=*/2.0f);
//   std::vector<float> scratch(16 * view.cols);
//   const float* rows = view.Rows(32, 48, scratch.data());  // dW[32:48, :]
#ifndef LIBRA_CORE_MERGE_DELTA_VIEW_H_
#define LIBRA_CORE_MERGE_DELTA_VIEW_H_

#include <cstdint>

#include "src/core/tensor.h"

namespace libra::merge {

struct DeltaView {
  int64_t rows = 0;
  int64_t cols = 0;
  const float* dense = nullptr;   // [rows, cols] when dense
  const float* lora_b = nullptr;  // [rows, rank] when low-rank
  const float* lora_a = nullptr;  // [rank, cols] when low-rank
  int64_t rank = 0;
  float scale = 1.0f;

  // A tensor of any rank seen as [dim0, rest] (rank 0 and 1: [1, size]).
  static DeltaView Dense(const Tensor& delta);
  // Shapes must already be checked: A [rank, cols], B [rows, rank].
  static DeltaView Lora(const Tensor& lora_a, const Tensor& lora_b, float scale);

  bool is_lora() const { return lora_a != nullptr; }
  int64_t size() const { return rows * cols; }
  // Rows [begin, end): into `dense` directly, or computed into `scratch`
  // ((end - begin) * cols floats) for a LoRA view.
  const float* Rows(int64_t begin, int64_t end, float* scratch) const;
};

// out[r, c] = scale * sum_k b[r, k] * a[k, c] for r < rows, c < cols, with
// b row-major [rows, rank] and a row-major [rank, cols]. Register-blocked
// (6 rows x 16 columns per tile) in portable vector code that GCC and Clang
// map to AVX2 natively and to SIMD128 in WebAssembly.
void LowRankProduct(const float* b, const float* a, int64_t rows, int64_t rank,
                    int64_t cols, float scale, float* out);

// Number of rows per block so that a block holds about `target_elements`.
int64_t RowsPerBlock(int64_t cols, int64_t target_elements);

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_DELTA_VIEW_H_
