// MoPE routers against independent computations on small tensors: the SMEAR
// mix against the explicit weighted sums of A and B, per-token routing
// against a loop over tokens, the KL term against the direct formula,
// gradients into router, LayerNorm and experts, cached-route generation
// against recomputation, the save/load round trip and bad input.
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/mope.h"

#include <gtest/gtest.h>

#include <cmath>

#include "src/nn/eval.h"
#include "src/nn/trainer.h"
#include "tests/nn/test_util.h"

namespace libra::nn {
namespace {

CausalLM Model(uint64_t seed) {
  torch::manual_seed(seed);
  return CausalLM(testing::TinyLlama());
}

MopeOptions Options(MopeRouter router, int64_t experts = 3) {
  MopeOptions o;
  o.experts = experts;
  o.lora.rank = 2;
  o.lora.alpha = 4;
  o.router = router;
  o.router_init_std = 0.5;  // routes that differ between inputs
  o.targets.names = {"q_proj", "v_proj"};
  return o;
}

// Non-zero B and a non-trivial LayerNorm, so every part shows in the output.
void Randomize(CausalLMImpl& model, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : TrainableParameters(model)) {
    if (name.find("norm.weight") != std::string::npos) {
      p.uniform_(0.5, 1.5);
    } else {
      p.normal_(0, 0.3);
    }
  }
}

std::shared_ptr<MixtureAdapterImpl> MixtureOf(CausalLMImpl& model, const std::string& module) {
  for (auto& [name, linear] : model.Linears()) {
    if (name == module) return std::dynamic_pointer_cast<MixtureAdapterImpl>(linear->adapter());
  }
  return nullptr;
}

// The router's distribution computed by hand: LN with its parameters, then
// W h + b, softmax / tau.
torch::Tensor DirectProbabilities(SmearRouterImpl& router, const torch::Tensor& h, double tau) {
  const torch::Tensor mu = h.mean(-1, true);
  const torch::Tensor var = (h - mu).pow(2).mean(-1, true);
  const torch::Tensor n = (h - mu) / torch::sqrt(var + 1e-5) * router.norm->weight + router.norm->bias;
  const torch::Tensor logits = torch::matmul(n, router.proj->weight.t()) + router.proj->bias;
  return torch::softmax(logits / tau, -1);
}

TEST(MopeTest, PerExampleMixEqualsExplicitWeightedSumsOfAAndB) {
  const int64_t E = 3, r = 2, in = 5, out = 4;
  auto context = std::make_shared<MopeContext>();
  torch::manual_seed(3);
  std::vector<LoraWeights> experts;
  for (int64_t e = 0; e < E; ++e) experts.push_back({torch::randn({r, in}), torch::randn({out, r}), 1.5});
  auto router = std::make_shared<SmearRouterImpl>(in, E, MopeRouter::kPerExample, 0.7, 0.5, "m", context);
  MixtureAdapterImpl mixture(experts, router, MixingMode::kParameter, /*trainable=*/true);
  torch::Tensor w = torch::randn({out, in}), b = torch::randn({out});
  torch::Tensor x = torch::randn({2, 4, in});
  // Row 0: prompt of 2 tokens, 3 tokens in all; row 1: prompt 3, all 4.
  const torch::Tensor ids = torch::zeros({2, 4}, torch::kInt64);
  BatchLayout layout{{2, 3}, {3, 4}};
  context->Observe(ids, 0, &layout);
  torch::NoGradGuard no_grad;
  torch::Tensor y = mixture.Forward(x, w, b);
  for (int64_t row = 0; row < 2; ++row) {
    const int64_t prompt = layout.prompt_lengths[row];
    torch::Tensor h = torch::zeros({in});
    for (int64_t s = 0; s < prompt; ++s) h += x[row][s];
    h /= static_cast<double>(prompt);
    torch::Tensor p = DirectProbabilities(*router, h, 0.7);
    torch::Tensor a_mix = torch::zeros({r, in}), b_mix = torch::zeros({out, r});
    for (int64_t e = 0; e < E; ++e) {
      a_mix += p[e] * experts[e].a;
      b_mix += p[e] * experts[e].b;
    }
    for (int64_t s = 0; s < 4; ++s) {
      torch::Tensor expected = torch::matmul(w, x[row][s]) + b +
                               1.5 * torch::matmul(b_mix, torch::matmul(a_mix, x[row][s]));
      EXPECT_TRUE(torch::allclose(y[row][s], expected, 1e-4, 1e-5)) << row << " " << s;
    }
  }
}

TEST(MopeTest, PerTokenEqualsALoopOverTokens) {
  const int64_t E = 4, r = 3, in = 6, out = 5;
  auto context = std::make_shared<MopeContext>();
  torch::manual_seed(4);
  std::vector<LoraWeights> experts;
  for (int64_t e = 0; e < E; ++e) experts.push_back({torch::randn({r, in}), torch::randn({out, r}), 0.5});
  auto router = std::make_shared<SmearRouterImpl>(in, E, MopeRouter::kPerToken, 1.0, 0.5, "m", context);
  MixtureAdapterImpl mixture(experts, router, MixingMode::kParameter, /*trainable=*/true);
  torch::Tensor w = torch::randn({out, in}), x = torch::randn({2, 5, in});
  torch::NoGradGuard no_grad;
  torch::Tensor y = mixture.Forward(x, w, torch::Tensor());
  for (int64_t row = 0; row < 2; ++row) {
    for (int64_t s = 0; s < 5; ++s) {
      // Each token alone, as its own one-token sequence.
      torch::Tensor token = x[row][s].view({1, 1, in});
      torch::Tensor p = DirectProbabilities(*router, x[row][s], 1.0);
      torch::Tensor a_mix = torch::zeros({r, in}), b_mix = torch::zeros({out, r});
      for (int64_t e = 0; e < E; ++e) {
        a_mix += p[e] * experts[e].a;
        b_mix += p[e] * experts[e].b;
      }
      torch::Tensor expected = torch::matmul(w, x[row][s]) +
                               0.5 * torch::matmul(b_mix, torch::matmul(a_mix, x[row][s]));
      EXPECT_TRUE(torch::allclose(y[row][s], expected, 1e-4, 1e-5)) << row << " " << s;
      EXPECT_TRUE(torch::allclose(mixture.Forward(token, w, torch::Tensor()).view({out}), expected,
                                  1e-4, 1e-5));
    }
  }
}

TEST(MopeTest, PosteriorRoutesWithQInTrainingAndKlMatchesTheFormula) {
  const int64_t E = 3, in = 5;
  auto context = std::make_shared<MopeContext>();
  torch::manual_seed(5);
  SmearRouterImpl router(in, E, MopeRouter::kPosterior, 1.0, 0.5, "m", context);
  torch::Tensor x = torch::randn({2, 4, in});
  BatchLayout layout{{1, 2}, {3, 4}};
  context->Observe(torch::zeros({2, 4}, torch::kInt64), 0, &layout);
  router.train();
  torch::Tensor q_route = router.Route(x, E);
  torch::Tensor kl = context->TakeKl();
  ASSERT_TRUE(kl.defined());
  double expected_kl = 0;
  for (int64_t row = 0; row < 2; ++row) {
    const int64_t prompt = layout.prompt_lengths[row], length = layout.lengths[row];
    torch::Tensor p = DirectProbabilities(router, x[row].narrow(0, 0, prompt).mean(0), 1.0);
    torch::Tensor q = DirectProbabilities(router, x[row].narrow(0, 0, length).mean(0), 1.0);
    EXPECT_TRUE(torch::allclose(q_route[row][0], q, 1e-5, 1e-6));
    for (int64_t e = 0; e < E; ++e) {
      const double qe = q[e].item<double>(), pe = p[e].item<double>();
      expected_kl += qe * std::log(qe / pe) / 2.0;
    }
  }
  EXPECT_NEAR(kl.item<double>(), expected_kl, 1e-6);
  EXPECT_GT(expected_kl, 0.0);
  // Evaluation routes with the prior and adds no KL.
  router.eval();
  torch::Tensor p_route = router.Route(x, E);
  EXPECT_FALSE(context->TakeKl().defined());
  torch::Tensor p0 = DirectProbabilities(router, x[0].narrow(0, 0, 1).mean(0), 1.0);
  EXPECT_TRUE(torch::allclose(p_route[0][0], p0, 1e-5, 1e-6));
}

TEST(MopeTest, CategoricalKlIsZeroForEqualAndMatchesDirectSum) {
  torch::Tensor q = torch::tensor({0.2, 0.3, 0.5}), p = torch::tensor({0.6, 0.3, 0.1});
  EXPECT_NEAR(CategoricalKl(q, q).item<double>(), 0.0, 1e-7);
  const double direct = 0.2 * std::log(0.2 / 0.6) + 0.3 * std::log(1.0) + 0.5 * std::log(0.5 / 0.1);
  EXPECT_NEAR(CategoricalKl(q, p).item<double>(), direct, 1e-6);
}

TEST(MopeTest, GradientsFlowIntoRouterLayerNormAndExperts) {
  for (MopeRouter kind : {MopeRouter::kPerExample, MopeRouter::kPerToken, MopeRouter::kPosterior}) {
    CausalLM model = Model(1);
    auto mope = AttachMope(*model, Options(kind), 7);
    ASSERT_TRUE(mope.ok()) << mope.status();
    Randomize(*model, 8);
    model->train();
    torch::Tensor ids = torch::randint(0, 40, {2, 6}, torch::kInt64);
    BatchLayout layout{{3, 2}, {6, 5}};
    torch::Tensor loss;
    {
      ScopedBatchLayout scoped(*model, layout);
      loss = model->forward(ids).pow(2).mean();
    }
    torch::Tensor kl = mope->AuxiliaryLoss()();
    if (kind == MopeRouter::kPosterior) {
      ASSERT_TRUE(kl.defined());
      loss = loss + kl;
    } else {
      EXPECT_FALSE(kl.defined());
    }
    loss.backward();
    int checked = 0;
    for (auto& [name, p] : TrainableParameters(*model)) {
      ASSERT_TRUE(p.grad().defined()) << MopeRouterName(kind) << " " << name;
      EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0) << MopeRouterName(kind) << " " << name;
      ++checked;
    }
    // 2 layers x 2 modules x (3 experts x 2 + LN 2 + proj 2).
    EXPECT_EQ(checked, 2 * 2 * (3 * 2 + 4));
  }
}

