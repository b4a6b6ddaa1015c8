#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/adapters.h"

#include <gtest/gtest.h>

#include <cmath>

#include "src/core/merge/expert_file.h"
#include "src/nn/expert.h"
#include "tests/nn/test_util.h"

namespace libra::nn {
namespace {

CausalLM Model(uint64_t seed) {
  torch::manual_seed(seed);
  return CausalLM(testing::TinyLlama());
}

void Randomize(CausalLMImpl& model, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& p : TrainableParameters(model)) p.second.normal_(0, 0.2);
}

TEST(LoraTest, ForwardIsBasePlusScaledLowRankTerm) {
  LoraOptions options;
  options.rank = 3;
  options.alpha = 6;
  LoraAdapterImpl lora(5, 4, options);
  EXPECT_DOUBLE_EQ(lora.scale, 2.0);
  EXPECT_TRUE(torch::all(lora.lora_B == 0).item<bool>());
  EXPECT_LE(lora.lora_A.abs().max().item<float>(), 1.0 / std::sqrt(5.0));
  EXPECT_GT(lora.lora_A.abs().max().item<float>(), 0.0f);
  torch::NoGradGuard no_grad;
  lora.lora_B.normal_();
  torch::Tensor w = torch::randn({4, 5}), b = torch::randn({4}), x = torch::randn({2, 3, 5});
  torch::Tensor expected = torch::empty({2, 3, 4});
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      torch::Tensor xi = x[i][j];
      expected[i][j] = torch::mv(w, xi) + b + 2.0 * torch::mv(lora.lora_B, torch::mv(lora.lora_A, xi));
    }
  }
  EXPECT_TRUE(torch::allclose(lora.Forward(x, w, b), expected, 1e-5, 1e-5));
  options.use_rslora = true;
  options.rank = 4;
  options.alpha = 8;
  EXPECT_DOUBLE_EQ(options.scale(), 4.0);
}

TEST(AttachTest, TargetsFreezeAndMerge) {
  CausalLM model = Model(1);
  AdapterConfig config;
  config.lora.rank = 2;
  config.targets.names = {"q_proj", "v_proj"};
  auto attached = AttachAdapters(*model, config, 5);
  ASSERT_TRUE(attached.ok()) << attached.status();
  EXPECT_EQ(*attached, (std::vector<std::string>{
                           "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                           "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"}));
  auto trainable = TrainableParameters(*model);
  ASSERT_EQ(trainable.size(), 8u);
  EXPECT_EQ(trainable[0].first, "model.layers.0.self_attn.q_proj.adapter.lora_A");
  torch::Tensor ids = torch::randint(0, 40, {2, 7});
  torch::NoGradGuard no_grad;
  torch::Tensor base = CausalLM(Model(1))->forward(ids);
  EXPECT_TRUE(torch::allclose(model->forward(ids), base));  // B = 0: starts at the base
  Randomize(*model, 9);
  torch::Tensor adapted = model->forward(ids);
  EXPECT_GT((adapted - base).abs().max().item<float>(), 1e-3);
  MergeAdaptersIntoBase(*model);
  EXPECT_TRUE(TrainableParameters(*model).empty());
  EXPECT_TRUE(torch::allclose(model->forward(ids), adapted, 1e-4, 1e-4));

  AdapterConfig regex;
  regex.kind = AdapterKind::kFull;
  regex.targets.regex = R"(model\.layers\.1\.mlp\..*)";
  CausalLM other = Model(1);
  auto full = AttachAdapters(*other, regex, 1);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->size(), 3u);
}

TEST(AttachTest, BadConfigsAreRejected) {
  CausalLM model = Model(1);
  AdapterConfig config;
  config.targets.names = {"qq_proj"};
  auto none = AttachAdapters(*model, config, 1);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(none.status().message()).find("qq_proj"), std::string::npos);
  config.targets.names = {"q_proj"};
  config.lora.rank = 0;
  auto rank = AttachAdapters(*model, config, 1);
  EXPECT_EQ(rank.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(rank.status().message()).find("rank must be positive, got 0"),
            std::string::npos);
  EXPECT_EQ(ParseAdapterKind("dora").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExpertTest, SaveLoadApplyRoundTripsExactly) {
  CausalLM model = Model(2);
  AdapterConfig config;
  config.lora.rank = 3;
  config.lora.alpha = 5;
  config.targets.names = {"q_proj", "down_proj"};
  ASSERT_TRUE(AttachAdapters(*model, config, 3).ok());
  Randomize(*model, 4);
  std::vector<ExpertModule> expert = ExtractExpert(*model);
  ASSERT_EQ(expert.size(), 4u);
  // Core conversion is lossless.
  for (const ExpertModule& m : expert) {
    auto back = FromCoreDelta(m.module, ToCoreDelta(m));
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(torch::equal(back->lora_a, m.lora_a));
    EXPECT_TRUE(torch::equal(back->lora_b, m.lora_b));
    EXPECT_EQ(static_cast<float>(back->scale), static_cast<float>(m.scale));
  }
  const std::string path = testing::TempDir("expert") + "/e.safetensors";
  ASSERT_TRUE(SaveExpert(path, expert, {{"task", "t"}}).ok());
  auto loaded = LoadExpert(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 4u);
  CausalLM fresh = Model(2);
  ASSERT_TRUE(ApplyExpert(*fresh, *loaded, false).ok());
  torch::Tensor ids = torch::randint(0, 40, {1, 6});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(fresh->forward(ids), model->forward(ids), 1e-6, 1e-6));

  std::vector<ExpertModule> wrong = *loaded;
  wrong[0].lora_a = torch::zeros({3, 7});
  absl::Status bad = ApplyExpert(*fresh, wrong, false);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad.message()).find("expected [3, 24], got [3, 7]"), std::string::npos)
      << bad;
}

