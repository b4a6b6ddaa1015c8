// Linear probes for task identity on feature vectors, both on features
// standardised with the training set's per-dimension mean and standard
// deviation:
// - nearest class mean: untrained; with a shared isotropic metric it is a
//   linear classifier (argmin |z - c_k|^2 = argmax 2 c_k.z - |c_k|^2), but
//   one whose direction is fixed by the class means, so it fails on classes
//   that are separable only along another direction (for example a task
//   whose instruction templates form several clusters);
// - softmax regression: the usual trained linear probe, multinomial logistic
//   regression with an L2 penalty on the weights (scikit-learn's default
//   strength, C = 1: the summed loss plus |W|^2 / 2), fitted to convergence
//   by accelerated gradient descent, so the fit is deterministic.
//
//   // train[k] / test[k]: feature vectors of class k
//   double ncm = NearestClassMeanAccuracy(train, test);
//   double softmax = SoftmaxProbe::Fit(train).Accuracy(test);
#ifndef LIBRA_PAPERS_TESTBED_LINEAR_PROBE_H_
#define LIBRA_PAPERS_TESTBED_LINEAR_PROBE_H_

#include <vector>

#include "Eigen/Dense"

namespace libra::papers::testbed {

using ClassFeatures = std::vector<std::vector<std::vector<float>>>;  // [class][example][dim]

// Fraction of test vectors whose nearest (standardised) training class mean
// is their own class; ties go to the lower class index. Classes without
// training vectors are never predicted; 0 when there are no test vectors.
double NearestClassMeanAccuracy(const ClassFeatures& train, const ClassFeatures& test);

struct SoftmaxProbeOptions {
  // Penalty on the mean loss: (l2 / 2) |W|^2, bias excluded; < 0 means
  // 1 / (number of training vectors), scikit-learn's C = 1.
  double l2 = -1;
  int max_iterations = 20000;
  // Stops when the gradient's largest entry falls below this.
  double gradient_tolerance = 1e-7;
};

class SoftmaxProbe {
 public:
  // Classes without training vectors are never predicted.
  static SoftmaxProbe Fit(const ClassFeatures& train, const SoftmaxProbeOptions& options = {});

  // The predicted class; ties go to the lower class index.
  int Predict(const std::vector<float>& x) const;
  // Fraction of test vectors predicted as their own class; 0 when there are
  // none.
  double Accuracy(const ClassFeatures& test) const;

  // On standardised features: rows = dimensions, then the bias; columns =
  // classes.
  const Eigen::MatrixXd& weights() const { return weights_; }
  const Eigen::VectorXd& feature_mean() const { return mean_; }
  const Eigen::VectorXd& feature_scale() const { return scale_; }
  int iterations() const { return iterations_; }

 private:
  Eigen::MatrixXd weights_;
  Eigen::VectorXd mean_, scale_;
  std::vector<bool> trained_;  // per class: had training vectors
  int iterations_ = 0;
};

}  // namespace libra::papers::testbed

#endif  // LIBRA_PAPERS_TESTBED_LINEAR_PROBE_H_
