#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "src/core/status_macros.h"
#include "src/nn/adamw.h"
#include "src/nn/training_log.h"

namespace libra::nn {
namespace {

constexpr double kPi = 3.14159265358979323846;

struct Batch {
  torch::Tensor input_ids;  // [B, L]
  torch::Tensor positions;  // flat [B*L] rows that predict a target token
  torch::Tensor targets;    // the predicted ids
  int64_t tokens = 0;       // non-padding tokens
  BatchLayout layout;       // prompt and total length of each row
};

Batch MakeBatch(const std::vector<TokenizedExample>& data, const std::vector<int64_t>& indices,
                torch::Device device) {
  int64_t length = 0;
  for (int64_t i : indices) length = std::max<int64_t>(length, data[i].ids.size());
  const int64_t rows = static_cast<int64_t>(indices.size());
  std::vector<int64_t> ids(rows * length, 0), positions, targets;
  Batch batch;
  for (int64_t r = 0; r < rows; ++r) {
    const TokenizedExample& ex = data[indices[r]];
    const int64_t n = static_cast<int64_t>(ex.ids.size());
    std::copy(ex.ids.begin(), ex.ids.end(), ids.begin() + r * length);
    batch.tokens += n;
    batch.layout.prompt_lengths.push_back(std::min<int64_t>(ex.target_start, n));
    batch.layout.lengths.push_back(n);
    for (int64_t p = std::max<int64_t>(ex.target_start, 1) - 1; p + 1 < n; ++p) {
      positions.push_back(r * length + p);
      targets.push_back(ex.ids[p + 1]);
    }
  }
  batch.input_ids = torch::tensor(ids, torch::kInt64).view({rows, length}).to(device);
  batch.positions = torch::tensor(positions, torch::kInt64).to(device);
  batch.targets = torch::tensor(targets, torch::kInt64).to(device);
  return batch;
}

torch::Tensor BatchLoss(CausalLMImpl& model, const Batch& batch, bool last_layer_at_targets) {
  // Only the rows that carry the loss reach the head (the largest matmul
  // when the vocabulary is large and prompts are long) and, where that
  // saves work and is asked for, the last layer's queries and MLP (HiddenAt).
  torch::Tensor hidden;
  {
    ScopedBatchLayout layout(model, batch.layout);
    if (last_layer_at_targets) {
      hidden = model.HiddenAt(batch.input_ids, batch.positions);
    } else {
      hidden = model.Hidden(batch.input_ids);
      hidden = hidden.reshape({-1, hidden.size(-1)}).index_select(0, batch.positions);
    }
  }
  torch::Tensor logits = model.Head(hidden).to(torch::kFloat32);
  return torch::nn::functional::cross_entropy(logits, batch.targets);
}

bool FileExists(const std::string& path) { return std::ifstream(path).good(); }

absl::Status CheckTrainingInput(const std::vector<TokenizedExample>& data,
                                const TrainOptions& options) {
  if (data.empty()) return absl::InvalidArgumentError("no training examples");
  if (options.batch_size <= 0 || options.grad_accum <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("batch_size (", options.batch_size,
                                                   ") and grad_accum (", options.grad_accum,
                                                   ") must be positive"));
  }
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i].ids.size() < 2 || data[i].target_start >= static_cast<int64_t>(data[i].ids.size())) {
      return absl::InvalidArgumentError(absl::StrCat("example ", i, " has no target tokens"));
    }
  }
  return absl::OkStatus();
}

// The micro-batches in training order: each epoch's length-bucketed batches
// come from (seed, epoch), so a resumed run sees the same order. Only the
// current epoch's batches are kept.
class BatchOrder {
 public:
  BatchOrder(const std::vector<TokenizedExample>& data, int64_t batch_size, uint64_t seed)
      : batch_size_(batch_size),
        seed_(seed),
        batches_per_epoch_((static_cast<int64_t>(data.size()) + batch_size - 1) / batch_size) {
    for (const auto& ex : data) lengths_.push_back(static_cast<int64_t>(ex.ids.size()));
  }

  int64_t batches_per_epoch() const { return batches_per_epoch_; }

