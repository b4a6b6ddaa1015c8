#include "papers/testbed/linear_probe.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace libra::papers::testbed {
namespace {

TEST(NearestClassMeanTest, SeparatedClustersAreAllRight) {
  ClassFeatures train = {{{0, 0}, {0, 1}}, {{10, 10}, {10, 11}}};
  ClassFeatures test = {{{0.5f, 0.5f}}, {{9, 9}, {11, 10}}};
  EXPECT_DOUBLE_EQ(NearestClassMeanAccuracy(train, test), 1.0);
}

TEST(NearestClassMeanTest, CountsMistakes) {
  // Means (0, 0) and (4, 0); (3, 0) is nearer class 1, (1, 0) nearer class 0.
  ClassFeatures train = {{{-1, 0}, {1, 0}}, {{3, 0}, {5, 0}}};
  ClassFeatures test = {{{1, 0}, {3, 0}}, {{4, 0}, {1, 0}}};
  EXPECT_DOUBLE_EQ(NearestClassMeanAccuracy(train, test), 0.5);
}

TEST(NearestClassMeanTest, StandardisationEqualisesScales) {
  // Class means (0, 0) and (2, 10). Dimension 0 separates the classes with
  // spread 1; dimension 1 has spread 1000. For (0, 9) the raw distances are
  // 81 and 5 (class 1 would win); standardised, dimension 1 differs by about
  // 0.01 and dimension 0 decides: class 0.
  ClassFeatures train = {{{0, 1000}, {0, -1000}}, {{2, 1010}, {2, -990}}};
  ClassFeatures test = {{{0, 9}}, {}};
  EXPECT_DOUBLE_EQ(NearestClassMeanAccuracy(train, test), 1.0);
}

TEST(NearestClassMeanTest, EmptyInputs) {
  EXPECT_DOUBLE_EQ(NearestClassMeanAccuracy({}, {}), 0.0);
  ClassFeatures train = {{{0}}, {}};
  ClassFeatures test = {{}, {{5}}};  // class 1 has no mean: never predicted
  EXPECT_DOUBLE_EQ(NearestClassMeanAccuracy(train, test), 0.0);
}

// Two classes stretched along (1, 1) by a spread of about 7 and offset by
// (1, 0): the class means differ along x, where the stretch hides them, but
// x - y separates them (0 against 1, noise 0.07). Nearest class mean looks
// along the means' difference and misses; a trained linear probe finds x - y.
ClassFeatures StretchedClasses(int per_class, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> along(0, 7), noise(0, 0.05f);
  ClassFeatures classes(2);
  for (int c = 0; c < 2; ++c) {
    for (int i = 0; i < per_class; ++i) {
      const float t = along(rng);
      classes[c].push_back({static_cast<float>(c) + t + noise(rng), t + noise(rng)});
    }
  }
  return classes;
}

TEST(SoftmaxProbeTest, FindsTheSeparatingDirectionThatClassMeansMiss) {
  const ClassFeatures train = StretchedClasses(100, 1), test = StretchedClasses(100, 2);
  const double softmax = SoftmaxProbe::Fit(train).Accuracy(test);
  const double ncm = NearestClassMeanAccuracy(train, test);
  EXPECT_GE(softmax, 0.97);
  EXPECT_LE(ncm, 0.75);
}

// Binary logistic regression in one dimension solved directly by Newton's
// method: the two-class softmax probe depends only on the difference of its
// two columns, delta = w1 - w0 and beta = b1 - b0, and its penalty
// (l2 / 2)(w0^2 + w1^2) is smallest at w0 = -w1, where it is l2 delta^2 / 4.
TEST(SoftmaxProbeTest, MatchesNewtonsMethodOnBinaryLogisticRegression) {
  const std::vector<float> negatives = {-1.0f, -0.5f, 0.3f, 0.2f, -1.4f};
  const std::vector<float> positives = {0.8f, -0.1f, 1.5f, 0.4f};
  ClassFeatures train(2);
  std::vector<double> x, label;
  for (float v : negatives) train[0].push_back({v}), x.push_back(v), label.push_back(-1);
  for (float v : positives) train[1].push_back({v}), x.push_back(v), label.push_back(1);
  const double n = static_cast<double>(x.size());
  double mean = 0, var = 0;
  for (double v : x) mean += v / n;
  for (double v : x) var += (v - mean) * (v - mean) / n;
  for (double& v : x) v = (v - mean) / (std::sqrt(var) + 1e-6);
  const double l2 = 1.0 / n;  // the default

  double delta = 0, beta = 0;
  for (int iteration = 0; iteration < 50; ++iteration) {
    double g_delta = l2 * delta / 2, g_beta = 0, h_dd = l2 / 2, h_db = 0, h_bb = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double margin = label[i] * (delta * x[i] + beta);
      const double s = 1 / (1 + std::exp(margin));  // -d loss / d margin
      g_delta -= s * label[i] * x[i] / n;
      g_beta -= s * label[i] / n;
      const double curvature = s * (1 - s) / n;
      h_dd += curvature * x[i] * x[i];
      h_db += curvature * x[i];
      h_bb += curvature;
    }
    const double det = h_dd * h_bb - h_db * h_db;
    delta -= (h_bb * g_delta - h_db * g_beta) / det;
    beta -= (h_dd * g_beta - h_db * g_delta) / det;
  }

  const SoftmaxProbe probe = SoftmaxProbe::Fit(train);
  const Eigen::MatrixXd& w = probe.weights();
  ASSERT_EQ(w.rows(), 2);
  ASSERT_EQ(w.cols(), 2);
  EXPECT_NEAR(w(0, 1) - w(0, 0), delta, 1e-5);
  EXPECT_NEAR(w(1, 1) - w(1, 0), beta, 1e-5);
  EXPECT_NEAR(w(0, 0), -w(0, 1), 1e-5);
  EXPECT_GT(delta, 0.5);  // the positives lie to the right: a real slope
}

TEST(SoftmaxProbeTest, StrongerPenaltyShrinksTheWeights) {
  const ClassFeatures train = StretchedClasses(50, 3);
  SoftmaxProbeOptions strong;
  strong.l2 = 1.0;
  EXPECT_LT(SoftmaxProbe::Fit(train, strong).weights().topRows(2).norm(),
            SoftmaxProbe::Fit(train).weights().topRows(2).norm());
}

TEST(SoftmaxProbeTest, ClassesWithoutTrainingVectorsAreNeverPredicted) {
  ClassFeatures train = {{{0, 0}, {0, 1}}, {}, {{5, 5}, {5, 6}}};
  ClassFeatures test = {{{0, 0.5f}}, {{0, 0}, {5, 5}}, {{5, 5.5f}}};
  const SoftmaxProbe probe = SoftmaxProbe::Fit(train);
  EXPECT_EQ(probe.Predict({0, 0}), 0);
  EXPECT_EQ(probe.Predict({5, 5}), 2);
  EXPECT_DOUBLE_EQ(probe.Accuracy(test), 0.5);
}

TEST(SoftmaxProbeTest, EmptyInputs) {
  EXPECT_DOUBLE_EQ(SoftmaxProbe::Fit({}).Accuracy({}), 0.0);
  EXPECT_DOUBLE_EQ(SoftmaxProbe::Fit({{{1}}, {{2}}}).Accuracy({{}, {}}), 0.0);
}

}  // namespace
}  // namespace libra::papers::testbed
