#include "src/core/engine/kernels.h"

#include <cmath>

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

namespace libra::engine {
namespace {

// Every kernel sums a dot product the same way, natively and in wasm, so
// both give bit-identical results: eight lane accumulators acc[k] over
// elements i = k mod 8 (multiply, then add: no FMA), folded as
// ((acc0+acc4)+(acc1+acc5))+((acc2+acc6)+(acc3+acc7)), plus the tail
// (elements past the last multiple of 8) summed in order.
inline float Fold(const float* acc, float tail) {
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

inline float Tail(const float* a, const float* b, int64_t i, int64_t n) {
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return tail;
}

#ifdef __wasm_simd128__
// Clang 14 does not vectorise the portable loop well for wasm (it builds
// two-lane vectors from scalar loads), so wasm gets SIMD128 intrinsics with
// the same arithmetic: lanes 0-3 of acc in `lo`, lanes 4-7 in `hi`.
inline float FoldLanes(v128_t lo, v128_t hi, float tail) {
  const v128_t s = wasm_f32x4_add(lo, hi);  // acc0+acc4, acc1+acc5, acc2+acc6, acc3+acc7
  return ((wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1)) +
          (wasm_f32x4_extract_lane(s, 2) + wasm_f32x4_extract_lane(s, 3))) +
         tail;
}
#endif

}  // namespace

float Dot(const float* a, const float* b, int64_t n) {
  int64_t i = 0;
#ifdef __wasm_simd128__
  v128_t lo = wasm_f32x4_splat(0.0f), hi = lo;
  for (; i + 8 <= n; i += 8) {
    lo = wasm_f32x4_add(lo, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    hi = wasm_f32x4_add(hi, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
  }
  return FoldLanes(lo, hi, Tail(a, b, i, n));
#else
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  }
  return Fold(acc, Tail(a, b, i, n));
#endif
}

void MatVec(const float* w, int64_t rows, int64_t cols, const float* x, float* y) {
  int64_t r = 0;
#ifdef __wasm_simd128__
  // Four rows at a time: x is loaded once for all four, and the eight
  // accumulators are independent chains (one row alone has two).
  for (; r + 4 <= rows; r += 4) {
    const float* w0 = w + r * cols;
    const float* w1 = w0 + cols;
    const float* w2 = w1 + cols;
    const float* w3 = w2 + cols;
    v128_t lo0 = wasm_f32x4_splat(0.0f), hi0 = lo0, lo1 = lo0, hi1 = lo0, lo2 = lo0, hi2 = lo0, lo3 = lo0, hi3 = lo0;
    int64_t i = 0;
    for (; i + 8 <= cols; i += 8) {
      const v128_t xl = wasm_v128_load(x + i), xh = wasm_v128_load(x + i + 4);
      lo0 = wasm_f32x4_add(lo0, wasm_f32x4_mul(wasm_v128_load(w0 + i), xl));
      hi0 = wasm_f32x4_add(hi0, wasm_f32x4_mul(wasm_v128_load(w0 + i + 4), xh));
      lo1 = wasm_f32x4_add(lo1, wasm_f32x4_mul(wasm_v128_load(w1 + i), xl));
      hi1 = wasm_f32x4_add(hi1, wasm_f32x4_mul(wasm_v128_load(w1 + i + 4), xh));
      lo2 = wasm_f32x4_add(lo2, wasm_f32x4_mul(wasm_v128_load(w2 + i), xl));
      hi2 = wasm_f32x4_add(hi2, wasm_f32x4_mul(wasm_v128_load(w2 + i + 4), xh));
      lo3 = wasm_f32x4_add(lo3, wasm_f32x4_mul(wasm_v128_load(w3 + i), xl));
      hi3 = wasm_f32x4_add(hi3, wasm_f32x4_mul(wasm_v128_load(w3 + i + 4), xh));
    }
    y[r] = FoldLanes(lo0, hi0, Tail(w0, x, i, cols));
    y[r + 1] = FoldLanes(lo1, hi1, Tail(w1, x, i, cols));
    y[r + 2] = FoldLanes(lo2, hi2, Tail(w2, x, i, cols));
    y[r + 3] = FoldLanes(lo3, hi3, Tail(w3, x, i, cols));
  }
#endif
  for (; r < rows; ++r) y[r] = Dot(w + r * cols, x, cols);
}

void Axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void RmsNorm(const float* x, const float* gamma, int64_t n, float eps, float* out) {
  const float mean_square = Dot(x, x, n) / static_cast<float>(n);
  const float inv = 1.0f / std::sqrt(mean_square + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * inv * gamma[i];
}

void Softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float max_value = x[0];
  for (int64_t i = 1; i < n; ++i) max_value = std::fmax(max_value, x[i]);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max_value);
    sum += x[i];
  }
  for (int64_t i = 0; i < n; ++i) x[i] /= sum;
}

}  // namespace libra::engine
