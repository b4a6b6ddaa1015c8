// Generation that writes planning tokens: a tiny byte-level model with the
// planning vocabulary added (tokenizer and model rows), fitted to one planned
// chain, must emit the step's type token as one added id right after the
// prompt's prefix token, and SolveGreedily must decode the whole plan,
// extract the answer behind the planning tokens and judge it.
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <string>
#include <vector>

#include <torch/torch.h>

#include "gtest/gtest.h"
#include "papers/planning_tokens/arithmetic_base.h"
#include "src/core/text/byte_tokenizer.h"
#include "src/data/gsm8k.h"
#include "src/data/planning_tokens.h"
#include "src/nn/eval.h"
#include "src/nn/examples.h"
#include "src/nn/model.h"
#include "src/nn/planning_tokens.h"
#include "src/nn/trainer.h"
#include "tests/nn/test_util.h"

namespace libra::papers {
namespace {

TEST(SolveGreedilyTest, EmitsTheTypeTokenAndJudgesTheAnswerBehindThePlan) {
  const data::PlanningOptions options{/*n_prefix=*/1, /*n_special=*/1};
  data::Gsm8kExample example;
  example.question = "Tom has 3 apples and gets 4 more. How many?";
  example.steps = {"3+4=7."};
  example.answer = "7";
  const std::string target = data::PlannedChain(example.steps, {{"plus"}}, "7", options);
  ASSERT_EQ(target, "<prefix_0><plus_0>3+4=7.\n<prefix_0><answer_0>The answer is: 7");

  text::ByteTokenizer tokenizer;
  const std::vector<std::string> vocabulary = data::PlanningVocabulary({"plus"}, options);
  ASSERT_TRUE(tokenizer.AddTokens(vocabulary, /*special=*/false).ok());
  torch::manual_seed(3);
  nn::CausalLM model(nn::testing::TinyByteLlama());
  std::vector<std::vector<int32_t>> words;
  for (const std::string& token : vocabulary) words.push_back({token[1]});
  model->AddTokens(nn::MeanEmbeddingRows(*model, words));
  ASSERT_EQ(model->vocab_size(), tokenizer.vocab_size());

  auto encoded = nn::EncodeExample(tokenizer, example.question, target, /*max_length=*/256);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  nn::TrainOptions train;
  train.learning_rate = 1e-2;
  train.schedule = nn::Schedule::kConstant;
  train.batch_size = 1;
  train.max_steps = 200;
  train.progress = false;
  ASSERT_TRUE(nn::Train(*model, {*encoded}, train).ok());

  // The prompt ends with the first step's prefix; the next id is the type's.
  const std::string prompt_suffix = data::StepPlan({}, {options.n_prefix, 0});
  ASSERT_EQ(prompt_suffix, "<prefix_0>");
  auto prompt = nn::EncodePrompt(tokenizer, example.question);
  ASSERT_TRUE(prompt.ok()) << prompt.status();
  prompt->push_back(*tokenizer.TokenToId("<prefix_0>"));
  model->eval();
  nn::GenerateOptions generate;
  generate.max_new_tokens = 60;
  std::vector<int64_t> out = nn::GreedyGenerate(*model, *prompt, *tokenizer.special_ids().eos,
                                                generate);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0], *tokenizer.TokenToId("<plus_0>"));

  data::Gsm8kExample wrong = example;
  wrong.answer = "8";
  std::vector<std::string> texts;
  auto verdicts = SolveGreedily(*model, tokenizer, {example, wrong}, prompt_suffix,
                                /*max_new_tokens=*/60, &texts);
  ASSERT_TRUE(verdicts.ok()) << verdicts.status();
  EXPECT_EQ(*verdicts, (std::vector<bool>{true, false}));
  ASSERT_EQ(texts.size(), 2u);
  // The prompt's prefix token, then what the model wrote: the whole chain.
  EXPECT_EQ(texts[0], target);
}

}  // namespace
}  // namespace libra::papers
