#include "src/core/cl/similarity.h"

#include <random>

#include "gtest/gtest.h"

namespace libra::cl {
namespace {

Eigen::MatrixXd Random(int n, int d, uint64_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g;
  Eigen::MatrixXd m(n, d);
  for (int i = 0; i < n; ++i) for (int j = 0; j < d; ++j) m(i, j) = g(rng);
  return m;
}

TEST(LinearCkaTest, HandComputedOneDimensional) {
  // x = (1, 2, 3), y = (1, 3, 2): centred (-1, 0, 1) and (-1, 1, 0).
  // ||y^T x||^2 = 1, ||x^T x|| = 2, ||y^T y|| = 2: CKA = 1 / 4.
  Eigen::MatrixXd x(3, 1), y(3, 1);
  x << 1, 2, 3;
  y << 1, 3, 2;
  EXPECT_NEAR(LinearCka(x, y), 0.25, 1e-12);
}

TEST(LinearCkaTest, InvariancesAndRange) {
  Eigen::MatrixXd x = Random(40, 5, 1), y = Random(40, 3, 2);
  EXPECT_NEAR(LinearCka(x, x), 1.0, 1e-12);
  // An orthogonal transform and isotropic scaling leave it unchanged.
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(Random(5, 5, 3));
  Eigen::MatrixXd q = qr.householderQ();
  EXPECT_NEAR(LinearCka(3.0 * x * q, y), LinearCka(x, y), 1e-10);
  const double cka = LinearCka(x, y);
  EXPECT_GE(cka, 0.0);
  EXPECT_LE(cka, 1.0);
  EXPECT_DOUBLE_EQ(LinearCka(x, Eigen::MatrixXd::Ones(40, 2)), 0.0);
}

TEST(SpearmanTest, RanksWithTiesAndCorrelation) {
  EXPECT_EQ(Ranks({10, 30, 20, 30}), (std::vector<double>{1, 3.5, 2, 3.5}));
  EXPECT_NEAR(SpearmanCorrelation({1, 2, 3, 4}, {10, 20, 30, 400}), 1.0, 1e-12);
  EXPECT_NEAR(SpearmanCorrelation({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0, 1e-12);
  // Ranks (1,2,3) and (2,1,3): 1 - 6 * 2 / (3 * 8) = 0.5.
  EXPECT_NEAR(SpearmanCorrelation({1, 2, 3}, {5, 4, 6}), 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(SpearmanCorrelation({1, 1, 1}, {1, 2, 3}), 0.0);
}

}  // namespace
}  // namespace libra::cl