// A full fine-tuning delta is written under the core's dense name, so the
// core's expert reader (libra merge, the library) and LoadExpert both see the
// module itself, and it reapplies exactly.
TEST(ExpertTest, DenseDeltaRoundTripsUnderTheCoresName) {
  CausalLM model = Model(2);
  AdapterConfig config;
  config.kind = AdapterKind::kFull;
  config.targets.names = {"v_proj"};
  ASSERT_TRUE(AttachAdapters(*model, config, 3).ok());
  Randomize(*model, 5);
  std::vector<ExpertModule> expert = ExtractExpert(*model);
  ASSERT_EQ(expert.size(), 2u);
  const std::string path = testing::TempDir("dense") + "/e.safetensors";
  ASSERT_TRUE(SaveExpert(path, expert).ok());

  auto file = merge::ExpertFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  std::vector<std::string> names;
  for (const merge::ModuleEntry& entry : file->modules()) names.push_back(entry.name);
  EXPECT_EQ(names, (std::vector<std::string>{expert[0].module, expert[1].module}));

  auto loaded = LoadExpert(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 2u);
  for (size_t i = 0; i < expert.size(); ++i) {
    EXPECT_EQ((*loaded)[i].module, expert[i].module);
    EXPECT_TRUE(torch::equal((*loaded)[i].delta, expert[i].delta));
  }
  CausalLM fresh = Model(2);
  ASSERT_TRUE(ApplyExpert(*fresh, *loaded, false).ok());
  torch::Tensor ids = torch::randint(0, 40, {1, 6});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(fresh->forward(ids), model->forward(ids), 1e-6, 1e-6));
}

// Two random LoRA experts on a single module.
std::vector<std::vector<ExpertModule>> TwoExperts() {
  std::vector<std::vector<ExpertModule>> experts(2);
  torch::manual_seed(11);
  for (int e = 0; e < 2; ++e) {
    ExpertModule m;
    m.module = "model.layers.0.self_attn.q_proj";
    m.lora_a = torch::randn({2, 16});
    m.lora_b = torch::randn({16, 2});
    m.scale = e + 1.0;
    experts[e].push_back(m);
  }
  return experts;
}

// HiddenAt against the full forward's rows: the same hidden states, and the
// same adapter gradients of a loss on those rows, for LoRA and full deltas on
// every projection, on Llama with grouped-query attention and on Phi
// (parallel attention and MLP, partial rotary, biases).
ModelConfig TinyPhi() {
  ModelConfig c = testing::TinyLlama();
  c.family = Family::kPhi;
  c.num_key_value_heads = 4;
  c.partial_rotary_factor = 0.5;
  c.attention_bias = true;
  c.hidden_act = "gelu_new";
  c.tie_word_embeddings = false;
  return c;
}

struct HiddenAtCase {
  ModelConfig config;
  AdapterKind kind;
};

class HiddenAtTest : public ::testing::TestWithParam<HiddenAtCase> {};

