// Vectorisable float32 kernels for the inference engine.
//
// Dot products run on eight float lanes written with GCC/Clang vector
// extensions (kernels.cc): one AVX register natively, two SIMD128 registers
// in wasm (em++ -O3 -msimd128), from one source. Eigen has no wasm SIMD
// path, and clang 14 vectorised the earlier portable eight-accumulator loop
// for wasm into two-lane vectors built from scalar loads (four times slower).
// MatVec takes rows in blocks (four natively, two in wasm) that share the
// loads of x; each row sums exactly as Dot does.
//
//   MatVec(w.data(), rows, cols, x, y);   // y[rows] = W[rows, cols] x[cols]
//   RmsNorm(x, gamma, d, 1e-6f, out);
#ifndef LIBRA_CORE_ENGINE_KERNELS_H_
#define LIBRA_CORE_ENGINE_KERNELS_H_

#include <cstdint>

namespace libra::engine {

float Dot(const float* a, const float* b, int64_t n);
// y = W x, W row-major [rows, cols].
void MatVec(const float* w, int64_t rows, int64_t cols, const float* x, float* y);
// The same over rows `stride` floats apart: y[r] = <w + r * stride, x>
// over cols (a head's keys in a KV cache of rows wider than the head).
void MatVecStrided(const float* w, int64_t rows, int64_t cols, int64_t stride, const float* x, float* y);
// y += alpha * x
void Axpy(float alpha, const float* x, float* y, int64_t n);
// out = x / sqrt(mean(x^2) + eps) * gamma
void RmsNorm(const float* x, const float* gamma, int64_t n, float eps, float* out);
// In place over [n]: max-subtracted softmax.
void Softmax(float* x, int64_t n);

}  // namespace libra::engine

#endif  // LIBRA_CORE_ENGINE_KERNELS_H_
