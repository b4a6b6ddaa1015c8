#include "src/core/cl/selection.h"

#include "absl/strings/str_cat.h"

namespace libra::cl {

absl::StatusOr<FirstTaskChoice> SelectOnFirstTask(int candidates, const HeadCandidate& make,
                                                  const LabeledFeatures& first_task_train,
                                                  const LabeledFeatures& first_task_validation) {
  if (candidates < 1) return absl::InvalidArgumentError("selection: no candidates");
  if (first_task_train.y.empty() || first_task_validation.y.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "selection: the first task has ", first_task_train.y.size(), " training and ",
        first_task_validation.y.size(), " validation rows; both must be non-empty"));
  }
  FirstTaskChoice choice;
  for (int i = 0; i < candidates; ++i) {
    absl::StatusOr<std::unique_ptr<Head>> head = make(i);
    absl::Status status = head.ok() ? (*head)->Learn(first_task_train) : head.status();
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("selection candidate ", i, ": ", status.message()));
    }
    const double accuracy =
        Accuracy((*head)->Predict(first_task_validation.x), first_task_validation.y);
    choice.training_macs += (*head)->training_macs();
    choice.validation_accuracy.push_back(accuracy);
    if (accuracy > choice.validation_accuracy[choice.index]) choice.index = i;
  }
  return choice;
}

}  // namespace libra::cl
