#include "src/core/cl/replay_buffer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "src/core/cl/task_stream.h"

namespace libra::cl {

absl::StatusOr<ReplayBuffer> ReplayBuffer::Create(int per_class, uint64_t seed) {
  if (per_class < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("replay buffer: samples per class must be >= 0, got ", per_class));
  }
  return ReplayBuffer(per_class, seed);
}

void ReplayBuffer::AddTask(const LabeledFeatures& task) {
  // A fresh permutation per task (seed and task count): the pick in one
  // task does not depend on how many rows another task had.
  const std::vector<int> order =
      SeededPermutation(static_cast<int>(task.y.size()), seed_ * 1000003ull + ++tasks_added_);
  std::map<int, std::vector<int>> picked;
  for (int i : order) {
    const int label = task.y[i];
    const int held = by_class_.count(label) ? static_cast<int>(by_class_[label].y.size()) : 0;
    if (held + static_cast<int>(picked[label].size()) < per_class_) picked[label].push_back(i);
  }
  for (auto& [label, rows] : picked) {
    std::sort(rows.begin(), rows.end());
    by_class_[label] = Concatenate(by_class_[label], SelectRows(task, rows));
  }
}

LabeledFeatures ReplayBuffer::Contents() const {
  LabeledFeatures out;
  for (const auto& [label, rows] : by_class_) out = Concatenate(out, rows);
  return out;
}

int64_t ReplayBuffer::size() const {
  int64_t n = 0;
  for (const auto& [label, rows] : by_class_) n += static_cast<int64_t>(rows.y.size());
  return n;
}

std::map<int, int> ReplayBuffer::ClassCounts() const {
  std::map<int, int> counts;
  for (const auto& [label, rows] : by_class_) counts[label] = static_cast<int>(rows.y.size());
  return counts;
}

}  // namespace libra::cl
