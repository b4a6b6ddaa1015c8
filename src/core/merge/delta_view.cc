#include "src/core/merge/delta_view.h"

#include <algorithm>
#include <cstring>

namespace libra::merge {
namespace {

typedef float Vec8 __attribute__((vector_size(32)));

inline Vec8 Load(const float* p) {
  Vec8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline void Store(float* p, Vec8 v) { std::memcpy(p, &v, sizeof(v)); }

constexpr int64_t kTileRows = 4;
constexpr int64_t kTileCols = 16;

// A full 4 x 16 tile: eight vector accumulators stay in registers while the
// k loop streams one row of `a` and one column of `b`.
inline void FullTile(const float* b, const float* a, int64_t rank, int64_t cols,
                     float scale, float* out) {
  Vec8 acc[kTileRows][2] = {};
  for (int64_t k = 0; k < rank; ++k) {
    const Vec8 a0 = Load(a + k * cols);
    const Vec8 a1 = Load(a + k * cols + 8);
    for (int64_t r = 0; r < kTileRows; ++r) {
      const float coefficient = scale * b[r * rank + k];
      acc[r][0] += coefficient * a0;
      acc[r][1] += coefficient * a1;
    }
  }
  for (int64_t r = 0; r < kTileRows; ++r) {
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
  // Column tiles outermost keep the 16-column strip of `a` (rank x 64 bytes)
  // in L1 while every row tile of the block passes over it.
  for (int64_t c0 = 0; c0 < cols; c0 += kTileCols) {
    const int64_t tile_cols = std::min(kTileCols, cols - c0);
    for (int64_t r0 = 0; r0 < rows; r0 += kTileRows) {
      const int64_t tile_rows = std::min(kTileRows, rows - r0);
      if (tile_rows == kTileRows && tile_cols == kTileCols) {
        FullTile(b + r0 * rank, a + c0, rank, cols, scale, out + r0 * cols + c0);
      } else {
        EdgeTile(b + r0 * rank, a + c0, tile_rows, tile_cols, rank, cols, scale,
                 out + r0 * cols + c0);
      }
    }
  }
}

int64_t RowsPerBlock(int64_t cols, int64_t target_elements) {
  return std::max<int64_t>(1, target_elements / std::max<int64_t>(cols, 1));
}

}  // namespace libra::merge
