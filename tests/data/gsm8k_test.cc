#include "src/data/gsm8k.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace libra::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string WriteTemp(const std::string& name, const std::string& contents) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

// The first GSM8K training problem, as the data set writes it.
constexpr char kNatalia[] =
    R"({"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as )"
    R"(many clips in May. How many clips did Natalia sell altogether in April and May?", )"
    R"("answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = )"
    R"(<<48+24=72>>72 clips altogether in April and May.\n#### 72"})";

TEST(Gsm8kTest, ParsesTheFirstGsm8kProblem) {
  auto example = ParseGsm8kLine(kNatalia, "f:1");
  ASSERT_TRUE(example.ok()) << example.status();
  EXPECT_THAT(example->steps,
              ElementsAre("Natalia sold 48/2 = <<48/2=24>>24 clips in May.",
                          "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May."));
  EXPECT_EQ(example->answer, "72");
  EXPECT_EQ(example->chain_length, 2);
  EXPECT_EQ(example->split, "");
}

TEST(Gsm8kTest, SplitsOnNewlinesAndSentenceEndsAndAddsPeriods) {
  EXPECT_THAT(SplitSteps("He has 2.5 kg. She has 3\n\nSo 5.5 in all.\n"),
              ElementsAre("He has 2.5 kg.", "She has 3.", "So 5.5 in all."));
  EXPECT_THAT(SplitSteps(""), ElementsAre());
}

TEST(Gsm8kTest, ExtractsAndStripsAnnotations) {
  auto annotations = CalculatorAnnotations("a <<2*3*4=24>>24 then <<24-4=20>>20");
  ASSERT_TRUE(annotations.ok());
  EXPECT_THAT(*annotations, ElementsAre("2*3*4=24", "24-4=20"));
  EXPECT_EQ(StripAnnotations("a <<2*3=6>>6 b"), "a 6 b");
  EXPECT_FALSE(CalculatorAnnotations("x <<2+2=4").ok());
  EXPECT_FALSE(CalculatorAnnotations("x 2+2=4>>4").ok());
  EXPECT_FALSE(CalculatorAnnotations("<<1 <<2>> >>").ok());
}

TEST(Gsm8kTest, FinalAnswerMustBeANumber) {
  EXPECT_TRUE(IsNumber("72"));
  EXPECT_TRUE(IsNumber("-3.5"));
  EXPECT_FALSE(IsNumber("seventy"));
  EXPECT_FALSE(IsNumber("1.2.3"));
  EXPECT_FALSE(IsNumber("-"));
  auto commas = ParseGsm8kLine(R"({"question": "q", "answer": "a\n#### 1,200"})", "f:1");
  ASSERT_TRUE(commas.ok());
  EXPECT_EQ(commas->answer, "1200");
}

TEST(Gsm8kTest, BadLinesNameFileAndLine) {
  const std::string good = R"({"question": "q", "answer": "1+1=2\n#### 2"})";
  struct Case {
    std::string line, message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"question": "q", "answer": "1+1=2"})", "no \"#### N\""},
           {R"({"question": "q", "answer": "1+1=2\n#### two"})", "\"two\" is not a number"},
           {R"({"question": "q", "answer": "1+1=<<1+1=2 2\n#### 2"})", "unbalanced \"<<\""},
           {R"({"answer": "#### 2"})", "missing \"question\""},
           {R"({"question": "q", "answer": "#### 2", "split": "dev"})", "\"split\" is \"dev\""},
           {R"({"question": "q", "answer": "#### 2", "chain_length": -1})", "chain_length"},
           {"not json", "bad JSON"}}) {
    const std::string path = WriteTemp("bad.jsonl", good + "\n\n" + c.line + "\n");
    auto examples = ReadGsm8kJsonl(path);
    ASSERT_FALSE(examples.ok()) << c.line;
    EXPECT_EQ(examples.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(examples.status().message(), HasSubstr(path + ":3: ")) << c.line;
    EXPECT_THAT(examples.status().message(), HasSubstr(c.message)) << c.line;
  }
  EXPECT_EQ(ReadGsm8kJsonl("/nonexistent.jsonl").status().code(), absl::StatusCode::kNotFound);
}

TEST(Gsm8kTest, LinesRoundTripAndSplitFilters) {
  Gsm8kExample a{"Ana has 3.", {"3+2=5.", "5*2=10."}, "10", 2, "train"};
  Gsm8kExample b{"Ben has 4.", {"4-1=3."}, "3", 1, "test"};
  const std::string path = WriteTemp("rt.jsonl", Gsm8kLine(a) + "\n" + Gsm8kLine(b) + "\n");
  auto test = ReadGsm8kJsonl(path, "test");
  ASSERT_TRUE(test.ok()) << test.status();
  ASSERT_EQ(test->size(), 1u);
  EXPECT_EQ((*test)[0].question, b.question);
  EXPECT_EQ((*test)[0].steps, b.steps);
  EXPECT_EQ((*test)[0].answer, "3");
  auto all = ReadGsm8kJsonl(path);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].steps, a.steps);
  EXPECT_EQ((*all)[0].chain_length, 2);
}

}  // namespace
}  // namespace libra::data
