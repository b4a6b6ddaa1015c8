#include "src/core/cl/knn_head.h"

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "src/core/cl/selection.h"

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
  std::vector<int> ks;
  for (int k : kKnnCandidates) {
    if (k <= train.x.rows()) ks.push_back(k);
  }
  if (ks.empty() || validation.y.empty()) return kKnnCandidates[0];
  auto make = [&](int i) -> absl::StatusOr<std::unique_ptr<Head>> {
    absl::StatusOr<KnnHead> head = KnnHead::Create(ks[i]);
    if (!head.ok()) return head.status();
    return std::make_unique<KnnHead>(*std::move(head));
  };
  absl::StatusOr<FirstTaskChoice> choice =
      SelectOnFirstTask(static_cast<int>(ks.size()), make, train, validation);
  return choice.ok() ? ks[choice->index] : kKnnCandidates[0];
}

}  // namespace libra::cl
