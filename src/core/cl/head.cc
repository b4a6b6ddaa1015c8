#include "src/core/cl/head.h"

namespace libra::cl {

double Accuracy(const std::vector<int>& predicted, const std::vector<int>& labels) {
  if (labels.empty()) return 0.0;
  int64_t right = 0;
  for (size_t i = 0; i < labels.size(); ++i) right += predicted[i] == labels[i];
  return static_cast<double>(right) / static_cast<double>(labels.size());
}

}  // namespace libra::cl
