#include "src/data/planning_tokens.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/core/text/byte_tokenizer.h"
#include "src/nn/examples.h"

namespace libra::data {
namespace {

using ::testing::ElementsAre;
using Types = std::vector<std::string>;

TEST(PlanningTokensTest, ArithmeticTypesOfHandWrittenSteps) {
  // Annotations win over the text; duplicates are kept.
  EXPECT_EQ(ArithmeticTypes("Natalia sold 48/2 = <<48/2=24>>24 clips in May."), Types{"divide"});
  EXPECT_EQ(ArithmeticTypes("He pays 2 x 3 x 4 = <<2*3*4=24>>24."), (Types{"times", "times"}));
  EXPECT_EQ(ArithmeticTypes("So <<5+3=8>>8 then <<8-2=6>>6 left."), (Types{"plus", "minus"}));
  // No annotation: the text's operators.
  EXPECT_EQ(ArithmeticTypes("12+5=17."), Types{"plus"});
  EXPECT_EQ(ArithmeticTypes("3 * 4 - 2 = 10."), (Types{"times", "minus"}));
  // A sign is not an operator.
  EXPECT_EQ(ArithmeticTypes("<<-3+5=2>>2"), Types{"plus"});
  EXPECT_EQ(ArithmeticTypes("It is 4 * -2 = -8."), Types{"times"});
  // No operator at all.
  EXPECT_EQ(ArithmeticTypes("She has 12 apples."), Types{"assignment"});
  EXPECT_EQ(ArithmeticTypes("The total is <<12>>12."), Types{"assignment"});
}

TEST(PlanningTokensTest, InsertionOnAWorkedExample) {
  const PlanningOptions options{/*n_prefix=*/2, /*n_special=*/1};
  EXPECT_EQ(PlannedChain({"3+4=7.", "7*2=14."}, {{"plus"}, {"times"}}, "14", options),
            "<prefix_0><prefix_1><plus_0>3+4=7.\n"
            "<prefix_0><prefix_1><times_0>7*2=14.\n"
            "<prefix_0><prefix_1><answer_0>The answer is: 14");
  // General control: untyped tokens only.
  const PlanningOptions general{/*n_prefix=*/3, /*n_special=*/0};
  EXPECT_EQ(PlannedChain({"3+4=7."}, {{"plus"}}, "7", general),
            "<prefix_0><prefix_1><prefix_2>3+4=7.\n<prefix_0><prefix_1><prefix_2>The answer is: 7");
  EXPECT_EQ(PlainChain({"3+4=7."}, "7"), "3+4=7.\nThe answer is: 7");
  EXPECT_THAT(PlanningVocabulary({"plus", "times", "plus"}, {1, 2}),
              ElementsAre("<prefix_0>", "<answer_0>", "<answer_1>", "<plus_0>", "<plus_1>",
                          "<times_0>", "<times_1>"));
}

// The question is the masked prompt; every planning token is in the loss.
TEST(PlanningTokensTest, PlanningTokensAreInTheLossAndTheQuestionIsMasked) {
  const PlanningOptions options{1, 1};
  text::ByteTokenizer tokenizer;
  auto added = tokenizer.AddTokens(PlanningVocabulary({"plus"}, options), /*special=*/false);
  ASSERT_TRUE(added.ok());
  const std::string question = "Ana has 3. She gets 4 more.";
  auto example = nn::EncodeExample(
      tokenizer, question, PlannedChain({"3+4=7."}, {{"plus"}}, "7", options), 256);
  ASSERT_TRUE(example.ok()) << example.status();
  // [bos] question [sep] | <prefix_0> <plus_0> "3+4=7.\n" <prefix_0> <answer_0> "The ..." [eos]
  ASSERT_EQ(example->target_start, 1 + static_cast<int64_t>(question.size()) + 1);
  const std::vector<int64_t>& ids = example->ids;
  for (int64_t i = 0; i < example->target_start; ++i) {
    EXPECT_LT(ids[i], text::ByteTokenizer::kBaseVocabSize) << i;
  }
  const int64_t t = example->target_start;
  const int32_t prefix = *tokenizer.TokenToId("<prefix_0>");
  const int32_t plus = *tokenizer.TokenToId("<plus_0>");
  const int32_t answer = *tokenizer.TokenToId("<answer_0>");
  EXPECT_EQ(ids[t], prefix);
  EXPECT_EQ(ids[t + 1], plus);
  EXPECT_EQ(ids[t + 2], '3');
  const int64_t answer_line = t + 2 + 7;  // after "3+4=7.\n"
  EXPECT_EQ(ids[answer_line], prefix);
  EXPECT_EQ(ids[answer_line + 1], answer);
  EXPECT_EQ(ids.back(), text::ByteTokenizer::kEosId);
  int planning = 0;
  for (int64_t id : ids) planning += id >= text::ByteTokenizer::kBaseVocabSize;
  EXPECT_EQ(planning, 4);
}

TEST(PlanningTokensTest, ExtractsTheAnswer) {
  EXPECT_EQ(ExtractAnswer("1+1=2.\nThe answer is: 72"), "72");
  EXPECT_EQ(ExtractAnswer("The answer is: 3. The answer is: -1,200."), "-1200");
  EXPECT_EQ(ExtractAnswer("The answer is:2.5"), "2.5");
  EXPECT_EQ(ExtractAnswer("The answer is: seven"), std::nullopt);
  EXPECT_EQ(ExtractAnswer("no answer 7"), std::nullopt);
  EXPECT_TRUE(SameAnswer("72", "72.0"));
  EXPECT_FALSE(SameAnswer("72", "27"));
  EXPECT_FALSE(SameAnswer("x", "x"));
}

}  // namespace
}  // namespace libra::data
