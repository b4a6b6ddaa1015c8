#include "src/data/split.h"

#include <map>
#include <string>

#include "gtest/gtest.h"

namespace libra::data {
namespace {

FlanExample Example(int i) {
  return {"source " + std::to_string(i), "target " + std::to_string(i * 7), "task", ""};
}

TEST(SplitTest, SameExampleSameSplitEveryTime) {
  SplitOptions options;
  options.seed = 3;
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(AssignSplit(Example(i), options), AssignSplit(Example(i), options));
  }
}

TEST(SplitTest, FractionsAreRespected) {
  SplitOptions options;
  options.seed = 1;
  options.validation_fraction = 0.2;
  options.test_fraction = 0.1;
  std::map<std::string, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) counts[std::string(AssignSplit(Example(i), options))]++;
  // Binomial standard deviation at n = 20000 is below 0.003; allow 5 of them.
  EXPECT_NEAR(counts["test"] / double(n), 0.1, 0.015);
  EXPECT_NEAR(counts["validation"] / double(n), 0.2, 0.015);
  EXPECT_NEAR(counts["train"] / double(n), 0.7, 0.015);
}

TEST(SplitTest, SeedChangesTheAssignment) {
  SplitOptions a, b;
  a.seed = 1;
  b.seed = 2;
  int moved = 0;
  for (int i = 0; i < 1000; ++i) moved += AssignSplit(Example(i), a) != AssignSplit(Example(i), b);
  // Two independent draws with p = (0.8, 0.1, 0.1) differ about 34% of the time.
  EXPECT_GT(moved, 200);
  EXPECT_LT(moved, 500);
}

TEST(SplitTest, DependsOnContentNotOnTheGivenSplit) {
  SplitOptions options;
  FlanExample example = Example(5);
  const absl::string_view first = AssignSplit(example, options);
  example.split = "test";
  EXPECT_EQ(AssignSplit(example, options), first);
  // Field boundaries matter: moving a character between fields is another example.
  int differ = 0;
  for (int i = 0; i < 200; ++i) {
    FlanExample x{"ab" + std::to_string(i), "c", "t", ""};
    FlanExample y{"a", "b" + std::to_string(i) + "c", "t", ""};
    differ += AssignSplit(x, options) != AssignSplit(y, options);
  }
  EXPECT_GT(differ, 20);
}

TEST(SplitTest, ZeroAndFullFractions) {
  SplitOptions all_train;
  all_train.validation_fraction = 0;
  all_train.test_fraction = 0;
  SplitOptions all_test;
  all_test.test_fraction = 1.5;  // clamped to 1
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(AssignSplit(Example(i), all_train), "train");
    EXPECT_EQ(AssignSplit(Example(i), all_test), "test");
  }
}

}  // namespace
}  // namespace libra::data
