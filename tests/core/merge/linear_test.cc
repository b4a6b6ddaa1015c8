#include "src/core/merge/linear.h"

#include <vector>

#include "gtest/gtest.h"
#include "src/core/merge/registry.h"
#include "tests/core/merge/test_util.h"

namespace libra::merge {
namespace {

using testing::AllClose;
using testing::NaiveProduct;
using testing::RandomTensor;

MergeParams Params(std::vector<double> weights, bool normalize, int threads = 1) {
  MergeParams params;
  params.densities.assign(weights.size(), 1.0);
  params.weights = std::move(weights);
  params.normalize = normalize;
  params.threads = threads;
  return params;
}

TEST(LinearTest, WeightedSumMatchesDirectFormula) {
  const std::vector<Tensor> experts = {RandomTensor({7, 9}, 1), RandomTensor({7, 9}, 2),
                                       RandomTensor({7, 9}, 3)};
  const std::vector<double> w = {0.5, -1.0, 2.0};
  for (bool normalize : {false, true}) {
    absl::StatusOr<Tensor> merged = MergeLinear(nullptr, experts, Params(w, normalize));
    ASSERT_TRUE(merged.ok());
    const double divisor = normalize ? 1.5 : 1.0;
    std::vector<float> expected(63);
    for (int j = 0; j < 63; ++j) {
      expected[j] = static_cast<float>(
          (0.5 * experts[0].at(j) - 1.0 * experts[1].at(j) + 2.0 * experts[2].at(j)) / divisor);
    }
    EXPECT_TRUE(AllClose(merged->values(), expected)) << "normalize " << normalize;
  }
}

TEST(LinearTest, WithBaseMergesTaskVectorsAndAddsBaseBack) {
  const Tensor base = RandomTensor({4, 4}, 9);
  const std::vector<Tensor> experts = {RandomTensor({4, 4}, 1), RandomTensor({4, 4}, 2)};
  absl::StatusOr<Tensor> merged = MergeLinear(&base, experts, Params({1.0, 3.0}, false));
  ASSERT_TRUE(merged.ok());
  std::vector<float> expected(16);
  for (int j = 0; j < 16; ++j) {
    expected[j] = base.at(j) + (experts[0].at(j) - base.at(j)) + 3 * (experts[1].at(j) - base.at(j));
  }
  EXPECT_TRUE(AllClose(merged->values(), expected));
}

TEST(LinearTest, MergingCopiesReturnsTheExpert) {
  const Tensor expert = RandomTensor({33, 65}, 4);
  const std::vector<Tensor> copies(5, expert);
  for (const char* name : {"linear", "uniform"}) {
    absl::StatusOr<const MethodSpec*> method = FindMethod(name);
    ASSERT_TRUE(method.ok());
    MergeArguments args;
    if (std::string(name) == "linear") args.scalars["normalize"] = 1;
    absl::StatusOr<MergeParams> params = BindParams(**method, args, 5);
    ASSERT_TRUE(params.ok());
    absl::StatusOr<Tensor> merged = MergeLinear(nullptr, copies, *params);
    ASSERT_TRUE(merged.ok());
    EXPECT_TRUE(AllClose(merged->values(), expert.values(), 1e-6f, 1e-5f)) << name;
  }
}

TEST(LinearTest, LoraInputsUseConcatenatedFactorsAndMatchDenseSum) {
  // Three LoRAs of different ranks and scales, 37 x 50 deltas.
  std::vector<Tensor> a, b;
  const std::vector<float> scales = {0.5f, 2.0f, 1.0f};
  const std::vector<int64_t> ranks = {2, 4, 3};
  for (int i = 0; i < 3; ++i) {
    a.push_back(RandomTensor({ranks[i], 50}, 10 + i));
    b.push_back(RandomTensor({37, ranks[i]}, 20 + i));
  }
  const std::vector<double> c = {1.0, -0.5, 0.25};
  std::vector<float> expected(37 * 50, 0.0f);
  for (int i = 0; i < 3; ++i) {
    const std::vector<float> delta = NaiveProduct(b[i], a[i], scales[i]);
    for (size_t j = 0; j < delta.size(); ++j) expected[j] += static_cast<float>(c[i]) * delta[j];
  }
  for (int threads : {1, 2}) {
    std::vector<DeltaView> views;
    for (int i = 0; i < 3; ++i) views.push_back(DeltaView::Lora(a[i], b[i], scales[i]));
    std::vector<float> out(37 * 50);
    ASSERT_TRUE(MergeLinearViews(views, c, threads, out.data()).ok());
    EXPECT_TRUE(AllClose(out, expected, 1e-5f, 1e-4f)) << "threads " << threads;
    // Mixed LoRA and dense: same result through the row-block path.
    Tensor dense0(Shape{37, 50}, NaiveProduct(b[0], a[0], scales[0]));
    views[0] = DeltaView::Dense(dense0);
    ASSERT_TRUE(MergeLinearViews(views, c, threads, out.data()).ok());
    EXPECT_TRUE(AllClose(out, expected, 1e-5f, 1e-4f)) << "mixed, threads " << threads;
  }
}

TEST(LinearTest, ThreadCountDoesNotChangeTheResult) {
  const std::vector<Tensor> experts = {RandomTensor({300, 200}, 1), RandomTensor({300, 200}, 2)};
  absl::StatusOr<Tensor> one = MergeLinear(nullptr, experts, Params({0.3, 0.7}, false, 1));
  absl::StatusOr<Tensor> two = MergeLinear(nullptr, experts, Params({0.3, 0.7}, false, 2));
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_EQ(one->values(), two->values());
}

}  // namespace
}  // namespace libra::merge