  // Indices of micro-batch `micro`; valid until the next call.
  const std::vector<int64_t>& MicroBatch(int64_t micro) {
    const int64_t epoch = micro / batches_per_epoch_;
    if (epoch != epoch_) {
      batches_ = LengthBucketedBatches(lengths_, batch_size_, seed_ * 1000003ull + epoch);
      epoch_ = epoch;
    }
    return batches_[micro % batches_per_epoch_];
  }

 private:
  std::vector<int64_t> lengths_;
  int64_t batch_size_;
  uint64_t seed_;
  int64_t batches_per_epoch_;
  int64_t epoch_ = -1;
  std::vector<std::vector<int64_t>> batches_;
};

absl::Status NonFiniteLossError(double loss, int64_t step, const TrainOptions& options,
                                int64_t last_good_step) {
  std::string kept = "no checkpoint path was set";
  if (!options.checkpoint_path.empty()) {
    kept = FileExists(options.checkpoint_path)
               ? absl::StrCat("last good checkpoint: ", options.checkpoint_path,
                              last_good_step > 0 ? absl::StrCat(" (step ", last_good_step, ")")
                                                 : std::string())
               : "no checkpoint was written yet";
  }
  return absl::InternalError(absl::StrCat("loss is ", std::isnan(loss) ? "NaN" : "Inf",
                                          " at step ", step + 1, "; stopped (", kept,
                                          "). Try a lower learning rate."));
}

// Global L2 norm of the gradients (before clipping); scales them down to
// `max_norm` when above it and `max_norm` > 0.
double ClipGradients(std::vector<torch::Tensor>& params, double max_norm) {
  std::vector<torch::Tensor> norms;
  for (auto& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().norm(2).to(torch::kFloat64));
  }
  const double grad_norm = norms.empty() ? 0.0 : torch::stack(norms).norm(2).item<double>();
  if (max_norm > 0 && grad_norm > max_norm) {
    const double coef = max_norm / (grad_norm + 1e-6);
    for (auto& p : params) {
      if (p.grad().defined()) p.grad().mul_(coef);
    }
  }
  return grad_norm;
}

}  // namespace

absl::StatusOr<Schedule> ParseSchedule(const std::string& name) {
  if (name == "constant") return Schedule::kConstant;
  if (name == "linear") return Schedule::kLinear;
  if (name == "cosine") return Schedule::kCosine;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown schedule \"", name, "\" (known: constant, linear, cosine)"));
}

double LearningRate(const TrainOptions& options, int64_t step, int64_t total_steps) {
  // Hugging Face's schedules: linear warmup from 0, then decay to 0.
  if (step < options.warmup_steps) {
    return options.learning_rate * static_cast<double>(step) / std::max<int64_t>(1, options.warmup_steps);
  }
  const double progress = static_cast<double>(step - options.warmup_steps) /
                          std::max<int64_t>(1, total_steps - options.warmup_steps);
  switch (options.schedule) {
    case Schedule::kConstant:
      return options.learning_rate;
    case Schedule::kLinear:
      return options.learning_rate * std::max(0.0, 1.0 - progress);
    case Schedule::kCosine:
      return options.learning_rate * std::max(0.0, 0.5 * (1.0 + std::cos(kPi * progress)));
  }
  return options.learning_rate;
}

torch::Tensor TargetLoss(CausalLMImpl& model, const std::vector<TokenizedExample>& examples,
                         const std::vector<int64_t>& indices, torch::Device device,
                         int64_t* target_tokens) {
  Batch batch = MakeBatch(examples, indices, device);
  if (target_tokens != nullptr) *target_tokens = batch.targets.size(0);
  return BatchLoss(model, batch, /*last_layer_at_targets=*/true);
}

