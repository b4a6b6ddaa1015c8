#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/eval.h"

#include <gtest/gtest.h>

#include <random>

#include "src/core/text/byte_tokenizer.h"
#include "src/nn/metrics.h"
#include "tests/nn/test_util.h"

namespace libra::nn {
namespace {

TEST(MetricsTest, ExactMatchAndRougeL) {
  EXPECT_EQ(ExactMatch("  1 2\t3 ", "1 2 3"), 1.0);
  EXPECT_EQ(ExactMatch("1 2", "1 2 3"), 0.0);
  // LCS("a b c d", "a c d e") = "a c d": P = R = 3/4.
  EXPECT_DOUBLE_EQ(RougeL("a b c d", "a c d e"), 0.75);
  // LCS = 1 ("x"); P = 1/2, R = 1/3 -> F = 2 * (1/6) / (5/6) = 0.4.
  EXPECT_DOUBLE_EQ(RougeL("x y", "z x w"), 0.4);
  EXPECT_EQ(RougeL("", "a"), 0.0);
}

CausalLM Model() {
  ModelConfig c = testing::TinyLlama();
  c.vocab_size = 260;  // byte tokenizer
  c.num_attention_heads = 2;
  torch::manual_seed(4);
  CausalLM model(c);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.mul_(3.0);  // peaky logits, varied argmax
  return model;
}

TEST(EvalTest, GreedyWithCacheMatchesFullRecompute) {
  CausalLM model = Model();
  std::vector<int64_t> prompt = {257, 'a', 'b', 259};
  GenerateOptions options;
  options.max_new_tokens = 6;
  std::vector<int64_t> cached = GreedyGenerate(*model, prompt, /*eos=*/-1, options);
  ASSERT_EQ(cached.size(), 6u);
  torch::NoGradGuard no_grad;
  std::vector<int64_t> ids = prompt;
  for (int i = 0; i < 6; ++i) {
    torch::Tensor logits = model->forward(torch::tensor(ids).view({1, -1}));
    ids.push_back(logits[0][static_cast<int64_t>(ids.size()) - 1].argmax().item<int64_t>());
  }
  EXPECT_EQ(cached, std::vector<int64_t>(ids.begin() + 4, ids.end()));
  // Stops at eos (not included).
  std::vector<int64_t> stopped = GreedyGenerate(*model, prompt, cached[2], options);
  EXPECT_EQ(stopped, std::vector<int64_t>(cached.begin(), cached.begin() + 2));
}

TEST(EvalTest, OptionScoresAreSumsOfTokenLogProbs) {
  CausalLM model = Model();
  std::vector<int64_t> prompt = {257, 'q', 259};
  std::vector<std::vector<int64_t>> options = {{'x'}, {'y', 'z'}};
  std::vector<double> scores = ScoreOptions(*model, prompt, options, torch::kCPU);
  torch::NoGradGuard no_grad;
  // Independent path: step by step with the KV cache.
  for (size_t o = 0; o < options.size(); ++o) {
    KvCache cache;
    torch::Tensor logits = model->forward(torch::tensor(prompt).view({1, -1}), &cache);
    torch::Tensor last = logits[0][static_cast<int64_t>(prompt.size()) - 1];
    double total = 0.0;
    for (int64_t token : options[o]) {
      total += torch::log_softmax(last, -1)[token].item<double>();
      last = model->forward(torch::full({1, 1}, token, torch::kInt64), &cache)[0][0];
    }
    EXPECT_NEAR(scores[o], total, 1e-4);
  }
}

TEST(EvalTest, EvaluateScoresPredictions) {
  CausalLM model = Model();
  text::ByteTokenizer tokenizer;
  GenerateOptions options;
  options.max_new_tokens = 4;
  auto generated = GenerateText(*model, tokenizer, "ab", options);
  ASSERT_TRUE(generated.ok());
  // One example whose target is the model's own output, one that cannot match,
  // one multiple choice.
  std::vector<EvalExample> examples = {
      {"ab", *generated, {}}, {"ab", "zzzzzzzz", {}}, {"ab", "k", {"k", *generated}}};
  auto result = Evaluate(*model, tokenizer, examples, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->count, 3);
  EXPECT_EQ(result->multiple_choice, 1);
  EXPECT_EQ(result->predictions[0], *generated);
  EXPECT_GE(result->exact_match, 1.0 / 3 - 1e-12);
  EXPECT_GE(result->token_accuracy, 0.0);
  EXPECT_LE(result->token_accuracy, 1.0);
}

CausalLM PeakyTinyModel() {
  torch::manual_seed(7);
  CausalLM model(testing::TinyLlama());
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.mul_(3.0);  // peaky logits, varied argmax
  model->eval();
  return model;
}

// The model's greedy next token after `prefix`, from a pass over the prefix
// alone: no batch, no padding, no later positions.
int64_t NextToken(CausalLMImpl& model, const std::vector<int64_t>& prefix) {
  torch::NoGradGuard no_grad;
  return model.forward(torch::tensor(prefix, torch::kInt64).view({1, -1}))[0][-1]
      .argmax()
      .item<int64_t>();
}

TEST(TargetTokenAccuracyTest, EqualsPrefixByPrefixGreedyChoicesInAnyBatching) {
  CausalLM model = PeakyTinyModel();
  std::mt19937 rng(4);
  std::vector<TokenizedExample> examples;
  int64_t correct = 0, tokens = 0;
  for (int i = 0; i < 7; ++i) {
    TokenizedExample ex;
    const int length = 3 + static_cast<int>(rng() % 6);
    for (int k = 0; k < length; ++k) ex.ids.push_back(1 + static_cast<int64_t>(rng() % 39));
    ex.target_start = 1 + static_cast<int64_t>(rng() % (length - 1));
    // Half the target tokens are the model's own choice, so both outcomes occur.
    for (int64_t k = ex.target_start; k < length; ++k) {
      if (rng() % 2 == 0) ex.ids[k] = NextToken(*model, {ex.ids.begin(), ex.ids.begin() + k});
    }
    for (int64_t k = ex.target_start; k < length; ++k) {
      correct += NextToken(*model, {ex.ids.begin(), ex.ids.begin() + k}) == ex.ids[k];
      ++tokens;
    }
    examples.push_back(ex);
  }
  ASSERT_GT(correct, 0);
  ASSERT_LT(correct, tokens);
  for (int64_t batch : {1, 2, 3, 32}) {
    const TargetAccuracy accuracy = TargetTokenAccuracy(*model, examples, batch);
    EXPECT_EQ(accuracy.correct, correct) << batch;
    EXPECT_EQ(accuracy.tokens, tokens) << batch;
    EXPECT_DOUBLE_EQ(accuracy.all, static_cast<double>(correct) / tokens) << batch;
  }
}

TEST(TargetTokenAccuracyTest, CountsOnlyTheFirstOrTheLastTargetToken) {
  CausalLM model = PeakyTinyModel();
  // Two-token targets built from the model's own greedy choices: the first
  // token always agrees with it, the last agrees on even examples only.
  std::vector<TokenizedExample> examples;
  for (int i = 0; i < 5; ++i) {
    TokenizedExample ex;
    for (int k = 0; k <= i + 2; ++k) ex.ids.push_back((3 + 7 * i + k) % 40);
    ex.target_start = static_cast<int64_t>(ex.ids.size());
    ex.ids.push_back(NextToken(*model, ex.ids));
    const int64_t agree = NextToken(*model, ex.ids);
    ex.ids.push_back(i % 2 == 0 ? agree : (agree + 1) % 40);
    examples.push_back(ex);
  }
  const TargetAccuracy accuracy = TargetTokenAccuracy(*model, examples, 2);
  EXPECT_DOUBLE_EQ(accuracy.first, 1.0);
  EXPECT_DOUBLE_EQ(accuracy.end, 3.0 / 5);
  EXPECT_DOUBLE_EQ(accuracy.all, 8.0 / 10);
}

}  // namespace
}  // namespace libra::nn
