#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace libra::nn {
namespace F = torch::nn::functional;

LinearImpl::LinearImpl(const LinearOptions& options_in) : options(options_in) {
  weight = register_parameter(
      "weight", torch::empty({options.out_features(), options.in_features()}));
  const double bound = 1.0 / std::sqrt(static_cast<double>(options.in_features()));
  torch::NoGradGuard no_grad;
  weight.uniform_(-bound, bound);
  if (options.bias()) {
    bias = register_parameter("bias", torch::empty({options.out_features()}));
    bias.uniform_(-bound, bound);
  }
}

void LinearImpl::set_adapter(std::shared_ptr<AdapterImpl> adapter) {
  if (adapter_) unregister_module("adapter");
  adapter_ = adapter;
  if (adapter_) register_module("adapter", adapter_);
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  if (compute_dtype_ != torch::kFloat32 && x.is_cuda()) {
    // Mixed precision by hand (autocast's C++ API differs across LibTorch
    // versions): bf16 matmul, float32 result for norms, softmax and loss.
    const torch::Tensor xh = x.to(compute_dtype_);
    torch::Tensor y = adapter_ ? adapter_->Forward(xh, weight.to(compute_dtype_),
                                                   bias.defined() ? bias.to(compute_dtype_) : bias)
                               : F::linear(xh, weight.to(compute_dtype_),
                                           bias.defined() ? bias.to(compute_dtype_) : bias);
    return y.to(torch::kFloat32);
  }
  if (adapter_) return adapter_->Forward(x, weight, bias);
  return F::linear(x, weight, bias);
}

NormImpl::NormImpl(const NormOptions& options_in) : options(options_in) {
  weight = register_parameter("weight", torch::ones({options.dim()}));
  if (options.layer_norm()) bias = register_parameter("bias", torch::zeros({options.dim()}));
}

torch::Tensor NormImpl::forward(const torch::Tensor& x) {
  if (options.layer_norm()) {
    return torch::layer_norm(x, {options.dim()}, weight, bias, options.eps());
  }
  const torch::Tensor variance = x.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (x * torch::rsqrt(variance + options.eps()));
}

namespace {

Linear MakeLinear(torch::nn::Module& parent, const char* name, int64_t in, int64_t out,
                  bool bias) {
  return parent.register_module(name, Linear(LinearOptions(in, out).bias(bias)));
}

// HF's rotate_half convention: the two halves of the rotary dims pair up.
torch::Tensor ApplyRotary(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin, int64_t rotary_dim) {
  const int64_t head_dim = x.size(-1);
  torch::Tensor rot = rotary_dim == head_dim ? x : x.narrow(-1, 0, rotary_dim);
  const int64_t half = rotary_dim / 2;
  torch::Tensor rotated = torch::cat({-rot.narrow(-1, half, half), rot.narrow(-1, 0, half)}, -1);
  torch::Tensor out = rot * cos + rotated * sin;
  if (rotary_dim == head_dim) return out;
  return torch::cat({out, x.narrow(-1, rotary_dim, head_dim - rotary_dim)}, -1);
}

}  // namespace

