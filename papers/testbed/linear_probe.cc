#include "papers/testbed/linear_probe.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "Eigen/Eigenvalues"

namespace libra::papers::testbed {
namespace {

struct Standardizer {
  Eigen::VectorXd mean, scale;
  size_t count = 0;
};

Standardizer FitStandardizer(const ClassFeatures& train) {
  size_t dims = 0;
  for (const auto& cls : train) {
    if (!cls.empty()) dims = cls[0].size();
  }
  Standardizer s;
  s.mean = Eigen::VectorXd::Zero(dims);
  s.scale = Eigen::VectorXd::Zero(dims);
  for (const auto& cls : train) {
    for (const auto& x : cls) {
      for (size_t d = 0; d < dims; ++d) s.mean[d] += x[d];
      ++s.count;
    }
  }
  if (s.count == 0) return s;
  s.mean /= static_cast<double>(s.count);
  for (const auto& cls : train) {
    for (const auto& x : cls) {
      for (size_t d = 0; d < dims; ++d) s.scale[d] += (x[d] - s.mean[d]) * (x[d] - s.mean[d]);
    }
  }
  // The floor keeps constant dimensions from dividing by zero.
  for (size_t d = 0; d < dims; ++d) s.scale[d] = std::sqrt(s.scale[d] / s.count) + 1e-6;
  return s;
}

Eigen::VectorXd Standardize(const std::vector<float>& x, const Eigen::VectorXd& mean,
                            const Eigen::VectorXd& scale) {
  Eigen::VectorXd z(mean.size());
  for (Eigen::Index d = 0; d < mean.size(); ++d) z[d] = (x[d] - mean[d]) / scale[d];
  return z;
}

// Row-wise softmax of the logits X W over the trained classes; untrained
// classes get probability 0.
Eigen::MatrixXd Probabilities(const Eigen::MatrixXd& x, const Eigen::MatrixXd& w,
                              const std::vector<bool>& trained) {
  Eigen::MatrixXd p = x * w;
  for (Eigen::Index i = 0; i < p.rows(); ++i) {
    double top = -INFINITY;
    for (Eigen::Index k = 0; k < p.cols(); ++k) {
      if (trained[k]) top = std::max(top, p(i, k));
    }
    double sum = 0;
    for (Eigen::Index k = 0; k < p.cols(); ++k) {
      p(i, k) = trained[k] ? std::exp(p(i, k) - top) : 0.0;
      sum += p(i, k);
    }
    p.row(i) /= sum;
  }
  return p;
}

}  // namespace

double NearestClassMeanAccuracy(const ClassFeatures& train, const ClassFeatures& test) {
  const Standardizer s = FitStandardizer(train);
  if (s.count == 0) return 0.0;
  std::vector<Eigen::VectorXd> centroid(train.size(), Eigen::VectorXd::Zero(s.mean.size()));
  for (size_t c = 0; c < train.size(); ++c) {
    for (const auto& x : train[c]) centroid[c] += Standardize(x, s.mean, s.scale);
    if (!train[c].empty()) centroid[c] /= static_cast<double>(train[c].size());
  }
  int correct = 0, seen = 0;
  for (size_t c = 0; c < test.size(); ++c) {
    for (const auto& x : test[c]) {
      const Eigen::VectorXd z = Standardize(x, s.mean, s.scale);
      size_t best = 0;
      double best_d = -1;
      for (size_t k = 0; k < centroid.size(); ++k) {
        if (train[k].empty()) continue;
        const double dist = (z - centroid[k]).squaredNorm();
        if (best_d < 0 || dist < best_d) best_d = dist, best = k;
      }
      correct += best == c;
      ++seen;
    }
  }
  return seen ? static_cast<double>(correct) / seen : 0.0;
}

SoftmaxProbe SoftmaxProbe::Fit(const ClassFeatures& train, const SoftmaxProbeOptions& options) {
  SoftmaxProbe probe;
  const Standardizer s = FitStandardizer(train);
  probe.mean_ = s.mean;
  probe.scale_ = s.scale;
  const Eigen::Index dims = s.mean.size(), classes = static_cast<Eigen::Index>(train.size());
  probe.weights_ = Eigen::MatrixXd::Zero(dims + 1, classes);
  probe.trained_.assign(train.size(), false);
  if (s.count == 0) return probe;
  const Eigen::Index n = static_cast<Eigen::Index>(s.count);
  Eigen::MatrixXd x(n, dims + 1), y = Eigen::MatrixXd::Zero(n, classes);
  Eigen::Index row = 0;
  for (size_t c = 0; c < train.size(); ++c) {
    probe.trained_[c] = !train[c].empty();
    for (const auto& v : train[c]) {
      x.row(row).head(dims) = Standardize(v, s.mean, s.scale).transpose();
      x(row, dims) = 1.0;
      y(row, static_cast<Eigen::Index>(c)) = 1.0;
      ++row;
    }
  }
  const double l2 = options.l2 < 0 ? 1.0 / static_cast<double>(n) : options.l2;
  auto gradient = [&](const Eigen::MatrixXd& w) {
    Eigen::MatrixXd g = x.transpose() * (Probabilities(x, w, probe.trained_) - y) / n;
    g.topRows(dims) += l2 * w.topRows(dims);
    return g;
  };
  // The loss's Hessian is at most (1/2) X^T X / n (the softmax's curvature
  // is at most 1/2) plus the penalty: 1 / that bound is a safe step.
  const Eigen::MatrixXd gram = x.transpose() * x / n;
  const double largest = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(gram, Eigen::EigenvaluesOnly)
                             .eigenvalues()
                             .maxCoeff();
  const double step = 1.0 / (0.5 * largest + l2);
  // Nesterov's accelerated gradient with O'Donoghue and Candes's gradient
  // restart: the objective is strongly convex, so this converges to its one
  // minimum whatever the start.
  Eigen::MatrixXd w = probe.weights_, ahead = w;
  double t = 1;
  for (probe.iterations_ = 0; probe.iterations_ < options.max_iterations; ++probe.iterations_) {
    const Eigen::MatrixXd g = gradient(ahead);
    if (g.cwiseAbs().maxCoeff() < options.gradient_tolerance) {
      w = ahead;
      break;
    }
    const Eigen::MatrixXd next = ahead - step * g;
    if ((g.array() * (next - w).array()).sum() > 0) t = 1;
    const double t_next = (1 + std::sqrt(1 + 4 * t * t)) / 2;
    ahead = next + ((t - 1) / t_next) * (next - w);
    w = next;
    t = t_next;
  }
  probe.weights_ = w;
  return probe;
}

int SoftmaxProbe::Predict(const std::vector<float>& x) const {
  Eigen::VectorXd z(mean_.size() + 1);
  z.head(mean_.size()) = Standardize(x, mean_, scale_);
  z[mean_.size()] = 1.0;
  const Eigen::VectorXd logits = weights_.transpose() * z;
  int best = 0;
  double best_logit = -INFINITY;
  for (Eigen::Index k = 0; k < logits.size(); ++k) {
    if (trained_[k] && logits[k] > best_logit) best_logit = logits[k], best = static_cast<int>(k);
  }
  return best;
}

double SoftmaxProbe::Accuracy(const ClassFeatures& test) const {
  int correct = 0, seen = 0;
  for (size_t c = 0; c < test.size(); ++c) {
    for (const auto& x : test[c]) {
      correct += Predict(x) == static_cast<int>(c);
      ++seen;
    }
  }
  return seen ? static_cast<double>(correct) / seen : 0.0;
}

}  // namespace libra::papers::testbed
