#include "src/nn/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/core/io/safetensors.h"
#include "src/core/status_macros.h"
#include "src/nn/adapters.h"
#include "src/nn/convert.h"

namespace libra::nn {
namespace {

constexpr double kPi = 3.14159265358979323846;

struct Batch {
  torch::Tensor input_ids;  // [B, L]
  torch::Tensor positions;  // flat [B*L] rows that predict a target token
  torch::Tensor targets;    // the predicted ids
  int64_t tokens = 0;       // non-padding tokens
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

torch::Tensor BatchLoss(CausalLMImpl& model, const Batch& batch) {
  // Project only the rows that carry the loss: the head is the largest
  // matmul when the vocabulary is large and prompts are long.
  torch::Tensor hidden = model.Hidden(batch.input_ids);
  hidden = hidden.reshape({-1, hidden.size(-1)}).index_select(0, batch.positions);
  torch::Tensor logits = model.Head(hidden).to(torch::kFloat32);
  return torch::nn::functional::cross_entropy(logits, batch.targets);
}

std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds);
  char text[32];
  std::snprintf(text, sizeof(text), "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return text;
}

struct AdamState {
  std::vector<std::string> names;
  std::vector<torch::Tensor> params, exp_avg, exp_avg_sq;
  std::vector<double> decay;
};

absl::Status SaveTrainCheckpoint(const std::string& path, const AdamState& state, int64_t step,
                                 const TrainOptions& options, double loss) {
  SafetensorsWriter writer;
  for (size_t i = 0; i < state.names.size(); ++i) {
    LIBRA_RETURN_IF_ERROR(writer.Add("param:" + state.names[i], ToCore(state.params[i])));
    LIBRA_RETURN_IF_ERROR(writer.Add("exp_avg:" + state.names[i], ToCore(state.exp_avg[i])));
    LIBRA_RETURN_IF_ERROR(writer.Add("exp_avg_sq:" + state.names[i], ToCore(state.exp_avg_sq[i])));
  }
  writer.SetMetadata("step", absl::StrCat(step));
  writer.SetMetadata("seed", absl::StrCat(options.seed));
  writer.SetMetadata("loss", absl::StrCat(loss));
  return writer.WriteAtomically(path);
}

absl::StatusOr<int64_t> LoadTrainCheckpoint(const std::string& path, AdamState& state,
                                            const TrainOptions& options) {
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
  int64_t step = 0;
  uint64_t seed = 0;
  const auto& meta = file.metadata();
  if (!meta.count("step") || !absl::SimpleAtoi(meta.at("step"), &step) || !meta.count("seed") ||
      !absl::SimpleAtoi(meta.at("seed"), &seed)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a libra training checkpoint"));
  }
  if (seed != options.seed) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": written with seed ", seed,
                                                   ", resuming with seed ", options.seed));
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < state.names.size(); ++i) {
    const std::string& name = state.names[i];
    for (auto [prefix, tensor] : {std::pair<const char*, torch::Tensor*>{"param:", &state.params[i]},
                                  {"exp_avg:", &state.exp_avg[i]},
                                  {"exp_avg_sq:", &state.exp_avg_sq[i]}}) {
      const std::string key = prefix + name;
      if (file.Find(key) == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": missing tensor \"", key, "\" (different adapter setup?)"));
      }
      LIBRA_ASSIGN_OR_RETURN(Tensor values, file.ReadFloat(key));
      if (values.shape() != tensor->sizes().vec()) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": tensor \"", key, "\": expected ", ShapeToString(tensor->sizes().vec()),
            ", got ", ShapeToString(values.shape())));
      }
      tensor->copy_(ToTorch(values));
    }
  }
  return step;
}

bool FileExists(const std::string& path) { return std::ifstream(path).good(); }

