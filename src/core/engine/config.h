// LlamaConfig: the hyperparameters of a Llama-family checkpoint, read from
// an HF-style config.json (the fields transformers' LlamaConfig writes).
//
//   LIBRA_ASSIGN_OR_RETURN(std::string text, ReadFile(dir + "/config.json"));
//   LIBRA_ASSIGN_OR_RETURN(LlamaConfig config, ParseLlamaConfig(text, "config.json"));
//   // config.head_dim() == hidden_size / num_attention_heads
#ifndef LIBRA_CORE_ENGINE_CONFIG_H_
#define LIBRA_CORE_ENGINE_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace libra::engine {

struct LlamaConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;        // d
  int64_t intermediate_size = 0;  // f (SwiGLU width)
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;       // GQA: num_heads % num_kv_heads == 0
  int64_t max_positions = 2048;   // KV cache capacity
  float rms_norm_eps = 1e-6f;
  float rope_theta = 10000.0f;
  bool tie_word_embeddings = false;

  int64_t head_dim() const { return hidden_size / num_heads; }
  int64_t kv_dim() const { return num_kv_heads * head_dim(); }
};

// Rejects missing or non-positive sizes, heads that do not divide the
// width, an odd head dimension (RoPE pairs), and unsupported activations or
// rope scaling. `label` names the file in errors.
absl::StatusOr<LlamaConfig> ParseLlamaConfig(absl::string_view json, absl::string_view label);

// The config.json text for `config` (tests and demo checkpoints).
std::string LlamaConfigToJson(const LlamaConfig& config);

}  // namespace libra::engine

#endif  // LIBRA_CORE_ENGINE_CONFIG_H_
