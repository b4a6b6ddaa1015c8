// Each method against a direct computation written plainly here: sort the
// magnitudes, take the k-th largest as threshold, combine entry by entry.
#include "src/core/merge/task_arithmetic.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "src/core/merge/registry.h"
#include "src/core/merge/sparsify.h"
#include "tests/core/merge/test_util.h"

namespace libra::merge {
namespace {

using testing::AllClose;
using testing::RandomTensor;

const MethodSpec& Method(const char* name) { return **FindMethod(name); }

MergeParams Bind(const char* name, MergeArguments args, int n, int threads = 1) {
  absl::StatusOr<MergeParams> params = BindParams(Method(name), args, n);
  EXPECT_TRUE(params.ok()) << params.status();
  params->threads = threads;
  return *params;
}

// k-th largest |x| by a full sort (k >= 1), +inf for k == 0.
float KthLargest(const std::vector<float>& x, int64_t k) {
  if (k == 0) return std::numeric_limits<float>::infinity();
  std::vector<float> magnitudes;
  for (float v : x) magnitudes.push_back(std::fabs(v));
  std::sort(magnitudes.begin(), magnitudes.end(), std::greater<float>());
  return magnitudes[k - 1];
}

std::vector<float> TopByMagnitude(const std::vector<float>& x, double density) {
  const float t = KthLargest(x, static_cast<int64_t>(std::floor(density * x.size())));
  std::vector<float> out(x.size());
  for (size_t j = 0; j < x.size(); ++j) out[j] = std::fabs(x[j]) >= t ? x[j] : 0.0f;
  return out;
}

// TIES consensus on already trimmed vectors t_i, weights w_i.
std::vector<float> DirectTies(const std::vector<std::vector<float>>& trimmed,
                              const std::vector<double>& w, double lambda) {
  std::vector<float> out(trimmed[0].size());
  for (size_t j = 0; j < out.size(); ++j) {
    double sum = 0.0;
    for (size_t i = 0; i < trimmed.size(); ++i) sum += w[i] * trimmed[i][j];
    double numerator = 0.0, denominator = 0.0;
    for (size_t i = 0; i < trimmed.size(); ++i) {
      const double v = w[i] * trimmed[i][j];
      if ((v > 0 && sum > 0) || (v < 0 && sum < 0)) {
        numerator += v;
        denominator += w[i];
      }
    }
    out[j] = denominator != 0 ? static_cast<float>(lambda * numerator / denominator) : 0.0f;
  }
  return out;
}

std::vector<Tensor> Experts(int n, Shape shape) {
  std::vector<Tensor> experts;
  for (int i = 0; i < n; ++i) experts.push_back(RandomTensor(shape, 100 + i));
  return experts;
}

TEST(TiesTest, MatchesDirectComputation) {
  const std::vector<Tensor> experts = Experts(4, {23, 31});
  const std::vector<double> w = {1.0, 0.5, 2.0, 1.5};
  const std::vector<double> d = {0.2, 0.5, 0.3, 1.0};
  MergeArguments args;
  args.per_expert["weight"] = w;
  args.per_expert["density"] = d;
  args.scalars["lambda"] = 0.7;
  for (int threads : {1, 2}) {
    absl::StatusOr<Tensor> merged =
        MergeTaskArithmetic(Method("ties"), nullptr, experts, Bind("ties", args, 4, threads));
    ASSERT_TRUE(merged.ok()) << merged.status();
    std::vector<std::vector<float>> trimmed;
    for (int i = 0; i < 4; ++i) trimmed.push_back(TopByMagnitude(experts[i].values(), d[i]));
    EXPECT_TRUE(AllClose(merged->values(), DirectTies(trimmed, w, 0.7))) << threads;
  }
}

TEST(TiesTest, DensityOneOnCopiesReturnsTheExpert) {
  const Tensor expert = RandomTensor({40, 70}, 7);
  MergeArguments args;
  args.scalars["density"] = 1.0;
  absl::StatusOr<Tensor> merged = MergeTaskArithmetic(
      Method("ties"), nullptr, std::vector<Tensor>(3, expert), Bind("ties", args, 3));
  ASSERT_TRUE(merged.ok());
  EXPECT_TRUE(AllClose(merged->values(), expert.values(), 1e-6f, 1e-6f));
}

TEST(TiesTest, DisjointSupportsGiveTheSum) {
  // Expert i is non-zero only where j % 3 == i.
  std::vector<Tensor> experts = Experts(3, {12, 12});
  std::vector<float> sum(144, 0.0f);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 144; ++j) {
      if (j % 3 != i) experts[i].at(j) = 0.0f;
      sum[j] += experts[i].at(j);
    }
  }
  MergeArguments args;
  args.scalars["density"] = 1.0;
  absl::StatusOr<Tensor> merged =
      MergeTaskArithmetic(Method("ties"), nullptr, experts, Bind("ties", args, 3));
  ASSERT_TRUE(merged.ok());
  EXPECT_TRUE(AllClose(merged->values(), sum, 1e-6f, 1e-6f));
}