// The trainable parameters with fresh AdamW moments, or, given the previous
// state, moments carried over by name (and through `remap` for parameters a
// hook resized).
AdamState CollectAdamState(CausalLMImpl& model, const TrainOptions& options,
                           const AdamState* previous, const ParameterRemap& remap) {
  torch::NoGradGuard no_grad;
  AdamState state;
  for (auto& [name, param] : TrainableParameters(model)) {
    torch::Tensor exp_avg = torch::zeros_like(param), exp_avg_sq = torch::zeros_like(param);
    size_t i = 0;
    while (previous != nullptr && i < previous->names.size() && previous->names[i] != name) ++i;
    if (previous != nullptr && i < previous->names.size()) {
      if (auto it = remap.find(name); it != remap.end()) {
        const torch::Tensor source = it->second.to(param.device());
        const torch::Tensor kept = source.ge(0);
        const torch::Tensor from = source.clamp_min(0);
        if (previous->exp_avg[i].numel() > 0) {
          exp_avg = torch::where(kept, previous->exp_avg[i].reshape({-1}).index_select(0, from), exp_avg.reshape({-1})).view_as(param);
          exp_avg_sq = torch::where(kept, previous->exp_avg_sq[i].reshape({-1}).index_select(0, from), exp_avg_sq.reshape({-1})).view_as(param);
        }
      } else if (previous->exp_avg[i].sizes() == param.sizes()) {
        exp_avg = previous->exp_avg[i];
        exp_avg_sq = previous->exp_avg_sq[i];
      }
    }
    state.names.push_back(name);
    state.params.push_back(param);
    state.exp_avg.push_back(exp_avg);
    state.exp_avg_sq.push_back(exp_avg_sq);
    const bool lora_a = absl::EndsWith(name, "lora_A") && options.lora_a_weight_decay >= 0;
    state.decay.push_back(lora_a ? options.lora_a_weight_decay : options.weight_decay);
  }
  return state;
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
  return BatchLoss(model, batch);
}