TEST(MopeTest, FreshMixtureStartsAtTheBase) {
  CausalLM model = Model(1);
  torch::Tensor ids = torch::randint(0, 40, {1, 5}, torch::kInt64);
  torch::Tensor base = model->forward(ids).detach();
  ASSERT_TRUE(AttachMope(*model, Options(MopeRouter::kPerExample), 3).ok());
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(model->forward(ids), base, 1e-6, 1e-6));
}

TEST(MopeTest, PaddingAndBatchingDoNotChangeAnExample) {
  CausalLM model = Model(2);
  ASSERT_TRUE(AttachMope(*model, Options(MopeRouter::kPosterior), 3).ok());
  Randomize(*model, 4);
  model->eval();
  std::vector<TokenizedExample> examples = {{{1, 5, 7, 9, 2, 3}, 3, 0}, {{1, 4, 8, 2, 6, 6, 11, 12}, 4, 1}};
  const TargetAccuracy together = TargetTokenAccuracy(*model, examples, 2);
  const TargetAccuracy alone0 = TargetTokenAccuracy(*model, {examples[0]}, 1);
  const TargetAccuracy alone1 = TargetTokenAccuracy(*model, {examples[1]}, 1);
  EXPECT_EQ(together.correct, alone0.correct + alone1.correct);
  // The padded row's logits equal the unpadded sequence's.
  torch::NoGradGuard no_grad;
  torch::Tensor padded = torch::tensor(std::vector<int64_t>{1, 5, 7, 9, 2, 3, 0, 0}).view({1, 8});
  torch::Tensor plain = torch::tensor(examples[0].ids).view({1, 6});
  BatchLayout layout_padded{{3}, {6}}, layout_plain{{3}, {6}};
  torch::Tensor a, b;
  {
    ScopedBatchLayout s(*model, layout_padded);
    a = model->forward(padded).narrow(1, 0, 6);
  }
  {
    ScopedBatchLayout s(*model, layout_plain);
    b = model->forward(plain);
  }
  EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-5));
}

