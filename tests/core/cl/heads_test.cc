// NMC and SLDA against their direct formulas on small data; kNN against a
// brute-force neighbour search written here.
#include <algorithm>
#include <map>
#include <random>

#include "gtest/gtest.h"
#include "src/core/cl/knn_head.h"
#include "src/core/cl/nmc_head.h"
#include "src/core/cl/slda_head.h"

namespace libra::cl {
namespace {

// n rows in d dims: class c is centred at c along every axis, plus noise.
LabeledFeatures Blobs(int n, int d, int classes, uint64_t seed, double noise = 1.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> gauss(0.0f, static_cast<float>(noise));
  LabeledFeatures set;
  set.x.resize(n, d);
  for (int i = 0; i < n; ++i) {
    const int c = static_cast<int>(rng() % classes);
    set.y.push_back(c);
    for (int k = 0; k < d; ++k) set.x(i, k) = c * (k % 2 ? 1.0f : -0.5f) + gauss(rng);
  }
  return set;
}

// Class means and the pooled within-class covariance, from their definitions.
void DirectStats(const LabeledFeatures& s, std::map<int, Eigen::VectorXd>& means,
                 Eigen::MatrixXd& sigma) {
  std::map<int, int> counts;
  for (size_t i = 0; i < s.y.size(); ++i) {
    Eigen::VectorXd x = s.x.row(i).transpose().cast<double>();
    if (!means.count(s.y[i])) means[s.y[i]] = Eigen::VectorXd::Zero(x.size());
    means[s.y[i]] += x;
    ++counts[s.y[i]];
  }
  for (auto& [c, m] : means) m /= counts[c];
  sigma = Eigen::MatrixXd::Zero(s.x.cols(), s.x.cols());
  for (size_t i = 0; i < s.y.size(); ++i) {
    Eigen::VectorXd v = s.x.row(i).transpose().cast<double>() - means[s.y[i]];
    sigma += v * v.transpose();
  }
  sigma /= static_cast<double>(s.y.size());
}

TEST(NmcHeadTest, MatchesDirectMeansAndNearestMean) {
  LabeledFeatures train = Blobs(60, 4, 3, 1), test = Blobs(40, 4, 3, 2, 2.0);
  NmcHead head;
  // Learned in two tasks, as a stream would.
  std::vector<int> first, second;
  for (int i = 0; i < 60; ++i) (i < 25 ? first : second).push_back(i);
  ASSERT_TRUE(head.Learn(SelectRows(train, first)).ok());
  ASSERT_TRUE(head.Learn(SelectRows(train, second)).ok());
  std::map<int, Eigen::VectorXd> means;
  Eigen::MatrixXd sigma;
  DirectStats(train, means, sigma);
  for (auto& [c, m] : means) EXPECT_LT((head.Mean(c) - m).norm(), 1e-5) << c;
  std::vector<int> predicted = head.Predict(test.x);
  for (int i = 0; i < 40; ++i) {
    Eigen::VectorXd x = test.x.row(i).transpose().cast<double>();
    int want = -1;
    double best = 1e300;
    for (auto& [c, m] : means) {
      if ((x - m).norm() < best) best = (x - m).norm(), want = c;
    }
    EXPECT_EQ(predicted[i], want) << i;
  }
  EXPECT_DOUBLE_EQ(head.training_macs(), 60 * 4);
}

TEST(SldaHeadTest, MatchesDirectCovarianceAndScores) {
  LabeledFeatures train = Blobs(80, 5, 4, 3), test = Blobs(50, 5, 4, 4, 2.5);
  SldaHead head;
  ASSERT_TRUE(head.Learn(train).ok());
  std::map<int, Eigen::VectorXd> means;
  Eigen::MatrixXd sigma;
  DirectStats(train, means, sigma);
  EXPECT_LT((head.Covariance() - sigma).norm(), 1e-5);
  // Lambda = pinv((1 - eps) Sigma + eps I), through an SVD here.
  const Eigen::MatrixXd shrunk = (1 - 1e-4) * sigma + 1e-4 * Eigen::MatrixXd::Identity(5, 5);
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(shrunk, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Eigen::MatrixXd lambda = svd.matrixV() *
                                 svd.singularValues().cwiseInverse().asDiagonal() *
                                 svd.matrixU().transpose();
  EXPECT_LT((head.Precision() - lambda).norm(), 1e-6 * lambda.norm());
  std::vector<int> predicted = head.Predict(test.x);
  int disagreements_with_nmc = 0;
  NmcHead nmc;
  ASSERT_TRUE(nmc.Learn(train).ok());
  std::vector<int> nmc_predicted = nmc.Predict(test.x);
  for (int i = 0; i < 50; ++i) {
    Eigen::VectorXd x = test.x.row(i).transpose().cast<double>();
    int want = -1;
    double best = -1e300;
    for (auto& [c, m] : means) {
      const double score = x.dot(lambda * m) - 0.5 * m.dot(lambda * m);
      if (score > best) best = score, want = c;
    }
    EXPECT_EQ(predicted[i], want) << i;
    disagreements_with_nmc += predicted[i] != nmc_predicted[i];
  }
  EXPECT_GT(disagreements_with_nmc, 0);  // the covariance matters on this data
}

TEST(SldaHeadTest, SingularCovarianceIsShrunk) {
  // Every row of a class identical: Sigma = 0, Lambda = I / eps.
  LabeledFeatures train;
  train.x.resize(4, 2);
  train.x << 0, 0, 0, 0, 1, 1, 1, 1;
  train.y = {0, 0, 1, 1};
  SldaHead head;
  ASSERT_TRUE(head.Learn(train).ok());
  EXPECT_NEAR(head.Precision()(0, 0), 1e4, 1e-6);
  Features probe(2, 2);
  probe << 0.1, 0.2, 0.9, 0.6;
  EXPECT_EQ(head.Predict(probe), (std::vector<int>{0, 1}));
}

// Brute force: every distance, a full sort, then the vote with the stated
// tie rule (the label whose nearest member comes first).
std::vector<int> BruteForceKnn(const LabeledFeatures& train, const Features& x, int k) {
  std::vector<int> out;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    std::vector<std::pair<double, int>> d;
    for (Eigen::Index j = 0; j < train.x.rows(); ++j) {
      d.push_back({(train.x.row(j) - x.row(i)).cast<double>().squaredNorm(), static_cast<int>(j)});
    }
    std::sort(d.begin(), d.end());
    std::map<int, int> votes;
    for (int r = 0; r < k; ++r) ++votes[train.y[d[r].second]];
    int best_votes = 0;
    for (auto& [c, v] : votes) best_votes = std::max(best_votes, v);
    for (int r = 0; r < k; ++r) {
      if (votes[train.y[d[r].second]] == best_votes) {
        out.push_back(train.y[d[r].second]);
        break;
      }
    }
  }
  return out;
}

TEST(KnnHeadTest, MatchesBruteForce) {
  LabeledFeatures train = Blobs(120, 3, 4, 5, 1.5), test = Blobs(60, 3, 4, 6, 1.5);
  for (int k : {1, 5, 10, 20}) {
    auto head = KnnHead::Create(k);
    ASSERT_TRUE(head.ok());
    ASSERT_TRUE(head->Learn(train).ok());
    EXPECT_EQ(head->Predict(test.x), BruteForceKnn(train, test.x, k)) << "k=" << k;
  }
}

TEST(KnnHeadTest, SelectsKOnValidationAndRejectsBadK) {
  // Labels flipped at random 40% of the time: larger k averages the noise out.
  LabeledFeatures train = Blobs(400, 2, 2, 7, 0.3), validation = Blobs(200, 2, 2, 8, 0.3);
  std::mt19937 rng(9);
  for (int& y : train.y) if (rng() % 10 < 4) y = 1 - y;
  const int k = SelectKnnK(train, validation);
  double best = -1;
  int want = -1;
  for (int candidate : kKnnCandidates) {
    KnnHead head = *KnnHead::Create(candidate);
    (void)head.Learn(train);
    const double accuracy = Accuracy(head.Predict(validation.x), validation.y);
    if (accuracy > best) best = accuracy, want = candidate;
  }
  EXPECT_EQ(k, want);
  EXPECT_GT(k, 5);
  EXPECT_FALSE(KnnHead::Create(0).ok());
}

TEST(AccuracyTest, CountsMatches) {
  EXPECT_DOUBLE_EQ(Accuracy({1, 2, 3, 4}, {1, 0, 3, 0}), 0.5);
  EXPECT_DOUBLE_EQ(Accuracy({}, {}), 0.0);
}

}  // namespace
}  // namespace libra::cl
