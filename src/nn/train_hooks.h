// Hooks through which an adapter changes its trainable parameters during
// training (a sparse adapter recomputing its mask) without the trainer
// knowing the adapter: before each optimizer step the trainer calls
// TrainOptions::before_step with a StepContext, and rebuilds its AdamW state
// for the parameters named in the returned ParameterRemap.
//
//   options.before_step = [&](const StepContext& step) -> absl::StatusOr<ParameterRemap> {
//     if (step.step != 0) return ParameterRemap{};
//     torch::Tensor loss = step.micro_batch_loss(0);  // a calibration batch
//     ...
//     return ParameterRemap{{"model.layers.0.self_attn.q_proj.adapter.values", source}};
//   };
#ifndef LIBRA_NN_TRAIN_HOOKS_H_
#define LIBRA_NN_TRAIN_HOOKS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include <torch/torch.h>

#include "absl/status/statusor.h"

namespace libra::nn {

struct StepContext {
  int64_t step = 0;             // optimizer steps done so far (0 before the first)
  int64_t steps_per_epoch = 1;  // optimizer steps in one pass over the data
  // Training loss, with a graph, of the i-th micro-batch from this step on
  // (the batches the coming steps train on), in the trainer's batch order.
  std::function<torch::Tensor(int64_t i)> micro_batch_loss;
};

// Trainable parameters whose size or element order a hook changed, by their
// name in TrainableParameters: for each new element, the flat position of
// the old element it continues (its AdamW moments move with it), or -1 for
// a new element (moments start at 0).
using ParameterRemap = std::map<std::string, torch::Tensor>;

using BeforeStepHook = std::function<absl::StatusOr<ParameterRemap>(const StepContext&)>;

}  // namespace libra::nn

#endif  // LIBRA_NN_TRAIN_HOOKS_H_
