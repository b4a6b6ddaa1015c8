#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/mlp_head.h"

#include <random>

#include "gtest/gtest.h"

namespace libra {
namespace {

// Two well-separated classes per call, labelled `a` and `b`.
cl::LabeledFeatures TwoBlobs(int a, int b, float offset, int n, uint64_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.3f);
  cl::LabeledFeatures set;
  set.x.resize(n, 4);
  for (int i = 0; i < n; ++i) {
    const bool first = i % 2 == 0;
    for (int k = 0; k < 4; ++k) set.x(i, k) = g(rng) + (k == (first ? 0 : 1) ? offset : 0.0f);
    set.y.push_back(first ? a : b);
  }
  return set;
}

TEST(GrowingMlpTest, GrowKeepsOldRows) {
  torch::manual_seed(0);
  GrowingMlp net(3, 8);
  net->Grow(2);
  torch::Tensor x = torch::randn({5, 3});
  torch::Tensor before = net->forward(x);
  net->Grow(4);
  torch::Tensor after = net->forward(x);
  ASSERT_EQ(after.size(1), 4);
  EXPECT_TRUE(torch::allclose(after.slice(1, 0, 2), before));
  EXPECT_DOUBLE_EQ(net->ForwardMacs(), 3 * 8 + 8 * 4);
}

TEST(MlpHeadTest, LearnsTasksWithArbitraryLabelsAndCountsMacs) {
  MlpHead head(4, MlpHeadOptions().set_hidden(16).set_epochs(20).set_learning_rate(1e-2).set_seed(3));
  cl::LabeledFeatures task0 = TwoBlobs(7, 3, 3.0f, 40, 1);
  ASSERT_TRUE(head.Learn(task0).ok());
  EXPECT_GE(cl::Accuracy(head.Predict(task0.x), task0.y), 0.95);
  // 3 x forward (4*16 + 16*2) x 40 samples x 20 epochs.
  EXPECT_DOUBLE_EQ(head.training_macs(), 3.0 * (4 * 16 + 16 * 2) * 40 * 20);
  // The second task's classes sit on the other two axes.
  cl::LabeledFeatures task1 = TwoBlobs(0, 9, 3.0f, 40, 2);
  for (int i = 0; i < 40; ++i) {
    task1.x.row(i) = task1.x.row(i).reverse().eval();
  }
  ASSERT_TRUE(head.Learn(cl::Concatenate(task1, task0)).ok());
  cl::LabeledFeatures both = cl::Concatenate(task0, task1);
  EXPECT_GE(cl::Accuracy(head.Predict(both.x), both.y), 0.95);
  EXPECT_FALSE(head.Learn(cl::LabeledFeatures{cl::Features(2, 3), {0, 1}}).ok());
}

TEST(MlpHeadTest, DeterministicPerSeed) {
  cl::LabeledFeatures task = TwoBlobs(0, 1, 0.5f, 30, 4);
  MlpHead a(4, MlpHeadOptions().set_hidden(8).set_seed(5));
  MlpHead b(4, MlpHeadOptions().set_hidden(8).set_seed(5));
  ASSERT_TRUE(a.Learn(task).ok());
  ASSERT_TRUE(b.Learn(task).ok());
  torch::Tensor probe = torch::randn({10, 4});
  EXPECT_EQ(a.Predict(TensorToFeatures(probe)), b.Predict(TensorToFeatures(probe)));
}

}  // namespace
}  // namespace libra
