#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "papers/lab/lab_experts.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "gtest/gtest.h"
#include "src/core/text/byte_tokenizer.h"
#include "src/nn/adapters.h"
#include "src/nn/config.h"
#include "src/nn/examples.h"
#include "src/nn/expert.h"
#include "src/nn/model.h"
#include "tests/nn/test_util.h"

namespace libra::papers {
namespace {

nn::CausalLM TinyModel() {
  nn::ModelConfig c = nn::testing::TinyByteLlama();
  c.num_attention_heads = 2;
  torch::manual_seed(7);
  nn::CausalLM model(c);
  nn::FreezeBase(*model);
  return model;
}

std::vector<nn::TokenizedExample> TinyData() {
  text::ByteTokenizer tokenizer;
  std::vector<nn::TokenizedExample> data;
  for (const auto& [s, t] : std::vector<std::pair<std::string, std::string>>{
           {"abc", "cba"}, {"hello", "olleh"}, {"xyz", "zyx"}, {"12345", "54321"}}) {
    auto e = nn::EncodeExample(tokenizer, s, t, 32);
    EXPECT_TRUE(e.ok()) << e.status();
    data.push_back(*e);
  }
  return data;
}

LabConfig SmallConfig() {
  LabConfig config;
  config.targets = {"q_proj", "v_proj"};
  config.rank = 2;
  config.alpha = 4;
  config.expert_steps = 3;
  config.expert_batch = 2;
  return config;
}

TEST(TrainExpertOnTest, SparseKeepsTheRatioOfEveryModuleAndOnlyThoseEntries) {
  nn::CausalLM model = TinyModel();
  ExpertRecipe recipe = SparseRecipe(SmallConfig(), 0.05, 1, /*update_every=*/1);
  auto expert = TrainExpertOn(*model, TinyData(), recipe, 3);
  ASSERT_TRUE(expert.ok()) << expert.status();
  ASSERT_EQ(expert->size(), 4u);  // q_proj and v_proj of 2 layers
  int64_t total = 0;
  for (const nn::ExpertModule& m : *expert) {
    EXPECT_EQ(m.kind, nn::ExpertModule::Kind::kSparse) << m.module;
    EXPECT_EQ(m.sparse_shape, (std::vector<int64_t>{32, 32}));
    // round(0.05 * 1024) = 51 entries per module, unique and in range.
    ASSERT_EQ(m.sparse_indices.numel(), 51) << m.module;
    std::set<int64_t> unique;
    for (int64_t i = 0; i < 51; ++i) unique.insert(m.sparse_indices[i].item<int64_t>());
    EXPECT_EQ(unique.size(), 51u);
    EXPECT_GE(*unique.begin(), 0);
    EXPECT_LT(*unique.rbegin(), 1024);
    EXPECT_GT(m.sparse_values.abs().max().item<float>(), 0.0f) << "trained values stay 0";
    total += 51;
  }
  EXPECT_EQ(ExpertParameters(*expert), total);
  for (auto& [name, linear] : model->Linears()) EXPECT_EQ(linear->adapter(), nullptr) << name;
}

TEST(TrainExpertOnTest, LoraAndFullHaveTheirShapesAndParameterCounts) {
  nn::CausalLM model = TinyModel();
  auto lora = TrainExpertOn(*model, TinyData(), LoraRecipe(SmallConfig()), 1);
  ASSERT_TRUE(lora.ok()) << lora.status();
  ASSERT_EQ(lora->size(), 4u);
  EXPECT_EQ((*lora)[0].kind, nn::ExpertModule::Kind::kLora);
  EXPECT_DOUBLE_EQ((*lora)[0].scale, 2.0);  // alpha / rank
  EXPECT_EQ(ExpertParameters(*lora), 4 * 2 * (32 + 32));
  auto full = TrainExpertOn(*model, TinyData(), FullRecipe(SmallConfig()), 1);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ((*full)[0].kind, nn::ExpertModule::Kind::kDense);
  EXPECT_EQ(ExpertParameters(*full), 4 * 32 * 32);
  EXPECT_FALSE(TrainExpertOn(*model, {}, FullRecipe(SmallConfig()), 1).ok());
}

bool SameLoras(const Expert& a, const Expert& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].module != b[i].module || !torch::allclose(a[i].lora_a, b[i].lora_a, 1e-5, 1e-7) ||
        !torch::allclose(a[i].lora_b, b[i].lora_b, 1e-5, 1e-7)) {
      return false;
    }
  }
  return true;
}

