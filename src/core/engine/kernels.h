// Vectorisable float32 kernels for the inference engine.
//
// Written by hand with eight independent accumulators so that both GCC
// (-O3) and Emscripten (-O3 -msimd128) vectorise them without -ffast-math:
// Eigen has no wasm SIMD path and a single-accumulator dot product does not
// vectorise at all (see shared toolchain notes).
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
// y += alpha * x
void Axpy(float alpha, const float* x, float* y, int64_t n);
// out = x / sqrt(mean(x^2) + eps) * gamma
void RmsNorm(const float* x, const float* gamma, int64_t n, float eps, float* out);
// In place over [n]: max-subtracted softmax.
void Softmax(float* x, int64_t n);

}  // namespace libra::engine

#endif  // LIBRA_CORE_ENGINE_KERNELS_H_
