#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/reuse_baselines.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "src/nn/expert.h"
#include "tests/nn/test_util.h"

namespace libra::nn {
namespace {

const char kModule[] = "model.layers.0.self_attn.q_proj";

std::vector<std::vector<ExpertModule>> Experts(int n, bool same_scale) {
  torch::manual_seed(5);
  std::vector<std::vector<ExpertModule>> experts(n);
  for (int e = 0; e < n; ++e) {
    ExpertModule m;
    m.module = kModule;
    m.lora_a = torch::randn({2, 16});
    m.lora_b = torch::randn({16, 2});
    m.scale = same_scale ? 2.0 : 1.0 + e;
    experts[e].push_back(m);
  }
  return experts;
}

torch::Tensor Delta(const ExpertModule& m) {
  return m.kind == ExpertModule::Kind::kDense ? m.delta : m.scale * torch::mm(m.lora_b, m.lora_a);
}

TEST(MergeExpertsTest, UniformDeltaIsTheMeanOfDeltas) {
  auto experts = Experts(3, false);
  auto merged = MergeExperts(experts, "uniform", {}, merge::LoraMode::kDelta);
  ASSERT_TRUE(merged.ok()) << merged.status();
  ASSERT_EQ(merged->size(), 1u);
  torch::Tensor expected = (Delta(experts[0][0]) + Delta(experts[1][0]) + Delta(experts[2][0])) / 3;
  EXPECT_TRUE(torch::allclose(Delta((*merged)[0]), expected, 1e-4, 1e-4));
}

TEST(MergeExpertsTest, UniformAbAveragesFactors) {
  auto experts = Experts(3, true);
  auto merged = MergeExperts(experts, "uniform", {}, merge::LoraMode::kAb);
  ASSERT_TRUE(merged.ok()) << merged.status();
  torch::Tensor a = (experts[0][0].lora_a + experts[1][0].lora_a + experts[2][0].lora_a) / 3;
  torch::Tensor b = (experts[0][0].lora_b + experts[1][0].lora_b + experts[2][0].lora_b) / 3;
  EXPECT_TRUE(torch::allclose(Delta((*merged)[0]), 2.0 * torch::mm(b, a), 1e-4, 1e-4));
}

TEST(MergeExpertsTest, TiesMatchesTrimElectDisjointMean) {
  auto experts = Experts(3, false);
  merge::MergeArguments args;
  args.scalars["density"] = 0.5;
  auto merged = MergeExperts(experts, "ties", args, merge::LoraMode::kDelta);
  ASSERT_TRUE(merged.ok()) << merged.status();
  // Trim: keep the floor(0.5 * n) largest magnitudes of each task vector.
  std::vector<torch::Tensor> trimmed;
  for (const auto& e : experts) {
    torch::Tensor d = Delta(e[0]).flatten();
    std::vector<float> mags(d.numel());
    for (int64_t i = 0; i < d.numel(); ++i) mags[i] = std::fabs(d[i].item<float>());
    std::vector<float> sorted = mags;
    std::sort(sorted.begin(), sorted.end(), std::greater<float>());
    const float threshold = sorted[d.numel() / 2 - 1];
    torch::Tensor t = d.clone();
    for (int64_t i = 0; i < d.numel(); ++i) {
      if (mags[i] < threshold) t[i] = 0.0f;
    }
    trimmed.push_back(t);
  }
  // Elect the sign of the sum; average the entries that agree with it.
  torch::Tensor expected = torch::zeros_like(trimmed[0]);
  for (int64_t i = 0; i < expected.numel(); ++i) {
    double sum = 0;
    for (const auto& t : trimmed) sum += t[i].item<double>();
    double agree = 0;
    int count = 0;
    for (const auto& t : trimmed) {
      const double v = t[i].item<double>();
      if (v != 0 && (v > 0) == (sum > 0)) {
        agree += v;
        ++count;
      }
    }
    expected[i] = count ? agree / count : 0.0;
  }
  EXPECT_TRUE(torch::allclose(Delta((*merged)[0]).flatten(), expected, 1e-4, 1e-4));
}

TEST(MergeExpertsTest, AttachMergeAndErrors) {
  auto experts = Experts(2, false);
  torch::manual_seed(1);
  CausalLM model(testing::TinyLlama());
  torch::manual_seed(1);
  CausalLM reference(testing::TinyLlama());
  ASSERT_TRUE(AttachMerge(*model, experts, "uniform", {}, merge::LoraMode::kDelta).ok());
  ExpertModule mean;
  mean.module = kModule;
  mean.kind = ExpertModule::Kind::kDense;
  mean.delta = (Delta(experts[0][0]) + Delta(experts[1][0])) / 2;
  ASSERT_TRUE(ApplyExpert(*reference, {mean}, false).ok());
  torch::Tensor ids = torch::randint(0, 40, {2, 5});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(model->forward(ids), reference->forward(ids), 1e-4, 1e-4));

  auto unknown = MergeExperts(experts, "tiez", {}, merge::LoraMode::kDelta);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(unknown.status().message()).find("tiez"), std::string::npos);
  auto ab_ties = MergeExperts(experts, "ties", {}, merge::LoraMode::kAb);
  EXPECT_FALSE(ab_ties.ok());
  experts[1][0].module = "model.layers.1.self_attn.q_proj";
  auto missing = MergeExperts(experts, "uniform", {}, merge::LoraMode::kDelta);
  EXPECT_NE(std::string(missing.status().message()).find("expert 1 has no module"),
            std::string::npos);
}

TEST(OracleTest, EachSequenceGetsItsOwnExpert) {
  auto experts = Experts(3, false);
  torch::manual_seed(1);
  CausalLM model(testing::TinyLlama());
  auto oracle = AttachOracle(*model, experts, MixingMode::kOutput);
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  torch::Tensor ids = torch::randint(0, 40, {2, 5});
  torch::NoGradGuard no_grad;
  (*oracle)->set_experts({2, 0});
  torch::Tensor mixed = model->forward(ids);
  for (int row = 0; row < 2; ++row) {
    torch::manual_seed(1);
    CausalLM alone(testing::TinyLlama());
    ASSERT_TRUE(ApplyExpert(*alone, experts[row == 0 ? 2 : 0], false).ok());
    EXPECT_TRUE(torch::allclose(alone->forward(ids)[row], mixed[row], 1e-4, 1e-4)) << row;
  }
}

}  // namespace
}  // namespace libra::nn
