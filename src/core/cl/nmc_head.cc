#include "src/core/cl/nmc_head.h"

#include <limits>

#include "absl/strings/str_cat.h"

namespace libra::cl {

absl::Status NmcHead::Learn(const LabeledFeatures& train) {
  for (Eigen::Index i = 0; i < train.x.rows(); ++i) {
    ClassStats& stats = classes_[train.y[i]];
    const Eigen::VectorXd x = train.x.row(i).transpose().cast<double>();
    if (stats.count == 0) stats.mean = Eigen::VectorXd::Zero(x.size());
    if (stats.mean.size() != x.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "nmc head: feature width ", x.size(), " after ", stats.mean.size()));
    }
    ++stats.count;
    stats.mean += (x - stats.mean) / static_cast<double>(stats.count);  // running mean
    macs_ += static_cast<double>(x.size());
  }
  return absl::OkStatus();
}

std::vector<int> NmcHead::Predict(const Features& x) const {
  std::vector<int> out(x.rows(), -1);
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const Eigen::VectorXd row = x.row(i).transpose().cast<double>();
    double best = std::numeric_limits<double>::infinity();
    for (const auto& [label, stats] : classes_) {
      const double distance = (row - stats.mean).squaredNorm();
      if (distance < best) {
        best = distance;
        out[i] = label;
      }
    }
  }
  return out;
}

Eigen::VectorXd NmcHead::Mean(int label) const {
  auto it = classes_.find(label);
  return it == classes_.end() ? Eigen::VectorXd() : it->second.mean;
}

}  // namespace libra::cl
