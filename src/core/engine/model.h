// Torch-free Llama-family inference with LoRA experts and per-token Arrow
// routing, in the style of ggml's gpt-2 example: hyperparameters (config.h),
// a layer struct, a model struct with a checked loader, and a forward pass
// that reads like the architecture. Runs natively and in WebAssembly.
//
// Architecture (HF LlamaForCausalLM): x = E[token];
//   per layer: x += W_o Attn(RoPE(W_q h), RoPE(W_k h), W_v h), h = RMSNorm(x)
//              x += W_down (SiLU(W_gate h) * W_up h),            h = RMSNorm(x)
//   logits = W_lm RMSNorm(x)  (W_lm = E when embeddings are tied)
// with grouped-query attention and a KV cache, one token per Step().
//
// An adapted module computes W x + sum_e w_e s_e B_e A_e x over the experts
// that adapt it. Arrow (Ostapenko et al. 2024) picks w per token and module
// (scoring by src/core/arrow/router.h):
//   1. score every expert: |<x, p_e>|, p_e its prototype (lora.h);
//   2. keep the top k; 3. w = softmax over the k scores / temperature.
// Parameter mixing (option) applies (sum w_e s_e B_e)(sum w_e A_e) x instead.
//
//   LIBRA_ASSIGN_OR_RETURN(LlamaModel model, LlamaModel::Load(config, weights));
//   LIBRA_ASSIGN_OR_RETURN(Session session, Session::Create(&model, &experts, options));
//   LIBRA_ASSIGN_OR_RETURN(Generation out, GenerateGreedy(session, prompt, 32, -1));
//   // out.tokens; out.routing[t][layer][proj][expert] flattened
#ifndef LIBRA_CORE_ENGINE_MODEL_H_
#define LIBRA_CORE_ENGINE_MODEL_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "src/core/engine/config.h"
#include "src/core/engine/lora.h"
#include "src/core/io/safetensors.h"
#include "src/core/tensor.h"

namespace libra::engine {

struct LlamaLayer {
  Tensor attention_norm;  // [d]
  Tensor wq;              // [h*hd, d]
  Tensor wk;              // [kv*hd, d]
  Tensor wv;              // [kv*hd, d]
  Tensor wo;              // [d, h*hd]
  Tensor ffn_norm;        // [d]
  Tensor w_gate;          // [f, d]
  Tensor w_up;            // [f, d]
  Tensor w_down;          // [d, f]

  const Tensor& Weight(Proj proj) const;
};

struct LlamaModel {
  LlamaConfig config;
  Tensor embed;  // [V, d]
  std::vector<LlamaLayer> layers;
  Tensor norm;     // [d]
  Tensor lm_head;  // [V, d]; empty when tied to `embed`

  // Checks every tensor's presence and shape (HF names), naming the tensor.
  static absl::StatusOr<LlamaModel> Load(const LlamaConfig& config, const SafetensorsFile& weights);
  const Tensor& output_weight() const { return lm_head.size() > 0 ? lm_head : embed; }
};

struct RoutingOptions {
  enum class Mode { kArrow, kUniform };
  Mode mode = Mode::kArrow;
  int top_k = 4;             // Arrow; capped at the number of experts of a module
  float temperature = 1.0f;  // Arrow softmax temperature
  bool parameter_mixing = false;
};

// A model, its experts (may be empty) and a KV cache. Keeps pointers: the
// model and experts must outlive the session.
class Session {
 public:
  static absl::StatusOr<Session> Create(const LlamaModel* model, const std::vector<LoraExpert>* experts,
                                        RoutingOptions options);

  // Feeds one token at the next position; returns the logits [V].
  absl::StatusOr<std::vector<float>> Step(int64_t token);
  int64_t position() const { return position_; }
  int64_t num_experts() const { return static_cast<int64_t>(experts_->size()); }
  // Routing weights of every step so far: [steps, layers, kNumProj, experts].
  const std::vector<float>& routing() const { return routing_; }

 private:
  Session(const LlamaModel* model, const std::vector<LoraExpert>* experts, RoutingOptions options);
  // out[out] = W in + routed LoRA; records the weights into `trace` [E].
  void Linear(int layer, Proj proj, const float* in, float* out, float* trace);

  const LlamaModel* model_;
  const std::vector<LoraExpert>* experts_;
  RoutingOptions options_;
  int64_t position_ = 0;
  std::vector<std::vector<float>> key_cache_;    // per layer [max_positions, kv*hd]
  std::vector<std::vector<float>> value_cache_;  // per layer [max_positions, kv*hd]
  // Per (layer, proj): the experts adapting it, their prototypes [E', in]
  // and each one's B transposed [rank, out] (B x as rows added to the output).
  struct ModuleExperts {
    std::vector<int> experts;
    std::vector<float> prototypes;
    std::vector<std::vector<float>> b_transposed;
  };
  std::vector<ModuleExperts> module_experts_;  // [layers * kNumProj]
  std::vector<float> routing_;
  // Buffers reused by every Step() (no allocation per token): the residual
  // stream and activations, attention scores, RoPE's cos/sin at this
  // position, a module's routing (order, weights) and its experts' A x.
  std::vector<float> x_, h_, q_, attn_, proj_out_, gate_, up_, scores_, rope_cos_, rope_sin_, ax_;
  std::vector<int32_t> order_;
  std::vector<float> weights_;
};

struct Generation {
  std::vector<int64_t> tokens;  // generated only, without the prompt
  int64_t steps = 0;            // tokens fed: prompt + generated - 1
  std::vector<float> routing;   // [steps, layers, kNumProj, experts]
};

// Greedy decoding: feeds the prompt, then argmax tokens until `eos` (not
// included; -1 for none) or `max_new_tokens`.
absl::StatusOr<Generation> GenerateGreedy(Session& session, absl::Span<const int64_t> prompt,
                                          int max_new_tokens, int64_t eos);

}  // namespace libra::engine

#endif  // LIBRA_CORE_ENGINE_MODEL_H_