// A learner fine-tuned task after task: the second call continues from the
// weights the first left (the same as attaching that snapshot and training
// it), unlike a fresh adapter; one call on a fresh adapter is TrainExpertOn.
TEST(TrainAttachedOnTest, ContinuesFromTheAttachedWeights) {
  nn::CausalLM model = TinyModel();
  const ExpertRecipe recipe = LoraRecipe(SmallConfig());
  const std::vector<nn::TokenizedExample> all = TinyData();
  const std::vector<nn::TokenizedExample> first(all.begin(), all.begin() + 2);
  const std::vector<nn::TokenizedExample> second(all.begin() + 2, all.end());

  ASSERT_TRUE(nn::AttachAdapters(*model, recipe.adapter, 5).ok());
  ASSERT_TRUE(TrainAttachedOn(*model, first, recipe, 5).ok());
  const Expert after_first = nn::ExtractExpert(*model);
  ASSERT_TRUE(TrainAttachedOn(*model, second, recipe, 6).ok());
  const Expert after_second = nn::ExtractExpert(*model);
  for (auto& [name, linear] : model->Linears()) {
    if (name.find("q_proj") != std::string::npos) EXPECT_NE(linear->adapter(), nullptr) << name;
  }
  EXPECT_FALSE(TrainAttachedOn(*model, {}, recipe, 6).ok());
  nn::DetachAdapters(*model);

  auto fresh_first = TrainExpertOn(*model, first, recipe, 5);
  ASSERT_TRUE(fresh_first.ok()) << fresh_first.status();
  EXPECT_TRUE(SameLoras(after_first, *fresh_first));

  ASSERT_TRUE(nn::ApplyExpert(*model, after_first, /*trainable=*/true).ok());
  ASSERT_TRUE(TrainAttachedOn(*model, second, recipe, 6).ok());
  EXPECT_TRUE(SameLoras(after_second, nn::ExtractExpert(*model)));
  nn::DetachAdapters(*model);

  EXPECT_FALSE(SameLoras(after_second, after_first));
  auto fresh_second = TrainExpertOn(*model, second, recipe, 6);
  ASSERT_TRUE(fresh_second.ok()) << fresh_second.status();
  EXPECT_FALSE(SameLoras(after_second, *fresh_second));
}

nn::ExpertModule SparseModule(const std::string& name, std::vector<int64_t> indices,
                              std::vector<float> values) {
  nn::ExpertModule m;
  m.module = name;
  m.kind = nn::ExpertModule::Kind::kSparse;
  m.sparse_shape = {3, 4};
  m.sparse_indices = torch::tensor(indices, torch::kInt64);
  m.sparse_values = torch::tensor(values, torch::kFloat32);
  return m;
}

torch::Tensor Dense(const nn::ExpertModule& m) {
  if (m.kind == nn::ExpertModule::Kind::kDense) return m.delta;
  if (m.kind == nn::ExpertModule::Kind::kLora) return m.scale * torch::matmul(m.lora_b, m.lora_a);
  torch::Tensor d = torch::zeros({m.sparse_shape[0] * m.sparse_shape[1]});
  d.index_put_({m.sparse_indices}, m.sparse_values);
  return d.view({m.sparse_shape[0], m.sparse_shape[1]});
}

TEST(MergeExpertsTest, SparseOverlapDividesEachEntryByItsCoverCount) {
  Expert a = {SparseModule("m", {0, 5, 7}, {1, 2, 3})};
  Expert b = {SparseModule("m", {5, 7, 11}, {4, -1, 6})};
  Expert c = {SparseModule("m", {5}, {9})};
  auto merged = MergeExperts({&a, &b, &c}, "sparse_overlap");
  ASSERT_TRUE(merged.ok()) << merged.status();
  ASSERT_EQ(merged->size(), 1u);
  EXPECT_EQ((*merged)[0].kind, nn::ExpertModule::Kind::kSparse);
  // Direct: entry 0 only in a; 5 in a, b, c; 7 in a, b; 11 only in b.
  torch::Tensor expected = torch::zeros({12});
  expected[0] = 1.0;
  expected[5] = (2.0 + 4.0 + 9.0) / 3.0;
  expected[7] = (3.0 - 1.0) / 2.0;
  expected[11] = 6.0;
  EXPECT_TRUE(torch::allclose(Dense((*merged)[0]), expected.view({3, 4}), 1e-6, 1e-6));
}

