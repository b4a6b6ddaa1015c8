// Runs one head through a continual stream and fills the accuracy matrix.
//
// A stream is a list of tasks, each a set of training rows and a set of
// test rows of one LabeledFeatures pair: class-incremental (rows of each
// task's classes, ClassIncrementalStream) or domain-incremental (rows of
// each domain). After learning task i (its rows, plus the replay buffer's
// when the head uses replay; the buffer then takes the task's rows), R[i][j]
// is the head's accuracy on task j's test rows, for every j.
//
//   LIBRA_ASSIGN_OR_RETURN(auto tasks, ClassIncrementalStream(train.y, test.y, classes));
//   LIBRA_ASSIGN_OR_RETURN(StreamRun run, RunStream(head, train, test, tasks, 20, seed));
#ifndef LIBRA_CORE_CL_STREAM_H_
#define LIBRA_CORE_CL_STREAM_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "src/core/cl/features.h"
#include "src/core/cl/head.h"
#include "src/core/cl/metrics.h"

namespace libra::cl {

struct StreamTask {
  std::vector<int> train_rows;
  std::vector<int> test_rows;
};

struct StreamRun {
  AccuracyMatrix matrix{0};
  double training_macs = 0.0;  // the head's, over the whole stream
  int64_t replayed_rows = 0;   // buffer rows fed to the head, summed over tasks
};

// Tasks of the classes in `task_classes` (ClassIncrementalTasks).
std::vector<StreamTask> ClassIncrementalStream(const std::vector<int>& train_labels,
                                               const std::vector<int>& test_labels,
                                               const std::vector<std::vector<int>>& task_classes);

// buffer_per_class >= 0; a task without training or test rows is an error
// naming the task.
absl::StatusOr<StreamRun> RunStream(Head& head, const LabeledFeatures& train,
                                    const LabeledFeatures& test,
                                    const std::vector<StreamTask>& tasks, int buffer_per_class,
                                    uint64_t seed);

}  // namespace libra::cl

#endif  // LIBRA_CORE_CL_STREAM_H_
