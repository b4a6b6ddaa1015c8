#include "src/core/cl/stream.h"

#include "absl/strings/str_cat.h"
#include "src/core/cl/replay_buffer.h"
#include "src/core/cl/task_stream.h"
#include "src/core/status_macros.h"

namespace libra::cl {

std::vector<StreamTask> ClassIncrementalStream(const std::vector<int>& train_labels,
                                               const std::vector<int>& test_labels,
                                               const std::vector<std::vector<int>>& task_classes) {
  std::vector<StreamTask> tasks;
  for (const std::vector<int>& classes : task_classes) {
    tasks.push_back({RowsOfClasses(train_labels, classes), RowsOfClasses(test_labels, classes)});
  }
  return tasks;
}

absl::StatusOr<StreamRun> RunStream(Head& head, const LabeledFeatures& train,
                                    const LabeledFeatures& test,
                                    const std::vector<StreamTask>& tasks, int buffer_per_class,
                                    uint64_t seed) {
  LIBRA_ASSIGN_OR_RETURN(ReplayBuffer buffer, ReplayBuffer::Create(buffer_per_class, seed));
  for (size_t t = 0; t < tasks.size(); ++t) {
    if (tasks[t].train_rows.empty() || tasks[t].test_rows.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("stream task ", t, " has no training or no test rows"));
    }
  }
  const int n = static_cast<int>(tasks.size());
  StreamRun run;
  run.matrix = AccuracyMatrix(n);
  std::vector<LabeledFeatures> test_sets;
  for (const StreamTask& task : tasks) test_sets.push_back(SelectRows(test, task.test_rows));
  for (int i = 0; i < n; ++i) {
    const LabeledFeatures task = SelectRows(train, tasks[i].train_rows);
    if (head.uses_replay()) {
      const LabeledFeatures replay = buffer.Contents();
      run.replayed_rows += static_cast<int64_t>(replay.y.size());
      LIBRA_RETURN_IF_ERROR(head.Learn(Concatenate(task, replay)));
    } else {
      LIBRA_RETURN_IF_ERROR(head.Learn(task));
    }
    buffer.AddTask(task);
    for (int j = 0; j < n; ++j) {
      run.matrix.Set(i, j, Accuracy(head.Predict(test_sets[j].x), test_sets[j].y));
    }
  }
  run.training_macs = head.training_macs();
  return run;
}

}  // namespace libra::cl