TEST(TaskArithmeticTest, LambdaTimesWeightedSum) {
  const std::vector<Tensor> experts = Experts(3, {5, 8});
  MergeArguments args;
  args.per_expert["weight"] = {1.0, 2.0, -1.0};
  args.scalars["lambda"] = 0.5;
  absl::StatusOr<Tensor> merged = MergeTaskArithmetic(
      Method("task_arithmetic"), nullptr, experts, Bind("task_arithmetic", args, 3));
  ASSERT_TRUE(merged.ok());
  std::vector<float> expected(40);
  for (int j = 0; j < 40; ++j) {
    expected[j] = 0.5f * (experts[0].at(j) + 2 * experts[1].at(j) - experts[2].at(j));
  }
  EXPECT_TRUE(AllClose(merged->values(), expected));
}

TEST(MagnitudePruneTest, SumOfTopFractions) {
  const std::vector<Tensor> experts = Experts(2, {10, 10});
  MergeArguments args;
  args.per_expert["density"] = {0.1, 0.35};
  args.per_expert["weight"] = {1.0, 3.0};
  absl::StatusOr<Tensor> merged = MergeTaskArithmetic(
      Method("magnitude_prune"), nullptr, experts, Bind("magnitude_prune", args, 2));
  ASSERT_TRUE(merged.ok());
  const std::vector<float> t0 = TopByMagnitude(experts[0].values(), 0.1);
  const std::vector<float> t1 = TopByMagnitude(experts[1].values(), 0.35);
  std::vector<float> expected(100);
  int kept0 = 0;
  for (int j = 0; j < 100; ++j) {
    expected[j] = t0[j] + 3 * t1[j];
    kept0 += t0[j] != 0.0f;
  }
  EXPECT_EQ(kept0, 10);
  EXPECT_TRUE(AllClose(merged->values(), expected));
}

TEST(BreadcrumbsTest, DropsTheLargestBetaAndKeepsTheNextDensity) {
  // One expert with magnitudes 1..100 in scrambled order: beta 0.05 drops
  // 96..100, density 0.2 keeps 76..95.
  std::vector<float> values(100);
  for (int j = 0; j < 100; ++j) values[j] = static_cast<float>(((j * 37) % 100) + 1) * (j % 2 ? -1 : 1);
  const std::vector<Tensor> experts = {Tensor({100}, values)};
  MergeArguments args;
  args.scalars["density"] = 0.2;
  args.scalars["beta"] = 0.05;
  absl::StatusOr<Tensor> merged =
      MergeTaskArithmetic(Method("breadcrumbs"), nullptr, experts, Bind("breadcrumbs", args, 1));
  ASSERT_TRUE(merged.ok());
  for (int j = 0; j < 100; ++j) {
    const float magnitude = std::fabs(values[j]);
    EXPECT_EQ(merged->at(j), magnitude >= 76 && magnitude <= 95 ? values[j] : 0.0f) << j;
  }
}

TEST(DareTest, DareLinearMatchesItsMasksAndRescales) {
  const std::vector<Tensor> experts = Experts(2, {30, 30});
  MergeArguments args;
  args.scalars["density"] = 0.4;
  args.scalars["seed"] = 11;
  args.per_expert["weight"] = {1.0, 0.5};
  const MergeParams params = Bind("dare_linear", args, 2);
  absl::StatusOr<Tensor> merged =
      MergeTaskArithmetic(Method("dare_linear"), nullptr, experts, params);
  ASSERT_TRUE(merged.ok());
  std::vector<float> expected(900, 0.0f);
  for (int i = 0; i < 2; ++i) {
    const uint64_t key = ExpertKey(11, i);
    for (int j = 0; j < 900; ++j) {
      if (RandomKeep(key, j, 0.4f)) expected[j] += params.weights[i] * experts[i].at(j) / 0.4f;
    }
  }
  EXPECT_TRUE(AllClose(merged->values(), expected));
}

