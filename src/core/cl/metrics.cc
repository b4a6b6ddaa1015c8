#include "src/core/cl/metrics.h"

#include "absl/strings/str_cat.h"

namespace libra::cl {

double AccuracyMatrix::AverageAccuracyAfter(int i) const {
  double sum = 0.0;
  for (int j = 0; j <= i; ++j) sum += r_[i][j];
  return sum / (i + 1);
}

double AccuracyMatrix::Forgetting() const {
  if (tasks_ < 2) return 0.0;
  double sum = 0.0;
  for (int j = 0; j < tasks_ - 1; ++j) sum += r_[j][j] - r_[tasks_ - 1][j];
  return sum / (tasks_ - 1);
}

absl::StatusOr<double> AccuracyMatrix::ForwardTransfer(const std::vector<double>& before) const {
  if (static_cast<int>(before.size()) != tasks_) {
    return absl::InvalidArgumentError(absl::StrCat("forward transfer: ", before.size(),
                                                   " baseline accuracies for ", tasks_, " tasks"));
  }
  if (tasks_ < 2) return 0.0;
  double sum = 0.0;
  for (int j = 1; j < tasks_; ++j) sum += r_[j - 1][j] - before[j];
  return sum / (tasks_ - 1);
}

}  // namespace libra::cl
