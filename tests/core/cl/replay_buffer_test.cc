#include "src/core/cl/replay_buffer.h"

#include <set>

#include "gtest/gtest.h"

namespace libra::cl {
namespace {

// `per_class` rows of each class; row value = a unique id so the test can
// tell which rows were kept.
LabeledFeatures Task(const std::vector<int>& classes, int per_class, float first_id) {
  LabeledFeatures task;
  task.x.resize(static_cast<Eigen::Index>(classes.size()) * per_class, 1);
  int r = 0;
  for (int c : classes) {
    for (int i = 0; i < per_class; ++i, ++r) {
      task.x(r, 0) = first_id + r;
      task.y.push_back(c);
    }
  }
  return task;
}

TEST(ReplayBufferTest, BalancedAcrossClassesAndTasks) {
  auto buffer = ReplayBuffer::Create(5, /*seed=*/1);
  ASSERT_TRUE(buffer.ok());
  buffer->AddTask(Task({0, 1}, 30, 0));
  buffer->AddTask(Task({2, 3}, 3, 100));  // fewer rows than the quota
  EXPECT_EQ(buffer->ClassCounts(), (std::map<int, int>{{0, 5}, {1, 5}, {2, 3}, {3, 3}}));
  LabeledFeatures contents = buffer->Contents();
  EXPECT_EQ(contents.y.size(), 16u);
  std::set<float> ids;
  for (Eigen::Index r = 0; r < contents.x.rows(); ++r) {
    ids.insert(contents.x(r, 0));
    // Each kept row keeps its own label: ids 0-29 are class 0, 30-59 class 1.
    const float id = contents.x(r, 0);
    if (id < 30) {
      EXPECT_EQ(contents.y[r], 0);
    } else if (id < 60) {
      EXPECT_EQ(contents.y[r], 1);
    }
  }
  EXPECT_EQ(ids.size(), 16u);  // no row twice
}

TEST(ReplayBufferTest, RandomSelectionDependsOnSeedOnly) {
  auto a = ReplayBuffer::Create(4, 7), b = ReplayBuffer::Create(4, 7), c = ReplayBuffer::Create(4, 8);
  for (auto* buffer : {&*a, &*b, &*c}) buffer->AddTask(Task({0}, 100, 0));
  EXPECT_EQ(a->Contents().x, b->Contents().x);
  EXPECT_NE(a->Contents().x, c->Contents().x);
  // Not simply the first rows.
  EXPECT_NE(a->Contents().x, Task({0}, 4, 0).x);
}

TEST(ReplayBufferTest, ZeroKeepsNothingNegativeIsAnError) {
  auto empty = ReplayBuffer::Create(0, 1);
  ASSERT_TRUE(empty.ok());
  empty->AddTask(Task({0, 1}, 10, 0));
  EXPECT_EQ(empty->size(), 0);
  auto bad = ReplayBuffer::Create(-1, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("-1"), std::string::npos);
}

TEST(ReplayBufferTest, SeenClassIsToppedUpNotDuplicated) {
  auto buffer = ReplayBuffer::Create(3, 2);
  buffer->AddTask(Task({0}, 2, 0));
  buffer->AddTask(Task({0}, 10, 100));  // domain-incremental: class 0 again
  EXPECT_EQ(buffer->ClassCounts(), (std::map<int, int>{{0, 3}}));
}

}  // namespace
}  // namespace libra::cl