TEST(MopeTest, GenerationWithCachedRouteEqualsRecomputingIt) {
  for (MopeRouter kind : {MopeRouter::kPerExample, MopeRouter::kPerToken}) {
    CausalLM model = Model(3);
    ASSERT_TRUE(AttachMope(*model, Options(kind), 5).ok());
    Randomize(*model, 6);
    const std::vector<int64_t> prompt = {1, 7, 3, 9};
    GenerateOptions options;
    options.max_new_tokens = 6;
    const std::vector<int64_t> generated = GreedyGenerate(*model, prompt, /*eos=*/-1, options);
    ASSERT_EQ(generated.size(), 6u);
    // Recompute: the whole sequence so far, no cache, routed on the prompt.
    torch::NoGradGuard no_grad;
    std::vector<int64_t> seq = prompt;
    for (size_t i = 0; i < generated.size(); ++i) {
      BatchLayout layout{{static_cast<int64_t>(prompt.size())}, {static_cast<int64_t>(seq.size())}};
      ScopedBatchLayout scoped(*model, layout);
      torch::Tensor logits = model->forward(torch::tensor(seq).view({1, -1}));
      EXPECT_EQ(logits[0][-1].argmax().item<int64_t>(), generated[i]) << MopeRouterName(kind) << " " << i;
      seq.push_back(generated[i]);
    }
    // And the logits of the cached path equal the recomputed ones.
    KvCache cache;
    torch::Tensor step = model->forward(torch::tensor(prompt).view({1, -1}), &cache);
    torch::Tensor next = model->forward(torch::tensor(std::vector<int64_t>{generated[0]}).view({1, 1}), &cache);
    BatchLayout layout{{4}, {5}};
    ScopedBatchLayout scoped(*model, layout);
    std::vector<int64_t> five = prompt;
    five.push_back(generated[0]);
    torch::Tensor full = model->forward(torch::tensor(five).view({1, -1}));
    EXPECT_TRUE(torch::allclose(next[0][0], full[0][4], 1e-4, 1e-5)) << MopeRouterName(kind);
  }
}

