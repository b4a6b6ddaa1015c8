#include "src/core/engine/model.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/core/arrow/router.h"
#include "src/core/engine/kernels.h"
#include "src/core/status_macros.h"

namespace libra::engine {
namespace {

absl::StatusOr<Tensor> ReadChecked(const SafetensorsFile& file, const std::string& name, Shape shape) {
  if (file.Find(name) == nullptr) {
    return absl::NotFoundError(absl::StrCat("tensor \"", name, "\": missing (", file.label(), ")"));
  }
  LIBRA_ASSIGN_OR_RETURN(Tensor tensor, file.ReadFloat(name));
  if (tensor.shape() != shape) {
    return absl::InvalidArgumentError(absl::StrCat("tensor \"", name, "\": expected ", ShapeToString(shape),
                                                   ", got ", ShapeToString(tensor.shape()), " (",
                                                   file.label(), ")"));
  }
  return tensor;
}

// HF's rotate-half RoPE on one head: pairs (i, i + hd/2) turned by the angle
// pos * theta^(-2i/hd), whose cos and sin RopeAngles computes once per position.
void RopeAngles(int64_t head_dim, int64_t position, float theta, float* cos_out, float* sin_out) {
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    const float inv_freq = 1.0f / std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(head_dim));
    const float angle = static_cast<float>(position) * inv_freq;
    cos_out[i] = std::cos(angle);
    sin_out[i] = std::sin(angle);
  }
}

void ApplyRope(float* head, int64_t head_dim, const float* cos_angle, const float* sin_angle) {
  const int64_t half = head_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float c = cos_angle[i], s = sin_angle[i];
    const float x0 = head[i], x1 = head[i + half];
    head[i] = x0 * c - x1 * s;
    head[i + half] = x1 * c + x0 * s;
  }
}

}  // namespace

const Tensor& LlamaLayer::Weight(Proj proj) const {
  switch (proj) {
    case Proj::kQ: return wq;
    case Proj::kK: return wk;
    case Proj::kV: return wv;
    case Proj::kO: return wo;
    case Proj::kGate: return w_gate;
    case Proj::kUp: return w_up;
    case Proj::kDown: return w_down;
  }
  return wq;
}

absl::StatusOr<LlamaModel> LlamaModel::Load(const LlamaConfig& config, const SafetensorsFile& file) {
  LlamaModel model;
  model.config = config;
  const int64_t d = config.hidden_size, v = config.vocab_size;
  LIBRA_ASSIGN_OR_RETURN(model.embed, ReadChecked(file, "model.embed_tokens.weight", {v, d}));
  LIBRA_ASSIGN_OR_RETURN(model.norm, ReadChecked(file, "model.norm.weight", {d}));
  if (!config.tie_word_embeddings || file.Find("lm_head.weight") != nullptr) {
    LIBRA_ASSIGN_OR_RETURN(model.lm_head, ReadChecked(file, "lm_head.weight", {v, d}));
  }
  for (int64_t l = 0; l < config.num_layers; ++l) {
    const std::string prefix = absl::StrCat("model.layers.", l, ".");
    LlamaLayer layer;
    LIBRA_ASSIGN_OR_RETURN(layer.attention_norm, ReadChecked(file, prefix + "input_layernorm.weight", {d}));
    LIBRA_ASSIGN_OR_RETURN(layer.ffn_norm, ReadChecked(file, prefix + "post_attention_layernorm.weight", {d}));
    for (int p = 0; p < kNumProj; ++p) {
      const Proj proj = static_cast<Proj>(p);
      Tensor& slot = const_cast<Tensor&>(layer.Weight(proj));
      LIBRA_ASSIGN_OR_RETURN(slot, ReadChecked(file, absl::StrCat(prefix, ProjName(proj), ".weight"),
                                               {ProjOutDim(config, proj), ProjInDim(config, proj)}));
    }
    model.layers.push_back(std::move(layer));
  }
  return model;
}

Session::Session(const LlamaModel* model, const std::vector<LoraExpert>* experts, RoutingOptions options)
    : model_(model), experts_(experts), options_(options) {}

