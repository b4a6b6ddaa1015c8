// Hyperparameter selection on the first task of a stream, the protocol of
// latent replay's authors: every candidate learns the first task's training
// rows from scratch and is scored on its validation rows; the best wins, and
// on a tie the earlier candidate (list candidates cheapest first).
//
//   auto make = [&](int i) { return MakeClHead("mlp", dim, options[i]); };
//   LIBRA_ASSIGN_OR_RETURN(FirstTaskChoice c,
//                          SelectOnFirstTask(options.size(), make, train0, valid0));
#ifndef LIBRA_CORE_CL_SELECTION_H_
#define LIBRA_CORE_CL_SELECTION_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "src/core/cl/features.h"
#include "src/core/cl/head.h"

namespace libra::cl {

using HeadCandidate = std::function<absl::StatusOr<std::unique_ptr<Head>>(int candidate)>;

struct FirstTaskChoice {
  int index = 0;                             // the chosen candidate
  std::vector<double> validation_accuracy;   // per candidate
  double training_macs = 0.0;                // spent selecting, all candidates
};

// candidates >= 1, both sets non-empty; else an error saying which. An
// error from `make` or a candidate's Learn is returned with the candidate's
// index.
absl::StatusOr<FirstTaskChoice> SelectOnFirstTask(int candidates, const HeadCandidate& make,
                                                  const LabeledFeatures& first_task_train,
                                                  const LabeledFeatures& first_task_validation);

}  // namespace libra::cl

#endif  // LIBRA_CORE_CL_SELECTION_H_
