// The engine's kernels compiled to wasm (em++ -O3 -msimd128, as in
// //wasm:libra), run under Node: the SIMD128 code paths against direct
// double sums at every size around the vector width and MatVec's blocks:
// the cases of tests/core/engine/kernel_cases.h, which kernels_test.cc runs
// natively. Prints
// "kernels_wasm_test: PASS (N checks)" or each failure, and exits 1 on any.
#include <cmath>
#include <cstdio>
#include <vector>

#include "src/core/engine/kernels.h"
#include "tests/core/engine/kernel_cases.h"

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
  libra::engine::testing::CheckDotAtEveryLength(Check);
  libra::engine::testing::CheckMatVecAtEverySize(Check);
  std::vector<float> x = {3, 4}, y = {1, 1};
  libra::engine::Axpy(2, x.data(), y.data(), 2);
  Check(y[0] == 7 && y[1] == 9, "Axpy", 0, 0, 0);
  if (failures > 0) return 1;
  std::printf("kernels_wasm_test: PASS (%d checks)\n", checks);
  return 0;
}