absl::StatusOr<Session> Session::Create(const LlamaModel* model, const std::vector<LoraExpert>* experts,
                                        RoutingOptions options) {
  static const std::vector<LoraExpert> kNoExperts;
  if (experts == nullptr) experts = &kNoExperts;
  if (options.top_k < 1) {
    return absl::InvalidArgumentError(absl::StrCat("routing: top_k must be >= 1, got ", options.top_k));
  }
  if (!(options.temperature > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("routing: temperature must be > 0, got ", options.temperature));
  }
  const LlamaConfig& config = model->config;
  for (const LoraExpert& expert : *experts) {
    for (const auto& [key, module] : expert.modules) {
      const Proj proj = static_cast<Proj>(key.second);
      if (key.first < 0 || key.first >= config.num_layers || module.a.rank() != 2 ||
          module.a.dim(1) != ProjInDim(config, proj) || module.b.rank() != 2 ||
          module.b.dim(0) != ProjOutDim(config, proj) || module.b.dim(1) != module.a.dim(0)) {
        return absl::InvalidArgumentError(absl::StrCat("expert \"", expert.name, "\": layer ", key.first, " ",
                                                       ProjName(proj), ": A ", ShapeToString(module.a.shape()),
                                                       ", B ", ShapeToString(module.b.shape()),
                                                       " do not fit the model"));
      }
    }
  }
  if (options.parameter_mixing) {  // (sum w B)(sum w A) needs one rank per module
    for (int64_t l = 0; l < config.num_layers; ++l) {
      for (int p = 0; p < kNumProj; ++p) {
        int64_t rank = -1;
        for (const LoraExpert& expert : *experts) {
          const LoraModule* module = expert.Find(static_cast<int>(l), static_cast<Proj>(p));
          if (module == nullptr) continue;
          if (rank >= 0 && module->a.dim(0) != rank) {
            return absl::InvalidArgumentError(absl::StrCat(
                "parameter mixing: layer ", l, " ", ProjName(static_cast<Proj>(p)), ": expert \"", expert.name,
                "\" has rank ", module->a.dim(0), ", another has ", rank));
          }
          rank = module->a.dim(0);
        }
      }
    }
  }
  Session session(model, experts, options);
  session.module_experts_.resize(config.num_layers * kNumProj);
  int64_t max_rank = 0;
  size_t max_candidates = 0;
  for (int64_t l = 0; l < config.num_layers; ++l) {
    for (int p = 0; p < kNumProj; ++p) {
      ModuleExperts& slot = session.module_experts_[l * kNumProj + p];
      for (int e = 0; e < static_cast<int>(experts->size()); ++e) {
        const LoraModule* module = (*experts)[e].Find(static_cast<int>(l), static_cast<Proj>(p));
        if (module == nullptr) continue;
        slot.experts.push_back(e);
        slot.prototypes.insert(slot.prototypes.end(), module->prototype.values().begin(),
                               module->prototype.values().end());
        const int64_t rank = module->b.dim(1), out = module->b.dim(0);  // B [out, rank]
        std::vector<float> b_t(rank * out);
        for (int64_t o = 0; o < out; ++o) {
          for (int64_t r = 0; r < rank; ++r) b_t[r * out + o] = module->b.data()[o * rank + r];
        }
        slot.b_transposed.push_back(std::move(b_t));
        max_rank = std::max(max_rank, rank);
      }
      max_candidates = std::max(max_candidates, slot.experts.size());
    }
  }
  const int64_t cache = config.max_positions * config.kv_dim();
  session.key_cache_.assign(config.num_layers, std::vector<float>(cache, 0.0f));
  session.value_cache_.assign(config.num_layers, std::vector<float>(cache, 0.0f));
  const int64_t d = config.hidden_size, f = config.intermediate_size, qd = config.num_heads * config.head_dim();
  session.x_.resize(d);
  session.h_.resize(d);
  session.q_.resize(qd);
  session.attn_.resize(qd);
  session.proj_out_.resize(d);
  session.gate_.resize(f);
  session.up_.resize(f);
  session.scores_.resize(config.max_positions);
  session.rope_cos_.resize(config.head_dim() / 2);
  session.rope_sin_.resize(config.head_dim() / 2);
  session.ax_.resize(max_rank);
  session.order_.resize(max_candidates);
  session.weights_.resize(max_candidates);
  return session;
}

