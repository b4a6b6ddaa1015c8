// ModelConfig: the architecture fields libra reads from a Hugging Face
// config.json, for the two decoder families it implements.
//
//   Llama family (model_type llama, mistral, qwen2): RMSNorm, RoPE, SwiGLU,
//     grouped-query attention, optional tied embeddings, optional q/k/v bias
//     (qwen2 always has it).
//   Phi (model_type phi, phi-2): LayerNorm, partial rotary, attention and MLP
//     in parallel on one normed input, gelu_new, biased dense layers and head.
//
//   LIBRA_ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(dir + "/config.json"));
//   std::string json = ModelConfigToJson(config);  // written next to saved weights
#ifndef LIBRA_NN_CONFIG_H_
#define LIBRA_NN_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace libra::nn {

enum class Family { kLlama, kPhi };

struct ModelConfig {
  Family family = Family::kLlama;
  std::string model_type = "llama";
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // defaults to num_attention_heads
  int64_t max_position_embeddings = 2048;
  double norm_eps = 1e-6;           // rms_norm_eps or layer_norm_eps
  double rope_theta = 10000.0;
  double partial_rotary_factor = 1.0;  // phi: fraction of head_dim rotated
  bool tie_word_embeddings = false;
  bool attention_bias = false;      // q/k/v bias (llama attention_bias, qwen2)
  std::string hidden_act = "silu";  // silu (llama) or gelu_new (phi)

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  int64_t rotary_dim() const;
};

// Parses and validates config.json text; `label` names the file in errors.
absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view json, absl::string_view label);
absl::StatusOr<ModelConfig> ReadModelConfig(const std::string& path);
// HF-style config.json text that ParseModelConfig reads back identically.
std::string ModelConfigToJson(const ModelConfig& config);

}  // namespace libra::nn

#endif  // LIBRA_NN_CONFIG_H_