absl::StatusOr<TrainStats> Train(CausalLMImpl& model, const std::vector<TokenizedExample>& data,
                                 const TrainOptions& options) {
  LIBRA_RETURN_IF_ERROR(CheckTrainingInput(data, options));
  AdamWState state =
      CollectAdamWState(model, options.weight_decay, options.lora_a_weight_decay, nullptr, {});
  if (state.params.empty()) {
    return absl::FailedPreconditionError("no trainable parameters: attach an adapter first");
  }
  const AdamWHyper hyper{options.beta1, options.beta2, options.eps};
  BatchOrder order(data, options.batch_size, options.seed);
  const int64_t batches_per_epoch = order.batches_per_epoch();
  const int64_t total_steps =
      options.max_steps > 0
          ? options.max_steps
          : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(options.epochs * batches_per_epoch /
                                                                options.grad_accum)));
  const int64_t steps_per_epoch =
      std::max<int64_t>(1, (batches_per_epoch + options.grad_accum - 1) / options.grad_accum);
  TrainStats stats;
  stats.total_steps = total_steps;
  int64_t step = 0;
  if (options.resume && !options.checkpoint_path.empty() && FileExists(options.checkpoint_path)) {
    LIBRA_ASSIGN_OR_RETURN(step, LoadAdamWCheckpoint(options.checkpoint_path, state, options.seed));
    stats.resumed_from = step;
  }
  int64_t last_good_step = step;
  LIBRA_ASSIGN_OR_RETURN(TrainingLog log, TrainingLog::Open(options.metrics_path, options.log_every,
                                                            options.progress, total_steps));
  const auto start_time = std::chrono::steady_clock::now();
  int64_t tokens_seen = 0, steps_this_run = 0;
  model.train();
  while (step < total_steps) {
    if (options.stop_after_steps > 0 && steps_this_run == options.stop_after_steps) break;
    if (options.before_step) {
      StepContext context;
      context.step = step;
      context.steps_per_epoch = steps_per_epoch;
      context.micro_batch_loss = [&](int64_t i) {
        const std::vector<int64_t> indices = order.MicroBatch(step * options.grad_accum + i);
        return BatchLoss(model, MakeBatch(data, indices, options.device),
                         options.last_layer_at_targets);
      };
      LIBRA_ASSIGN_OR_RETURN(ParameterRemap remap, options.before_step(context));
      if (!remap.empty()) {
        state = CollectAdamWState(model, options.weight_decay, options.lora_a_weight_decay, &state,
                                  remap);
      }
    }

    // Forward and backward over the step's micro-batches; dropout is
    // reseeded per micro-batch so that a resumed run draws the same masks.
    for (auto& p : state.params) {
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
    }
    double step_loss = 0.0;
    for (int64_t a = 0; a < options.grad_accum; ++a) {
      const int64_t micro = step * options.grad_accum + a;
      Batch batch = MakeBatch(data, order.MicroBatch(micro), options.device);
      torch::manual_seed(options.seed * 7919ull + static_cast<uint64_t>(micro));
      torch::Tensor loss = BatchLoss(model, batch, options.last_layer_at_targets);
      if (options.auxiliary_loss) {
        torch::Tensor extra = options.auxiliary_loss();
        if (extra.defined()) loss = loss + extra.to(loss.dtype());
      }
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        log.Interrupt();
        return NonFiniteLossError(value, step, options, last_good_step);
      }
      (loss / static_cast<double>(options.grad_accum)).backward();
      step_loss += value / options.grad_accum;
      tokens_seen += batch.tokens;
    }

    torch::NoGradGuard no_grad;
    if (options.after_backward) {
      std::vector<torch::Tensor> grads;
      for (auto& p : state.params) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        grads.push_back(p.grad());
      }
      LIBRA_RETURN_IF_ERROR(options.after_backward(grads));
    }
    const double grad_norm = ClipGradients(state.params, options.max_grad_norm);
    const double lr = LearningRate(options, step, total_steps);
    AdamWStep(state, hyper, lr, step + 1);
    ++step;
    ++steps_this_run;

    stats.last_loss = step_loss;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
    stats.tokens_per_second = tokens_seen / std::max(elapsed, 1e-9);
    log.Record({step, steps_this_run, step_loss, lr, grad_norm, stats.tokens_per_second, elapsed});
    const bool checkpoint_now =
        !options.checkpoint_path.empty() &&
        ((options.checkpoint_every > 0 && step % options.checkpoint_every == 0) ||
         step == total_steps ||
         (options.stop_after_steps > 0 && steps_this_run == options.stop_after_steps));
    if (checkpoint_now) {
      LIBRA_RETURN_IF_ERROR(
          SaveAdamWCheckpoint(options.checkpoint_path, state, step, options.seed, step_loss));
      last_good_step = step;
    }
  }
  model.eval();
  stats.steps = step;
  return stats;
}

}  // namespace libra::nn
