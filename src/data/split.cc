#include "src/data/split.h"

#include <algorithm>
#include <string>

#include "src/data/stable_hash.h"

namespace libra::data {

absl::string_view AssignSplit(const FlanExample& example, const SplitOptions& options) {
  // Unit separators keep ("ab", "c") and ("a", "bc") apart.
  std::string key = example.task_name;
  key += '\x1f';
  key += example.source;
  key += '\x1f';
  key += example.target;
  // The top 53 bits as a uniform number in [0, 1).
  const double u = static_cast<double>(StableHash(key, options.seed) >> 11) * 0x1.0p-53;
  const double test = std::clamp(options.test_fraction, 0.0, 1.0);
  const double validation = std::clamp(options.validation_fraction, 0.0, 1.0);
  if (u < test) return kTestSplit;
  if (u < test + validation) return kValidationSplit;
  return kTrainSplit;
}

}  // namespace libra::data
