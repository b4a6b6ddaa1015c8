// Text metrics for evaluation (torch-free): exact match after whitespace
// normalisation, and ROUGE-L F1 over whitespace tokens (longest common
// subsequence; Lin 2004 with beta = 1).
//
//   double em = ExactMatch("  12 3", "12 3");     // 1
//   double rouge = RougeL("a b c d", "a c d e");  // P = R = 3/4 -> 0.75
#ifndef LIBRA_NN_METRICS_H_
#define LIBRA_NN_METRICS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace libra::nn {

double ExactMatch(absl::string_view prediction, absl::string_view reference);
double RougeL(absl::string_view prediction, absl::string_view reference);

}  // namespace libra::nn

#endif  // LIBRA_NN_METRICS_H_
