#include "src/data/synthetic/arithmetic_chains.h"

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "src/data/gsm8k.h"

namespace libra::data::synthetic {
namespace {

// Evaluates "12+5=17." independently of the generator: the left side's two
// operands and operator, checked against the right side.
void ExpectStepHolds(const std::string& step, int* result) {
  ASSERT_EQ(step.back(), '.');
  std::vector<std::string> sides = absl::StrSplit(step.substr(0, step.size() - 1), '=');
  ASSERT_EQ(sides.size(), 2u) << step;
  const size_t op = sides[0].find_first_of("+-*/");
  ASSERT_NE(op, std::string::npos) << step;
  int a = 0, b = 0;
  ASSERT_TRUE(absl::SimpleAtoi(sides[0].substr(0, op), &a)) << step;
  ASSERT_TRUE(absl::SimpleAtoi(sides[0].substr(op + 1), &b)) << step;
  ASSERT_TRUE(absl::SimpleAtoi(sides[1], result)) << step;
  switch (sides[0][op]) {
    case '+': EXPECT_EQ(a + b, *result) << step; break;
    case '-': EXPECT_EQ(a - b, *result) << step; break;
    case '*': EXPECT_EQ(a * b, *result) << step; break;
    case '/': EXPECT_EQ(a % b, 0) << step; EXPECT_EQ(a / b, *result) << step; break;
  }
  EXPECT_GE(*result, 0) << step;
}

TEST(ArithmeticChainsTest, EveryStepIsCorrectAndChainsTheLastResult) {
  ArithmeticChainOptions options;
  std::set<int> lengths;
  for (const Gsm8kExample& example : ArithmeticChains(options, "train", 300)) {
    ASSERT_EQ(static_cast<int>(example.steps.size()), example.chain_length);
    lengths.insert(example.chain_length);
    int previous = -1;
    for (const std::string& step : example.steps) {
      int result = 0;
      ExpectStepHolds(step, &result);
      if (previous >= 0) {
        EXPECT_EQ(step.rfind(std::to_string(previous), 0), 0u) << step;
      }
      EXPECT_LE(result, options.max_value);
      previous = result;
    }
    EXPECT_EQ(example.answer, std::to_string(previous));
    EXPECT_EQ(example.split, "train");
  }
  EXPECT_EQ(lengths, (std::set<int>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(ArithmeticChainsTest, ReadBackThroughTheGsm8kReader) {
  ArithmeticChainOptions options;
  options.calculator_annotations = true;
  std::vector<Gsm8kExample> examples = ArithmeticChains(options, "test", 20);
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/chains.jsonl";
  {
    std::ofstream out(path);
    for (const Gsm8kExample& e : examples) out << Gsm8kLine(e) << "\n";
  }
  auto read = ReadGsm8kJsonl(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), examples.size());
  for (size_t i = 0; i < examples.size(); ++i) {
    EXPECT_EQ((*read)[i].steps, examples[i].steps);
    EXPECT_EQ((*read)[i].answer, examples[i].answer);
    EXPECT_EQ((*read)[i].chain_length, examples[i].chain_length);
    auto annotations = CalculatorAnnotations((*read)[i].steps[0]);
    ASSERT_TRUE(annotations.ok());
    EXPECT_EQ(annotations->size(), 1u);
  }
}

// Held-out phrasings occur in test only; every operator has more than one
// training phrasing; splits share no problem.
TEST(ArithmeticChainsTest, HeldOutPhrasingsOnlyInTestAndSplitsDisjoint) {
  ArithmeticChainOptions options;
  options.min_steps = options.max_steps = 1;
  const std::vector<std::string> held_out = {"finds", "sells", "ends up with", "shares them"};
  auto count_held_out = [&](const std::vector<Gsm8kExample>& examples) {
    int n = 0;
    for (const Gsm8kExample& e : examples) {
      for (const std::string& marker : held_out) n += e.question.find(marker) != std::string::npos;
    }
    return n;
  };
  auto train = ArithmeticChains(options, "train", 400);
  auto test = ArithmeticChains(options, "test", 100);
  EXPECT_EQ(count_held_out(train), 0);
  EXPECT_EQ(count_held_out(ArithmeticChains(options, "validation", 100)), 0);
  EXPECT_GT(count_held_out(test), 20);
  std::set<std::string> train_steps;
  for (const auto& e : train) train_steps.insert(e.steps[0]);
  for (const auto& e : test) EXPECT_EQ(train_steps.count(e.steps[0]), 0u) << e.steps[0];
  for (char op : {'+', '-', '*', '/'}) {
    EXPECT_GE(TrainPhrasings(op), 2);
    EXPECT_GE(HeldOutPhrasings(op), 1);
  }
}

// "all" (a base's pretraining) draws problems of every split, in training
// phrasings only.
TEST(ArithmeticChainsTest, AllSplitCoversEverySplitInTrainingPhrasings) {
  ArithmeticChainOptions options;
  options.min_steps = options.max_steps = 1;
  options.max_value = 30;
  options.max_start = 30;
  std::set<std::string> all_steps;
  for (const auto& e : ArithmeticChains(options, "all", 20000)) {
    all_steps.insert(e.steps[0]);
    for (const char* marker : {"finds", "sells", "ends up with", "shares them"}) {
      EXPECT_EQ(e.question.find(marker), std::string::npos) << e.question;
    }
  }
  for (const char* split : {"train", "validation", "test"}) {
    int covered = 0;
    const auto examples = ArithmeticChains(options, split, 50);
    for (const auto& e : examples) covered += all_steps.count(e.steps[0]);
    EXPECT_EQ(covered, 50) << split;
  }
}

TEST(ArithmeticChainsTest, DeterministicPerSeedAndOperatorsRecovered) {
  ArithmeticChainOptions options;
  auto a = ArithmeticChains(options, "train", 30);
  auto b = ArithmeticChains(options, "train", 30);
  options.seed = 2;
  auto c = ArithmeticChains(options, "train", 30);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].question, b[i].question);
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i].question != c[i].question;
  EXPECT_GT(differ, 20);
  Gsm8kExample hand{"q", {"3+4=7.", "7*2=14.", "14/7=2.", "2-1=1."}, "1", 4, ""};
  EXPECT_EQ(ChainOperators(hand), (std::vector<char>{'+', '*', '/', '-'}));
}

}  // namespace
}  // namespace libra::data::synthetic
