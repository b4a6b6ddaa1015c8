// Hugging Face checkpoints: a folder with config.json and model.safetensors,
// or shards model-0000k-of-0000n.safetensors listed by
// model.safetensors.index.json; tensors F32, F16 or BF16 (read as float32).
//
//   LIBRA_ASSIGN_OR_RETURN(CausalLM model, LoadCheckpoint("models/tiny", torch::kCPU));
//   LIBRA_RETURN_IF_ERROR(SaveCheckpoint(*model, "out/model", DType::kBF16));
#ifndef LIBRA_NN_CHECKPOINT_H_
#define LIBRA_NN_CHECKPOINT_H_

#include <string>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/core/tensor.h"
#include "src/nn/model.h"

namespace libra::nn {

// Every base parameter must be present with its exact shape; tensors the
// model does not use (rotary inv_freq, a tied lm_head) are ignored.
absl::StatusOr<CausalLM> LoadCheckpoint(const std::string& dir, torch::Device device);

// Writes config.json and model.safetensors (base weights only: merge
// adapters first with MergeAdaptersIntoBase). Each file is written atomically.
absl::Status SaveCheckpoint(CausalLMImpl& model, const std::string& dir,
                            DType dtype = DType::kF32);

// Parses "cpu", "cuda", "cuda:1"; an error when CUDA is asked for and absent.
absl::StatusOr<torch::Device> ParseDevice(const std::string& name);

}  // namespace libra::nn

#endif  // LIBRA_NN_CHECKPOINT_H_
