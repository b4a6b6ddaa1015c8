// Deterministic train/validation/test assignment for examples without a
// "split": a stable hash of (task_name, source, target) and a seed, so the
// same example lands in the same split on every machine and every run, and
// adding or removing other lines never moves it.
//
//   SplitOptions options{.seed = 1, .validation_fraction = 0.1, .test_fraction = 0.1};
//   absl::string_view split = AssignSplit(example, options);  // "train", ...
#ifndef LIBRA_DATA_SPLIT_H_
#define LIBRA_DATA_SPLIT_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "src/data/flan_example.h"

namespace libra::data {

struct SplitOptions {
  uint64_t seed = 0;
  double validation_fraction = 0.1;
  double test_fraction = 0.1;
};

// The example's own split is ignored; the fractions are clamped to [0, 1].
absl::string_view AssignSplit(const FlanExample& example, const SplitOptions& options);

}  // namespace libra::data

#endif  // LIBRA_DATA_SPLIT_H_
