#include "src/core/cl/stream.h"

#include <map>

#include "gtest/gtest.h"

namespace libra::cl {
namespace {

// A head that records what it was fed and predicts the label it saw most
// recently for each feature value (a lookup table that forgets nothing it
// was fed in the latest call only).
class RecordingHead : public Head {
 public:
  explicit RecordingHead(bool replay) : replay_(replay) {}
  std::string name() const override { return "recording"; }
  bool uses_replay() const override { return replay_; }
  absl::Status Learn(const LabeledFeatures& train) override {
    fed_sizes.push_back(static_cast<int>(train.y.size()));
    table_.clear();
    for (size_t i = 0; i < train.y.size(); ++i) table_[train.x(i, 0)] = train.y[i];
    return absl::OkStatus();
  }
  std::vector<int> Predict(const Features& x) const override {
    std::vector<int> out;
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      auto it = table_.find(x(i, 0));
      out.push_back(it == table_.end() ? -1 : it->second);
    }
    return out;
  }
  double training_macs() const override { return 7.0; }
  std::vector<int> fed_sizes;

 private:
  bool replay_;
  std::map<float, int> table_;
};

// Feature = class id: 4 classes, 5 train and 2 test rows each.
LabeledFeatures Rows(int per_class) {
  LabeledFeatures set;
  set.x.resize(4 * per_class, 1);
  for (int i = 0; i < 4 * per_class; ++i) {
    set.x(i, 0) = static_cast<float>(i % 4);
    set.y.push_back(i % 4);
  }
  return set;
}

TEST(StreamTest, MatrixAndReplayFeeding) {
  const LabeledFeatures train = Rows(5), test = Rows(2);
  const auto tasks = ClassIncrementalStream(train.y, test.y, {{0, 1}, {2, 3}});
  ASSERT_EQ(tasks[0].train_rows.size(), 10u);
  RecordingHead forgetful(false);
  auto run = RunStream(forgetful, train, test, tasks, 3, 1);
  ASSERT_TRUE(run.ok()) << run.status();
  // Without replay it only knows the latest task: R = [[1, 0], [0, 1]].
  EXPECT_EQ(run->matrix.rows(), (std::vector<std::vector<double>>{{1, 0}, {0, 1}}));
  EXPECT_EQ(forgetful.fed_sizes, (std::vector<int>{10, 10}));
  EXPECT_DOUBLE_EQ(run->matrix.Forgetting(), 1.0);
  EXPECT_DOUBLE_EQ(run->training_macs, 7.0);
  RecordingHead replaying(true);
  run = RunStream(replaying, train, test, tasks, 3, 1);
  ASSERT_TRUE(run.ok());
  // The second task comes with 3 buffered rows of classes 0 and 1 each.
  EXPECT_EQ(replaying.fed_sizes, (std::vector<int>{10, 16}));
  EXPECT_EQ(run->replayed_rows, 6);
  EXPECT_EQ(run->matrix.rows(), (std::vector<std::vector<double>>{{1, 0}, {1, 1}}));
}

TEST(StreamTest, EmptyTaskAndNegativeBufferAreErrors) {
  const LabeledFeatures train = Rows(5), test = Rows(2);
  RecordingHead head(true);
  auto tasks = ClassIncrementalStream(train.y, test.y, {{0, 1}, {7}});
  auto run = RunStream(head, train, test, tasks, 3, 1);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.status().message().find("task 1"), std::string::npos);
  tasks = ClassIncrementalStream(train.y, test.y, {{0, 1}});
  EXPECT_FALSE(RunStream(head, train, test, tasks, -2, 1).ok());
}

}  // namespace
}  // namespace libra::cl
