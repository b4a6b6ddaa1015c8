#include "src/core/cl/knn_head.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace libra::cl {
namespace {

// The label by vote among the first k of `order` (nearest first).
int Vote(const std::vector<int>& order, const std::vector<int>& labels, int k) {
  std::map<int, int> votes;
  std::map<int, int> first_rank;
  for (int r = 0; r < k; ++r) {
    const int label = labels[order[r]];
    ++votes[label];
    first_rank.emplace(label, r);
  }
  int best = -1;
  for (const auto& [label, count] : votes) {
    if (best < 0 || count > votes[best] ||
        (count == votes[best] && first_rank[label] < first_rank[best])) {
      best = label;
    }
  }
  return best;
}

}  // namespace

absl::StatusOr<KnnHead> KnnHead::Create(int k) {
  if (k <= 0) return absl::InvalidArgumentError(absl::StrCat("knn head: k must be > 0, got ", k));
  return KnnHead(k);
}

absl::Status KnnHead::Learn(const LabeledFeatures& train) {
  if (memory_.x.rows() > 0 && train.x.cols() != memory_.x.cols()) {
    return absl::InvalidArgumentError(absl::StrCat("knn head: feature width ", train.x.cols(),
                                                   " after ", memory_.x.cols()));
  }
  memory_ = Concatenate(memory_, train);
  return absl::OkStatus();
}

std::vector<int> KnnHead::Predict(const Features& x) const {
  const Eigen::Index n = memory_.x.rows();
  std::vector<int> out(x.rows(), -1);
  if (n == 0) return out;
  const int k = static_cast<int>(std::min<Eigen::Index>(k_, n));
  // ||x - m||^2 = ||x||^2 - 2 x.m + ||m||^2; ||x||^2 does not change the order.
  const Eigen::VectorXf memory_norms = memory_.x.rowwise().squaredNorm();
  const Eigen::MatrixXf cross = x * memory_.x.transpose();
  std::vector<int> order(n);
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const Eigen::VectorXf distance = memory_norms - 2.0f * cross.row(i).transpose();
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
      return distance[a] < distance[b] || (distance[a] == distance[b] && a < b);
    });
    out[i] = Vote(order, memory_.y, k);
  }
  return out;
}

int SelectKnnK(const LabeledFeatures& train, const LabeledFeatures& validation) {
  int best_k = kKnnCandidates[0];
  double best_accuracy = -1.0;
  for (int k : kKnnCandidates) {
    if (k > train.x.rows()) continue;
    KnnHead head = *KnnHead::Create(k);
    (void)head.Learn(train);
    const double accuracy = Accuracy(head.Predict(validation.x), validation.y);
    if (accuracy > best_accuracy) {
      best_accuracy = accuracy;
      best_k = k;
    }
  }
  return best_k;
}

}  // namespace libra::cl
