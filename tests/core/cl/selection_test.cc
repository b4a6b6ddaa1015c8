#include "src/core/cl/selection.h"

#include <memory>

#include "gtest/gtest.h"

namespace libra::cl {
namespace {

// Predicts one class whatever it is shown; learning costs `macs`.
class ConstantHead : public Head {
 public:
  ConstantHead(int label, double macs, bool fail) : label_(label), macs_(macs), fail_(fail) {}
  std::string name() const override { return "constant"; }
  bool uses_replay() const override { return false; }
  absl::Status Learn(const LabeledFeatures& train) override {
    if (fail_) return absl::InternalError("learning failed");
    learned_rows_ += static_cast<int>(train.y.size());
    return absl::OkStatus();
  }
  std::vector<int> Predict(const Features& x) const override {
    return std::vector<int>(x.rows(), label_);
  }
  double training_macs() const override { return learned_rows_ * macs_; }

 private:
  int label_;
  double macs_;
  bool fail_;
  int learned_rows_ = 0;
};

LabeledFeatures Rows(std::vector<int> labels) {
  LabeledFeatures set;
  set.x = Features::Zero(static_cast<int>(labels.size()), 2);
  set.y = std::move(labels);
  return set;
}

TEST(SelectOnFirstTaskTest, ChoosesTheBestAndTheEarlierOnATie) {
  // Validation accuracy of "always c": 1/6, 2/6, 3/6 for c = 0, 1, 2.
  const LabeledFeatures train = Rows({0, 1, 2, 0}), validation = Rows({0, 1, 1, 2, 2, 2});
  const std::vector<int> label_of = {0, 1, 2, 2, 1};  // candidate 3 ties candidate 2
  auto make = [&](int i) -> absl::StatusOr<std::unique_ptr<Head>> {
    return std::make_unique<ConstantHead>(label_of[i], 10.0 * (i + 1), false);
  };
  absl::StatusOr<FirstTaskChoice> choice = SelectOnFirstTask(5, make, train, validation);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(choice->index, 2);
  ASSERT_EQ(choice->validation_accuracy.size(), 5u);
  EXPECT_DOUBLE_EQ(choice->validation_accuracy[0], 1.0 / 6);
  EXPECT_DOUBLE_EQ(choice->validation_accuracy[1], 2.0 / 6);
  EXPECT_DOUBLE_EQ(choice->validation_accuracy[3], 3.0 / 6);
  // Every candidate learned the 4 training rows once: 4 x (10 + 20 + ... + 50).
  EXPECT_DOUBLE_EQ(choice->training_macs, 4 * 150.0);
}

TEST(SelectOnFirstTaskTest, ErrorsNameTheCandidateOrTheEmptySet) {
  const LabeledFeatures train = Rows({0, 1}), validation = Rows({1});
  auto fail_second = [](int i) -> absl::StatusOr<std::unique_ptr<Head>> {
    return std::make_unique<ConstantHead>(0, 1.0, i == 1);
  };
  absl::StatusOr<FirstTaskChoice> choice = SelectOnFirstTask(3, fail_second, train, validation);
  ASSERT_FALSE(choice.ok());
  EXPECT_NE(choice.status().message().find("candidate 1: learning failed"), std::string::npos)
      << choice.status();
  auto unmakeable = [](int) -> absl::StatusOr<std::unique_ptr<Head>> {
    return absl::InvalidArgumentError("bad option");
  };
  choice = SelectOnFirstTask(2, unmakeable, train, validation);
  ASSERT_FALSE(choice.ok());
  EXPECT_NE(choice.status().message().find("candidate 0: bad option"), std::string::npos);
  auto fine = [](int) -> absl::StatusOr<std::unique_ptr<Head>> {
    return std::make_unique<ConstantHead>(0, 1.0, false);
  };
  EXPECT_FALSE(SelectOnFirstTask(0, fine, train, validation).ok());
  EXPECT_FALSE(SelectOnFirstTask(1, fine, Rows({}), validation).ok());
  EXPECT_FALSE(SelectOnFirstTask(1, fine, train, Rows({})).ok());
}

}  // namespace
}  // namespace libra::cl
