// Continual-learning metrics over the accuracy matrix R, where R[i][j] is
// the accuracy on task j's test data after learning tasks 0..i (T x T; the
// entries j > i measure tasks not yet learned).
//
//   final average accuracy  A = 1/T sum_j R[T-1][j]
//   forgetting              F = 1/(T-1) sum_{j<T-1} (R[j][j] - R[T-1][j])
//                           (the drop from the accuracy just after learning
//                           task j; positive = forgotten)
//   forward transfer        FWT = 1/(T-1) sum_{j>=1} (R[j-1][j] - b_j)
//                           (b_j: task j's accuracy before any learning,
//                           e.g. a random head; Lopez-Paz and Ranzato 2017)
//
//   AccuracyMatrix r(5);
//   r.Set(i, j, accuracy);
//   double a = r.FinalAverageAccuracy();
#ifndef LIBRA_CORE_CL_METRICS_H_
#define LIBRA_CORE_CL_METRICS_H_

#include <vector>

#include "absl/status/statusor.h"

namespace libra::cl {

class AccuracyMatrix {
 public:
  explicit AccuracyMatrix(int tasks) : tasks_(tasks), r_(tasks, std::vector<double>(tasks, 0.0)) {}

  int tasks() const { return tasks_; }
  void Set(int after_task, int on_task, double accuracy) { r_[after_task][on_task] = accuracy; }
  double At(int after_task, int on_task) const { return r_[after_task][on_task]; }
  const std::vector<std::vector<double>>& rows() const { return r_; }

  // The mean accuracy over tasks 0..i after learning task i.
  double AverageAccuracyAfter(int i) const;
  double FinalAverageAccuracy() const { return AverageAccuracyAfter(tasks_ - 1); }
  // 0 for a single task.
  double Forgetting() const;
  // `before[j]` = b_j for every task; a size other than tasks() is an error.
  absl::StatusOr<double> ForwardTransfer(const std::vector<double>& before) const;

 private:
  int tasks_;
  std::vector<std::vector<double>> r_;
};

}  // namespace libra::cl

#endif  // LIBRA_CORE_CL_METRICS_H_