TEST(MergeExpertsTest, UniformOfLorasIsTheMeanOfTheirDeltas) {
  torch::manual_seed(5);
  std::vector<Expert> experts(3);
  torch::Tensor sum = torch::zeros({6, 5});
  for (Expert& e : experts) {
    nn::ExpertModule m;
    m.module = "m";
    m.lora_a = torch::randn({2, 5});
    m.lora_b = torch::randn({6, 2});
    m.scale = 0.5;
    sum += 0.5 * torch::matmul(m.lora_b, m.lora_a);
    e.push_back(m);
  }
  auto merged = MergeExperts({&experts[0], &experts[1], &experts[2]}, "uniform");
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_TRUE(torch::allclose(Dense((*merged)[0]), sum / 3.0, 1e-5, 1e-5));
}

TEST(MergeExpertsTest, TiesKeepsTheElectedSignsMeanOfTopEntries) {
  // Density 0.5 of 4 entries keeps the 2 largest |values| of each expert.
  nn::ExpertModule m1, m2;
  m1.module = m2.module = "m";
  m1.kind = m2.kind = nn::ExpertModule::Kind::kDense;
  m1.delta = torch::tensor({4.0f, -1.0f, 0.5f, 3.0f}).view({2, 2});
  m2.delta = torch::tensor({-2.0f, 5.0f, 0.1f, 1.0f}).view({2, 2});
  Expert a = {m1}, b = {m2};
  merge::MergeArguments args;
  args.scalars["density"] = 0.5;
  auto merged = MergeExperts({&a, &b}, "ties", args);
  ASSERT_TRUE(merged.ok()) << merged.status();
  // Trimmed: a = [4, 0, 0, 3], b = [-2, 5, 0, 0]. Elected sign of the sums
  // [2, 5, 0, 3]: +, +, none, +. Mean of the agreeing entries: [4, 5, 0, 3].
  torch::Tensor expected = torch::tensor({4.0f, 5.0f, 0.0f, 3.0f}).view({2, 2});
  EXPECT_TRUE(torch::allclose(Dense((*merged)[0]), expected, 1e-6, 1e-6));
}

TEST(MergeExpertsTest, ErrorsNameTheMethodOrTheModule) {
  Expert a = {SparseModule("m", {0}, {1})};
  Expert b = {SparseModule("other", {0}, {1})};
  auto unknown = MergeExperts({&a}, "sparse_overlapp");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("sparse_overlapp"), std::string::npos);
  auto mismatch = MergeExperts({&a, &b}, "sparse_overlap");
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mismatch.status().message().find("\"m\""), std::string::npos);
  EXPECT_FALSE(MergeExperts({}, "uniform").ok());
  auto ties = MergeExperts({&a}, "ties");  // density is required
  EXPECT_FALSE(ties.ok());
}

TEST(ScoreLearningRatesTest, ScoresEachRateOnValidationAndPicksTheBest) {
  nn::CausalLM model = TinyModel();
  LabTask task;
  task.name = "reverse";
  task.train_tokens = TinyData();
  task.validation_tokens = TinyData();
  LabConfig config = SmallConfig();
  config.expert_steps = 40;
  std::vector<double> asked;
  ExpertSource source = [&](const ExpertRecipe& recipe, const LabTask& t) {
    asked.push_back(recipe.learning_rate);
    return TrainExpertOn(*model, t.train_tokens, recipe, 5);
  };
  const double untrained = TokenAccuracy(*model, task.validation_tokens);
  auto scores = ScoreLearningRates(*model, FullRecipe(config), {0.0, 3e-2}, {&task}, source);
  ASSERT_TRUE(scores.ok()) << scores.status();
  ASSERT_EQ(scores->size(), 2u);
  EXPECT_EQ(asked, (std::vector<double>{0.0, 3e-2}));
  // At rate 0 the delta stays zero: the model scores as it does without one.
  EXPECT_EQ((*scores)[0].learning_rate, 0.0);
  EXPECT_DOUBLE_EQ((*scores)[0].validation_accuracy, untrained);
  // Trained on the same examples it is scored on, a real rate must gain.
  EXPECT_GT((*scores)[1].validation_accuracy, untrained + 0.1);
  EXPECT_EQ(BestLearningRate(*scores), 3e-2);
  for (auto& [name, linear] : model->Linears()) EXPECT_EQ(linear->adapter(), nullptr) << name;
}

