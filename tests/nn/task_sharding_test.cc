#include "src/nn/task_sharding.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace libra::nn {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<std::string> kTasks = {"t0", "t1", "t2", "t3", "t4", "t5", "t6"};

TEST(TasksForRank, RankRTakesEveryNthTaskStartingAtR) {
  EXPECT_THAT(TasksForRank(kTasks, 0, 3).value(), ElementsAre("t0", "t3", "t6"));
  EXPECT_THAT(TasksForRank(kTasks, 1, 3).value(), ElementsAre("t1", "t4"));
  EXPECT_THAT(TasksForRank(kTasks, 2, 3).value(), ElementsAre("t2", "t5"));
}

TEST(TasksForRank, RanksTogetherCoverEveryTaskOnce) {
  for (int world = 1; world <= 9; ++world) {
    std::vector<std::string> all;
    for (int rank = 0; rank < world; ++rank) {
      const std::vector<std::string> mine = TasksForRank(kTasks, rank, world).value();
      all.insert(all.end(), mine.begin(), mine.end());
    }
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, kTasks) << "world " << world;
  }
}

TEST(TasksForRank, MoreRanksThanTasksLeavesSomeIdle) {
  EXPECT_THAT(TasksForRank({"a", "b"}, 3, 4).value(), ElementsAre());
  EXPECT_THAT(TasksForRank({}, 0, 1).value(), ElementsAre());
}

TEST(TasksForRank, RejectsBadRankOrWorld) {
  auto bad = TasksForRank(kTasks, 2, 2);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("rank 2 is outside [0, 2)"));
  bad = TasksForRank(kTasks, -1, 2);
  EXPECT_THAT(bad.status().message(), HasSubstr("rank -1 is outside [0, 2)"));
  bad = TasksForRank(kTasks, 0, 0);
  EXPECT_THAT(bad.status().message(), HasSubstr("world size must be at least 1, got 0"));
}

TEST(ExampleShard, StridesLikeDistributedSamplerAndPadsByWrapping) {
  EXPECT_THAT(ExampleShard(8, 0, 2).value(), ElementsAre(0, 2, 4, 6));
  EXPECT_THAT(ExampleShard(8, 1, 2).value(), ElementsAre(1, 3, 5, 7));
  // 7 examples on 3 ranks: 3 each, the last two wrap to examples 0 and 1.
  EXPECT_THAT(ExampleShard(7, 0, 3).value(), ElementsAre(0, 3, 6));
  EXPECT_THAT(ExampleShard(7, 1, 3).value(), ElementsAre(1, 4, 0));
  EXPECT_THAT(ExampleShard(7, 2, 3).value(), ElementsAre(2, 5, 1));
  EXPECT_THAT(ExampleShard(5, 0, 1).value(), ElementsAre(0, 1, 2, 3, 4));
  EXPECT_THAT(ExampleShard(0, 1, 2).value(), ElementsAre());
  EXPECT_THAT(ExampleShard(4, 2, 2).status().message(), HasSubstr("rank 2 is outside [0, 2)"));
}

}  // namespace
}  // namespace libra::nn
