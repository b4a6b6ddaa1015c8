#include "src/core/merge/lora_modes.h"

#include <cmath>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/core/merge/test_util.h"

namespace libra::merge {
namespace {

using testing::AllClose;
using testing::NaiveProduct;
using testing::RandomTensor;

LoraFactors RandomLora(int64_t out, int64_t rank, int64_t in, float scale, uint32_t seed) {
  return {RandomTensor({rank, in}, seed), RandomTensor({out, rank}, seed + 1000), scale};
}

std::vector<float> DeltaOf(const LoraFactors& lora) { return NaiveProduct(lora.b, lora.a, lora.scale); }

// Columns of a random [n, k] matrix made orthonormal by Gram-Schmidt.
std::vector<std::vector<double>> Orthonormal(int64_t n, int64_t k, uint32_t seed) {
  const Tensor random = RandomTensor({k, n}, seed);
  std::vector<std::vector<double>> columns;
  for (int64_t c = 0; c < k; ++c) {
    std::vector<double> v(random.values().begin() + c * n, random.values().begin() + (c + 1) * n);
    for (const auto& q : columns) {
      double dot = 0;
      for (int64_t j = 0; j < n; ++j) dot += v[j] * q[j];
      for (int64_t j = 0; j < n; ++j) v[j] -= dot * q[j];
    }
    double norm = 0;
    for (double x : v) norm += x * x;
    for (double& x : v) x /= std::sqrt(norm);
    columns.push_back(v);
  }
  return columns;
}

// sum_{k < keep} s_k u_k v_k^T as a dense [out, in] matrix.
std::vector<float> SvdSum(const std::vector<std::vector<double>>& u, const std::vector<double>& s,
                          const std::vector<std::vector<double>>& v, int64_t keep) {
  const int64_t out = u[0].size(), in = v[0].size();
  std::vector<float> m(out * in, 0.0f);
  for (int64_t k = 0; k < keep; ++k) {
    for (int64_t r = 0; r < out; ++r) {
      for (int64_t c = 0; c < in; ++c) m[r * in + c] += static_cast<float>(s[k] * u[k][r] * v[k][c]);
    }
  }
  return m;
}

TEST(AverageFactorsTest, AveragesAAndBSeparately) {
  const std::vector<LoraFactors> loras = {RandomLora(6, 2, 5, 2.0f, 1), RandomLora(6, 2, 5, 2.0f, 2)};
  absl::StatusOr<LoraFactors> merged = AverageFactors(loras, {0.25, 0.75});
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged->scale, 2.0f);
  std::vector<float> a(10), b(12);
  for (int j = 0; j < 10; ++j) a[j] = 0.25f * loras[0].a.at(j) + 0.75f * loras[1].a.at(j);
  for (int j = 0; j < 12; ++j) b[j] = 0.25f * loras[0].b.at(j) + 0.75f * loras[1].b.at(j);
  EXPECT_TRUE(AllClose(merged->a.values(), a));
  EXPECT_TRUE(AllClose(merged->b.values(), b));
}

TEST(AverageFactorsTest, DifferentScalesAreFoldedIntoB) {
  const std::vector<LoraFactors> loras = {RandomLora(4, 2, 3, 2.0f, 1), RandomLora(4, 2, 3, 0.5f, 2)};
  absl::StatusOr<LoraFactors> merged = AverageFactors(loras, {0.5, 0.5});
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged->scale, 1.0f);
  std::vector<float> b(8);
  for (int j = 0; j < 8; ++j) b[j] = 0.5f * 2.0f * loras[0].b.at(j) + 0.5f * 0.5f * loras[1].b.at(j);
  EXPECT_TRUE(AllClose(merged->b.values(), b));
}

TEST(AverageFactorsTest, RanksMustAgree) {
  absl::StatusOr<LoraFactors> merged =
      AverageFactors({RandomLora(4, 2, 3, 1.0f, 1), RandomLora(4, 3, 3, 1.0f, 2)}, {0.5, 0.5});
  EXPECT_EQ(merged.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(merged.status().message(), "ab needs equal ranks"));
}

