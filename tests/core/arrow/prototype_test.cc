#include "src/core/arrow/prototype.h"

#include <cmath>
#include <random>

#include "Eigen/Dense"
#include "gtest/gtest.h"

namespace libra::arrow {
namespace {

Tensor Random(Shape shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Tensor t = Tensor::Zeros(shape);
  for (float& v : t.values()) v = normal(rng);
  return t;
}

// dW = s B A formed densely with plain loops: the independent computation.
Eigen::MatrixXd DenseDelta(const Tensor& a, const Tensor& b, float scale) {
  const int64_t r = a.dim(0), in = a.dim(1), out = b.dim(0);
  Eigen::MatrixXd dw = Eigen::MatrixXd::Zero(out, in);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i)
      for (int64_t j = 0; j < r; ++j) dw(o, i) += double(scale) * b.at(o * r + j) * a.at(j * in + i);
  return dw;
}

double AbsCosine(const float* ours, const Eigen::VectorXd& reference) {
  double dot = 0, norm = 0;
  for (int64_t i = 0; i < reference.size(); ++i) {
    dot += ours[i] * reference(i);
    norm += double(ours[i]) * ours[i];
  }
  return std::fabs(dot) / std::sqrt(norm) / reference.norm();
}

struct Case {
  int r, in, out, k;
};

class PrototypeVsDenseSvd : public ::testing::TestWithParam<Case> {};

TEST_P(PrototypeVsDenseSvd, MatchesJacobiSvdOfTheFormedDelta) {
  const Case c = GetParam();
  const float scale = 2.5f;
  const Tensor a = Random({c.r, c.in}, 11 + c.r);
  const Tensor b = Random({c.out, c.r}, 29 + c.out);
  absl::StatusOr<SingularTriplets> t = TopSingularTriplets(a, b, scale, c.k);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->right.shape(), (Shape{c.k, c.in}));
  ASSERT_EQ(t->left.shape(), (Shape{c.k, c.out}));

  const Eigen::MatrixXd dw = DenseDelta(a, b, scale);
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(dw, Eigen::ComputeThinU | Eigen::ComputeThinV);
  for (int j = 0; j < c.k; ++j) {
    EXPECT_NEAR(t->values[j], svd.singularValues()(j), 1e-4 * svd.singularValues()(0)) << j;
    // Up to sign (random Gaussian factors: distinct singular values).
    EXPECT_GT(AbsCosine(t->right.data() + j * c.in, svd.matrixV().col(j)), 1 - 1e-5) << j;
    EXPECT_GT(AbsCosine(t->left.data() + j * c.out, svd.matrixU().col(j)), 1 - 1e-5) << j;
    // Unit norm, and u, v signs agree: dW v = sigma u.
    Eigen::VectorXd v(c.in), u(c.out);
    for (int i = 0; i < c.in; ++i) v(i) = t->right.at(j * c.in + i);
    for (int i = 0; i < c.out; ++i) u(i) = t->left.at(j * c.out + i);
    EXPECT_NEAR(v.norm(), 1.0, 1e-5);
    EXPECT_NEAR(u.norm(), 1.0, 1e-5);
    EXPECT_LT((dw * v - t->values[j] * u).norm(), 1e-4 * svd.singularValues()(0)) << j;
    // Sign convention: the largest-magnitude component is positive.
    Eigen::Index largest;
    v.cwiseAbs().maxCoeff(&largest);
    EXPECT_GT(v(largest), 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, PrototypeVsDenseSvd,
                         ::testing::Values(Case{4, 7, 5, 4}, Case{4, 33, 17, 2},
                                           Case{3, 10, 2, 2},   // r > out
                                           Case{6, 4, 9, 4},    // r > in
                                           Case{16, 40, 24, 16}, Case{1, 8, 8, 1}));

TEST(PrototypeTest, TopRightSingularVectorIsRowZeroOfTheTriplets) {
  const Tensor a = Random({4, 12}, 1), b = Random({9, 4}, 2);
  absl::StatusOr<Tensor> p = TopRightSingularVector(a, b, 4.0f, "q_proj");
  absl::StatusOr<SingularTriplets> t = TopSingularTriplets(a, b, 4.0f, 3);
  ASSERT_TRUE(p.ok() && t.ok());
  ASSERT_EQ(p->shape(), (Shape{12}));
  for (int i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(p->at(i), t->right.at(i));
}

TEST(PrototypeTest, SignIsReproducibleWhenTheFactorsAreNegated) {
  // (-B)(-A) = BA: the same delta must give the same prototype.
  const Tensor a = Random({4, 12}, 3), b = Random({9, 4}, 4);
  Tensor neg_a = a, neg_b = b;
  for (float& v : neg_a.values()) v = -v;
  for (float& v : neg_b.values()) v = -v;
  absl::StatusOr<Tensor> p = TopRightSingularVector(a, b, 1.0f);
  absl::StatusOr<Tensor> q = TopRightSingularVector(neg_a, neg_b, 1.0f);
  ASSERT_TRUE(p.ok() && q.ok());
  for (int i = 0; i < 12; ++i) EXPECT_NEAR(p->at(i), q->at(i), 1e-6);
}

TEST(PrototypeTest, ZeroDeltaGivesAUnitVectorInTheSpanOfA) {
  const Tensor a = Random({2, 6}, 5);
  const Tensor b = Tensor::Zeros({5, 2});
  absl::StatusOr<SingularTriplets> t = TopSingularTriplets(a, b, 2.0f, 1);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->values[0], 0.0f);
  Eigen::VectorXd p(6);
  for (int i = 0; i < 6; ++i) p(i) = t->right.at(i);
  EXPECT_NEAR(p.norm(), 1.0, 1e-6);
  // Residual after least-squares fit onto rows of A is ~0.
  Eigen::MatrixXd at(6, 2);
  for (int j = 0; j < 2; ++j)
    for (int i = 0; i < 6; ++i) at(i, j) = a.at(j * 6 + i);
  const Eigen::VectorXd coeff = at.colPivHouseholderQr().solve(p);
  EXPECT_LT((at * coeff - p).norm(), 1e-6);
}

TEST(PrototypeTest, CanonicalizeSignFlipsOnlyWhenLargestIsNegative) {
  float v[] = {0.5f, -2.0f, 1.0f};
  EXPECT_EQ(CanonicalizeSign(v, 3), -1);
  EXPECT_EQ(v[1], 2.0f);
  EXPECT_EQ(v[0], -0.5f);
  EXPECT_EQ(CanonicalizeSign(v, 3), 1);
}

TEST(PrototypeTest, RejectsBadInputWithTheModuleNamed) {
  const Tensor a = Random({4, 12}, 6);
  absl::Status s = TopSingularTriplets(a, Random({9, 3}, 7), 1.0f, 1, "h.3.q").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("module \"h.3.q\": lora_B must be [out, 4]"), std::string::npos) << s;

  s = TopSingularTriplets(a, Random({9, 4}, 7), 1.0f, 5).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("k must be in [1, 4]"), std::string::npos) << s;

  s = TopSingularTriplets(Tensor::Zeros({12}), Random({9, 4}, 7), 1.0f, 1).status();
  EXPECT_NE(s.message().find("lora_A must be [r, in]"), std::string::npos) << s;

  Tensor nan_a = a;
  nan_a.at(5) = std::nanf("");
  s = TopSingularTriplets(nan_a, Random({9, 4}, 7), 1.0f, 1).status();
  EXPECT_NE(s.message().find("NaN or Inf"), std::string::npos) << s;
}

}  // namespace
}  // namespace libra::arrow
