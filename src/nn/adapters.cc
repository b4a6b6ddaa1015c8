#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/adapters.h"

#include <algorithm>
#include <cmath>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"

namespace libra::nn {
namespace F = torch::nn::functional;

double LoraOptions::scale() const {
  return use_rslora ? alpha / std::sqrt(static_cast<double>(rank)) : alpha / rank;
}

LoraAdapterImpl::LoraAdapterImpl(int64_t in_features, int64_t out_features,
                                 const LoraOptions& options_in)
    : options(options_in), scale(options_in.scale()) {
  lora_A = register_parameter("lora_A", torch::empty({options.rank, in_features}));
  lora_B = register_parameter("lora_B", torch::zeros({out_features, options.rank}));
  torch::NoGradGuard no_grad;
  // PEFT's init: kaiming_uniform_(A, a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)).
  torch::nn::init::kaiming_uniform_(lora_A, std::sqrt(5.0));
}

torch::Tensor LoraAdapterImpl::Forward(const torch::Tensor& x, const torch::Tensor& weight,
                                       const torch::Tensor& bias) {
  // Fused path on 2-D rows: y = addmm(b, x, W^T), then y += (s x A^T) B^T in
  // place; the scale is applied to the rank-r activations, not the output.
  const auto sizes = x.sizes().vec();
  const torch::Tensor rows = x.reshape({-1, x.size(-1)});
  torch::Tensor y = bias.defined() ? torch::addmm(bias.to(x.dtype()), rows, weight.t())
                                   : torch::mm(rows, weight.t());
  torch::Tensor input = rows;
  if (options.dropout > 0 && is_training()) input = F::dropout(rows, F::DropoutFuncOptions().p(options.dropout).training(true));
  const torch::Tensor a = lora_A.to(x.dtype()), b = lora_B.to(x.dtype());
  torch::Tensor h = torch::mm(input, a.t()).mul_(scale);
  y = y.addmm(h, b.t());
  std::vector<int64_t> out_sizes(sizes.begin(), sizes.end() - 1);
  out_sizes.push_back(weight.size(0));
  return y.view(out_sizes);
}

torch::Tensor LoraAdapterImpl::DeltaWeight() { return torch::mm(lora_B, lora_A) * scale; }

FullAdapterImpl::FullAdapterImpl(int64_t in_features, int64_t out_features) {
  delta = register_parameter("delta", torch::zeros({out_features, in_features}));
}

torch::Tensor FullAdapterImpl::Forward(const torch::Tensor& x, const torch::Tensor& weight,
                                       const torch::Tensor& bias) {
  return F::linear(x, weight + delta.to(weight.dtype()), bias);
}

torch::Tensor UniformRouterImpl::Route(const torch::Tensor& x, int64_t num_experts) {
  return torch::full({1, 1, num_experts}, 1.0 / num_experts, x.options());
}

torch::Tensor FixedRouterImpl::Route(const torch::Tensor& x, int64_t num_experts) {
  TORCH_CHECK(static_cast<int64_t>(weights_.size()) == num_experts, "fixed router has ",
              weights_.size(), " weights for ", num_experts, " experts");
  return torch::tensor(weights_, torch::kFloat64).to(x.options()).view({1, 1, num_experts});
}

torch::Tensor OracleRouterImpl::Route(const torch::Tensor& x, int64_t num_experts) {
  TORCH_CHECK(static_cast<int64_t>(experts_.size()) == x.size(0), "oracle router: ",
              experts_.size(), " expert ids for a batch of ", x.size(0));
  torch::Tensor ids = torch::tensor(experts_, torch::kInt64);
  TORCH_CHECK(ids.min().item<int64_t>() >= 0 && ids.max().item<int64_t>() < num_experts,
              "oracle router: expert id outside [0, ", num_experts, ")");
  return F::one_hot(ids, num_experts).to(x.options()).view({x.size(0), 1, num_experts});
}

MixtureAdapterImpl::MixtureAdapterImpl(std::vector<LoraWeights> experts,
                                       std::shared_ptr<RouterImpl> router, MixingMode mode,
                                       bool trainable)
    : router_(std::move(router)), mode_(mode), trainable_(trainable) {
  TORCH_CHECK(!experts.empty(), "mixture needs at least one expert");
  std::vector<int64_t> columns;
  if (trainable_) scale_ = experts[0].scale;
  for (size_t e = 0; e < experts.size(); ++e) {
    const int64_t r = experts[e].a.size(0);
    TORCH_CHECK(mode != MixingMode::kParameter || r == experts[0].a.size(0),
                "parameter mixing needs equal ranks: expert 0 has ", experts[0].a.size(0),
                ", expert ", e, " has ", r);
    TORCH_CHECK(experts[e].a.size(1) == experts[0].a.size(1) &&
                    experts[e].b.size(0) == experts[0].b.size(0) && experts[e].b.size(1) == r,
                "mixture experts disagree in shape: expert ", e, " has A ", experts[e].a.sizes(),
                " and B ", experts[e].b.sizes(), ", expert 0 has A ", experts[0].a.sizes(),
                " and B ", experts[0].b.sizes());
    if (trainable_) {
      TORCH_CHECK(experts[e].scale == scale_, "trainable mixture experts must share one scale: ",
                  experts[e].scale, " vs ", scale_);
      a_.push_back(register_parameter(absl::StrCat("expert_", e, "_lora_A"),
                                      experts[e].a.detach().clone()));
      b_.push_back(register_parameter(absl::StrCat("expert_", e, "_lora_B"),
                                      experts[e].b.detach().clone()));
    } else {
      a_.push_back(register_buffer(absl::StrCat("expert_", e, "_lora_A"), experts[e].a.detach().clone()));
      b_.push_back(register_buffer(absl::StrCat("expert_", e, "_lora_B"),
                                   (experts[e].b.detach() * experts[e].scale).clone()));
    }
    for (int64_t i = 0; i < r; ++i) columns.push_back(static_cast<int64_t>(e));
  }
  if (!trainable_) {  // trainable experts concatenate afresh on each forward
    a_cat_ = register_buffer("a_cat", torch::cat(a_, 0));
    b_cat_ = register_buffer("b_cat", torch::cat(b_, 1));
  }
  column_expert_ = register_buffer("column_expert", torch::tensor(columns, torch::kInt64));
  register_module("router", router_);
}

torch::Tensor MixtureAdapterImpl::OutputMix(const torch::Tensor& x, const torch::Tensor& w) {
  // h = (A_cat x) * w per column's expert; y = B_cat h.
  const torch::Tensor a_cat = trainable_ ? torch::cat(a_, 0) : a_cat_;
  const torch::Tensor b_cat = trainable_ ? torch::cat(b_, 1) : b_cat_;
  const torch::Tensor w_cols = w.index_select(-1, column_expert_.to(x.device()));
  const torch::Tensor h = F::linear(x, a_cat.to(x.dtype())) * (w_cols * scale_);
  return F::linear(h, b_cat.to(x.dtype()));
}

torch::Tensor MixtureAdapterImpl::ParameterMix(const torch::Tensor& x, const torch::Tensor& w) {
  const torch::Tensor a = torch::stack(a_).to(x.dtype());  // [E, r, in]
  const torch::Tensor b = torch::stack(b_).to(x.dtype());  // [E, out, r]
  if (w.size(1) == 1) {  // one mixture per sequence
    const torch::Tensor wb = w.select(1, 0).expand({x.size(0), w.size(2)});
    const torch::Tensor a_mix = torch::einsum("be,eri->bri", {wb, a});
    const torch::Tensor b_mix = torch::einsum("be,eor->bor", {wb, b});
    torch::Tensor h = torch::bmm(x, a_mix.transpose(1, 2));
    if (scale_ != 1.0) h = h * scale_;
    return torch::bmm(h, b_mix.transpose(1, 2));
  }
  // Per token: x A_mix = sum_e w_e (x A_e^T), and B_mix h = sum_e w_e (B_e h),
  // so neither per-token A_mix nor B_mix is formed ([B, S, E, r] and
  // [B, S, E, out] activations instead of [B, S, r, in] weights).
  const int64_t E = a.size(0), r = a.size(1);
  const torch::Tensor xa = F::linear(x, a.reshape({E * r, -1}))
                               .view({x.size(0), x.size(1), E, r});  // [B, S, E, r]
  torch::Tensor h = (xa * w.unsqueeze(-1)).sum(2);                    // [B, S, r]
  if (scale_ != 1.0) h = h * scale_;
  const torch::Tensor hb = torch::einsum("bsr,eor->bseo", {h, b});   // [B, S, E, out]
  return (hb * w.unsqueeze(-1)).sum(2);
}

torch::Tensor MixtureAdapterImpl::Forward(const torch::Tensor& x, const torch::Tensor& weight,
                                          const torch::Tensor& bias) {
  const torch::Tensor x3 = x.dim() == 3 ? x : x.reshape({1, -1, x.size(-1)});
  torch::Tensor w = router_->Route(x3, num_experts()).to(x.dtype());
  if (w.size(0) == 1 && x3.size(0) > 1) w = w.expand({x3.size(0), w.size(1), w.size(2)});
  if (w.size(1) != 1 && w.size(1) != x3.size(1)) w = w.expand({x3.size(0), x3.size(1), w.size(2)});
  torch::Tensor delta = mode_ == MixingMode::kOutput ? OutputMix(x3, w) : ParameterMix(x3, w);
  return F::linear(x, weight, bias) + delta.view(F::linear(x, weight).sizes());
}

torch::Tensor MixtureAdapterImpl::DeltaWeight() {
  const torch::Tensor a_cat = trainable_ ? torch::cat(a_, 0) : a_cat_;
  const torch::Tensor b_cat = trainable_ ? torch::cat(b_, 1) : b_cat_;
  const torch::Tensor probe = torch::zeros({1, 1, a_cat.size(1)}, a_cat.options());
  const torch::Tensor w = router_->Route(probe, num_experts()).reshape({num_experts()});
  if (mode_ == MixingMode::kOutput) {
    return torch::mm(b_cat * w.index_select(0, column_expert_), a_cat) * scale_;
  }
  const torch::Tensor a = torch::einsum("e,eri->ri", {w, torch::stack(a_)});
  const torch::Tensor b = torch::einsum("e,eor->or", {w, torch::stack(b_)});
  return torch::mm(b, a) * scale_;
}

bool TargetModules::Matches(const std::string& module) const {
  if (!regex.empty()) return std::regex_match(module, std::regex(regex));
  for (const std::string& name : names) {
    if (module == name || absl::EndsWith(module, "." + name)) return true;
  }
  return false;
}

absl::StatusOr<AdapterKind> ParseAdapterKind(const std::string& name) {
  if (name == "lora") return AdapterKind::kLora;
  if (name == "full") return AdapterKind::kFull;
  if (name == "sparse") return AdapterKind::kSparse;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown adapter type \"", name, "\" (known: lora, full, sparse)"));
}