TEST(MopeTest, UniformAverageUsesOneOverE) {
  CausalLM model = Model(4);
  auto mope = AttachMope(*model, Options(MopeRouter::kPerExample), 5);
  ASSERT_TRUE(mope.ok());
  Randomize(*model, 6);
  torch::NoGradGuard no_grad;
  auto mixture = MixtureOf(*model, "model.layers.0.self_attn.q_proj");
  ASSERT_NE(mixture, nullptr);
  mope->context->uniform = true;
  torch::Tensor x = torch::randn({1, 3, 16});
  torch::Tensor w = torch::randn({16, 16});
  torch::Tensor y = mixture->Forward(x, w, torch::Tensor());
  torch::Tensor a = torch::zeros({2, 16}), b = torch::zeros({16, 2});
  for (int64_t e = 0; e < 3; ++e) {
    a += mixture->expert_a(e) / 3.0;
    b += mixture->expert_b(e) / 3.0;
  }
  torch::Tensor expected = torch::matmul(x, w.t()) + mixture->scale() * torch::matmul(torch::matmul(x, a.t()), b.t());
  EXPECT_TRUE(torch::allclose(y, expected, 1e-4, 1e-5));
}

TEST(MopeTest, SaveLoadRoundTripIsBitIdentical) {
  for (MopeRouter kind : {MopeRouter::kPerExample, MopeRouter::kPerToken, MopeRouter::kPosterior}) {
    CausalLM model = Model(5);
    auto mope = AttachMope(*model, Options(kind), 9);
    ASSERT_TRUE(mope.ok());
    Randomize(*model, 10);
    const std::string path = testing::TempDir("mope_roundtrip") + "/m.safetensors";
    ASSERT_TRUE(SaveMope(*model, *mope, path, {{"task", "all"}}).ok());
    CausalLM other = Model(5);
    auto loaded = LoadMope(*other, path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->options.router, kind);
    EXPECT_EQ(loaded->routers.size(), 4u);
    auto a = model->named_parameters(), b = other->named_parameters();
    ASSERT_EQ(a.size(), b.size());
    for (const auto& item : a) {
      const torch::Tensor* t = b.find(item.key());
      ASSERT_NE(t, nullptr) << item.key();
      EXPECT_TRUE(torch::equal(item.value(), *t)) << item.key();
    }
    model->eval();
    other->eval();
    torch::NoGradGuard no_grad;
    torch::Tensor ids = torch::randint(0, 40, {2, 5}, torch::kInt64);
    EXPECT_TRUE(torch::equal(model->forward(ids), other->forward(ids)));
    EXPECT_TRUE(TrainableParameters(*other).empty());
  }
}