TEST(LowRankFromFactorsTest, FullRankReproducesTheLinearDelta) {
  const std::vector<LoraFactors> loras = {RandomLora(30, 3, 25, 2.0f, 1),
                                          RandomLora(30, 4, 25, 0.5f, 2)};
  const std::vector<double> c = {0.7, -1.2};
  std::vector<float> expected(750, 0.0f);
  for (int i = 0; i < 2; ++i) {
    const std::vector<float> d = DeltaOf(loras[i]);
    for (int j = 0; j < 750; ++j) expected[j] += static_cast<float>(c[i]) * d[j];
  }
  for (int64_t rank : {7, 12}) {  // 7 = total rank; 12 pads with zero components
    absl::StatusOr<LoraFactors> merged = LowRankFromFactors(loras, c, rank);
    ASSERT_TRUE(merged.ok()) << merged.status();
    EXPECT_EQ(merged->a.shape(), (Shape{rank, 25}));
    EXPECT_EQ(merged->b.shape(), (Shape{30, rank}));
    EXPECT_TRUE(AllClose(DeltaOf(*merged), expected, 1e-4f, 1e-4f)) << rank;
  }
}

TEST(LowRankFromFactorsTest, TruncatesToTheLeadingSingularTriplets) {
  // One LoRA whose delta is U diag(s) V^T exactly, s known.
  const int64_t out = 40, in = 35, k = 5;
  const std::vector<double> s = {9.0, 7.0, 4.0, 1.0, 0.25};
  const auto u = Orthonormal(out, k, 1), v = Orthonormal(in, k, 2);
  LoraFactors lora{Tensor::Zeros({k, in}), Tensor::Zeros({out, k}), 1.0f};
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t r = 0; r < out; ++r) lora.b.at(r * k + j) = static_cast<float>(s[j] * u[j][r]);
    for (int64_t c = 0; c < in; ++c) lora.a.at(j * in + c) = static_cast<float>(v[j][c]);
  }
  absl::StatusOr<LoraFactors> merged = LowRankFromFactors({lora}, {1.0}, 3);
  ASSERT_TRUE(merged.ok());
  EXPECT_TRUE(AllClose(DeltaOf(*merged), SvdSum(u, s, v, 3), 1e-4f, 1e-4f));
}

TEST(TruncatedSvdTest, ExactAndRandomizedPathsFindTheLeadingTriplets) {
  for (auto [out, in] : std::vector<std::pair<int64_t, int64_t>>{{20, 16}, {150, 120}}) {
    const int64_t k = 6;
    const std::vector<double> s = {20.0, 10.0, 5.0, 0.01, 0.005, 0.001};
    const auto u = Orthonormal(out, k, 3), v = Orthonormal(in, k, 4);
    const Tensor delta({out, in}, SvdSum(u, s, v, k));
    absl::StatusOr<LoraFactors> lora = TruncatedSvd(delta, 3, /*seed=*/7);
    ASSERT_TRUE(lora.ok());
    EXPECT_TRUE(AllClose(DeltaOf(*lora), SvdSum(u, s, v, 3), 1e-3f, 1e-3f)) << out;
  }
}

TEST(LowRankFromFactorsTest, RejectsMismatchedExperts) {
  absl::StatusOr<LoraFactors> merged = LowRankFromFactors(
      {RandomLora(6, 2, 5, 1.0f, 1), RandomLora(6, 2, 4, 1.0f, 2)}, {1.0, 1.0}, 2);
  EXPECT_EQ(merged.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(merged.status().message(), "expected delta [6, 5], got [6, 4]"));
  merged = LowRankFromFactors({RandomLora(6, 2, 5, 1.0f, 1)}, {1.0, 1.0}, 2);
  EXPECT_TRUE(absl::StrContains(merged.status().message(), "2 weights for 1 experts"));
}

TEST(TruncatedSvdTest, RejectsRankOutOfRange) {
  const Tensor delta = RandomTensor({5, 4}, 1);
  for (int64_t rank : {0, 5}) {
    absl::StatusOr<LoraFactors> lora = TruncatedSvd(delta, rank, 0);
    EXPECT_EQ(lora.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(lora.status().message(), "outside [1, 4]"));
  }
}

}  // namespace
}  // namespace libra::merge
