#include "src/core/cluster/partition_agreement.h"

#include <cmath>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace libra::cluster {

absl::StatusOr<double> NormalizedMutualInformation(const std::vector<int>& a,
                                                   const std::vector<int>& b) {
  if (a.empty() || a.size() != b.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "normalized mutual information: labelings of ", a.size(), " and ", b.size(),
        " items (expected the same, non-zero number)"));
  }
  // Counts, not running probabilities: no rounding drift on large inputs.
  std::map<int, double> count_a, count_b;
  std::map<std::pair<int, int>, double> count_ab;
  for (size_t i = 0; i < a.size(); ++i) {
    count_a[a[i]] += 1;
    count_b[b[i]] += 1;
    count_ab[{a[i], b[i]}] += 1;
  }
  const double n = static_cast<double>(a.size());
  double mi = 0, ha = 0, hb = 0;
  for (const auto& [labels, c] : count_ab) {
    mi += c / n * std::log(c * n / (count_a[labels.first] * count_b[labels.second]));
  }
  for (const auto& [label, c] : count_a) ha -= c / n * std::log(c / n);
  for (const auto& [label, c] : count_b) hb -= c / n * std::log(c / n);
  if (ha + hb <= 0) return 1.0;  // both a single cluster
  return 2 * mi / (ha + hb);
}

}  // namespace libra::cluster
