// A class-balanced replay buffer: at most `per_class` samples of every
// class, chosen uniformly at random (seeded) from the class's samples
// when its task ends. A row is whatever the learner replays: raw inputs
// (flattened pixels) for raw replay, latents for latent replay.
//
//   ReplayBuffer buffer(/*per_class=*/20, seed);
//   buffer.AddTask(task_rows);                   // after learning the task
//   LabeledFeatures train = Concatenate(next_task, buffer.Contents());
#ifndef LIBRA_CORE_CL_REPLAY_BUFFER_H_
#define LIBRA_CORE_CL_REPLAY_BUFFER_H_

#include <cstdint>
#include <map>

#include "absl/status/statusor.h"
#include "src/core/cl/features.h"

namespace libra::cl {

class ReplayBuffer {
 public:
  // per_class >= 0 (0: no replay); a negative size is an error.
  static absl::StatusOr<ReplayBuffer> Create(int per_class, uint64_t seed);

  // Stores up to per_class random rows of each class in `task` (a class
  // seen before keeps its earlier rows and is topped up to per_class).
  void AddTask(const LabeledFeatures& task);

  // Every stored row, grouped by class in ascending class order.
  LabeledFeatures Contents() const;

  int per_class() const { return per_class_; }
  int64_t size() const;
  // Stored rows per class.
  std::map<int, int> ClassCounts() const;

 private:
  ReplayBuffer(int per_class, uint64_t seed) : per_class_(per_class), seed_(seed) {}

  int per_class_;
  uint64_t seed_;
  uint64_t tasks_added_ = 0;
  std::map<int, LabeledFeatures> by_class_;
};

}  // namespace libra::cl

#endif  // LIBRA_CORE_CL_REPLAY_BUFFER_H_