TEST(DareTest, DareTiesIsTiesConsensusOverDareMasks) {
  const std::vector<Tensor> experts = Experts(3, {20, 20});
  MergeArguments args;
  args.scalars["density"] = 0.5;
  args.scalars["seed"] = 3;
  const MergeParams params = Bind("dare_ties", args, 3);
  absl::StatusOr<Tensor> merged = MergeTaskArithmetic(Method("dare_ties"), nullptr, experts, params);
  ASSERT_TRUE(merged.ok());
  std::vector<std::vector<float>> trimmed(3, std::vector<float>(400, 0.0f));
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 400; ++j) {
      if (RandomKeep(ExpertKey(3, i), j, 0.5f)) trimmed[i][j] = experts[i].at(j) / 0.5f;
    }
  }
  EXPECT_TRUE(AllClose(merged->values(), DirectTies(trimmed, {1, 1, 1}, 1.0)));
}

TEST(DareTest, UnbiasedOverSeedsAndKeepsAboutDensity) {
  const Tensor expert = RandomTensor({50, 40}, 5);
  const int seeds = 400;
  std::vector<double> mean(expert.size(), 0.0);
  double kept_fraction = 0.0;
  for (int seed = 0; seed < seeds; ++seed) {
    MergeArguments args;
    args.scalars["density"] = 0.3;
    args.scalars["seed"] = seed;
    absl::StatusOr<Tensor> merged = MergeTaskArithmetic(
        Method("dare_linear"), nullptr, std::vector<Tensor>{expert}, Bind("dare_linear", args, 1));
    ASSERT_TRUE(merged.ok());
    int64_t kept = 0;
    for (int64_t j = 0; j < expert.size(); ++j) {
      mean[j] += merged->at(j) / seeds;
      kept += merged->at(j) != 0.0f;
    }
    kept_fraction += static_cast<double>(kept) / expert.size() / seeds;
  }
  EXPECT_NEAR(kept_fraction, 0.3, 0.01);
  // Each mean is x * (kept count / (seeds * density)); its standard error is
  // |x| * sqrt((1 - d) / (d * seeds)) ~ 0.076 |x|: allow 5 sigma.
  for (int64_t j = 0; j < expert.size(); ++j) {
    EXPECT_NEAR(mean[j], expert.at(j), 0.4 * std::fabs(expert.at(j)) + 1e-6) << j;
  }
  double total_mean = 0.0, total = 0.0;
  for (int64_t j = 0; j < expert.size(); ++j) {
    total_mean += mean[j] * expert.at(j);
    total += double(expert.at(j)) * expert.at(j);
  }
  EXPECT_NEAR(total_mean / total, 1.0, 0.02);  // pooled over all entries
}

TEST(TaskArithmeticTest, ThreadCountDoesNotChangeAnyMethodsResult) {
  const std::vector<Tensor> experts = Experts(3, {300, 200});
  for (const char* name : {"ties", "dare_ties", "dare_linear", "breadcrumbs", "magnitude_prune"}) {
    MergeArguments args;
    args.scalars["density"] = 0.3;
    absl::StatusOr<Tensor> one =
        MergeTaskArithmetic(Method(name), nullptr, experts, Bind(name, args, 3, 1));
    absl::StatusOr<Tensor> two =
        MergeTaskArithmetic(Method(name), nullptr, experts, Bind(name, args, 3, 2));
    ASSERT_TRUE(one.ok() && two.ok()) << name;
    EXPECT_EQ(one->values(), two->values()) << name;
  }
}

TEST(TaskArithmeticTest, WeightsCountMismatchIsAnErrorNotACrash) {
  const std::vector<Tensor> experts = Experts(3, {4, 4});
  MergeParams params;
  params.weights = {1.0, 1.0};
  params.densities = {1.0, 1.0};
  absl::StatusOr<Tensor> merged = MergeTaskArithmetic(Method("ties"), nullptr, experts, params);
  EXPECT_EQ(merged.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace libra::merge