void Session::Linear(int layer, Proj proj, const float* in, float* out, float* trace) {
  const LlamaConfig& config = model_->config;
  const int64_t in_dim = ProjInDim(config, proj), out_dim = ProjOutDim(config, proj);
  const Tensor& weight = model_->layers[layer].Weight(proj);
  MatVec(weight.data(), out_dim, in_dim, in, out);  // [out] = W[out, in] x[in]

  const ModuleExperts& slot = module_experts_[layer * kNumProj + static_cast<int>(proj)];
  const std::vector<int>& candidates = slot.experts;
  if (candidates.empty()) return;
  int32_t* order = order_.data();
  float* weights = weights_.data();
  int selected = static_cast<int>(candidates.size());
  if (options_.mode == RoutingOptions::Mode::kUniform) {
    for (int32_t i = 0; i < selected; ++i) {
      order[i] = i;
      weights[i] = 1.0f / static_cast<float>(selected);
    }
  } else {
    arrow::RouterOptions router;
    router.top_k = std::min<int>(options_.top_k, selected);
    router.temperature = options_.temperature;
    selected = router.top_k;
    // Options and sizes were checked in Create(), so routing cannot fail here.
    arrow::RouteRaw(in, 1, slot.prototypes.data(), static_cast<int64_t>(candidates.size()), in_dim, router,
                    order, weights)
        .IgnoreError();
  }
  for (int i = 0; i < selected; ++i) trace[candidates[order[i]]] = weights[i];

  if (!options_.parameter_mixing) {  // sum_e w_e s_e B_e (A_e x)
    for (int i = 0; i < selected; ++i) {
      const LoraModule& module = *(*experts_)[candidates[order[i]]].Find(layer, proj);
      const int64_t rank = module.a.dim(0);
      float* ax = ax_.data();
      MatVec(module.a.data(), rank, in_dim, in, ax);  // [r] = A[r, in] x[in]
      // [out] += w s B[out, r] ax[r] = sum_r (w s ax_r) B^T[r, :]
      const float* b_t = slot.b_transposed[order[i]].data();
      const float coefficient = weights[i] * module.scale;
      for (int64_t r = 0; r < rank; ++r) Axpy(coefficient * ax[r], b_t + r * out_dim, out, out_dim);
    }
    return;
  }
  // (sum_e w_e s_e B_e) ((sum_e w_e A_e) x)
  const int64_t rank = (*experts_)[candidates[order[0]]].Find(layer, proj)->a.dim(0);
  std::vector<float> a_mix(rank * in_dim, 0.0f), b_mix(out_dim * rank, 0.0f);
  for (int i = 0; i < selected; ++i) {
    const LoraModule& module = *(*experts_)[candidates[order[i]]].Find(layer, proj);
    Axpy(weights[i], module.a.data(), a_mix.data(), rank * in_dim);
    Axpy(weights[i] * module.scale, module.b.data(), b_mix.data(), out_dim * rank);
  }
  std::vector<float> ax(rank), bax(out_dim);
  MatVec(a_mix.data(), rank, in_dim, in, ax.data());
  MatVec(b_mix.data(), out_dim, rank, ax.data(), bax.data());
  Axpy(1.0f, bax.data(), out, out_dim);
}