void FreezeBase(CausalLMImpl& model) {
  for (auto& [name, param] : BaseStateDict(model)) param.set_requires_grad(false);
}

absl::StatusOr<std::vector<std::string>> AttachAdapters(CausalLMImpl& model,
                                                        const AdapterConfig& config,
                                                        uint64_t seed) {
  if (config.kind == AdapterKind::kLora && config.lora.rank <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("LoRA rank must be positive, got ", config.lora.rank));
  }
  if (config.kind == AdapterKind::kSparse) {
    if (absl::Status s = CheckSparseOptions(config.sparse); !s.ok()) return s;
  }
  if (config.lora.dropout < 0 || config.lora.dropout >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("LoRA dropout must be in [0, 1), got ", config.lora.dropout));
  }
  try {
    if (!config.targets.regex.empty()) std::regex check(config.targets.regex);
  } catch (const std::regex_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad target regex \"", config.targets.regex, "\": ", e.what()));
  }
  FreezeBase(model);
  torch::manual_seed(seed);
  std::vector<std::string> attached;
  auto linears = model.Linears();
  std::sort(linears.begin(), linears.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  for (auto& [name, linear] : linears) {
    if (name == "lm_head" && config.targets.regex.empty() &&
        std::find(config.targets.names.begin(), config.targets.names.end(), "lm_head") ==
            config.targets.names.end()) {
      continue;
    }
    if (!config.targets.Matches(name)) continue;
    const int64_t in = linear->options.in_features(), out = linear->options.out_features();
    std::shared_ptr<AdapterImpl> adapter;
    if (config.kind == AdapterKind::kLora) {
      adapter = std::make_shared<LoraAdapterImpl>(in, out, config.lora);
    } else if (config.kind == AdapterKind::kSparse) {
      adapter = std::make_shared<SparseAdapterImpl>(in, out);
    } else {
      adapter = std::make_shared<FullAdapterImpl>(in, out);
    }
    adapter->to(linear->weight.device());
    linear->set_adapter(adapter);
    attached.push_back(name);
  }
  if (attached.empty()) {
    std::string wanted = config.targets.regex;
    for (const auto& n : config.targets.names) wanted += (wanted.empty() ? "" : ",") + n;
    return absl::NotFoundError(absl::StrCat("no module matches target modules \"", wanted,
                                            "\" (e.g. q_proj, v_proj, dense, fc1)"));
  }
  return attached;
}

std::vector<std::pair<std::string, torch::Tensor>> TrainableParameters(CausalLMImpl& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : model.named_parameters()) {
    if (item.value().requires_grad()) out.emplace_back(item.key(), item.value());
  }
  return out;
}

void MergeAdaptersIntoBase(CausalLMImpl& model) {
  torch::NoGradGuard no_grad;
  for (auto& [name, linear] : model.Linears()) {
    if (!linear->adapter()) continue;
    linear->weight.add_(linear->adapter()->DeltaWeight().to(linear->weight.dtype()));
    linear->set_adapter(nullptr);
  }
}

void DetachAdapters(CausalLMImpl& model) {
  for (auto& [name, linear] : model.Linears()) linear->set_adapter(nullptr);
}

}  // namespace libra::nn
