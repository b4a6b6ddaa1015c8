// The engine's kernels compiled to wasm (em++ -O3 -msimd128, as in
// //wasm:libra), run under Node: the SIMD128 code paths against direct
// double sums at every size around the vector width and MatVec's blocks,
// as tests/core/engine/kernels_test.cc checks the native ones. Prints
// "kernels_wasm_test: PASS (N checks)" or each failure, and exits 1 on any.
#include <cmath>
#include <cstdio>
#include <vector>

#include "src/core/engine/kernels.h"

namespace {

int failures = 0, checks = 0;

void Check(bool ok, const char* what, int a, int b, int c) {
  ++checks;
  if (ok) return;
  ++failures;
  std::printf("kernels_wasm_test: FAIL: %s (%d, %d, %d)\n", what, a, b, c);
}

}  // namespace

int main() {
  using libra::engine::Dot;
  using libra::engine::MatVec;
  for (int n = 0; n < 40; ++n) {
    std::vector<float> a(n), b(n);
    double want = 0;
    for (int i = 0; i < n; ++i) {
      a[i] = 0.5f * i - 3;
      b[i] = 1.0f / (i + 1);
      want += double(a[i]) * b[i];
    }
    Check(std::fabs(Dot(a.data(), b.data(), n) - want) <= 1e-4, "Dot", n, 0, 0);
  }
  for (int rows = 0; rows <= 9; ++rows) {
    for (int cols = 0; cols <= 20; ++cols) {
      std::vector<float> w(rows * cols), x(cols), y(rows, -7.0f);
      for (int i = 0; i < rows * cols; ++i) w[i] = 0.25f * ((i * 7) % 11) - 1.0f;
      for (int i = 0; i < cols; ++i) x[i] = 1.0f / (i + 2) - 0.3f;
      MatVec(w.data(), rows, cols, x.data(), y.data());
      for (int r = 0; r < rows; ++r) {
        double want = 0;
        for (int i = 0; i < cols; ++i) want += double(w[r * cols + i]) * x[i];
        Check(std::fabs(y[r] - want) <= 1e-5, "MatVec vs direct sum", rows, cols, r);
        // No FMA in wasm: a row of a block sums exactly as Dot does.
        Check(y[r] == Dot(w.data() + r * cols, x.data(), cols), "MatVec row == Dot", rows, cols, r);
      }
    }
  }
  for (int rows = 0; rows <= 9; ++rows) {  // rows stride floats apart, NaN between them
    for (int cols = 1; cols <= 20; cols += 3) {
      const int stride = cols + 5;
      std::vector<float> w(rows * stride, std::nanf("")), x(cols), y(rows);
      for (int r = 0; r < rows; ++r) {
        for (int i = 0; i < cols; ++i) w[r * stride + i] = 0.25f * ((r * 5 + i * 3) % 13) - 1.5f;
      }
      for (int i = 0; i < cols; ++i) x[i] = 0.1f * i - 0.7f;
      libra::engine::MatVecStrided(w.data(), rows, cols, stride, x.data(), y.data());
      for (int r = 0; r < rows; ++r) {
        double want = 0;
        for (int i = 0; i < cols; ++i) want += double(w[r * stride + i]) * x[i];
        Check(std::fabs(y[r] - want) <= 1e-5, "MatVecStrided vs direct sum", rows, cols, r);
        Check(y[r] == Dot(w.data() + r * stride, x.data(), cols), "MatVecStrided row == Dot", rows, cols, r);
      }
    }
  }
  std::vector<float> x = {3, 4}, y = {1, 1};
  libra::engine::Axpy(2, x.data(), y.data(), 2);
  Check(y[0] == 7 && y[1] == 9, "Axpy", 0, 0, 0);
  if (failures > 0) return 1;
  std::printf("kernels_wasm_test: PASS (%d checks)\n", checks);
  return 0;
}
