// Splits a list of tasks across data-parallel ranks so that several
// processes (or machines) build one expert library together: rank r trains
// one expert for each of tasks r, r + N, r + 2N, ... (N = world size).
//
//   std::vector<std::string> mine = TasksForRank(all_tasks, ctx.rank(), ctx.world_size()).value();
//   for (const std::string& task : mine) TrainExpert(task);  // no collectives
//
// Every rank must pass the same list in the same order (for example sorted
// task names); the union over ranks is then the whole list, each task once.
//
// ExampleShard splits one data set instead, for data-parallel training of
// one expert (src/nn/distributed.h).
#ifndef LIBRA_NN_TASK_SHARDING_H_
#define LIBRA_NN_TASK_SHARDING_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace libra::nn {

// Tasks at positions rank, rank + world, ... of `tasks`. Fails unless
// world >= 1 and 0 <= rank < world.
absl::StatusOr<std::vector<std::string>> TasksForRank(const std::vector<std::string>& tasks,
                                                      int rank, int world);

// Data parallel: the positions of `count` examples that rank `rank` of
// `world` trains on, as PyTorch's DistributedSampler picks them: rank,
// rank + world, ..., wrapping around so that every rank gets
// ceil(count / world) examples and all ranks run the same number of steps.
// Empty when count is 0. Fails like TasksForRank.
absl::StatusOr<std::vector<size_t>> ExampleShard(size_t count, int rank, int world);

}  // namespace libra::nn

#endif  // LIBRA_NN_TASK_SHARDING_H_
