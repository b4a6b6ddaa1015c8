// The engine kernels' cases against direct double sums, shared by the
// native gtest (kernels_test.cc) and the em++ build run under Node
// (tests/wasm/kernels_wasm_test.cc, which has no gtest): each case calls
// check(ok, what, a, b, c) with the sizes it ran at.
#ifndef LIBRA_TESTS_CORE_ENGINE_KERNEL_CASES_H_
#define LIBRA_TESTS_CORE_ENGINE_KERNEL_CASES_H_

#include <cmath>
#include <vector>

#include "src/core/engine/kernels.h"

namespace libra::engine::testing {

// Dot at every length around the vector width (its tail included).
template <typename Check>
void CheckDotAtEveryLength(Check check) {
  for (int n = 0; n < 40; ++n) {
    std::vector<float> a(n), b(n);
    double want = 0;
    for (int i = 0; i < n; ++i) {
      a[i] = 0.5f * i - 3;
      b[i] = 1.0f / (i + 1);
      want += double(a[i]) * b[i];
    }
    check(std::fabs(Dot(a.data(), b.data(), n) - want) <= 1e-4, "Dot vs direct sum", n, 0, 0);
  }
}

// MatVecStrided (MatVec when stride == cols) against direct sums, and each
// row bit-equal to Dot of that row: one summation order for every row,
// whatever its place in a block, at every size around the block edges.
// NaN between rows (stride > cols) would show if they were read.
template <typename Check>
void CheckMatVec(int rows, int cols, int stride, Check check) {
  std::vector<float> w(rows * stride, std::nanf("")), x(cols), y(rows, -7.0f);
  for (int r = 0; r < rows; ++r) {
    for (int i = 0; i < cols; ++i) w[r * stride + i] = 0.25f * ((r * 5 + i * 7) % 13) - 1.5f;
  }
  for (int i = 0; i < cols; ++i) x[i] = 1.0f / (i + 2) - 0.3f;
  if (stride == cols) {
    MatVec(w.data(), rows, cols, x.data(), y.data());
  } else {
    MatVecStrided(w.data(), rows, cols, stride, x.data(), y.data());
  }
  for (int r = 0; r < rows; ++r) {
    double want = 0;
    for (int i = 0; i < cols; ++i) want += double(w[r * stride + i]) * x[i];
    check(std::fabs(y[r] - want) <= 1e-5, "MatVec row vs direct sum", rows, cols, r);
    check(y[r] == Dot(w.data() + r * stride, x.data(), cols), "MatVec row == Dot", rows, cols, r);
  }
}

template <typename Check>
void CheckMatVecAtEverySize(Check check) {
  for (int rows = 0; rows <= 9; ++rows) {
    for (int cols = 0; cols <= 20; ++cols) CheckMatVec(rows, cols, cols, check);
    for (int cols = 1; cols <= 20; cols += 3) CheckMatVec(rows, cols, cols + 5, check);
  }
}

}  // namespace libra::engine::testing

#endif  // LIBRA_TESTS_CORE_ENGINE_KERNEL_CASES_H_