AttentionImpl::AttentionImpl(const ModelConfig& config) : config_(config) {
  // A hand-built config may leave the KV head count unset: plain multi-head attention.
  if (config_.num_key_value_heads <= 0) config_.num_key_value_heads = config_.num_attention_heads;
  const int64_t h = config.hidden_size, d = config.head_dim();
  const int64_t kv_width = config_.num_key_value_heads * d;
  q_proj = MakeLinear(*this, "q_proj", h, config.num_attention_heads * d, config.attention_bias);
  k_proj = MakeLinear(*this, "k_proj", h, kv_width, config.attention_bias);
  v_proj = MakeLinear(*this, "v_proj", h, kv_width, config.attention_bias);
  const bool phi = config.family == Family::kPhi;
  o_proj = MakeLinear(*this, phi ? "dense" : "o_proj", config.num_attention_heads * d, h, phi);
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                     const torch::Tensor& sin, KvCache* cache, int64_t layer) {
  const int64_t batch = x.size(0), seq = x.size(1);
  const int64_t heads = config_.num_attention_heads, kv_heads = config_.num_key_value_heads;
  const int64_t d = config_.head_dim();
  torch::Tensor q = q_proj->forward(x).view({batch, seq, heads, d}).transpose(1, 2);
  torch::Tensor k = k_proj->forward(x).view({batch, seq, kv_heads, d}).transpose(1, 2);
  torch::Tensor v = v_proj->forward(x).view({batch, seq, kv_heads, d}).transpose(1, 2);
  q = ApplyRotary(q, cos, sin, config_.rotary_dim());
  k = ApplyRotary(k, cos, sin, config_.rotary_dim());
  int64_t offset = 0;
  if (cache != nullptr) {
    offset = cache->length;
    if (static_cast<int64_t>(cache->keys.size()) <= layer) {
      cache->keys.resize(layer + 1);
      cache->values.resize(layer + 1);
    }
    if (cache->keys[layer].defined()) {
      k = torch::cat({cache->keys[layer], k}, 2);
      v = torch::cat({cache->values[layer], v}, 2);
    }
    cache->keys[layer] = k;
    cache->values[layer] = v;
  }
  if (kv_heads != heads) {
    k = k.repeat_interleave(heads / kv_heads, 1);
    v = v.repeat_interleave(heads / kv_heads, 1);
  }
  const int64_t total = k.size(2);
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
  if (seq > 1) {
    // Query i (absolute offset + i) sees keys 0..offset + i.
    torch::Tensor mask = torch::ones({seq, total}, torch::dtype(torch::kBool).device(x.device()))
                             .triu(offset + 1);
    scores = scores.masked_fill(mask, -std::numeric_limits<float>::infinity());
  }
  torch::Tensor probs = torch::softmax(scores, -1);
  torch::Tensor out = torch::matmul(probs, v).transpose(1, 2).reshape({batch, seq, heads * d});
  return o_proj->forward(out);
}

QueryRows::QueryRows(const torch::Tensor& rows_in, int64_t batch_in, int64_t seq_in)
    : rows(rows_in), batch(batch_in), seq(seq_in) {
  const torch::Tensor cpu_rows = rows_in.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t n = cpu_rows.numel();
  const int64_t* r = cpu_rows.data_ptr<int64_t>();
  std::vector<int64_t> count(batch, 0);
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(r[i] >= 0 && r[i] < batch * seq, "row ", r[i], " outside a batch of ", batch, " x ", seq);
    ++count[r[i] / seq];
  }
  slots = std::max<int64_t>(1, *std::max_element(count.begin(), count.end()));
  std::vector<int64_t> slot_rows(batch * slots), positions(batch * slots, 0), slot_of(n);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < slots; ++t) slot_rows[b * slots + t] = b * seq;
  }
  std::fill(count.begin(), count.end(), 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t b = r[i] / seq, slot = b * slots + count[b]++;
    slot_rows[slot] = r[i];
    positions[slot] = r[i] % seq;
    slot_of[i] = slot;
  }
  const torch::Device device = rows_in.device();
  this->slot_rows = torch::tensor(slot_rows, torch::kInt64).to(device);
  this->positions = torch::tensor(positions, torch::kInt64).view({batch, slots}).to(device);
  this->slot_of = torch::tensor(slot_of, torch::kInt64).to(device);
}

