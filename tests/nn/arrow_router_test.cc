#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/arrow_router.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "src/nn/adapters.h"
#include "src/nn/expert.h"
#include "tests/nn/test_util.h"

namespace libra::nn {
namespace {

constexpr int64_t kIn = 8, kOut = 6, kRank = 2;

// E random LoRA experts on the given modules (shapes [kRank, kIn], [kOut, kRank]).
std::vector<std::vector<ExpertModule>> RandomExperts(int experts,
                                                     const std::vector<std::string>& modules,
                                                     int64_t in = kIn, int64_t out = kOut) {
  torch::manual_seed(7);
  std::vector<std::vector<ExpertModule>> result(experts);
  for (int e = 0; e < experts; ++e) {
    for (const std::string& name : modules) {
      ExpertModule m;
      m.module = name;
      m.lora_a = torch::randn({kRank, in});
      m.lora_b = torch::randn({out, kRank});
      m.scale = 0.5 + e;
      result[e].push_back(m);
    }
  }
  return result;
}

// The prototype written plainly: top right singular vector of the formed dW.
torch::Tensor DensePrototype(const ExpertModule& m) {
  torch::Tensor dw = m.scale * torch::mm(m.lora_b, m.lora_a).to(torch::kFloat64);
  auto [u, s, vh] = torch::linalg_svd(dw, /*full_matrices=*/false);
  return vh[0].to(torch::kFloat32);
}

TEST(ArrowRouterTest, WeightsEqualDirectComputation) {
  const std::string module = "m";
  auto experts = RandomExperts(4, {module});
  auto prototypes = ComputeArrowPrototypes(experts);
  ASSERT_TRUE(prototypes.ok()) << prototypes.status();
  ArrowOptions options;
  options.top_k = 2;
  options.temperature = 0.5;
  ArrowRouterImpl router(prototypes->at(module), options, module, nullptr);
  torch::Tensor x = torch::randn({2, 5, kIn});
  torch::Tensor w = router.Route(x, 4);
  ASSERT_EQ(w.sizes(), (std::vector<int64_t>{2, 5, 4}));
  std::vector<torch::Tensor> p;
  for (const auto& expert : experts) p.push_back(DensePrototype(expert[0]));
  for (int b = 0; b < 2; ++b) {
    for (int s = 0; s < 5; ++s) {
      std::vector<std::pair<double, int>> logits;
      for (int e = 0; e < 4; ++e) {
        double dot = 0;
        for (int i = 0; i < kIn; ++i) dot += x[b][s][i].item<double>() * p[e][i].item<double>();
        logits.push_back({std::fabs(dot) / 0.5, e});
      }
      std::sort(logits.begin(), logits.end(), [](auto a, auto c) { return a.first > c.first; });
      const double z = std::exp(logits[0].first) + std::exp(logits[1].first);
      std::vector<double> expected(4, 0.0);
      expected[logits[0].second] = std::exp(logits[0].first) / z;
      expected[logits[1].second] = std::exp(logits[1].first) / z;
      for (int e = 0; e < 4; ++e) {
        EXPECT_NEAR(w[b][s][e].item<double>(), expected[e], 1e-4) << b << " " << s << " " << e;
      }
    }
  }
}

TEST(ArrowRouterTest, PrototypesMatchDenseSvdUpToSign) {
  auto experts = RandomExperts(3, {"a", "b"});
  auto prototypes = ComputeArrowPrototypes(experts);
  ASSERT_TRUE(prototypes.ok()) << prototypes.status();
  ASSERT_EQ(prototypes->size(), 2u);
  for (const std::string module : {"a", "b"}) {
    const torch::Tensor& p = prototypes->at(module);
    ASSERT_EQ(p.sizes(), (std::vector<int64_t>{3, kIn}));
    for (int e = 0; e < 3; ++e) {
      const int index = module == "a" ? 0 : 1;
      torch::Tensor dense = DensePrototype(experts[e][index]);
      EXPECT_NEAR(std::fabs(torch::dot(dense, p[e]).item<double>()), 1.0, 1e-4);
    }
  }
}

// With k = 1, a token along expert j's prototype goes to expert j alone, so
// the mixture's output is the base layer plus expert j's delta.
TEST(ArrowRouterTest, TopOneOnAlignedTokensEqualsThatExpert) {
  const std::string module = "m";
  auto experts = RandomExperts(3, {module});
  auto prototypes = ComputeArrowPrototypes(experts);
  ASSERT_TRUE(prototypes.ok()) << prototypes.status();
  const torch::Tensor& p = prototypes->at(module);
  ArrowOptions options;
  options.top_k = 1;
  std::vector<LoraWeights> weights;
  for (const auto& e : experts) weights.push_back({e[0].lora_a, e[0].lora_b, e[0].scale});
  torch::Tensor w = torch::randn({kOut, kIn}), bias = torch::randn({kOut});
  torch::NoGradGuard no_grad;
  for (MixingMode mode : {MixingMode::kOutput, MixingMode::kParameter}) {
    for (int j = 0; j < 3; ++j) {
      auto router = std::make_shared<ArrowRouterImpl>(p, options, module, nullptr);
      MixtureAdapterImpl mixture(weights, router, mode);
      // Tokens: scaled copies of p_j (both signs).
      torch::Tensor x = torch::stack({p[j] * 2.0, p[j] * -0.5, p[j] * 3.0}).unsqueeze(0);
      const auto& e = experts[j][0];
      torch::Tensor expected =
          torch::matmul(x, (w + e.scale * torch::mm(e.lora_b, e.lora_a)).t()) + bias;
      EXPECT_TRUE(torch::allclose(mixture.Forward(x, w, bias), expected, 1e-4, 1e-4))
          << "expert " << j;
    }
  }
}

const std::vector<std::string> kModules = {"model.layers.0.self_attn.q_proj",
                                           "model.layers.1.self_attn.q_proj"};

TEST(ArrowRouterTest, AttachComputesPrototypesOnceAndRecordsRouting) {
  torch::manual_seed(3);
  CausalLM model(testing::TinyLlama());
  auto experts = RandomExperts(5, kModules, 16, 16);
  auto recorder = std::make_shared<RoutingRecorder>();
  ArrowOptions options;
  options.top_k = 2;
  auto arrow = AttachArrow(*model, experts, options, MixingMode::kOutput, recorder);
  ASSERT_TRUE(arrow.ok()) << arrow.status();
  ASSERT_EQ(arrow->routers.size(), 2u);
  // Stored prototypes: identity and version before and after forwards.
  std::vector<std::pair<void*, uint32_t>> before;
  for (const auto& [module, router] : arrow->routers) {
    before.push_back({router->prototypes().data_ptr(), router->prototypes()._version()});
  }
  auto expected = ComputeArrowPrototypes(experts);
  ASSERT_TRUE(expected.ok());
  // Changing the experts' tensors after attaching does not change routing.
  for (auto& e : experts) {
    for (auto& m : e) m.lora_a.mul_(-3.0).add_(1.0);
  }
  torch::Tensor ids = torch::randint(0, 40, {2, 6});
  torch::NoGradGuard no_grad;
  for (int step = 0; step < 3; ++step) model->forward(ids);
  size_t i = 0;
  for (const auto& [module, router] : arrow->routers) {
    EXPECT_EQ(router->prototypes().data_ptr(), before[i].first) << module;
    EXPECT_EQ(router->prototypes()._version(), before[i].second) << module;
    EXPECT_TRUE(torch::equal(router->prototypes(), expected->at(module))) << module;
    ++i;
  }
  for (const std::string& module : kModules) {
    torch::Tensor w = recorder->Weights(module);
    ASSERT_EQ(w.sizes(), (std::vector<int64_t>{3 * 2 * 6, 5})) << module;
    EXPECT_TRUE(torch::allclose(w.sum(-1), torch::ones({36}), 1e-5, 1e-5));
    EXPECT_TRUE(torch::all((w > 0).sum(-1) == 2).item<bool>());
  }
  EXPECT_EQ(recorder->Modules(), kModules);
  recorder->Clear();
  recorder->enabled = false;
  model->forward(ids);
  EXPECT_EQ(recorder->Weights(kModules[0]).numel(), 0);
}

TEST(ArrowRouterTest, SingleExpertMixtureEqualsApplyingIt) {
  auto experts = RandomExperts(1, kModules, 16, 16);
  torch::Tensor ids = torch::randint(0, 40, {2, 6});
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  CausalLM alone(testing::TinyLlama());
  ASSERT_TRUE(ApplyExpert(*alone, experts[0], false).ok());
  torch::Tensor expected = alone->forward(ids);
  for (MixingMode mode : {MixingMode::kOutput, MixingMode::kParameter}) {
    torch::manual_seed(3);
    CausalLM model(testing::TinyLlama());
    ArrowOptions options;
    options.top_k = 1;
    ASSERT_TRUE(AttachArrow(*model, experts, options, mode).ok());
    EXPECT_TRUE(torch::allclose(model->forward(ids), expected, 1e-4, 1e-4));
  }
}

TEST(ArrowRouterTest, BadInputIsRejected) {
  torch::manual_seed(3);
  CausalLM model(testing::TinyLlama());
  auto experts = RandomExperts(2, kModules, 16, 16);
  ArrowOptions options;
  options.top_k = 0;
  auto bad_k = AttachArrow(*model, experts, options, MixingMode::kOutput);
  EXPECT_EQ(bad_k.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad_k.status().message()).find("top_k must be >= 1"), std::string::npos);
  options.top_k = 1;
  PrototypeMap partial;
  partial[kModules[0]] = torch::randn({2, 16});
  auto missing = AttachArrow(*model, experts, partial, options, MixingMode::kOutput);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.status().message()).find(kModules[1]), std::string::npos);
  partial[kModules[1]] = torch::randn({3, 16});
  auto wrong = AttachArrow(*model, experts, partial, options, MixingMode::kOutput);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(wrong.status().message()).find("expected 2 prototypes"), std::string::npos);
  auto none = ComputeArrowPrototypes({});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RoutingStatisticsTest, EntropyAndTopExpertShare) {
  torch::Tensor w = torch::tensor({0.6f, 0.4f, 0.0f, 1.0f, 0.0f, 0.0f, 0.2f, 0.0f, 0.8f}).view({3, 3});
  const double h0 = -(0.6 * std::log(0.6) + 0.4 * std::log(0.4)), h2 = -(0.2 * std::log(0.2) + 0.8 * std::log(0.8));
  EXPECT_NEAR(MeanRoutingEntropy(w), (h0 + 0.0 + h2) / 3, 1e-6);  // float32 weights
  // Top experts: 0, 0, 2.
  EXPECT_NEAR(TopExpertShare(w, {0}), 2.0 / 3, 1e-9);
  EXPECT_NEAR(TopExpertShare(w, {2}), 1.0 / 3, 1e-9);
  EXPECT_NEAR(TopExpertShare(w, {1}), 0.0, 1e-9);
}

}  // namespace
}  // namespace libra::nn