TEST(ScoreLearningRatesTest, MergedScoreIsTheMergeOfTheRatesExpertsOnEveryTask) {
  nn::CausalLM model = TinyModel();
  const std::vector<nn::TokenizedExample> data = TinyData();
  LabTask a, b;
  a.name = "a";
  b.name = "b";
  a.train_tokens = a.validation_tokens = {data[0], data[1]};
  b.train_tokens = b.validation_tokens = {data[2], data[3]};
  LabConfig config = SmallConfig();
  config.expert_steps = 20;
  const ExpertRecipe recipe = FullRecipe(config);
  ExpertSource source = [&](const ExpertRecipe& r, const LabTask& t) {
    return TrainExpertOn(*model, t.train_tokens, r, 5);
  };
  const double untrained =
      0.5 * (TokenAccuracy(*model, a.validation_tokens) + TokenAccuracy(*model, b.validation_tokens));
  auto scores = ScoreLearningRates(*model, recipe, {0.0, 3e-2}, {&a, &b}, source,
                                   LearningRateMerge{"uniform", {}});
  ASSERT_TRUE(scores.ok()) << scores.status();
  ASSERT_EQ(scores->size(), 2u);
  // Rate 0: zero deltas, and so a zero merge.
  ASSERT_TRUE((*scores)[0].merged_validation_accuracy.has_value());
  EXPECT_DOUBLE_EQ(*(*scores)[0].merged_validation_accuracy, untrained);
  EXPECT_DOUBLE_EQ((*scores)[0].validation_accuracy, untrained);
  // Rate 3e-2: the merge by hand, the mean of the two full deltas.
  ExpertRecipe at_rate = recipe;
  at_rate.learning_rate = 3e-2;
  auto expert_a = source(at_rate, a), expert_b = source(at_rate, b);
  ASSERT_TRUE(expert_a.ok() && expert_b.ok());
  Expert by_hand = *expert_a;
  for (size_t m = 0; m < by_hand.size(); ++m) {
    ASSERT_EQ((*expert_b)[m].module, by_hand[m].module);
    by_hand[m].delta = 0.5 * ((*expert_a)[m].delta + (*expert_b)[m].delta);
  }
  ASSERT_TRUE(nn::ApplyExpert(*model, by_hand, /*trainable=*/false).ok());
  const double merged =
      0.5 * (TokenAccuracy(*model, a.validation_tokens) + TokenAccuracy(*model, b.validation_tokens));
  nn::DetachAdapters(*model);
  const LearningRateScore& trained = (*scores)[1];
  ASSERT_TRUE(trained.merged_validation_accuracy.has_value());
  EXPECT_NEAR(*trained.merged_validation_accuracy, merged, 1e-12);
  EXPECT_DOUBLE_EQ(trained.objective(), 0.5 * (trained.validation_accuracy + merged));
  for (auto& [name, linear] : model->Linears()) EXPECT_EQ(linear->adapter(), nullptr) << name;
  // Without a merge nothing is merged, and the objective is the single score.
  auto single = ScoreLearningRates(*model, recipe, {3e-2}, {&a, &b}, source);
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_FALSE((*single)[0].merged_validation_accuracy.has_value());
  EXPECT_DOUBLE_EQ((*single)[0].objective(), trained.validation_accuracy);
}

TEST(ScoreLearningRatesTest, ARateWhoseExpertsMergeBadlyLoses) {
  // Own task 0.9 but merged 0.1 (mean 0.5) against 0.8 and 0.5 (mean 0.65).
  const std::vector<LearningRateScore> both = {{1e-1, 0.9, 0.1}, {1e-2, 0.8, 0.5}};
  EXPECT_EQ(BestLearningRate(both), 1e-2);
  EXPECT_EQ(BestLearningRate({{1e-1, 0.9}, {1e-2, 0.8}}), 1e-1);
}

TEST(ScoreLearningRatesTest, TiesGoToTheEarlierRate) {
  EXPECT_EQ(BestLearningRate({{1e-3, 0.5}, {3e-3, 0.5}, {1e-2, 0.4}}), 1e-3);
  EXPECT_EQ(BestLearningRate({{1e-3, 0.4}, {3e-3, 0.5}, {1e-2, 0.5}}), 3e-3);
}

TEST(ScoreLearningRatesTest, ATaskWithoutValidationExamplesIsNamed) {
  nn::CausalLM model = TinyModel();
  LabTask task;
  task.name = "no_validation";
  task.train_tokens = TinyData();
  ExpertSource source = [&](const ExpertRecipe& recipe, const LabTask& t) {
    return TrainExpertOn(*model, t.train_tokens, recipe, 5);
  };
  auto scores = ScoreLearningRates(*model, LoraRecipe(SmallConfig()), {1e-3}, {&task}, source);
  ASSERT_FALSE(scores.ok());
  EXPECT_NE(scores.status().message().find("no_validation"), std::string::npos) << scores.status();
  EXPECT_FALSE(ScoreLearningRates(*model, LoraRecipe(SmallConfig()), {}, {&task}, source).ok());
}

