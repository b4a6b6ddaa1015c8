// k nearest neighbours (Euclidean) over every training row learned: a
// memory of the stream, no training compute. The label is the majority
// among the k nearest; a tie between labels goes to the label whose
// nearest member is nearer; equal distances keep learning order.
// k is chosen on validation data from kKnnCandidates (SelectKnnK).
#ifndef LIBRA_CORE_CL_KNN_HEAD_H_
#define LIBRA_CORE_CL_KNN_HEAD_H_

#include <vector>

#include "absl/status/statusor.h"
#include "src/core/cl/head.h"

namespace libra::cl {

inline constexpr int kKnnCandidates[] = {5, 10, 20, 50, 100};

class KnnHead : public Head {
 public:
  // k > 0, else an error naming k.
  static absl::StatusOr<KnnHead> Create(int k);
  std::string name() const override { return "knn"; }
  bool uses_replay() const override { return false; }
  absl::Status Learn(const LabeledFeatures& train) override;
  std::vector<int> Predict(const Features& x) const override;
  double training_macs() const override { return 0.0; }
  int k() const { return k_; }

 private:
  explicit KnnHead(int k) : k_(k) {}
  int k_;
  LabeledFeatures memory_;
};

// The candidate k with the best accuracy on `validation` for a kNN over
// `train` (ties: the smaller k). Candidates above train's size are skipped
// (all of them: the smallest candidate).
int SelectKnnK(const LabeledFeatures& train, const LabeledFeatures& validation);

}  // namespace libra::cl

#endif  // LIBRA_CORE_CL_KNN_HEAD_H_
