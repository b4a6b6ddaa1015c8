// Engine kernels against direct formulas on small hand-made inputs.
#include "src/core/engine/kernels.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "tests/core/engine/kernel_cases.h"

namespace libra::engine {
namespace {

void ExpectOk(bool ok, const char* what, int a, int b, int c) {
  EXPECT_TRUE(ok) << what << " (" << a << ", " << b << ", " << c << ")";
}

TEST(KernelsTest, DotHandlesTailsAndEveryLength) { testing::CheckDotAtEveryLength(ExpectOk); }

TEST(KernelsTest, MatVecIsRowDots) {
  const std::vector<float> w = {1, 2, 3, 4, 5, 6};  // [2, 3]
  const std::vector<float> x = {1, 0, -1};
  std::vector<float> y(2);
  MatVec(w.data(), 2, 3, x.data(), y.data());
  EXPECT_FLOAT_EQ(y[0], -2);
  EXPECT_FLOAT_EQ(y[1], -2);
}

// MatVec and MatVecStrided at every size around the block edges
// (kernel_cases.h).
TEST(KernelsTest, MatVecEqualsDirectSumsAndDotAtEverySize) {
  testing::CheckMatVecAtEverySize(ExpectOk);
}

TEST(KernelsTest, RmsNormAndSoftmax) {
  const std::vector<float> x = {3, 4};
  const std::vector<float> g = {1, 2};
  std::vector<float> out(2);
  RmsNorm(x.data(), g.data(), 2, 0.0f, out.data());
  const float rms = std::sqrt(12.5f);
  EXPECT_NEAR(out[0], 3 / rms, 1e-6);
  EXPECT_NEAR(out[1], 8 / rms, 1e-6);
  std::vector<float> s = {100, 100 + std::log(3.0f)};  // large: max-subtraction keeps exp finite
  Softmax(s.data(), 2);
  EXPECT_NEAR(s[0], 0.25f, 1e-5);
  EXPECT_NEAR(s[1], 0.75f, 1e-5);
  std::vector<float> y = {1, 1};
  Axpy(2, x.data(), y.data(), 2);
  EXPECT_FLOAT_EQ(y[1], 9);
}

}  // namespace
}  // namespace libra::engine
