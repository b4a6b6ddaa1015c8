// Decoder-only transformer language models of the Llama and Phi families
// (config.h), with module names exactly as in Hugging Face checkpoints
// ("model.layers.0.self_attn.q_proj.weight", "lm_head.weight", ...), so
// state dicts load by name and adapter target patterns match PEFT's.
//
// Every projection is a LinearImpl, to which an adapter (adapter.h) can be
// attached. Attention is causal, with an optional KV cache for generation.
//
//   CausalLM model(config);                       // random weights
//   torch::Tensor logits = model->forward(ids);   // ids [B, S] int64 -> [B, S, V]
//   KvCache cache;                                // incremental decoding
//   logits = model->forward(prompt, &cache);
//   logits = model->forward(next_token, &cache);
#ifndef LIBRA_NN_MODEL_H_
#define LIBRA_NN_MODEL_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "src/nn/adapter.h"
#include "src/nn/config.h"

namespace libra::nn {

struct LinearOptions {
  LinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(bool, bias) = false;
};

// y = x W^T + b, or the attached adapter's output. With a compute dtype of
// bfloat16 (CUDA mixed precision) the matmul runs in bf16 and returns float.
class LinearImpl : public torch::nn::Module {
 public:
  explicit LinearImpl(const LinearOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  void set_adapter(std::shared_ptr<AdapterImpl> adapter);
  const std::shared_ptr<AdapterImpl>& adapter() const { return adapter_; }
  void set_compute_dtype(torch::Dtype dtype) { compute_dtype_ = dtype; }

  LinearOptions options;
  torch::Tensor weight;  // [out, in]
  torch::Tensor bias;    // [out] or undefined

 private:
  std::shared_ptr<AdapterImpl> adapter_;
  torch::Dtype compute_dtype_ = torch::kFloat32;
};
TORCH_MODULE(Linear);

struct NormOptions {
  NormOptions(int64_t dim, double eps, bool layer_norm)
      : dim_(dim), eps_(eps), layer_norm_(layer_norm) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(double, eps);
  TORCH_ARG(bool, layer_norm);  // LayerNorm with bias (phi), else RMSNorm
};

class NormImpl : public torch::nn::Module {
 public:
  explicit NormImpl(const NormOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  NormOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
};
TORCH_MODULE(Norm);

// N rows of a [B, S] batch, as flat indices b * S + p, laid out for
// attention: row b's queries occupy slots b * T .. b * T + T - 1 (T: the
// most rows any sequence has; unused slots repeat position 0 and are dropped).
struct QueryRows {
  QueryRows(const torch::Tensor& rows, int64_t batch, int64_t seq);
  torch::Tensor rows;       // [N] int64, b * S + p, in the caller's order
  torch::Tensor slot_rows;  // [B * T] the flat row each slot reads
  torch::Tensor positions;  // [B, T] each slot's position p
  torch::Tensor slot_of;    // [N] the slot of rows[i]
  int64_t batch = 0, seq = 0, slots = 0;  // B, S, T
};

// Keys and values of every layer seen so far, [B, kv_heads, T, head_dim].
struct KvCache {
  std::vector<torch::Tensor> keys;
  std::vector<torch::Tensor> values;
  int64_t length = 0;
};

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelConfig& config);
  // x [B, S, hidden]; cos/sin [S, rotary_dim]; `layer` indexes the cache.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos,
                        const torch::Tensor& sin, KvCache* cache, int64_t layer);
  // The output at the rows `queries` selects only (QueryRows); keys and
  // values from every position of x [B, S, hidden] -> [N, hidden].
  torch::Tensor ForwardAt(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin, const QueryRows& queries);

  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr};
  Linear o_proj{nullptr};  // "o_proj" (llama) or "dense" (phi)

 private:
  ModelConfig config_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x);

  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};  // llama
  Linear fc1{nullptr}, fc2{nullptr};                                // phi

 private:
  ModelConfig config_;
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos,
                        const torch::Tensor& sin, KvCache* cache, int64_t layer);
  // The layer's output at `queries`' rows only, [N, hidden].
  torch::Tensor ForwardAt(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin, const QueryRows& queries);
  // Whether ForwardAt may run: every adapter on the modules that see only
  // the selected rows (q, output projection, MLP) is row-wise.
  bool RowWise();

  Norm input_layernorm{nullptr};
  Norm post_attention_layernorm{nullptr};  // llama only
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};

 private:
  ModelConfig config_;
};
TORCH_MODULE(DecoderLayer);

// The "model." prefix of HF checkpoints: embeddings, layers, final norm.
class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const ModelConfig& config);
  // Final hidden states [B, S, hidden]; advances `cache` when given.
  torch::Tensor forward(const torch::Tensor& input_ids, KvCache* cache = nullptr);
  // Final hidden states at the flat rows `rows` [N] of [B, S] -> [N, hidden]
  // (see CausalLMImpl::HiddenAt).
  torch::Tensor ForwardAt(const torch::Tensor& input_ids, const torch::Tensor& rows);

  torch::nn::Embedding embed_tokens{nullptr};
  // Input rows of tokens added after pretraining (CausalLMImpl::AddTokens),
  // ids config.vocab_size.. ; undefined until tokens are added. A parameter
  // of its own, so the pretrained rows can stay frozen while these train.
  torch::Tensor added_embed_tokens;
  torch::nn::ModuleList layers{nullptr};
  Norm norm{nullptr};  // "norm" (llama) or "final_layernorm" (phi)

 private:
  // cos and sin of positions offset.. offset + seq - 1, [seq, rotary_dim].
  std::pair<torch::Tensor, torch::Tensor> Rotary(int64_t offset, int64_t seq, torch::Device device) const;
  torch::Tensor Embed(const torch::Tensor& input_ids);  // [B, S] -> [B, S, hidden]

  ModelConfig config_;
  torch::Tensor inv_freq_;  // [rotary_dim / 2], a buffer
};
TORCH_MODULE(Decoder);

