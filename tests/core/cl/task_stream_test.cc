#include "src/core/cl/task_stream.h"

#include <algorithm>
#include <set>

#include "gtest/gtest.h"

namespace libra::cl {
namespace {

TEST(TaskStreamTest, ClassIncrementalCoversEveryClassOnce) {
  auto tasks = ClassIncrementalTasks(10, 2, /*seed=*/3);
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 5u);
  std::set<int> seen;
  for (const auto& task : *tasks) {
    EXPECT_EQ(task.size(), 2u);
    seen.insert(task.begin(), task.end());
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(*ClassIncrementalTasks(10, 2, 3), *tasks);  // fixed per seed
  EXPECT_NE(*ClassIncrementalTasks(10, 2, 4), *tasks);
  EXPECT_EQ((*ClassIncrementalTasks(4, 2, 0)), (std::vector<std::vector<int>>{{0, 1}, {2, 3}}));
}

TEST(TaskStreamTest, RejectsUnevenSplits) {
  EXPECT_FALSE(ClassIncrementalTasks(10, 3, 1).ok());
  EXPECT_FALSE(ClassIncrementalTasks(10, 0, 1).ok());
  EXPECT_FALSE(ClassIncrementalTasks(0, 1, 1).ok());
}

TEST(TaskStreamTest, RowsAndClassesUpTo) {
  EXPECT_EQ(RowsOfClasses({3, 1, 4, 1, 5}, {1, 5}), (std::vector<int>{1, 3, 4}));
  EXPECT_EQ(ClassesUpTo({{7, 2}, {0, 9}, {4, 4}}, 1), (std::vector<int>{7, 2, 0, 9}));
}

TEST(TaskStreamTest, PermutationIsAPermutation) {
  std::vector<int> p = SeededPermutation(50, 11);
  std::vector<int> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_NE(p, sorted);
  EXPECT_EQ(DomainOrder(3, 0), (std::vector<int>{0, 1, 2}));
}

}  // namespace
}  // namespace libra::cl
