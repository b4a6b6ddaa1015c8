// Streaming linear discriminant analysis (Hayes and Kanan 2020, as used by
// the latent-replay paper): per-sample updates of the class means and one
// covariance shared by all classes; prediction by the linear scores
//
//   Lambda = pinv((1 - eps) Sigma + eps I),  eps = 1e-4
//   score_c(x) = x^T Lambda mu_c - 1/2 mu_c^T Lambda mu_c.
//
// Sigma is the pooled within-class covariance S_w / N, updated exactly per
// sample (Welford): with c the class's count and mu_y its mean before the
// sample, S_w += c / (c + 1) (x - mu_y)(x - mu_y)^T. (The authors' update
// scales by the total count instead of c, an approximation of the same
// quantity; the exact form is testable against the direct formula.)
// One update costs about d^2 multiply-adds; Lambda is recomputed when
// predicting after new data.
#ifndef LIBRA_CORE_CL_SLDA_HEAD_H_
#define LIBRA_CORE_CL_SLDA_HEAD_H_

#include <map>

#include "Eigen/Dense"
#include "src/core/cl/head.h"

namespace libra::cl {

inline constexpr double kSldaShrinkage = 1e-4;

class SldaHead : public Head {
 public:
  explicit SldaHead(double shrinkage = kSldaShrinkage) : shrinkage_(shrinkage) {}
  std::string name() const override { return "slda"; }
  bool uses_replay() const override { return false; }
  absl::Status Learn(const LabeledFeatures& train) override;
  std::vector<int> Predict(const Features& x) const override;
  double training_macs() const override { return macs_; }

  // Sigma = S_w / N (zero before any sample) and Lambda.
  Eigen::MatrixXd Covariance() const;
  Eigen::MatrixXd Precision() const;

 private:
  struct ClassStats {
    Eigen::VectorXd mean;
    int64_t count = 0;
  };
  double shrinkage_;
  std::map<int, ClassStats> classes_;
  Eigen::MatrixXd scatter_;  // S_w
  int64_t total_ = 0;
  double macs_ = 0.0;
};

}  // namespace libra::cl

#endif  // LIBRA_CORE_CL_SLDA_HEAD_H_
