// Nearest class mean: running per-class means, no gradient; predicts
// argmax_c -||x - mu_c|| over the classes seen (ties: the smaller class).
// One update per sample costs d multiply-adds.
#ifndef LIBRA_CORE_CL_NMC_HEAD_H_
#define LIBRA_CORE_CL_NMC_HEAD_H_

#include <map>

#include "Eigen/Dense"
#include "src/core/cl/head.h"

namespace libra::cl {

class NmcHead : public Head {
 public:
  std::string name() const override { return "nmc"; }
  bool uses_replay() const override { return false; }
  absl::Status Learn(const LabeledFeatures& train) override;
  std::vector<int> Predict(const Features& x) const override;
  double training_macs() const override { return macs_; }

  // The running mean of `label` (empty when unseen).
  Eigen::VectorXd Mean(int label) const;

 private:
  struct ClassStats {
    Eigen::VectorXd mean;
    int64_t count = 0;
  };
  std::map<int, ClassStats> classes_;
  double macs_ = 0.0;
};

}  // namespace libra::cl

#endif  // LIBRA_CORE_CL_NMC_HEAD_H_
