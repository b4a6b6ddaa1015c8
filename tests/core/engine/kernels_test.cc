// Engine kernels against direct formulas on small hand-made inputs.
#include "src/core/engine/kernels.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace libra::engine {
namespace {

TEST(KernelsTest, DotHandlesTailsAndEveryLength) {
  for (int n = 0; n < 40; ++n) {
    std::vector<float> a(n), b(n);
    double want = 0;
    for (int i = 0; i < n; ++i) {
      a[i] = 0.5f * i - 3;
      b[i] = 1.0f / (i + 1);
      want += double(a[i]) * b[i];
    }
    EXPECT_NEAR(Dot(a.data(), b.data(), n), want, 1e-4) << n;
  }
}

TEST(KernelsTest, MatVecIsRowDots) {
  const std::vector<float> w = {1, 2, 3, 4, 5, 6};  // [2, 3]
  const std::vector<float> x = {1, 0, -1};
  std::vector<float> y(2);
  MatVec(w.data(), 2, 3, x.data(), y.data());
  EXPECT_FLOAT_EQ(y[0], -2);
  EXPECT_FLOAT_EQ(y[1], -2);
}

// The blocked MatVec (four rows at a time) against a direct double sum, and
// each row bit-equal to Dot of that row: one summation order for every row,
// whatever its place in a block, at every size around the block edges.
TEST(KernelsTest, MatVecEqualsDirectSumsAndDotAtEverySize) {
  for (int rows = 0; rows <= 9; ++rows) {
    for (int cols = 0; cols <= 20; ++cols) {
      std::vector<float> w(rows * cols), x(cols), y(rows, -7.0f);
      for (int i = 0; i < rows * cols; ++i) w[i] = 0.25f * ((i * 7) % 11) - 1.0f;
      for (int i = 0; i < cols; ++i) x[i] = 1.0f / (i + 2) - 0.3f;
      MatVec(w.data(), rows, cols, x.data(), y.data());
      for (int r = 0; r < rows; ++r) {
        double want = 0;
        for (int i = 0; i < cols; ++i) want += double(w[r * cols + i]) * x[i];
        EXPECT_NEAR(y[r], want, 1e-5) << rows << "x" << cols << " row " << r;
        EXPECT_EQ(y[r], Dot(w.data() + r * cols, x.data(), cols)) << rows << "x" << cols << " row " << r;
      }
    }
  }
}

// Rows `stride` floats apart (a head's keys in a KV cache): each equals Dot
// of that row and the direct sum, and the floats between rows are not read
// into the result (NaN there would show).
TEST(KernelsTest, MatVecStridedReadsOnlyItsColumns) {
  const float nan = std::nanf("");
  for (int rows = 0; rows <= 9; ++rows) {
    for (int cols = 1; cols <= 20; cols += 3) {
      const int stride = cols + 5;
      std::vector<float> w(rows * stride, nan), x(cols), y(rows);
      for (int r = 0; r < rows; ++r) {
        for (int i = 0; i < cols; ++i) w[r * stride + i] = 0.25f * ((r * 5 + i * 3) % 13) - 1.5f;
      }
      for (int i = 0; i < cols; ++i) x[i] = 0.1f * i - 0.7f;
      MatVecStrided(w.data(), rows, cols, stride, x.data(), y.data());
      for (int r = 0; r < rows; ++r) {
        double want = 0;
        for (int i = 0; i < cols; ++i) want += double(w[r * stride + i]) * x[i];
        EXPECT_NEAR(y[r], want, 1e-5) << rows << "x" << cols << " row " << r;
        EXPECT_EQ(y[r], Dot(w.data() + r * stride, x.data(), cols)) << rows << "x" << cols << " row " << r;
      }
    }
  }
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
