#include "papers/testbed/nearest_class_mean.h"

#include <cmath>
#include <cstddef>

namespace libra::papers::testbed {

double NearestClassMeanAccuracy(const ClassFeatures& train, const ClassFeatures& test) {
  size_t dims = 0;
  for (const auto& cls : train) {
    if (!cls.empty()) dims = cls[0].size();
  }
  std::vector<double> mu(dims, 0), sd(dims, 0);
  double count = 0;
  for (const auto& cls : train) {
    for (const auto& x : cls) {
      for (size_t d = 0; d < dims; ++d) mu[d] += x[d];
      ++count;
    }
  }
  if (count == 0) return 0.0;
  for (double& m : mu) m /= count;
  for (const auto& cls : train) {
    for (const auto& x : cls) {
      for (size_t d = 0; d < dims; ++d) sd[d] += (x[d] - mu[d]) * (x[d] - mu[d]);
    }
  }
  // The floor keeps constant dimensions from dividing by zero.
  for (double& s : sd) s = std::sqrt(s / count) + 1e-6;
  std::vector<std::vector<double>> centroid(train.size(), std::vector<double>(dims, 0));
  for (size_t c = 0; c < train.size(); ++c) {
    for (const auto& x : train[c]) {
      for (size_t d = 0; d < dims; ++d) centroid[c][d] += (x[d] - mu[d]) / sd[d];
    }
    if (!train[c].empty()) {
      for (double& v : centroid[c]) v /= static_cast<double>(train[c].size());
    }
  }
  int correct = 0, seen = 0;
  for (size_t c = 0; c < test.size(); ++c) {
    for (const auto& x : test[c]) {
      size_t best = 0;
      double best_d = -1;
      for (size_t k = 0; k < centroid.size(); ++k) {
        if (train[k].empty()) continue;
        double dist = 0;
        for (size_t d = 0; d < dims; ++d) {
          double v = (x[d] - mu[d]) / sd[d] - centroid[k][d];
          dist += v * v;
        }
        if (best_d < 0 || dist < best_d) best_d = dist, best = k;
      }
      correct += best == c;
      ++seen;
    }
  }
  return seen ? static_cast<double>(correct) / seen : 0.0;
}

}  // namespace libra::papers::testbed
