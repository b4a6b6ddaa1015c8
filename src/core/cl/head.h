// A classifier head on frozen features, learned over a continual stream.
//
// The stream calls Learn once per task, with the task's rows, plus the
// replay buffer's rows when the head `uses_replay()` (a parametric head
// trained by gradient descent, which forgets without replay). Running-
// statistics heads (NMC, SLDA) and kNN learn from each sample once and are
// not fed the buffer: replaying would count its samples twice. Predict
// answers among the classes learned so far (class-incremental: no task
// identity).
//
//   std::unique_ptr<Head> head = ...;
//   LIBRA_RETURN_IF_ERROR(head->Learn(train));
//   std::vector<int> predicted = head->Predict(test.x);
#ifndef LIBRA_CORE_CL_HEAD_H_
#define LIBRA_CORE_CL_HEAD_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "src/core/cl/features.h"

namespace libra::cl {

class Head {
 public:
  virtual ~Head() = default;
  virtual std::string name() const = 0;
  virtual bool uses_replay() const = 0;
  virtual absl::Status Learn(const LabeledFeatures& train) = 0;
  virtual std::vector<int> Predict(const Features& x) const = 0;
  // Multiply-adds spent learning so far (flops.h's convention: backward =
  // 2 x forward for gradient heads; one update per sample for the others).
  virtual double training_macs() const = 0;
};

// The fraction of `predicted` equal to `labels` (0 for an empty set).
double Accuracy(const std::vector<int>& predicted, const std::vector<int>& labels);

}  // namespace libra::cl

#endif  // LIBRA_CORE_CL_HEAD_H_
