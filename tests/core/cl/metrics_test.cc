#include "src/core/cl/metrics.h"

#include "gtest/gtest.h"

namespace libra::cl {
namespace {

// A worked example, three tasks:
//          task0 task1 task2
//   after0  0.9   0.1   0.2
//   after1  0.6   0.8   0.3
//   after2  0.5   0.7   0.9
// A = (0.5 + 0.7 + 0.9) / 3 = 0.7
// F = ((0.9 - 0.5) + (0.8 - 0.7)) / 2 = 0.25
// FWT with b = (0.1, 0.2, 0.25): ((0.1 - 0.2) + (0.3 - 0.25)) / 2 = -0.025
AccuracyMatrix Worked() {
  AccuracyMatrix r(3);
  const double values[3][3] = {{0.9, 0.1, 0.2}, {0.6, 0.8, 0.3}, {0.5, 0.7, 0.9}};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) r.Set(i, j, values[i][j]);
  }
  return r;
}

TEST(MetricsTest, WorkedExample) {
  AccuracyMatrix r = Worked();
  EXPECT_NEAR(r.FinalAverageAccuracy(), 0.7, 1e-12);
  EXPECT_NEAR(r.AverageAccuracyAfter(1), 0.7, 1e-12);
  EXPECT_NEAR(r.AverageAccuracyAfter(0), 0.9, 1e-12);
  EXPECT_NEAR(r.Forgetting(), 0.25, 1e-12);
  auto fwt = r.ForwardTransfer({0.1, 0.2, 0.25});
  ASSERT_TRUE(fwt.ok());
  EXPECT_NEAR(*fwt, -0.025, 1e-12);
}

TEST(MetricsTest, EdgeCasesAndErrors) {
  AccuracyMatrix one(1);
  one.Set(0, 0, 0.4);
  EXPECT_DOUBLE_EQ(one.Forgetting(), 0.0);
  EXPECT_DOUBLE_EQ(one.FinalAverageAccuracy(), 0.4);
  EXPECT_FALSE(Worked().ForwardTransfer({0.1}).ok());
}

}  // namespace
}  // namespace libra::cl
