// Task streams for continual learning.
//
// Class-incremental: the classes are shuffled by the seed and cut into
// tasks of `classes_per_task` (e.g. 5 tasks of 2 for a 10-class set); one
// head over all classes seen so far, no task identity at test time.
// Domain-incremental: every task has the same classes in another domain
// (e.g. original, inverted, rotated digits); the stream is the list of
// domains in a seeded order.
//
//   LIBRA_ASSIGN_OR_RETURN(auto tasks, ClassIncrementalTasks(10, 2, seed));
//   std::vector<int> rows = RowsOfClasses(labels, tasks[t]);
#ifndef LIBRA_CORE_CL_TASK_STREAM_H_
#define LIBRA_CORE_CL_TASK_STREAM_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace libra::cl {

// tasks[t] = the classes of task t. Seed 0 keeps the natural order 0, 1, ...
// Errors: num_classes or classes_per_task <= 0, or not a divisor.
absl::StatusOr<std::vector<std::vector<int>>> ClassIncrementalTasks(int num_classes,
                                                                    int classes_per_task,
                                                                    uint64_t seed);

// A seeded order of `num_domains` domains (seed 0: 0, 1, ...).
std::vector<int> DomainOrder(int num_domains, uint64_t seed);

// The indices i with labels[i] in `classes`, ascending.
std::vector<int> RowsOfClasses(const std::vector<int>& labels, const std::vector<int>& classes);

// The classes of tasks 0..t together.
std::vector<int> ClassesUpTo(const std::vector<std::vector<int>>& tasks, int t);

// A deterministic permutation of 0..n-1 (Fisher-Yates on a 64-bit
// SplitMix generator, identical on every platform, unlike std::shuffle).
std::vector<int> SeededPermutation(int n, uint64_t seed);

}  // namespace libra::cl

#endif  // LIBRA_CORE_CL_TASK_STREAM_H_
