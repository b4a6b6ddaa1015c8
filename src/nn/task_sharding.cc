#include "src/nn/task_sharding.h"

#include "absl/strings/str_cat.h"

namespace libra::nn {

absl::StatusOr<std::vector<std::string>> TasksForRank(const std::vector<std::string>& tasks,
                                                      int rank, int world) {
  if (world < 1) {
    return absl::InvalidArgumentError(absl::StrCat("world size must be at least 1, got ", world));
  }
  if (rank < 0 || rank >= world) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", rank, " is outside [0, ", world, ")"));
  }
  std::vector<std::string> mine;
  for (size_t i = static_cast<size_t>(rank); i < tasks.size(); i += static_cast<size_t>(world)) {
    mine.push_back(tasks[i]);
  }
  return mine;
}

}  // namespace libra::nn
