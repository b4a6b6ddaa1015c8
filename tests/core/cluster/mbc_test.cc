#include "src/core/cluster/mbc.h"

#include <cmath>
#include <random>

#include "Eigen/Dense"
#include "gtest/gtest.h"

namespace libra::cluster {
namespace {

std::vector<std::vector<float>> RandomVectors(int n, int d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<std::vector<float>> v(n, std::vector<float>(d));
  for (auto& row : v)
    for (float& x : row) x = normal(rng);
  return v;
}

TEST(MbcTest, AbsQuantileInterpolatesLikeNumpy) {
  const std::vector<float> v = {-4, 1, 3, -2, 0};  // |v| sorted: 0 1 2 3 4
  EXPECT_DOUBLE_EQ(*AbsQuantile(v, 0.8), 3.2);
  EXPECT_DOUBLE_EQ(*AbsQuantile(v, 0.5), 2.0);
  EXPECT_DOUBLE_EQ(*AbsQuantile(v, 0.0), 0.0);
  EXPECT_DOUBLE_EQ(*AbsQuantile(v, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(*AbsQuantile(v, 0.3), 1.2);
  EXPECT_EQ(AbsQuantile(v, 1.5).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MbcTest, SparsifyZeroesAtOrBelowTheExpertsOwnQuantile) {
  std::vector<float> v = {-4, 1, 3, -2, 0};
  absl::StatusOr<double> threshold = SparsifyByQuantile(absl::MakeSpan(v), 0.5);
  ASSERT_TRUE(threshold.ok());
  EXPECT_DOUBLE_EQ(*threshold, 2.0);
  EXPECT_EQ(v, (std::vector<float>{-4, 0, 3, 0, 0}));  // |-2| == threshold is zeroed
  std::vector<float> kept = {-4, 1};
  EXPECT_DOUBLE_EQ(*SparsifyByQuantile(absl::MakeSpan(kept), 0.0), -1.0);
  EXPECT_EQ(kept, (std::vector<float>{-4, 1}));
  absl::Status s = SparsifyByQuantile(absl::MakeSpan(kept), 1.0).status();
  EXPECT_NE(s.message().find("sparsity quantile must be in [0, 1), got 1"), std::string::npos) << s;
}

TEST(MbcTest, FlattenPutsAThenBOfEachModuleInOrder) {
  std::vector<NamedLoraModule> modules;
  modules.push_back({"a", Tensor({1, 2}, {1, 2}), Tensor({1, 1}, {3})});
  modules.push_back({"b", Tensor({1, 1}, {4}), Tensor({2, 1}, {5, 6})});
  absl::StatusOr<std::vector<float>> flat = FlattenLora(modules);
  ASSERT_TRUE(flat.ok()) << flat.status();
  EXPECT_EQ(*flat, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  std::swap(modules[0], modules[1]);
  EXPECT_NE(FlattenLora(modules).status().message().find("not sorted"), std::string::npos);
}

TEST(MbcTest, ChunkedGramEqualsPlainInnerProducts) {
  const auto v = RandomVectors(4, 10, 3);
  GramAccumulator gram(4);
  std::vector<absl::Span<const float>> first, second;
  for (const auto& row : v) {
    first.push_back(absl::MakeConstSpan(row).subspan(0, 6));
    second.push_back(absl::MakeConstSpan(row).subspan(6));
  }
  ASSERT_TRUE(gram.Add(first).ok());
  ASSERT_TRUE(gram.Add(second).ok());
  EXPECT_EQ(gram.columns(), 10);
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      double dot = 0;
      for (int c = 0; c < 10; ++c) dot += double(v[i][c]) * v[j][c];
      EXPECT_NEAR(gram.gram()[i * 4 + j], dot, 1e-9);
    }
  }
  second.pop_back();
  EXPECT_NE(gram.Add(second).message().find("expected 4 expert chunks, got 3"), std::string::npos);
}

TEST(MbcTest, FullEmbeddingGivesTheCosineSimilarityOfTheVectors) {
  const auto v = RandomVectors(5, 30, 4);
  GramAccumulator gram(5);
  std::vector<absl::Span<const float>> rows(v.begin(), v.end());
  ASSERT_TRUE(gram.Add(rows).ok());
  absl::StatusOr<Tensor> embedding = EmbedFromGram(gram.gram(), 5, 64);  // d = min(64, 5)
  ASSERT_TRUE(embedding.ok()) << embedding.status();
  ASSERT_EQ(embedding->shape(), (Shape{5, 5}));
  const Tensor s = CosineSimilarity(*embedding);
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 5; ++j) {
      double dot = 0, ni = 0, nj = 0;
      for (int c = 0; c < 30; ++c) {
        dot += double(v[i][c]) * v[j][c];
        ni += double(v[i][c]) * v[i][c];
        nj += double(v[j][c]) * v[j][c];
      }
      EXPECT_NEAR(s.at(i * 5 + j), dot / std::sqrt(ni * nj), 1e-5) << i << "," << j;
    }
  }
}

TEST(MbcTest, TruncatedEmbeddingMatchesTheSvdOfTheExpertMatrix) {
  const int n = 8, d = 40, dims = 3;
  const auto v = RandomVectors(n, d, 5);
  GramAccumulator gram(n);
  std::vector<absl::Span<const float>> rows(v.begin(), v.end());
  ASSERT_TRUE(gram.Add(rows).ok());
  absl::StatusOr<Tensor> embedding = EmbedFromGram(gram.gram(), n, dims);
  ASSERT_TRUE(embedding.ok());
  const Tensor ours = CosineSimilarity(*embedding);
  // Independent: X = U S V^T by JacobiSVD; truncated-SVD embedding U_3 S_3.
  Eigen::MatrixXd x(n, d);
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < d; ++c) x(i, c) = v[i][c];
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(x, Eigen::ComputeThinU);
  Eigen::MatrixXd e = svd.matrixU().leftCols(dims) * svd.singularValues().head(dims).asDiagonal();
  e.rowwise().normalize();
  const Eigen::MatrixXd want = e * e.transpose();
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) EXPECT_NEAR(ours.at(i * n + j), want(i, j), 1e-5);
}

