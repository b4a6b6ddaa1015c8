#include "src/core/cluster/kmeans.h"

#include <random>

#include "gtest/gtest.h"

namespace libra::cluster {
namespace {

TEST(KMeansTest, ThreeWellSeparatedPairsOnALine) {
  // Pairs {0,1}, {10,11}, {20,21}: centres 0.5, 10.5, 20.5, inertia 6 * 0.25.
  const Tensor points({6, 1}, {0, 1, 10, 11, 20, 21});
  KMeansOptions options;
  options.k = 3;
  options.seed = 7;
  absl::StatusOr<KMeansResult> r = KMeans(points, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->assignment, (std::vector<int>{0, 0, 1, 1, 2, 2}));
  EXPECT_FLOAT_EQ(r->centroids.at(0), 0.5f);
  EXPECT_FLOAT_EQ(r->centroids.at(1), 10.5f);
  EXPECT_FLOAT_EQ(r->centroids.at(2), 20.5f);
  EXPECT_DOUBLE_EQ(r->inertia, 1.5);
}

TEST(KMeansTest, TwoSquaresInThePlaneWithLabelsByFirstAppearance) {
  // Unit square at the origin and one at (10, 10), interleaved; each
  // centre is its square's middle, inertia 8 * 0.5.
  const Tensor points({8, 2}, {10, 10, 0, 0, 11, 10, 1, 0, 10, 11, 0, 1, 11, 11, 1, 1});
  KMeansOptions options;
  options.k = 2;
  absl::StatusOr<KMeansResult> r = KMeans(points, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->assignment, (std::vector<int>{0, 1, 0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(r->centroids.values(), (std::vector<float>{10.5f, 10.5f, 0.5f, 0.5f}));
  EXPECT_DOUBLE_EQ(r->inertia, 4.0);
}

TEST(KMeansTest, KOfOneIsTheMeanAndKOfNIsExact) {
  const Tensor points({3, 2}, {0, 0, 3, 0, 0, 3});
  KMeansOptions options;
  options.k = 1;
  absl::StatusOr<KMeansResult> one = KMeans(points, options);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->centroids.values(), (std::vector<float>{1, 1}));
  EXPECT_DOUBLE_EQ(one->inertia, 2 + 5 + 5);  // |(-1,-1)|^2 + |(2,-1)|^2 + |(-1,2)|^2
  options.k = 3;
  absl::StatusOr<KMeansResult> all = KMeans(points, options);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->assignment, (std::vector<int>{0, 1, 2}));
  EXPECT_DOUBLE_EQ(all->inertia, 0.0);
}

TEST(KMeansTest, RestartsNeverDoWorseAndTheSeedFixesTheResult) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  Tensor points = Tensor::Zeros({60, 3});
  for (float& v : points.values()) v = normal(rng);
  KMeansOptions options;
  options.k = 5;
  options.restarts = 1;
  options.seed = 3;
  absl::StatusOr<KMeansResult> single = KMeans(points, options);
  options.restarts = 10;
  absl::StatusOr<KMeansResult> many = KMeans(points, options);
  absl::StatusOr<KMeansResult> again = KMeans(points, options);
  ASSERT_TRUE(single.ok() && many.ok() && again.ok());
  // The first restart draws the same stream, so 10 restarts include it.
  EXPECT_LE(many->inertia, single->inertia);
  EXPECT_EQ(many->assignment, again->assignment);
  EXPECT_EQ(many->inertia, again->inertia);
  // Inertia recomputed from the assignment and centroids.
  double inertia = 0;
  for (int i = 0; i < 60; ++i) {
    for (int j = 0; j < 3; ++j) {
      const double d = points.at(i * 3 + j) - many->centroids.at(many->assignment[i] * 3 + j);
      inertia += d * d;
    }
  }
  EXPECT_NEAR(many->inertia, inertia, 1e-4);
}

TEST(KMeansTest, DuplicatePointsDoNotBreakSeeding) {
  const Tensor points({4, 1}, {2, 2, 2, 2});
  KMeansOptions options;
  options.k = 2;
  absl::StatusOr<KMeansResult> r = KMeans(points, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(r->inertia, 0.0);
}

TEST(KMeansTest, RejectsBadK) {
  const Tensor points({2, 1}, {0, 1});
  KMeansOptions options;
  options.k = 3;
  absl::Status s = KMeans(points, options).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("k must be in [1, 2]"), std::string::npos) << s;
  options.k = 1;
  s = KMeans(Tensor({2, 1}, {0, std::nanf("")}), options).status();
  EXPECT_NE(s.message().find("NaN or Inf"), std::string::npos) << s;
}

}  // namespace
}  // namespace libra::cluster
