#include "src/core/merge/delta_view.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace libra::merge {
namespace {

typedef float Vec8 __attribute__((vector_size(32)));

inline Vec8 Load(const float* p) {
  Vec8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline void Store(float* p, Vec8 v) { std::memcpy(p, &v, sizeof(v)); }

constexpr int64_t kTileCols = 16;

// A full kRows x 16 tile: 2 * kRows vector accumulators stay in registers
// (12 of AVX2's 16 for kRows = 6) while the k loop streams one row of `a`
// and one column of `b`.
template <int64_t kRows>
inline void FullTile(const float* b, const float* a, int64_t rank, int64_t a_stride,
                     float scale, float* out, int64_t cols) {
  Vec8 acc[kRows][2] = {};
  for (int64_t k = 0; k < rank; ++k) {
    const Vec8 a0 = Load(a + k * a_stride);
    const Vec8 a1 = Load(a + k * a_stride + 8);
    for (int64_t r = 0; r < kRows; ++r) {
      const float coefficient = scale * b[r * rank + k];
      acc[r][0] += coefficient * a0;
      acc[r][1] += coefficient * a1;
    }
  }
  for (int64_t r = 0; r < kRows; ++r) {
    Store(out + r * cols, acc[r][0]);
    Store(out + r * cols + 8, acc[r][1]);
  }
}

// Edge tiles (fewer rows or columns): plain loops.
void EdgeTile(const float* b, const float* a, int64_t tile_rows, int64_t tile_cols,
              int64_t rank, int64_t cols, float scale, float* out) {
  for (int64_t r = 0; r < tile_rows; ++r) {
    float* out_row = out + r * cols;
    for (int64_t c = 0; c < tile_cols; ++c) out_row[c] = 0.0f;
    for (int64_t k = 0; k < rank; ++k) {
      const float coefficient = scale * b[r * rank + k];
      const float* a_row = a + k * cols;
      for (int64_t c = 0; c < tile_cols; ++c) out_row[c] += coefficient * a_row[c];
    }
  }
}

}  // namespace

DeltaView DeltaView::Dense(const Tensor& delta) {
  DeltaView view;
  view.rows = delta.rank() >= 2 ? delta.dim(0) : 1;
  view.cols = view.rows == 0 ? 0 : delta.size() / view.rows;
  view.dense = delta.data();
  return view;
}

DeltaView DeltaView::Lora(const Tensor& lora_a, const Tensor& lora_b, float scale) {
  DeltaView view;
  view.rows = lora_b.dim(0);
  view.rank = lora_a.dim(0);
  view.cols = lora_a.dim(1);
  view.lora_a = lora_a.data();
  view.lora_b = lora_b.data();
  view.scale = scale;
  return view;
}

const float* DeltaView::Rows(int64_t begin, int64_t end, float* scratch) const {
  if (dense != nullptr) return dense + begin * cols;
  LowRankProduct(lora_b + begin * rank, lora_a, end - begin, rank, cols, scale, scratch);
  return scratch;
}

void LowRankProduct(const float* b, const float* a, int64_t rows, int64_t rank,
                    int64_t cols, float scale, float* out) {
  // Column strips outermost keep the 16-column strip of `a` (rank x 64
  // bytes) in L1 while every row tile of the block passes over it.
  // The strip is packed contiguously first: rows of `a` are `cols` floats
  // apart, and with a power-of-two stride every load of the strip would map
  // to the same L1 set.
  std::vector<float> packed(rank * kTileCols);
  for (int64_t c0 = 0; c0 < cols; c0 += kTileCols) {
    const int64_t tile_cols = std::min(kTileCols, cols - c0);
    int64_t r0 = 0;
    if (tile_cols == kTileCols) {
      for (int64_t k = 0; k < rank; ++k) {
        std::memcpy(&packed[k * kTileCols], a + k * cols + c0, sizeof(float) * kTileCols);
      }
      for (; r0 + 6 <= rows; r0 += 6) {
        FullTile<6>(b + r0 * rank, packed.data(), rank, kTileCols, scale, out + r0 * cols + c0, cols);
      }
      for (; r0 + 4 <= rows; r0 += 4) {
        FullTile<4>(b + r0 * rank, packed.data(), rank, kTileCols, scale, out + r0 * cols + c0, cols);
      }
      for (; r0 < rows; ++r0) {
        FullTile<1>(b + r0 * rank, packed.data(), rank, kTileCols, scale, out + r0 * cols + c0, cols);
      }
    }
    if (r0 < rows) {
      EdgeTile(b + r0 * rank, a + c0, rows - r0, tile_cols, rank, cols, scale,
               out + r0 * cols + c0);
    }
  }
}

int64_t RowsPerBlock(int64_t cols, int64_t target_elements) {
  return std::max<int64_t>(1, target_elements / std::max<int64_t>(cols, 1));
}

}  // namespace libra::merge
