#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/adamw.h"

#include <cmath>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/core/io/safetensors.h"
#include "src/core/status_macros.h"
#include "src/nn/adapters.h"
#include "src/nn/convert.h"

namespace libra::nn {

AdamWState CollectAdamWState(CausalLMImpl& model, double weight_decay, double lora_a_weight_decay,
                             const AdamWState* previous, const ParameterRemap& remap) {
  torch::NoGradGuard no_grad;
  AdamWState state;
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
          exp_avg = torch::where(kept, previous->exp_avg[i].reshape({-1}).index_select(0, from),
                                 exp_avg.reshape({-1}))
                        .view_as(param);
          exp_avg_sq =
              torch::where(kept, previous->exp_avg_sq[i].reshape({-1}).index_select(0, from),
                           exp_avg_sq.reshape({-1}))
                  .view_as(param);
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
    const bool lora_a = absl::EndsWith(name, "lora_A") && lora_a_weight_decay >= 0;
    state.decay.push_back(lora_a ? lora_a_weight_decay : weight_decay);
  }
  return state;
}

void AdamWStep(AdamWState& state, const AdamWHyper& hyper, double learning_rate, int64_t t) {
  const double b1 = hyper.beta1, b2 = hyper.beta2, lr = learning_rate;
  const double bias1 = 1.0 - std::pow(b1, t), bias2 = 1.0 - std::pow(b2, t);
  for (size_t i = 0; i < state.params.size(); ++i) {
    torch::Tensor& p = state.params[i];
    if (!p.grad().defined()) continue;
    // torch.optim.AdamW: decoupled decay, then the bias-corrected Adam step.
    if (state.decay[i] != 0.0) p.mul_(1.0 - lr * state.decay[i]);
    state.exp_avg[i].mul_(b1).add_(p.grad(), 1.0 - b1);
    state.exp_avg_sq[i].mul_(b2).addcmul_(p.grad(), p.grad(), 1.0 - b2);
    torch::Tensor denom = (state.exp_avg_sq[i].sqrt() / std::sqrt(bias2)).add_(hyper.eps);
    p.addcdiv_(state.exp_avg[i], denom, -lr / bias1);
  }
}

absl::Status SaveAdamWCheckpoint(const std::string& path, const AdamWState& state, int64_t step,
                                 uint64_t seed, double loss) {
  SafetensorsWriter writer;
  for (size_t i = 0; i < state.names.size(); ++i) {
    LIBRA_RETURN_IF_ERROR(writer.Add("param:" + state.names[i], ToCore(state.params[i])));
    LIBRA_RETURN_IF_ERROR(writer.Add("exp_avg:" + state.names[i], ToCore(state.exp_avg[i])));
    LIBRA_RETURN_IF_ERROR(writer.Add("exp_avg_sq:" + state.names[i], ToCore(state.exp_avg_sq[i])));
  }
  writer.SetMetadata("step", absl::StrCat(step));
  writer.SetMetadata("seed", absl::StrCat(seed));
  writer.SetMetadata("loss", absl::StrCat(loss));
  return writer.WriteAtomically(path);
}

absl::StatusOr<int64_t> LoadAdamWCheckpoint(const std::string& path, AdamWState& state,
                                            uint64_t seed) {
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
  int64_t step = 0;
  uint64_t written_seed = 0;
  const auto& meta = file.metadata();
  if (!meta.count("step") || !absl::SimpleAtoi(meta.at("step"), &step) || !meta.count("seed") ||
      !absl::SimpleAtoi(meta.at("seed"), &written_seed)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a libra training checkpoint"));
  }
  if (written_seed != seed) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": written with seed ", written_seed,
                                                   ", resuming with seed ", seed));
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

}  // namespace libra::nn