TEST_P(HiddenAtTest, EqualsTheFullForwardAtTheRowsWithTheSameGradients) {
  torch::manual_seed(5);
  CausalLM model(GetParam().config);
  AdapterConfig config;
  config.kind = GetParam().kind;
  config.lora.rank = 2;
  config.targets.regex = ".*(proj|fc1|fc2|dense)";
  ASSERT_TRUE(AttachAdapters(*model, config, /*seed=*/2).ok());
  Randomize(*model, 6);
  // Three sequences of 12: row 0 with three selected positions (out of
  // order), row 1 with none, row 2 with two; 5 of 36 rows.
  const torch::Tensor ids = torch::randint(0, 40, {3, 12});
  const torch::Tensor rows = torch::tensor(std::vector<int64_t>{9, 10, 2, 24 + 11, 24 + 3});
  const torch::Tensor probe = torch::randn({5, 16});
  auto run = [&](bool at) {
    model->zero_grad();
    torch::Tensor hidden = at ? model->HiddenAt(ids, rows)
                              : model->Hidden(ids).reshape({-1, 16}).index_select(0, rows);
    (hidden * probe).sum().backward();
    std::vector<torch::Tensor> grads;
    for (auto& p : TrainableParameters(*model)) grads.push_back(p.second.grad().clone());
    return std::make_pair(hidden.detach(), grads);
  };
  const auto [expected, expected_grads] = run(false);
  const auto [hidden, grads] = run(true);
  ASSERT_EQ(hidden.sizes(), (std::vector<int64_t>{5, 16}));
  EXPECT_TRUE(torch::allclose(hidden, expected, 1e-5, 1e-5)) << (hidden - expected).abs().max();
  ASSERT_EQ(grads.size(), expected_grads.size());
  for (size_t i = 0; i < grads.size(); ++i) {
    EXPECT_TRUE(torch::allclose(grads[i], expected_grads[i], 1e-5, 1e-5)) << i;
  }
  // Over half the rows: the full forward's rows.
  const torch::Tensor most = torch::arange(20);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(model->HiddenAt(ids, most),
                           model->Hidden(ids).reshape({-1, 16}).index_select(0, most)));
}

INSTANTIATE_TEST_SUITE_P(
    Families, HiddenAtTest,
    ::testing::Values(HiddenAtCase{testing::TinyLlama(), AdapterKind::kLora},
                      HiddenAtCase{testing::TinyLlama(), AdapterKind::kFull},
                      HiddenAtCase{TinyPhi(), AdapterKind::kLora}));

TEST(HiddenAtFallbackTest, PerSequenceMixturesTakeTheFullForward) {
  CausalLM model = Model(3);
  auto experts = TwoExperts();  // routed per sequence, on the last layer's queries
  for (auto& expert : experts) expert[0].module = "model.layers.1.self_attn.q_proj";
  auto oracle = std::make_shared<OracleRouterImpl>();
  ASSERT_TRUE(AttachMixture(*model, experts, oracle, MixingMode::kOutput).ok());
  oracle->set_experts({0, 1});
  EXPECT_FALSE(model->model->layers[1]->as<DecoderLayerImpl>()->RowWise());
  const torch::Tensor ids = torch::randint(0, 40, {2, 6});
  const torch::Tensor rows = torch::tensor(std::vector<int64_t>{4, 6 + 5});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(model->HiddenAt(ids, rows),
                           model->Hidden(ids).reshape({-1, 16}).index_select(0, rows)));
}

