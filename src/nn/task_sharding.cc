#include "src/nn/task_sharding.h"

#include "absl/strings/str_cat.h"

namespace libra::nn {

namespace {

absl::Status CheckRank(int rank, int world) {
  if (world < 1) {
    return absl::InvalidArgumentError(absl::StrCat("world size must be at least 1, got ", world));
  }
  if (rank < 0 || rank >= world) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", rank, " is outside [0, ", world, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<size_t>> ExampleShard(size_t count, int rank, int world) {
  if (absl::Status status = CheckRank(rank, world); !status.ok()) return status;
  std::vector<size_t> mine;
  if (count == 0) return mine;
  const size_t per_rank = (count + world - 1) / world;
  for (size_t k = 0; k < per_rank; ++k) mine.push_back((rank + k * world) % count);
  return mine;
}

absl::StatusOr<std::vector<std::string>> TasksForRank(const std::vector<std::string>& tasks,
                                                      int rank, int world) {
  if (absl::Status status = CheckRank(rank, world); !status.ok()) return status;
  std::vector<std::string> mine;
  for (size_t i = static_cast<size_t>(rank); i < tasks.size(); i += static_cast<size_t>(world)) {
    mine.push_back(tasks[i]);
  }
  return mine;
}

}  // namespace libra::nn