// Adapters built as cluster centre + noise, in a shuffled order: MBC with
// the default sparsity must recover the planted partition.
TEST(MbcTest, RecoversPlantedClustersOfSyntheticAdapters) {
  const int clusters = 3, per_cluster = 5, r = 4, width = 32;
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  auto random_modules = [&](float sigma) {
    std::vector<NamedLoraModule> m;
    for (const char* name : {"layers.0.q", "layers.0.v"}) {
      NamedLoraModule module{name, Tensor::Zeros({r, width}), Tensor::Zeros({width, r})};
      for (float& x : module.a.values()) x = sigma * normal(rng);
      for (float& x : module.b.values()) x = sigma * normal(rng);
      m.push_back(std::move(module));
    }
    return m;
  };
  std::vector<std::vector<NamedLoraModule>> centres;
  for (int c = 0; c < clusters; ++c) centres.push_back(random_modules(1.0f));
  const int order[] = {7, 0, 12, 3, 9, 14, 1, 5, 10, 2, 8, 13, 4, 11, 6};  // planted = index / 5
  std::vector<int> planted;
  std::vector<std::vector<float>> vectors;
  for (int index : order) {
    std::vector<NamedLoraModule> adapter = random_modules(0.4f);
    const auto& centre = centres[index / per_cluster];
    for (size_t m = 0; m < adapter.size(); ++m) {
      for (int64_t i = 0; i < adapter[m].a.size(); ++i) adapter[m].a.at(i) += centre[m].a.at(i);
      for (int64_t i = 0; i < adapter[m].b.size(); ++i) adapter[m].b.at(i) += centre[m].b.at(i);
    }
    vectors.push_back(*FlattenLora(adapter));
    planted.push_back(index / per_cluster);
  }
  for (int dims : {64, 3}) {
    MbcOptions options;
    options.k = clusters;
    options.embedding_dims = dims;
    absl::StatusOr<MbcResult> result = ClusterExperts(vectors, options);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->similarity.shape(), (Shape{15, 15}));
    for (int i = 0; i < 15; ++i) {
      EXPECT_NEAR(result->similarity.at(i * 15 + i), 1.0, 1e-5);
      for (int j = 0; j < 15; ++j) {
        EXPECT_EQ(result->assignment[i] == result->assignment[j], planted[i] == planted[j])
            << "dims " << dims << " experts " << i << ", " << j;
      }
    }
  }
}

TEST(MbcTest, RejectsMismatchedExpertsAndBadK) {
  std::vector<std::vector<float>> v = {{1, 2, 3}, {1, 2}};
  MbcOptions options;
  options.k = 1;
  absl::Status s = ClusterExperts(v, options).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("expert 1 has 2 parameters, expert 0 has 3"), std::string::npos) << s;
  v[1].push_back(3);
  options.k = 3;
  s = ClusterExperts(v, options).status();
  EXPECT_NE(s.message().find("k must be in [1, 2] (the number of experts), got 3"),
            std::string::npos)
      << s;
}

}  // namespace
}  // namespace libra::cluster
