#include "src/nn/metrics.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace libra::nn {
namespace {

std::vector<std::string> Words(absl::string_view text) {
  return absl::StrSplit(text, absl::ByAnyChar(" \t\n\r"), absl::SkipEmpty());
}

}  // namespace

double ExactMatch(absl::string_view prediction, absl::string_view reference) {
  return absl::StrJoin(Words(prediction), " ") == absl::StrJoin(Words(reference), " ") ? 1.0 : 0.0;
}

double RougeL(absl::string_view prediction, absl::string_view reference) {
  const std::vector<std::string> p = Words(prediction), r = Words(reference);
  if (p.empty() || r.empty()) return p.empty() && r.empty() ? 1.0 : 0.0;
  std::vector<int> previous(r.size() + 1, 0), current(r.size() + 1, 0);
  for (size_t i = 1; i <= p.size(); ++i) {
    for (size_t j = 1; j <= r.size(); ++j) {
      current[j] = p[i - 1] == r[j - 1] ? previous[j - 1] + 1 : std::max(previous[j], current[j - 1]);
    }
    std::swap(previous, current);
  }
  const double lcs = previous[r.size()];
  if (lcs == 0) return 0.0;
  const double precision = lcs / p.size(), recall = lcs / r.size();
  return 2 * precision * recall / (precision + recall);
}

}  // namespace libra::nn
