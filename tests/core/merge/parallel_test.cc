#include "src/core/merge/parallel.h"

#include <atomic>
#include <vector>

#include "gtest/gtest.h"

namespace libra::merge {
namespace {

TEST(ParallelForTest, RunsEveryTaskExactlyOnce) {
  for (int threads : {0, 1, 2, 7}) {
    std::vector<std::atomic<int>> calls(1000);
    ParallelFor(1000, threads, [&](int64_t i) { calls[i].fetch_add(1); });
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(calls[i].load(), 1) << "threads " << threads;
  }
}

TEST(ParallelForTest, NoTasksIsANoOp) {
  bool called = false;
  ParallelFor(0, 2, [&](int64_t) { called = true; });
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace libra::merge
