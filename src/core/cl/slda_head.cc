#include "src/core/cl/slda_head.h"

#include <limits>

#include "absl/strings/str_cat.h"

namespace libra::cl {

absl::Status SldaHead::Learn(const LabeledFeatures& train) {
  for (Eigen::Index i = 0; i < train.x.rows(); ++i) {
    const Eigen::VectorXd x = train.x.row(i).transpose().cast<double>();
    if (total_ == 0) scatter_ = Eigen::MatrixXd::Zero(x.size(), x.size());
    if (scatter_.rows() != x.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "slda head: feature width ", x.size(), " after ", scatter_.rows()));
    }
    ClassStats& stats = classes_[train.y[i]];
    if (stats.count == 0) stats.mean = Eigen::VectorXd::Zero(x.size());
    const Eigen::VectorXd delta = x - stats.mean;
    const double c = static_cast<double>(stats.count);
    scatter_.noalias() += (c / (c + 1.0)) * delta * delta.transpose();
    stats.mean += delta / (c + 1.0);
    ++stats.count;
    ++total_;
    macs_ += static_cast<double>(x.size()) * static_cast<double>(x.size() + 1);
  }
  return absl::OkStatus();
}

Eigen::MatrixXd SldaHead::Covariance() const {
  if (total_ == 0) return Eigen::MatrixXd();
  return scatter_ / static_cast<double>(total_);
}

Eigen::MatrixXd SldaHead::Precision() const {
  const Eigen::MatrixXd sigma = Covariance();
  const Eigen::MatrixXd shrunk = (1.0 - shrinkage_) * sigma +
                                 shrinkage_ * Eigen::MatrixXd::Identity(sigma.rows(), sigma.cols());
  return shrunk.completeOrthogonalDecomposition().pseudoInverse();
}

std::vector<int> SldaHead::Predict(const Features& x) const {
  std::vector<int> out(x.rows(), -1);
  if (total_ == 0) return out;
  const Eigen::MatrixXd lambda = Precision();
  std::vector<int> labels;
  std::vector<Eigen::VectorXd> weights;  // Lambda mu_c
  std::vector<double> biases;            // -1/2 mu_c^T Lambda mu_c
  for (const auto& [label, stats] : classes_) {
    labels.push_back(label);
    weights.push_back(lambda * stats.mean);
    biases.push_back(-0.5 * stats.mean.dot(weights.back()));
  }
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const Eigen::VectorXd row = x.row(i).transpose().cast<double>();
    double best = -std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < labels.size(); ++c) {
      const double score = row.dot(weights[c]) + biases[c];
      if (score > best) {
        best = score;
        out[i] = labels[c];
      }
    }
  }
  return out;
}

}  // namespace libra::cl
