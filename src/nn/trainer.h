// Trainer: AdamW over the trainable parameters (adapters; the base is
// frozen), warmup then cosine/linear decay, gradient clipping and
// accumulation, length-bucketed batches, loss on target tokens only.
//
// Deterministic on CPU for a seed and thread count: batch order comes from
// (seed, epoch), dropout is reseeded from (seed, micro-batch). A checkpoint
// (trainable weights, AdamW moments, step) is written atomically every
// `checkpoint_every` steps and at the end; with `resume`, training continues
// from it and ends with the same weights as an uninterrupted run. A NaN or
// Inf loss stops training with an error naming the step and the last good
// checkpoint, which is left untouched.
//
//   TrainOptions options;
//   options.max_steps = 200;
//   options.checkpoint_path = "out/train.ckpt.safetensors";
//   LIBRA_ASSIGN_OR_RETURN(TrainStats stats, Train(*model, examples, options));
#ifndef LIBRA_NN_TRAINER_H_
#define LIBRA_NN_TRAINER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "src/nn/examples.h"
#include "src/nn/model.h"
#include "src/nn/train_hooks.h"

namespace libra::nn {

enum class Schedule { kConstant, kLinear, kCosine };
absl::StatusOr<Schedule> ParseSchedule(const std::string& name);  // constant, linear, cosine

struct TrainOptions {
  double learning_rate = 1e-4;
  double weight_decay = 0.0;
  double lora_a_weight_decay = -1.0;  // < 0: same as weight_decay
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int64_t warmup_steps = 0;
  Schedule schedule = Schedule::kCosine;
  double max_grad_norm = 1.0;  // <= 0: no clipping
  int64_t batch_size = 8;
  int64_t grad_accum = 1;
  int64_t max_steps = 0;  // optimizer steps; 0: epochs over the data
  double epochs = 1.0;
  uint64_t seed = 0;
  torch::Device device = torch::kCPU;
  std::string checkpoint_path;  // empty: no checkpoints
  int64_t checkpoint_every = 0;
  bool resume = false;           // continue from checkpoint_path if it exists
  int64_t stop_after_steps = 0;  // stop early (as if interrupted) after this many steps
  std::string metrics_path;      // JSONL, one line per logged step (appended)
  int64_t log_every = 10;
  bool progress = true;  // progress bar on a terminal, plain lines otherwise
  // Called after each step's backward passes, before clipping, with the
  // trainable parameters' gradients (data parallel: all-reduce them here).
  std::function<absl::Status(std::vector<torch::Tensor>& grads)> after_backward;
  // Called before each optimizer step (train_hooks.h); the parameters it
  // names in its remap get their AdamW moments carried over or reset.
  // A sparse adapter's mask schedule (sparse_adapter.h) is one.
  BeforeStepHook before_step;
  // Called after each training micro-batch's forward pass; a defined result
  // is added to its loss (a posterior router's KL term, mope.h).
  std::function<torch::Tensor()> auxiliary_loss;
  // Whether the loss runs the last layer at the target rows only
  // (CausalLMImpl::HiddenAt), which is faster when prompts are most of each
  // sequence. false: every row goes through every layer, as training did
  // before; a recorded artifact (a pretrained base that experts, learning
  // rates and claims were measured on) keeps its exact bits that way, while
  // the faster path rounds differently and a long run drifts to other weights.
  bool last_layer_at_targets = true;
};

// Learning rate before optimizer step `step` (0-based) of `total_steps`.
double LearningRate(const TrainOptions& options, int64_t step, int64_t total_steps);

struct TrainStats {
  int64_t steps = 0;        // optimizer steps done in total (including resumed ones)
  int64_t total_steps = 0;
  int64_t resumed_from = 0;
  double last_loss = 0.0;
  double tokens_per_second = 0.0;
};

// Mean cross-entropy of the target tokens of examples[indices] (with a
// gradient unless the caller holds a NoGradGuard).
torch::Tensor TargetLoss(CausalLMImpl& model, const std::vector<TokenizedExample>& examples,
                         const std::vector<int64_t>& indices, torch::Device device,
                         int64_t* target_tokens = nullptr);

absl::StatusOr<TrainStats> Train(CausalLMImpl& model, const std::vector<TokenizedExample>& data,
                                 const TrainOptions& options);

}  // namespace libra::nn

#endif  // LIBRA_NN_TRAINER_H_
