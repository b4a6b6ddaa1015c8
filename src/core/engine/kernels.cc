#include "src/core/engine/kernels.h"

#include <cmath>

namespace libra::engine {
namespace {

// One kernel source for native and wasm: GCC/Clang vector extensions. A
// Float8 is eight float lanes: one AVX register natively (-march=x86-64-v3),
// two SIMD128 registers in wasm (-msimd128); clang 14 had vectorised the
// portable scalar loop for wasm into two-lane vectors built from scalar
// loads. Every dot product sums in the same order on both: lane
// accumulators acc[k] over elements i = k mod 8, folded as
// ((acc0+acc4)+(acc1+acc5))+((acc2+acc6)+(acc3+acc7)), plus the tail
// (elements past the last multiple of 8) summed in order. (GCC fuses the
// multiply-adds natively, FMA; wasm SIMD128 has none: results agree to
// rounding, not bit for bit.)
typedef float Float8 __attribute__((vector_size(32)));

inline Float8 Load8(const float* p) {
  Float8 v;
  __builtin_memcpy(&v, p, sizeof(v));  // unaligned load
  return v;
}

inline float Fold(Float8 acc, float tail) {
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

inline float Tail(const float* a, const float* b, int64_t i, int64_t n) {
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return tail;
}

// y[0..1] or y[0..3]: rows w0.. of one MatVec block, x loaded once for the
// block; the rows' accumulators are independent chains (one row alone is
// one chain). Written out: GCC keeps an array of accumulators in memory.
inline void TwoRows(const float* w0, int64_t cols, int64_t stride, const float* x, float* y) {
  const float* w1 = w0 + stride;
  Float8 acc0 = {}, acc1 = {};
  int64_t i = 0;
  for (; i + 8 <= cols; i += 8) {
    const Float8 xi = Load8(x + i);
    acc0 += Load8(w0 + i) * xi;
    acc1 += Load8(w1 + i) * xi;
  }
  y[0] = Fold(acc0, Tail(w0, x, i, cols));
  y[1] = Fold(acc1, Tail(w1, x, i, cols));
}

inline void FourRows(const float* w0, int64_t cols, int64_t stride, const float* x, float* y) {
  const float* w1 = w0 + stride;
  const float* w2 = w1 + stride;
  const float* w3 = w2 + stride;
  Float8 acc0 = {}, acc1 = {}, acc2 = {}, acc3 = {};
  int64_t i = 0;
  for (; i + 8 <= cols; i += 8) {
    const Float8 xi = Load8(x + i);
    acc0 += Load8(w0 + i) * xi;
    acc1 += Load8(w1 + i) * xi;
    acc2 += Load8(w2 + i) * xi;
    acc3 += Load8(w3 + i) * xi;
  }
  y[0] = Fold(acc0, Tail(w0, x, i, cols));
  y[1] = Fold(acc1, Tail(w1, x, i, cols));
  y[2] = Fold(acc2, Tail(w2, x, i, cols));
  y[3] = Fold(acc3, Tail(w3, x, i, cols));
}

}  // namespace

float Dot(const float* a, const float* b, int64_t n) {
  Float8 acc = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc += Load8(a + i) * Load8(b + i);
  return Fold(acc, Tail(a, b, i, n));
}

void MatVec(const float* w, int64_t rows, int64_t cols, const float* x, float* y) {
  MatVecStrided(w, rows, cols, cols, x, y);
}

void MatVecStrided(const float* w, int64_t rows, int64_t cols, int64_t stride, const float* x, float* y) {
  int64_t r = 0;
#ifdef __wasm__
  // Two rows per block in wasm: V8 spills four rows' registers (four rows
  // measured 9% slower under Node).
  for (; r + 2 <= rows; r += 2) TwoRows(w + r * stride, cols, stride, x, y + r);
#else
  for (; r + 4 <= rows; r += 4) FourRows(w + r * stride, cols, stride, x, y + r);
#endif
  for (; r < rows; ++r) y[r] = Dot(w + r * stride, x, cols);
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