TEST(ExpertRecipeTest, KeyChangesWithEveryTrainingChoice) {
  LabConfig config = SmallConfig();
  EXPECT_NE(SparseRecipe(config, 0.05, 1).ToJson(), SparseRecipe(config, 0.01, 1).ToJson());
  EXPECT_NE(SparseRecipe(config, 0.05, 1).ToJson(), SparseRecipe(config, 0.05, 16).ToJson());
  EXPECT_NE(LoraRecipe(config).ToJson(), FullRecipe(config).ToJson());
  ExpertRecipe longer = FullRecipe(config);
  longer.steps += 1;
  EXPECT_NE(longer.ToJson(), FullRecipe(config).ToJson());
}

// The registry's "uniform" on LoRA experts against the direct formula
// sum_e s_e B_e A_e / E in torch (float rounding apart: the registry
// multiplies in its own kernels).
TEST(UniformMergeTest, RegistryUniformIsTheMeanOfTheLoraProducts) {
  torch::manual_seed(21);
  const std::vector<std::pair<std::string, std::vector<int64_t>>> modules = {
      {"model.layers.0.self_attn.q_proj", {16, 16}},
      {"model.layers.0.mlp.down_proj", {16, 24}},
      {"model.layers.1.self_attn.v_proj", {8, 16}}};
  std::vector<Expert> experts(5);
  for (size_t e = 0; e < experts.size(); ++e) {
    for (const auto& [name, shape] : modules) {
      nn::ExpertModule m;
      m.module = name;
      m.lora_a = torch::randn({4, shape[1]});
      m.lora_b = torch::randn({shape[0], 4});
      m.scale = 0.25 + 0.5 * e;
      experts[e].push_back(m);
    }
  }
  std::vector<const Expert*> pointers;
  for (const Expert& e : experts) pointers.push_back(&e);
  auto merged = MergeExperts(pointers, "uniform", {});
  ASSERT_TRUE(merged.ok()) << merged.status();
  ASSERT_EQ(merged->size(), modules.size());
  std::map<std::string, torch::Tensor> by_module;
  for (const nn::ExpertModule& m : *merged) by_module[m.module] = m.delta;
  for (size_t i = 0; i < modules.size(); ++i) {
    torch::Tensor expected = torch::zeros(modules[i].second);
    for (const Expert& e : experts) {
      expected += e[i].scale * torch::matmul(e[i].lora_b, e[i].lora_a);
    }
    expected /= static_cast<double>(experts.size());
    ASSERT_EQ(by_module.count(modules[i].first), 1u) << modules[i].first;
    EXPECT_TRUE(torch::allclose(by_module[modules[i].first], expected, 1e-5, 1e-6))
        << modules[i].first;
  }
  EXPECT_FALSE(MergeExperts({}, "uniform", {}).ok());
}

// Attached as a frozen dense delta (the testbed's held-out merges), the
// merge gives the forward pass of the base with the mean delta added to the
// module's weight by hand.
TEST(UniformMergeTest, AttachedMergeAddsTheMeanDeltaToTheWeight) {
  nn::CausalLM model = TinyModel();
  const std::string module = "model.layers.0.self_attn.q_proj";
  torch::manual_seed(3);
  std::vector<Expert> experts(3);
  for (Expert& e : experts) {
    nn::ExpertModule m;
    m.module = module;
    m.lora_a = torch::randn({2, 32});
    m.lora_b = torch::randn({32, 2});
    m.scale = 0.5;
    e.push_back(m);
  }
  torch::Tensor ids = torch::tensor(std::vector<int64_t>{1, 5, 9, 30}).view({1, -1});
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    torch::Tensor delta = torch::zeros({32, 32});
    for (const Expert& e : experts) delta += e[0].scale * torch::matmul(e[0].lora_b, e[0].lora_a);
    torch::Tensor weight;
    for (auto& [name, linear] : model->Linears()) {
      if (name == module) weight = linear->weight;
    }
    ASSERT_TRUE(weight.defined());
    weight.add_(delta / 3.0);
    expected = model->forward(ids).clone();
    weight.sub_(delta / 3.0);
  }
  auto merged = MergeExperts({&experts[0], &experts[1], &experts[2]}, "uniform");
  ASSERT_TRUE(merged.ok()) << merged.status();
  ASSERT_TRUE(nn::ApplyExpert(*model, *merged, /*trainable=*/false).ok());
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(model->forward(ids), expected, 1e-5, 1e-5));
}

}  // namespace
}  // namespace libra::papers