// Rows of a right-padded batch: each row's prompt length (tokens before the
// target) and length (non-padding tokens). Callers that build batches from
// TokenizedExamples (the trainer, batched evaluation) set it for the forward
// pass, so that modules routing on the prompt (mope.h) can find it.
struct BatchLayout {
  std::vector<int64_t> prompt_lengths;
  std::vector<int64_t> lengths;
};

// Called at the start of every forward pass with the input ids [B, S], the
// KV cache's length before this pass (0: new sequences; > 0: decoding
// continues them) and the batch layout (null when the caller set none).
using ForwardObserver =
    std::function<void(const torch::Tensor& input_ids, int64_t cache_length, const BatchLayout* layout)>;

class CausalLMImpl : public torch::nn::Module {
 public:
  explicit CausalLMImpl(const ModelConfig& config);
  // Logits [B, S, vocab] (float32).
  torch::Tensor forward(const torch::Tensor& input_ids, KvCache* cache = nullptr);
  // Hidden states before the head, so callers can project only the rows
  // they need (training on target tokens only).
  torch::Tensor Hidden(const torch::Tensor& input_ids, KvCache* cache = nullptr);
  // Hidden(input_ids) at the flat rows `rows` [N] (b * S + p) -> [N, hidden],
  // equal to Hidden(ids).reshape({-1, hidden}).index_select(0, rows) up to
  // rounding. The last layer computes queries, attention output and MLP at
  // those rows only (the rows a loss or a prediction reads), which saves
  // most of its work when targets are a small part of each sequence. Falls
  // back to Hidden when that saves little (over half the rows) or an adapter
  // in the last layer is not row-wise.
  torch::Tensor HiddenAt(const torch::Tensor& input_ids, const torch::Tensor& rows);

  // The layout of the next forward passes' batches (null: none); the
  // pointee must outlive them. ScopedBatchLayout sets and clears it.
  void set_batch_layout(const BatchLayout* layout) { layout_ = layout; }
  // One observer per model (null: none); mope.h's routing context is one.
  void set_forward_observer(ForwardObserver observer) { observer_ = std::move(observer); }
  // hidden [.., hidden] -> logits [.., vocab].
  torch::Tensor Head(const torch::Tensor& hidden);

  // Grows (or keeps) the vocabulary to `new_size` rows; new embedding rows
  // (and head rows) start as the mean of the existing ones, head bias 0.
  void ResizeVocab(int64_t new_size);
  // Appends tokens added after pretraining (planning tokens), ids from
  // vocab_size() on: `rows` [n, hidden] become both their input rows
  // (model.added_embed_tokens) and the weights of their output rows, an
  // untied head with a bias starting at 0 ("added_lm_head"), whether or not
  // the pretrained head is tied. The pretrained rows, config() and the
  // checkpoint SaveCheckpoint writes (BaseStateDict) are unchanged.
  void AddTokens(const torch::Tensor& rows);
  int64_t added_tokens() const;
  // Logit width: config().vocab_size + added_tokens().
  int64_t vocab_size() const { return config_.vocab_size + added_tokens(); }
  // Matmul dtype of every projection and the head (kFloat32 or kBFloat16).
  void SetComputeDtype(torch::Dtype dtype);
  // Every LinearImpl with its full name ("model.layers.0.mlp.up_proj").
  std::vector<std::pair<std::string, std::shared_ptr<LinearImpl>>> Linears();

  const ModelConfig& config() const { return config_; }

  Decoder model{nullptr};
  Linear lm_head{nullptr};  // null when tie_word_embeddings
  Linear added_lm_head{nullptr};  // output rows of added tokens (AddTokens), with bias

 private:
  ModelConfig config_;
  const BatchLayout* layout_ = nullptr;
  ForwardObserver observer_;
};
TORCH_MODULE(CausalLM);

// Sets a model's batch layout for a scope.
class ScopedBatchLayout {
 public:
  ScopedBatchLayout(CausalLMImpl& model, const BatchLayout& layout) : model_(model) {
    model_.set_batch_layout(&layout);
  }
  ~ScopedBatchLayout() { model_.set_batch_layout(nullptr); }
  ScopedBatchLayout(const ScopedBatchLayout&) = delete;
  ScopedBatchLayout& operator=(const ScopedBatchLayout&) = delete;

 private:
  CausalLMImpl& model_;
};

// The base weights (no adapter parameters, no added tokens) by HF name.
std::vector<std::pair<std::string, torch::Tensor>> BaseStateDict(CausalLMImpl& model);

}  // namespace libra::nn

#endif  // LIBRA_NN_MODEL_H_