torch::Tensor AttentionImpl::ForwardAt(const torch::Tensor& x, const torch::Tensor& cos,
                                       const torch::Tensor& sin, const QueryRows& queries) {
  const int64_t batch = x.size(0), seq = x.size(1), slots = queries.slots;
  const int64_t heads = config_.num_attention_heads, kv_heads = config_.num_key_value_heads;
  const int64_t d = config_.head_dim();
  const torch::Tensor flat = x.reshape({batch * seq, x.size(-1)});
  // Queries at the slots only: [B, T, hidden] -> [B, heads, T, d].
  torch::Tensor q = q_proj->forward(flat.index_select(0, queries.slot_rows))
                        .view({batch, slots, heads, d})
                        .transpose(1, 2);
  torch::Tensor k = k_proj->forward(x).view({batch, seq, kv_heads, d}).transpose(1, 2);
  torch::Tensor v = v_proj->forward(x).view({batch, seq, kv_heads, d}).transpose(1, 2);
  const torch::Tensor slot_positions = queries.positions.reshape({-1});
  q = ApplyRotary(q, cos.index_select(0, slot_positions).view({batch, 1, slots, -1}),
                  sin.index_select(0, slot_positions).view({batch, 1, slots, -1}), config_.rotary_dim());
  k = ApplyRotary(k, cos, sin, config_.rotary_dim());
  if (kv_heads != heads) {
    k = k.repeat_interleave(heads / kv_heads, 1);
    v = v.repeat_interleave(heads / kv_heads, 1);
  }
  // [B, heads, T, S]; the slot at position p sees keys 0..p.
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
  const torch::Tensor key_positions = torch::arange(seq, queries.positions.options());
  const torch::Tensor mask = key_positions.view({1, 1, 1, seq}) > queries.positions.view({batch, 1, slots, 1});
  scores = scores.masked_fill(mask, -std::numeric_limits<float>::infinity());
  torch::Tensor out = torch::matmul(torch::softmax(scores, -1), v)
                          .transpose(1, 2)
                          .reshape({batch * slots, heads * d});  // [B * T, heads * d]
  return o_proj->forward(out.index_select(0, queries.slot_of));  // [N, hidden]
}

