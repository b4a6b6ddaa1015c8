// AdamW (torch.optim.AdamW's arithmetic) over a model's trainable
// parameters, with its moments kept by parameter name so that a hook which
// resizes or reorders a parameter (train_hooks.h) can carry them over, and
// saved to / restored from a safetensors training checkpoint.
//
//   AdamWState state = CollectAdamWState(model, decay, lora_a_decay, nullptr, {});
//   ... backward ...
//   AdamWStep(state, hyper, learning_rate, step + 1);
#ifndef LIBRA_NN_ADAMW_H_
#define LIBRA_NN_ADAMW_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/nn/model.h"
#include "src/nn/train_hooks.h"

namespace libra::nn {

struct AdamWHyper {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

// Parallel vectors, one entry per trainable parameter, in
// TrainableParameters order.
struct AdamWState {
  std::vector<std::string> names;
  std::vector<torch::Tensor> params, exp_avg, exp_avg_sq;
  std::vector<double> decay;  // decoupled weight decay of each parameter
};

// The trainable parameters with fresh moments, or, given the previous
// state, moments carried over by name (and through `remap` for parameters a
// hook resized). Parameters named *lora_A decay by `lora_a_weight_decay`
// when it is >= 0, the others by `weight_decay`.
AdamWState CollectAdamWState(CausalLMImpl& model, double weight_decay, double lora_a_weight_decay,
                             const AdamWState* previous, const ParameterRemap& remap);

// One optimizer step `t` (1-based) at `learning_rate` over the parameters
// that have a gradient; call under a NoGradGuard.
void AdamWStep(AdamWState& state, const AdamWHyper& hyper, double learning_rate, int64_t t);

// Writes the parameters and moments with the step, seed and loss, atomically.
absl::Status SaveAdamWCheckpoint(const std::string& path, const AdamWState& state, int64_t step,
                                 uint64_t seed, double loss);

// Restores parameters and moments into `state` (same names and shapes) and
// returns the checkpoint's step; refuses a checkpoint of another seed.
absl::StatusOr<int64_t> LoadAdamWCheckpoint(const std::string& path, AdamWState& state,
                                            uint64_t seed);

}  // namespace libra::nn

#endif  // LIBRA_NN_ADAMW_H_