TEST(MopeTest, TrainingLowersLossAndKlIsRecorded) {
  torch::manual_seed(11);
  CausalLM model(testing::TinyLlama());
  MopeOptions options = Options(MopeRouter::kPosterior);
  auto mope = AttachMope(*model, options, 12);
  ASSERT_TRUE(mope.ok());
  std::vector<TokenizedExample> data;
  for (int i = 0; i < 16; ++i) {
    data.push_back({{1, 2 + i % 4, 10, 20 + i % 4, 30 + i % 4}, 3, i % 4});
  }
  TrainOptions train;
  train.learning_rate = 1e-2;
  train.max_steps = 20;
  train.batch_size = 8;
  train.progress = false;
  train.auxiliary_loss = mope->AuxiliaryLoss();
  auto stats = Train(*model, data, train);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(mope->context->kl_history.size(), 20u);
}

TEST(MopeTest, BadInputIsOneClearError) {
  EXPECT_FALSE(ParseMopeRouter("smear").ok());
  EXPECT_NE(std::string(ParseMopeRouter("smear").status().message()).find("--router"), std::string::npos);
  CausalLM model = Model(1);
  MopeOptions o = Options(MopeRouter::kPerExample);
  o.experts = 1;
  auto r = AttachMope(*model, o, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("--experts"), std::string::npos);
  o = Options(MopeRouter::kPerExample);
  o.temperature = 0;
  r = AttachMope(*model, o, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("--tau"), std::string::npos);
  o.temperature = -1;
  EXPECT_FALSE(AttachMope(*model, o, 1).ok());
  o = Options(MopeRouter::kPerExample);
  o.targets.names = {"no_such_proj"};
  r = AttachMope(*model, o, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("no_such_proj"), std::string::npos);
  // Nothing attached by the failures.
  for (auto& [name, linear] : model->Linears()) EXPECT_EQ(linear->adapter(), nullptr) << name;
  // A file whose experts disagree in shape, and one for another model.
  auto mope = AttachMope(*model, Options(MopeRouter::kPerExample), 2);
  ASSERT_TRUE(mope.ok());
  const std::string dir = testing::TempDir("mope_bad");
  ASSERT_TRUE(SaveMope(*model, *mope, dir + "/ok.safetensors").ok());
  {
    auto mixture = MixtureOf(*model, "model.layers.0.self_attn.q_proj");
    torch::NoGradGuard no_grad;
    mixture->named_parameters()["expert_1_lora_A"].set_data(torch::zeros({3, 16}));
  }
  ASSERT_TRUE(SaveMope(*model, *mope, dir + "/bad.safetensors").ok());
  CausalLM fresh = Model(1);
  auto bad = LoadMope(*fresh, dir + "/bad.safetensors");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("bad.safetensors"), std::string::npos);
  EXPECT_NE(std::string(bad.status().message()).find("expert_1_lora_A"), std::string::npos);
  for (auto& [name, linear] : fresh->Linears()) EXPECT_EQ(linear->adapter(), nullptr) << name;
  ModelConfig wide = testing::TinyLlama();
  wide.hidden_size = 32;
  wide.intermediate_size = 48;
  CausalLM other(wide);
  EXPECT_FALSE(LoadMope(*other, dir + "/ok.safetensors").ok());
  // A plain LoRA file is not a mixture file.
  EXPECT_FALSE(LoadMope(*fresh, dir + "/missing.safetensors").ok());
}

TEST(MopeTest, RoutingStatsOfCollapsedAndOneHotRoutes) {
  torch::Tensor same = torch::tensor({0.5, 0.25, 0.25, 0.5, 0.25, 0.25}).view({2, 3});
  RoutingStats s = ComputeRoutingStats(same);
  EXPECT_NEAR(s.mutual_information, 0.0, 1e-12);
  torch::Tensor onehot = torch::eye(3, torch::kFloat64);
  s = ComputeRoutingStats(onehot);
  EXPECT_NEAR(s.entropy, 0.0, 1e-12);
  EXPECT_NEAR(s.entropy_of_mean, 1.0, 1e-12);
  EXPECT_NEAR(s.mutual_information, 1.0, 1e-12);
  EXPECT_NEAR(s.usage[1], 1.0 / 3, 1e-12);
}

}  // namespace
}  // namespace libra::nn