TEST(MixtureTest, OutputAndParameterMixingMatchFormulas) {
  auto experts = TwoExperts();
  torch::Tensor w = torch::randn({16, 16}), x = torch::randn({2, 3, 16});
  const auto& e0 = experts[0][0];
  const auto& e1 = experts[1][0];
  torch::NoGradGuard no_grad;
  // Fixed weights 0.25 / 0.75.
  auto fixed = std::make_shared<FixedRouterImpl>(std::vector<double>{0.25, 0.75});
  std::vector<LoraWeights> weights = {{e0.lora_a, e0.lora_b, e0.scale}, {e1.lora_a, e1.lora_b, e1.scale}};
  MixtureAdapterImpl output(weights, fixed, MixingMode::kOutput);
  MixtureAdapterImpl param(weights, fixed, MixingMode::kParameter);
  torch::Tensor delta_out = 0.25 * 1.0 * e0.lora_b.mm(e0.lora_a) + 0.75 * 2.0 * e1.lora_b.mm(e1.lora_a);
  torch::Tensor delta_param = (0.25 * 1.0 * e0.lora_b + 0.75 * 2.0 * e1.lora_b)
                                  .mm(0.25 * e0.lora_a + 0.75 * e1.lora_a);
  torch::Tensor bias;
  EXPECT_TRUE(torch::allclose(output.Forward(x, w, bias), torch::matmul(x, (w + delta_out).t()), 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(param.Forward(x, w, bias), torch::matmul(x, (w + delta_param).t()), 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(output.DeltaWeight(), delta_out, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(param.DeltaWeight(), delta_param, 1e-5, 1e-5));

  // Oracle: row 0 uses expert 1, row 1 expert 0, in both modes.
  auto oracle = std::make_shared<OracleRouterImpl>();
  oracle->set_experts({1, 0});
  for (MixingMode mode : {MixingMode::kOutput, MixingMode::kParameter}) {
    MixtureAdapterImpl mix(weights, oracle, mode);
    torch::Tensor y = mix.Forward(x, w, bias);
    torch::Tensor d1 = 2.0 * e1.lora_b.mm(e1.lora_a), d0 = 1.0 * e0.lora_b.mm(e0.lora_a);
    EXPECT_TRUE(torch::allclose(y[0], torch::matmul(x[0], (w + d1).t()), 1e-4, 1e-4));
    EXPECT_TRUE(torch::allclose(y[1], torch::matmul(x[1], (w + d0).t()), 1e-4, 1e-4));
  }

  // A per-token router (weights depend on the input) in parameter mode.
  struct SignRouter : RouterImpl {
    torch::Tensor Route(const torch::Tensor& in, int64_t) override {
      torch::Tensor p = torch::sigmoid(in.select(-1, 0)).unsqueeze(-1);
      return torch::cat({p, 1 - p}, -1);
    }
  };
  MixtureAdapterImpl token(weights, std::make_shared<SignRouter>(), MixingMode::kParameter);
  torch::Tensor y = token.Forward(x, w, bias);
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      const double p = torch::sigmoid(x[i][j][0]).item<double>();
      torch::Tensor d = (p * e0.lora_b + (1 - p) * 2.0 * e1.lora_b).mm(p * e0.lora_a + (1 - p) * e1.lora_a);
      EXPECT_TRUE(torch::allclose(y[i][j], torch::mv(w + d, x[i][j]), 1e-4, 1e-4));
    }
  }
}

TEST(MixtureTest, AttachToModelWithUniformRouter) {
  CausalLM model = Model(3);
  auto experts = TwoExperts();
  ASSERT_TRUE(AttachMixture(*model, experts, std::make_shared<UniformRouterImpl>(),
                            MixingMode::kOutput).ok());
  torch::Tensor ids = torch::randint(0, 40, {2, 5});
  torch::NoGradGuard no_grad;
  torch::Tensor mixed = model->forward(ids);
  MergeAdaptersIntoBase(*model);  // the uniform delta merged gives the same output
  EXPECT_TRUE(torch::allclose(model->forward(ids), mixed, 1e-4, 1e-4));
  experts[1][0].module = "model.layers.1.self_attn.q_proj";
  absl::Status missing = AttachMixture(*model, experts, std::make_shared<UniformRouterImpl>(),
                                       MixingMode::kOutput);
  EXPECT_NE(std::string(missing.message()).find("a mixture needs LoRA experts that share modules"), std::string::npos)
      << missing;
}

// Experts of another base (shapes that do not fit, modules the model lacks)
// are refused before anything is attached, naming the expert and the tensor.
TEST(MixtureTest, ForeignExpertsAreRefusedBeforeAttaching) {
  CausalLM model = Model(3);
  torch::Tensor ids = torch::randint(0, 40, {1, 4});
  torch::NoGradGuard no_grad;
  const torch::Tensor before = model->forward(ids);

  auto wide = TwoExperts();
  wide[1][0].lora_a = torch::randn({2, 24});  // another base's hidden size
  absl::Status status = AttachMixture(*model, wide, std::make_shared<UniformRouterImpl>(),
                                      MixingMode::kOutput);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(std::string(status.message()).find("expert 1 does not fit the model"), std::string::npos)
      << status;
  EXPECT_NE(std::string(status.message()).find("q_proj.lora_A"), std::string::npos) << status;

  auto tall = TwoExperts();
  tall[0][0].lora_b = torch::randn({20, 2});
  EXPECT_FALSE(AttachMixture(*model, tall, std::make_shared<UniformRouterImpl>(),
                             MixingMode::kParameter).ok());

  auto unknown = TwoExperts();
  for (auto& expert : unknown) expert[0].module = "model.layers.7.self_attn.q_proj";
  status = AttachMixture(*model, unknown, std::make_shared<UniformRouterImpl>(), MixingMode::kOutput);
  EXPECT_NE(std::string(status.message()).find("is not in the model"), std::string::npos) << status;

  auto extra = TwoExperts();
  extra[1].push_back(extra[1][0]);
  extra[1][1].module = "model.layers.0.self_attn.v_proj";
  EXPECT_FALSE(AttachMixture(*model, extra, std::make_shared<UniformRouterImpl>(),
                             MixingMode::kOutput).ok());
  // Nothing was attached by any refused call.
  EXPECT_TRUE(torch::equal(model->forward(ids), before));
}

}  // namespace
}  // namespace libra::nn
