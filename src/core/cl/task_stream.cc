#include "src/core/cl/task_stream.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace libra::cl {
namespace {

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

std::vector<int> SeededPermutation(int n, uint64_t seed) {
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (seed == 0) return order;
  uint64_t state = seed;
  for (int i = n - 1; i > 0; --i) {
    const int j = static_cast<int>(SplitMix(state) % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

absl::StatusOr<std::vector<std::vector<int>>> ClassIncrementalTasks(int num_classes,
                                                                    int classes_per_task,
                                                                    uint64_t seed) {
  if (num_classes <= 0 || classes_per_task <= 0 || num_classes % classes_per_task != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("class-incremental stream: ", num_classes, " classes cannot be cut into ",
                     "tasks of ", classes_per_task));
  }
  const std::vector<int> order = SeededPermutation(num_classes, seed);
  std::vector<std::vector<int>> tasks(num_classes / classes_per_task);
  for (int i = 0; i < num_classes; ++i) tasks[i / classes_per_task].push_back(order[i]);
  return tasks;
}

std::vector<int> DomainOrder(int num_domains, uint64_t seed) {
  return SeededPermutation(num_domains, seed);
}

std::vector<int> RowsOfClasses(const std::vector<int>& labels, const std::vector<int>& classes) {
  std::vector<int> rows;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (std::find(classes.begin(), classes.end(), labels[i]) != classes.end()) {
      rows.push_back(static_cast<int>(i));
    }
  }
  return rows;
}

std::vector<int> ClassesUpTo(const std::vector<std::vector<int>>& tasks, int t) {
  std::vector<int> classes;
  for (int i = 0; i <= t; ++i) classes.insert(classes.end(), tasks[i].begin(), tasks[i].end());
  return classes;
}

}  // namespace libra::cl