MlpImpl::MlpImpl(const ModelConfig& config) : config_(config) {
  const int64_t h = config.hidden_size, m = config.intermediate_size;
  if (config.family == Family::kPhi) {
    fc1 = MakeLinear(*this, "fc1", h, m, true);
    fc2 = MakeLinear(*this, "fc2", m, h, true);
  } else {
    gate_proj = MakeLinear(*this, "gate_proj", h, m, false);
    up_proj = MakeLinear(*this, "up_proj", h, m, false);
    down_proj = MakeLinear(*this, "down_proj", m, h, false);
  }
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  if (config_.family == Family::kPhi) {
    torch::Tensor h = fc1->forward(x);
    h = config_.hidden_act == "gelu" ? torch::gelu(h) : torch::gelu(h, "tanh");
    return fc2->forward(h);
  }
  return down_proj->forward(torch::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& config) : config_(config) {
  const bool phi = config.family == Family::kPhi;
  input_layernorm = register_module(
      "input_layernorm", Norm(NormOptions(config.hidden_size, config.norm_eps, phi)));
  self_attn = register_module("self_attn", Attention(config));
  mlp = register_module("mlp", Mlp(config));
  if (!phi) {
    post_attention_layernorm = register_module(
        "post_attention_layernorm", Norm(NormOptions(config.hidden_size, config.norm_eps, false)));
  }
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                        const torch::Tensor& sin, KvCache* cache,
                                        int64_t layer) {
  if (config_.family == Family::kPhi) {
    const torch::Tensor h = input_layernorm->forward(x);
    return x + self_attn->forward(h, cos, sin, cache, layer) + mlp->forward(h);
  }
  torch::Tensor h = x + self_attn->forward(input_layernorm->forward(x), cos, sin, cache, layer);
  return h + mlp->forward(post_attention_layernorm->forward(h));
}

torch::Tensor DecoderLayerImpl::ForwardAt(const torch::Tensor& x, const torch::Tensor& cos,
                                          const torch::Tensor& sin, const QueryRows& queries) {
  const torch::Tensor x_rows = x.reshape({-1, x.size(-1)}).index_select(0, queries.rows);  // [N, hidden]
  if (config_.family == Family::kPhi) {
    const torch::Tensor h = input_layernorm->forward(x);
    const torch::Tensor h_rows = h.reshape({-1, h.size(-1)}).index_select(0, queries.rows);
    return x_rows + self_attn->ForwardAt(h, cos, sin, queries) + mlp->forward(h_rows);
  }
  torch::Tensor h = x_rows + self_attn->ForwardAt(input_layernorm->forward(x), cos, sin, queries);
  return h + mlp->forward(post_attention_layernorm->forward(h));
}

bool DecoderLayerImpl::RowWise() {
  const std::vector<Linear> selected = {self_attn->q_proj, self_attn->o_proj, mlp->gate_proj,
                                        mlp->up_proj,      mlp->down_proj,    mlp->fc1,
                                        mlp->fc2};
  for (const Linear& linear : selected) {
    if (linear && linear->adapter() && !linear->adapter()->RowWise()) return false;
  }
  return true;
}

DecoderImpl::DecoderImpl(const ModelConfig& config) : config_(config) {
  embed_tokens = register_module(
      "embed_tokens", torch::nn::Embedding(config.vocab_size, config.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) layers->push_back(DecoderLayer(config));
  const bool phi = config.family == Family::kPhi;
  norm = register_module(phi ? "final_layernorm" : "norm",
                         Norm(NormOptions(config.hidden_size, config.norm_eps, phi)));
  const int64_t rotary = config.rotary_dim();
  inv_freq_ = register_buffer(
      "inv_freq", 1.0 / torch::pow(config.rope_theta,
                                   torch::arange(0, rotary, 2, torch::kFloat64) / rotary)
                            .to(torch::kFloat32));
}

std::pair<torch::Tensor, torch::Tensor> DecoderImpl::Rotary(int64_t offset, int64_t seq,
                                                           torch::Device device) const {
  torch::Tensor positions =
      torch::arange(offset, offset + seq, torch::dtype(torch::kFloat32).device(device));
  torch::Tensor freqs = torch::outer(positions, inv_freq_);
  torch::Tensor emb = torch::cat({freqs, freqs}, -1);
  return {emb.cos(), emb.sin()};
}

torch::Tensor DecoderImpl::Embed(const torch::Tensor& input_ids) {
  if (!added_embed_tokens.defined()) return embed_tokens->forward(input_ids);
  // Pretrained rows for ids < vocab_size, added rows above.
  const int64_t base = embed_tokens->weight.size(0);
  torch::Tensor added = (input_ids >= base).unsqueeze(-1);
  return torch::where(added, F::embedding((input_ids - base).clamp_min(0), added_embed_tokens),
                      embed_tokens->forward(input_ids.clamp_max(base - 1)));
}

torch::Tensor DecoderImpl::forward(const torch::Tensor& input_ids, KvCache* cache) {
  const int64_t seq = input_ids.size(1);
  const auto [cos, sin] = Rotary(cache != nullptr ? cache->length : 0, seq, input_ids.device());
  torch::Tensor h = Embed(input_ids);
  int64_t index = 0;
  for (const auto& layer : *layers) {
    h = layer->as<DecoderLayerImpl>()->forward(h, cos, sin, cache, index++);
  }
  if (cache != nullptr) cache->length += seq;
  return norm->forward(h);
}

torch::Tensor DecoderImpl::ForwardAt(const torch::Tensor& input_ids, const torch::Tensor& rows) {
  const int64_t batch = input_ids.size(0), seq = input_ids.size(1);
  const auto [cos, sin] = Rotary(0, seq, input_ids.device());
  torch::Tensor h = Embed(input_ids);
  const int64_t last = static_cast<int64_t>(layers->size()) - 1;
  for (int64_t i = 0; i < last; ++i) h = layers[i]->as<DecoderLayerImpl>()->forward(h, cos, sin, nullptr, i);
  h = layers[last]->as<DecoderLayerImpl>()->ForwardAt(h, cos, sin, QueryRows(rows, batch, seq));
  return norm->forward(h);  // [N, hidden]
}

CausalLMImpl::CausalLMImpl(const ModelConfig& config) : config_(config) {
  model = register_module("model", Decoder(config));
  if (!config.tie_word_embeddings) {
    lm_head = register_module(
        "lm_head", Linear(LinearOptions(config.hidden_size, config.vocab_size)
                              .bias(config.family == Family::kPhi)));
  }
}

torch::Tensor CausalLMImpl::Head(const torch::Tensor& hidden) {
  torch::Tensor logits =
      lm_head ? lm_head->forward(hidden) : F::linear(hidden, model->embed_tokens->weight);
  if (!added_lm_head) return logits;
  return torch::cat({logits, added_lm_head->forward(hidden).to(logits.dtype())}, -1);
}

void CausalLMImpl::AddTokens(const torch::Tensor& rows) {
  torch::NoGradGuard no_grad;
  const torch::Tensor& table = model->embed_tokens->weight;
  torch::Tensor input = rows.detach().to(table.options()).clone();
  const int64_t n = input.size(0);
  if (!model->added_embed_tokens.defined()) {
    model->added_embed_tokens = model->register_parameter("added_embed_tokens", input);
    added_lm_head = register_module(
        "added_lm_head", Linear(LinearOptions(config_.hidden_size, n).bias(true)));
    added_lm_head->weight.set_data(input.clone());
    added_lm_head->bias.set_data(torch::zeros({n}, table.options()));
    return;
  }
  model->added_embed_tokens.set_data(torch::cat({model->added_embed_tokens, input}));
  added_lm_head->weight.set_data(torch::cat({added_lm_head->weight, input}));
  added_lm_head->bias.set_data(
      torch::cat({added_lm_head->bias, torch::zeros({n}, table.options())}));
  added_lm_head->options.out_features(added_tokens());
}

int64_t CausalLMImpl::added_tokens() const {
  return model->added_embed_tokens.defined() ? model->added_embed_tokens.size(0) : 0;
}

torch::Tensor CausalLMImpl::forward(const torch::Tensor& input_ids, KvCache* cache) {
  return Head(Hidden(input_ids, cache));
}

torch::Tensor CausalLMImpl::Hidden(const torch::Tensor& input_ids, KvCache* cache) {
  if (observer_) observer_(input_ids, cache != nullptr ? cache->length : 0, layout_);
  return model->forward(input_ids, cache);
}

torch::Tensor CausalLMImpl::HiddenAt(const torch::Tensor& input_ids, const torch::Tensor& rows) {
  const bool saves = rows.numel() * 2 <= input_ids.numel() && !model->layers->is_empty() &&
                     model->layers[model->layers->size() - 1]->as<DecoderLayerImpl>()->RowWise();
  if (!saves) {
    const torch::Tensor hidden = Hidden(input_ids);
    return hidden.reshape({-1, hidden.size(-1)}).index_select(0, rows);
  }
  if (observer_) observer_(input_ids, 0, layout_);
  return model->ForwardAt(input_ids, rows);
}

void CausalLMImpl::ResizeVocab(int64_t new_size) {
  const int64_t old_size = config_.vocab_size;
  if (new_size == old_size) return;
  torch::NoGradGuard no_grad;
  auto grow = [&](const torch::Tensor& table) {
    torch::Tensor mean = table.mean(0, /*keepdim=*/true);
    torch::Tensor out = new_size > old_size
                            ? torch::cat({table, mean.expand({new_size - old_size, table.size(1)})})
                            : table.narrow(0, 0, new_size);
    return out.clone();
  };
  torch::Tensor embed = grow(model->embed_tokens->weight);
  model->embed_tokens->weight.set_data(embed);
  model->embed_tokens->options.num_embeddings(new_size);
  if (lm_head) {
    lm_head->weight.set_data(grow(lm_head->weight));
    if (lm_head->bias.defined()) {
      torch::Tensor bias = lm_head->bias;
      torch::Tensor grown =
          new_size > old_size ? torch::cat({bias, torch::zeros({new_size - old_size}, bias.options())})
                              : bias.narrow(0, 0, new_size).clone();
      lm_head->bias.set_data(grown);
    }
    lm_head->options.out_features(new_size);
  }
  config_.vocab_size = new_size;
}

void CausalLMImpl::SetComputeDtype(torch::Dtype dtype) {
  for (auto& [name, linear] : Linears()) linear->set_compute_dtype(dtype);
}

std::vector<std::pair<std::string, std::shared_ptr<LinearImpl>>> CausalLMImpl::Linears() {
  std::vector<std::pair<std::string, std::shared_ptr<LinearImpl>>> out;
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    if (auto linear = std::dynamic_pointer_cast<LinearImpl>(item.value())) {
      out.emplace_back(item.key(), linear);
    }
  }
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> BaseStateDict(CausalLMImpl& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : model.named_parameters()) {
    if (item.key().find(".adapter.") != std::string::npos) continue;
    if (item.key().find("added_") != std::string::npos) continue;  // AddTokens
    out.emplace_back(item.key(), item.value());
  }
  return out;
}

}  // namespace libra::nn