absl::StatusOr<TrainStats> Train(CausalLMImpl& model, const std::vector<TokenizedExample>& data,
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
  AdamState state = CollectAdamState(model, options, nullptr, {});
  if (state.params.empty()) {
    return absl::FailedPreconditionError("no trainable parameters: attach an adapter first");
  }
  std::vector<int64_t> lengths;
  for (const auto& ex : data) lengths.push_back(static_cast<int64_t>(ex.ids.size()));
  const int64_t batches_per_epoch = (static_cast<int64_t>(data.size()) + options.batch_size - 1) / options.batch_size;
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
    LIBRA_ASSIGN_OR_RETURN(step, LoadTrainCheckpoint(options.checkpoint_path, state, options));
    stats.resumed_from = step;
  }
  int64_t last_good_step = step;
  std::map<int64_t, std::vector<std::vector<int64_t>>> epoch_batches;
  auto batch_indices = [&](int64_t micro) -> const std::vector<int64_t>& {
    const int64_t epoch = micro / batches_per_epoch;
    auto it = epoch_batches.find(epoch);
    if (it == epoch_batches.end()) {
      epoch_batches.clear();
      it = epoch_batches
               .emplace(epoch, LengthBucketedBatches(lengths, options.batch_size,
                                                     options.seed * 1000003ull + epoch))
               .first;
    }
    return it->second[micro % batches_per_epoch];
  };

  std::ofstream metrics;
  if (!options.metrics_path.empty()) {
    metrics.open(options.metrics_path, std::ios::app);
    if (!metrics) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot open metrics log ", options.metrics_path));
    }
  }
  const bool tty = options.progress && isatty(STDERR_FILENO);
  const auto start_time = std::chrono::steady_clock::now();
  int64_t tokens_seen = 0, steps_this_run = 0;
  double loss_ema = 0.0;
  model.train();
  const double b1 = options.beta1, b2 = options.beta2;
  while (step < total_steps) {
    if (options.stop_after_steps > 0 && steps_this_run == options.stop_after_steps) break;
    if (options.before_step) {
      StepContext context;
      context.step = step;
      context.steps_per_epoch = steps_per_epoch;
      context.micro_batch_loss = [&](int64_t i) {
        const std::vector<int64_t> indices = batch_indices(step * options.grad_accum + i);
        return BatchLoss(model, MakeBatch(data, indices, options.device));
      };
      LIBRA_ASSIGN_OR_RETURN(ParameterRemap remap, options.before_step(context));
      if (!remap.empty()) state = CollectAdamState(model, options, &state, remap);
    }
    for (auto& p : state.params) {
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
    }
    double step_loss = 0.0;
    for (int64_t a = 0; a < options.grad_accum; ++a) {
      const int64_t micro = step * options.grad_accum + a;
      Batch batch = MakeBatch(data, batch_indices(micro), options.device);
      torch::manual_seed(options.seed * 7919ull + static_cast<uint64_t>(micro));
      torch::Tensor loss = BatchLoss(model, batch);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        if (tty) std::fprintf(stderr, "\n");
        std::string kept = "no checkpoint path was set";
        if (!options.checkpoint_path.empty()) {
          kept = FileExists(options.checkpoint_path)
                     ? absl::StrCat("last good checkpoint: ", options.checkpoint_path,
                                    last_good_step > 0 ? absl::StrCat(" (step ", last_good_step, ")")
                                                       : std::string())
                     : "no checkpoint was written yet";
        }
        return absl::InternalError(absl::StrCat("loss is ", std::isnan(value) ? "NaN" : "Inf",
                                                " at step ", step + 1, "; stopped (", kept,
                                                "). Try a lower learning rate."));
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
    double grad_norm = 0.0;
    {
      std::vector<torch::Tensor> norms;
      for (auto& p : state.params) {
        if (p.grad().defined()) norms.push_back(p.grad().norm(2).to(torch::kFloat64));
      }
      grad_norm = norms.empty() ? 0.0 : torch::stack(norms).norm(2).item<double>();
      if (options.max_grad_norm > 0 && grad_norm > options.max_grad_norm) {
        const double coef = options.max_grad_norm / (grad_norm + 1e-6);
        for (auto& p : state.params) {
          if (p.grad().defined()) p.grad().mul_(coef);
        }
      }
    }
    const double lr = LearningRate(options, step, total_steps);
    const int64_t t = step + 1;
    const double bias1 = 1.0 - std::pow(b1, t), bias2 = 1.0 - std::pow(b2, t);
    for (size_t i = 0; i < state.params.size(); ++i) {
      torch::Tensor& p = state.params[i];
      if (!p.grad().defined()) continue;
      // torch.optim.AdamW: decoupled decay, then the bias-corrected Adam step.
      if (state.decay[i] != 0.0) p.mul_(1.0 - lr * state.decay[i]);
      state.exp_avg[i].mul_(b1).add_(p.grad(), 1.0 - b1);
      state.exp_avg_sq[i].mul_(b2).addcmul_(p.grad(), p.grad(), 1.0 - b2);
      torch::Tensor denom = (state.exp_avg_sq[i].sqrt() / std::sqrt(bias2)).add_(options.eps);
      p.addcdiv_(state.exp_avg[i], denom, -lr / bias1);
    }
    ++step;
    ++steps_this_run;
    stats.last_loss = step_loss;
    loss_ema = steps_this_run == 1 ? step_loss : 0.9 * loss_ema + 0.1 * step_loss;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
    stats.tokens_per_second = tokens_seen / std::max(elapsed, 1e-9);
    const double eta = elapsed / steps_this_run * (total_steps - step);
    const bool log_now = step % std::max<int64_t>(1, options.log_every) == 0 || step == total_steps;
    if (metrics.is_open() && log_now) {
      nlohmann::json line = {{"step", step},         {"loss", step_loss},
                             {"lr", lr},             {"grad_norm", grad_norm},
                             {"tokens_per_s", stats.tokens_per_second}, {"elapsed_s", elapsed}};
      metrics << line.dump() << "\n";
      metrics.flush();
    }
    if (tty) {
      const int width = 24;
      const int filled = static_cast<int>(width * step / total_steps);
      std::fprintf(stderr, "\r[%s%s] %lld/%lld loss %.4f  %.0f tok/s  ETA %s ",
                   std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                   static_cast<long long>(step), static_cast<long long>(total_steps), loss_ema,
                   stats.tokens_per_second, FormatDuration(eta).c_str());
      if (step == total_steps) std::fprintf(stderr, "\n");
    } else if (options.progress && log_now) {
      std::fprintf(stderr, "step %lld/%lld loss %.4f lr %.3g %.0f tok/s ETA %s\n",
                   static_cast<long long>(step), static_cast<long long>(total_steps), step_loss,
                   lr, stats.tokens_per_second, FormatDuration(eta).c_str());
    }
    const bool checkpoint_now =
        !options.checkpoint_path.empty() &&
        ((options.checkpoint_every > 0 && step % options.checkpoint_every == 0) ||
         step == total_steps ||
         (options.stop_after_steps > 0 && steps_this_run == options.stop_after_steps));
    if (checkpoint_now) {
      LIBRA_RETURN_IF_ERROR(
          SaveTrainCheckpoint(options.checkpoint_path, state, step, options, step_loss));
      last_good_step = step;
    }
  }
  model.eval();
  stats.steps = step;
  return stats;
}

}  // namespace libra::nn
