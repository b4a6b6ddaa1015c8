#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/planning_tokens.h"

#include <set>
#include <vector>

#include <torch/torch.h>

#include "gtest/gtest.h"
#include "src/core/text/byte_tokenizer.h"
#include "src/nn/model.h"
#include "tests/nn/test_util.h"

namespace libra::nn {
namespace {

using testing::TempDir;
using testing::TinyByteLlama;
using testing::TinyLlama;

CausalLM TiedModel(uint64_t seed) {
  torch::manual_seed(seed);
  ModelConfig config = TinyByteLlama();
  config.tie_word_embeddings = true;
  CausalLM model(config);
  model->eval();
  return model;
}

// Step embeddings against hidden states computed one token at a time through
// the KV cache (a different code path), averaged by an explicit loop.
TEST(PlanningTokensNnTest, StepEmbeddingsAreDirectPerStepMeans) {
  CausalLM model = TiedModel(1);
  const std::vector<int64_t> ids = {257, 81, 58, 32, 51, 43, 52, 61, 55, 10, 55, 42, 50, 61, 49, 52};
  const std::vector<std::pair<int64_t, int64_t>> spans = {{4, 10}, {10, 16}};
  auto embeddings = StepEmbeddings(*model, ids, spans);
  ASSERT_TRUE(embeddings.ok()) << embeddings.status();
  ASSERT_EQ(embeddings->sizes(), (std::vector<int64_t>{2, 32}));
  torch::NoGradGuard no_grad;
  KvCache cache;
  std::vector<torch::Tensor> states;
  for (int64_t id : ids) {
    states.push_back(model->Hidden(torch::tensor({{id}}, torch::kInt64), &cache)[0][0]);
  }
  for (size_t s = 0; s < spans.size(); ++s) {
    torch::Tensor sum = torch::zeros({32});
    for (int64_t t = spans[s].first; t < spans[s].second; ++t) sum += states[t];
    const torch::Tensor expected = sum / static_cast<double>(spans[s].second - spans[s].first);
    EXPECT_TRUE(torch::allclose((*embeddings)[s], expected, 1e-4, 1e-5)) << s;
  }
  // Conditioned on what comes before: the second step alone embeds differently.
  auto alone = StepEmbeddings(*model, std::vector<int64_t>(ids.begin() + 10, ids.end()), {{0, 6}});
  ASSERT_TRUE(alone.ok());
  EXPECT_FALSE(torch::allclose((*alone)[0], (*embeddings)[1], 1e-3, 1e-4));
  EXPECT_FALSE(StepEmbeddings(*model, ids, {{3, 17}}).ok());
  EXPECT_FALSE(StepEmbeddings(*model, ids, {{5, 5}}).ok());
}

TEST(PlanningTokensNnTest, KMeansTypesRecoverSeparatedGroups) {
  torch::manual_seed(0);
  torch::Tensor centres = torch::tensor({{10.0f, 0.0f}, {0.0f, 10.0f}, {-10.0f, -10.0f}});
  std::vector<int> truth;
  std::vector<torch::Tensor> rows;
  for (int i = 0; i < 30; ++i) {
    truth.push_back(i % 3);
    rows.push_back(centres[i % 3] + 0.1 * torch::randn({2}));
  }
  auto types = KMeansTypes(torch::stack(rows), 3, 42);
  ASSERT_TRUE(types.ok()) << types.status();
  for (int i = 0; i < 30; ++i) {
    for (int j = 0; j < 30; ++j) EXPECT_EQ((*types)[i] == (*types)[j], truth[i] == truth[j]);
  }
}

// The loss against the formula, element by element in double precision.
TEST(PlanningTokensNnTest, SqVaeLossMatchesTheFormula) {
  torch::manual_seed(3);
  SqVaeOutput out{torch::randn({3, 4}), torch::randn({3, 4}), torch::randn({3, 5})};
  torch::Tensor x = torch::randn({3, 5});
  double expected = 0;
  for (int n = 0; n < 3; ++n) {
    double reconstruction = 0, kl = 0;
    for (int d = 0; d < 5; ++d) {
      const double diff = x[n][d].item<double>() - out.x_hat[n][d].item<double>();
      reconstruction += diff * diff;
    }
    for (int k = 0; k < 4; ++k) {
      const double mu = out.mu[n][k].item<double>(), lv = out.log_var[n][k].item<double>();
      kl += 0.5 * (mu * mu + std::exp(lv) - lv - 1.0);
    }
    expected += 0.5 * reconstruction + 0.1 * kl;
  }
  EXPECT_NEAR(SqVaeLoss(out, x, 0.1).item<double>(), expected / 3, 1e-4);
}

TEST(PlanningTokensNnTest, SqVaeTypesSeparateDistantGroupsDeterministically) {
  torch::manual_seed(5);
  std::vector<torch::Tensor> groups;
  for (int g = 0; g < 40; ++g) {
    const float centre = g % 2 == 0 ? 4.0f : -4.0f;
    groups.push_back(centre + 0.1 * torch::randn({2, 8}));
  }
  SqVaeOptions options;
  options.types = 3;
  options.hidden = 32;
  options.code_dim = 8;
  options.learning_rate = 1e-3;
  options.epochs = 30;
  options.seed = 7;
  auto types = SqVaeTypes(groups, options);
  ASSERT_TRUE(types.ok()) << types.status();
  ASSERT_EQ(types->size(), 80u);
  std::set<int> even, odd;
  for (int g = 0; g < 40; ++g) {
    for (int r = 0; r < 2; ++r) (g % 2 == 0 ? even : odd).insert((*types)[2 * g + r]);
  }
  EXPECT_EQ(even.size(), 1u);
  EXPECT_EQ(odd.size(), 1u);
  EXPECT_NE(*even.begin(), *odd.begin());
  EXPECT_EQ(*SqVaeTypes(groups, options), *types);
  options.epochs = 0;
  EXPECT_FALSE(SqVaeTypes(groups, options).ok());
}

// A new token whose rows copy byte 'a''s behaves exactly like 'a' in a tied
// model: same hidden states, and its logit equals 'a''s (bias 0).
TEST(PlanningTokensNnTest, AddedTokensUseTheirOwnInputAndOutputRows) {
  CausalLM model = TiedModel(2);
  torch::NoGradGuard no_grad;
  torch::Tensor before = model->forward(torch::tensor({{97, 98, 99}}, torch::kInt64));
  torch::Tensor rows = MeanEmbeddingRows(*model, {{'a'}, {'b', 'c'}});
  EXPECT_TRUE(torch::allclose(rows[1], (model->model->embed_tokens->weight[98] +
                                        model->model->embed_tokens->weight[99]) / 2));
  model->AddTokens(rows);
  EXPECT_EQ(model->vocab_size(), 262);
  EXPECT_EQ(model->config().vocab_size, 260);
  EXPECT_EQ(AddedTokenParameters(*model), 2 * (2 * 32 + 1));
  torch::Tensor with_new = model->forward(torch::tensor({{260, 98, 99}}, torch::kInt64));
  ASSERT_EQ(with_new.size(2), 262);
  EXPECT_TRUE(torch::allclose(with_new.narrow(2, 0, 260), before, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(with_new.select(2, 260), before.select(2, 97), 1e-5, 1e-6));
  // The output rows are untied: changing them leaves the inputs alone.
  model->added_lm_head->bias.fill_(1.0);
  torch::Tensor shifted = model->forward(torch::tensor({{260, 98, 99}}, torch::kInt64));
  EXPECT_TRUE(torch::allclose(shifted.select(2, 260), before.select(2, 97) + 1, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(shifted.narrow(2, 0, 260), before, 1e-5, 1e-6));
}

// Trained with the base frozen, the new rows change and the base does not;
// saved and loaded into a fresh copy of the base, they give the same logits.
TEST(PlanningTokensNnTest, NewRowsTrainSaveAndReload) {
  CausalLM model = TiedModel(4);
  model->AddTokens(MeanEmbeddingRows(*model, {{'p'}, {'q'}}));
  for (auto& [name, param] : BaseStateDict(*model)) param.set_requires_grad(false);
  const torch::Tensor base_embed = model->model->embed_tokens->weight.clone();
  const torch::Tensor initial = model->model->added_embed_tokens.clone();
  std::vector<torch::Tensor> trainable;
  for (auto& p : model->parameters()) {
    if (p.requires_grad()) trainable.push_back(p);
  }
  ASSERT_EQ(trainable.size(), 3u);  // input rows, output weight, output bias
  torch::optim::Adam adam(trainable, torch::optim::AdamOptions(1e-2));
  const torch::Tensor ids = torch::tensor({{97, 260, 98, 261, 99}}, torch::kInt64);
  for (int step = 0; step < 5; ++step) {
    adam.zero_grad();
    torch::Tensor logits = model->forward(ids.narrow(1, 0, 4));
    torch::nn::functional::cross_entropy(logits.reshape({4, -1}), ids.narrow(1, 1, 4).reshape({4}))
        .backward();
    adam.step();
  }
  EXPECT_TRUE(torch::equal(model->model->embed_tokens->weight, base_embed));
  EXPECT_FALSE(torch::allclose(model->model->added_embed_tokens, initial));
  const std::string path = TempDir("added") + "/added_tokens.safetensors";
  ASSERT_TRUE(SaveAddedTokens(*model, path).ok());
  CausalLM fresh = TiedModel(4);
  ASSERT_TRUE(LoadAddedTokens(*fresh, path).ok());
  EXPECT_FALSE(LoadAddedTokens(*fresh, path).ok());  // already has them
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(fresh->forward(ids), model->forward(ids), 1e-5, 1e-6));
  CausalLM wider(TinyLlama());
  EXPECT_FALSE(LoadAddedTokens(*wider, path).ok());  // hidden 16, rows of 32
  EXPECT_FALSE(SaveAddedTokens(*wider, path).ok());  // nothing to save
}

// A model whose rows run past the tokenizer (an embedding padded beyond
// tokenizer.json): placeholders fill the gap, so each planning token's id
// is its new row, recognised in text, starting from its key word's bytes.
TEST(PlanningTokensNnTest, AddPlanningTokensAlignsIdsWithNewRows) {
  torch::manual_seed(5);
  ModelConfig config = TinyByteLlama();
  config.vocab_size = 264;  // the byte tokenizer has 260
  CausalLM model(config);
  text::ByteTokenizer tokenizer;
  auto ids = AddPlanningTokens(*model, tokenizer, {"<plus_0>", "<prefix_0>"}, {"plus", "prefix"});
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, (std::vector<int32_t>{264, 265}));
  EXPECT_EQ(model->added_tokens(), 2);
  EXPECT_EQ(tokenizer.vocab_size(), 266);
  EXPECT_EQ(*tokenizer.Encode("<prefix_0><plus_0>3"), (std::vector<int32_t>{265, 264, '3'}));
  torch::Tensor plus = model->model->embed_tokens->weight.index_select(
                           0, torch::tensor({'p', 'l', 'u', 's'}, torch::kInt64))
                           .mean(0);
  EXPECT_TRUE(torch::allclose(model->model->added_embed_tokens[0], plus));
  // Again: the same token is in the vocabulary now.
  EXPECT_FALSE(AddPlanningTokens(*model, tokenizer, {"<plus_0>"}, {"plus"}).ok());
  // A tokenizer larger than the model cannot get rows that match.
  CausalLM small(TinyByteLlama());
  text::ByteTokenizer big;
  ASSERT_TRUE(big.AddTokens({"<x>", "<y>"}, true).ok());
  EXPECT_FALSE(AddPlanningTokens(*small, big, {"<plus_0>"}, {"plus"}).ok());
  text::ByteTokenizer fresh;
  EXPECT_FALSE(AddPlanningTokens(*small, fresh, {"<a_0>"}, {""}).ok());
}

}  // namespace
}  // namespace libra::nn