absl::StatusOr<std::vector<float>> Session::Step(int64_t token) {
  const LlamaConfig& c = model_->config;
  if (token < 0 || token >= c.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("token ", token, " outside the vocabulary [0, ", c.vocab_size, ")"));
  }
  if (position_ >= c.max_positions) {
    return absl::OutOfRangeError(absl::StrCat("position ", position_, ": the KV cache holds ", c.max_positions));
  }
  const int64_t d = c.hidden_size, hd = c.head_dim(), kv = c.kv_dim(), f = c.intermediate_size;
  const int64_t group = c.num_heads / c.num_kv_heads, pos = position_;
  const int64_t experts = num_experts();
  const size_t trace_base = routing_.size();
  routing_.resize(trace_base + c.num_layers * kNumProj * experts, 0.0f);
  auto trace = [&](int64_t l, Proj p) { return routing_.data() + trace_base + (l * kNumProj + static_cast<int>(p)) * experts; };

  std::vector<float> &x = x_, &h = h_, &q = q_, &attn = attn_, &proj_out = proj_out_, &gate = gate_, &up = up_;
  std::copy(model_->embed.data() + token * d, model_->embed.data() + (token + 1) * d, x.begin());  // [d]
  float* scores = scores_.data();  // [pos + 1]
  RopeAngles(hd, pos, c.rope_theta, rope_cos_.data(), rope_sin_.data());
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const LlamaLayer& layer = model_->layers[l];
    const int li = static_cast<int>(l);
    float* k_row = key_cache_[l].data() + pos * kv;    // [kv*hd] at this position
    float* v_row = value_cache_[l].data() + pos * kv;

    // h = RMSNorm(x); q = W_q h [h*hd]; k = W_k h, v = W_v h [kv*hd]
    RmsNorm(x.data(), layer.attention_norm.data(), d, c.rms_norm_eps, h.data());
    Linear(li, Proj::kQ, h.data(), q.data(), trace(l, Proj::kQ));
    Linear(li, Proj::kK, h.data(), k_row, trace(l, Proj::kK));
    Linear(li, Proj::kV, h.data(), v_row, trace(l, Proj::kV));
    const float *cos_angle = rope_cos_.data(), *sin_angle = rope_sin_.data();
    for (int64_t head = 0; head < c.num_heads; ++head) ApplyRope(q.data() + head * hd, hd, cos_angle, sin_angle);
    for (int64_t head = 0; head < c.num_kv_heads; ++head) ApplyRope(k_row + head * hd, hd, cos_angle, sin_angle);

    // attn_head = softmax(q_head K^T / sqrt(hd)) V over positions 0..pos
    const float inv_sqrt = 1.0f / std::sqrt(static_cast<float>(hd));
    for (int64_t head = 0; head < c.num_heads; ++head) {
      const int64_t kv_head = head / group;
      const float* q_head = q.data() + head * hd;
      // [pos + 1] = K[0..pos, kv_head] q_head (cache rows kv floats apart), / sqrt(hd)
      MatVecStrided(key_cache_[l].data() + kv_head * hd, pos + 1, hd, kv, q_head, scores);
      for (int64_t t = 0; t <= pos; ++t) scores[t] *= inv_sqrt;
      Softmax(scores, pos + 1);
      float* out_head = attn.data() + head * hd;
      std::fill(out_head, out_head + hd, 0.0f);
      for (int64_t t = 0; t <= pos; ++t) {
        Axpy(scores[t], value_cache_[l].data() + t * kv + kv_head * hd, out_head, hd);
      }
    }
    // x += W_o attn
    Linear(li, Proj::kO, attn.data(), proj_out.data(), trace(l, Proj::kO));
    for (int64_t i = 0; i < d; ++i) x[i] += proj_out[i];

    // x += W_down (SiLU(W_gate h) * W_up h), h = RMSNorm(x)   [f] -> [d]
    RmsNorm(x.data(), layer.ffn_norm.data(), d, c.rms_norm_eps, h.data());
    Linear(li, Proj::kGate, h.data(), gate.data(), trace(l, Proj::kGate));
    Linear(li, Proj::kUp, h.data(), up.data(), trace(l, Proj::kUp));
    for (int64_t i = 0; i < f; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
    Linear(li, Proj::kDown, gate.data(), proj_out.data(), trace(l, Proj::kDown));
    for (int64_t i = 0; i < d; ++i) x[i] += proj_out[i];
  }
  // logits = W_lm RMSNorm(x)   [V]
  RmsNorm(x.data(), model_->norm.data(), d, c.rms_norm_eps, h.data());
  std::vector<float> logits(c.vocab_size);
  MatVec(model_->output_weight().data(), c.vocab_size, d, h.data(), logits.data());
  ++position_;
  return logits;
}

absl::StatusOr<Generation> GenerateGreedy(Session& session, absl::Span<const int64_t> prompt,
                                          int max_new_tokens, int64_t eos) {
  if (prompt.empty()) return absl::InvalidArgumentError("generate: empty prompt");
  Generation generation;
  const size_t routing_start = session.routing().size();
  std::vector<float> logits;
  for (int64_t token : prompt) {
    LIBRA_ASSIGN_OR_RETURN(logits, session.Step(token));
    ++generation.steps;
  }
  for (int i = 0; i < max_new_tokens; ++i) {
    const int64_t next = std::max_element(logits.begin(), logits.end()) - logits.begin();
    if (next == eos) break;
    generation.tokens.push_back(next);
    if (i + 1 == max_new_tokens) break;
    LIBRA_ASSIGN_OR_RETURN(logits, session.Step(next));
    ++generation.steps;
  }
  generation.routing.assign(session.routing().begin() + routing_start, session.routing().end());
  return generation;
}

}  // namespace libra::engine
