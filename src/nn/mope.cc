#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/mope.h"

#include <algorithm>
#include <cmath>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "src/core/io/safetensors.h"
#include "src/core/status_macros.h"
#include "src/nn/convert.h"

namespace libra::nn {
namespace F = torch::nn::functional;

absl::StatusOr<MopeRouter> ParseMopeRouter(const std::string& name) {
  if (name == "pe") return MopeRouter::kPerExample;
  if (name == "pt") return MopeRouter::kPerToken;
  if (name == "posterior") return MopeRouter::kPosterior;
  return absl::InvalidArgumentError(
      absl::StrCat("--router: unknown router \"", name, "\" (known: pe, pt, posterior)"));
}

std::string MopeRouterName(MopeRouter router) {
  switch (router) {
    case MopeRouter::kPerExample:
      return "pe";
    case MopeRouter::kPerToken:
      return "pt";
    case MopeRouter::kPosterior:
      return "posterior";
  }
  return "pe";
}

absl::Status CheckMopeOptions(const MopeOptions& options) {
  if (options.experts < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("--experts: a mixture needs at least 2 experts, got ", options.experts));
  }
  if (!(options.temperature > 0) || !std::isfinite(options.temperature)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tau: the router temperature must be positive, got ", options.temperature));
  }
  if (options.lora.rank <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rank: the experts' rank must be positive, got ", options.lora.rank));
  }
  if (!(options.kl_weight >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--kl_weight: must be >= 0, got ", options.kl_weight));
  }
  if (!(options.router_init_std >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("router_init_std must be >= 0, got ", options.router_init_std));
  }
  return absl::OkStatus();
}

void MopeContext::Observe(const torch::Tensor& input_ids, int64_t cache_length,
                          const BatchLayout* layout) {
  decoding_ = cache_length > 0;
  prompt_mask_ = torch::Tensor();
  token_mask_ = torch::Tensor();
  const int64_t rows = input_ids.size(0), length = input_ids.size(1);
  if (decoding_ || layout == nullptr || static_cast<int64_t>(layout->lengths.size()) != rows ||
      layout->prompt_lengths.size() != layout->lengths.size()) {
    return;  // every token (a generation prompt, an unpadded sequence)
  }
  const torch::Tensor positions = torch::arange(length, torch::kInt64).view({1, length});
  const torch::Tensor prompt = torch::tensor(layout->prompt_lengths, torch::kInt64).view({rows, 1});
  const torch::Tensor lengths = torch::tensor(layout->lengths, torch::kInt64).view({rows, 1});
  prompt_mask_ = (positions < prompt).to(torch::kFloat32).to(input_ids.device());
  token_mask_ = (positions < lengths).to(torch::kFloat32).to(input_ids.device());
}

torch::Tensor MopeContext::TakeKl() {
  if (kl_terms_.empty()) return torch::Tensor();
  torch::Tensor mean = torch::stack(kl_terms_).mean();
  kl_terms_.clear();
  return mean;
}

torch::Tensor MaskedMean(const torch::Tensor& x, const torch::Tensor& mask) {
  if (!mask.defined()) return x.mean(1);
  const torch::Tensor m = mask.to(x.dtype()).unsqueeze(-1);  // [B, S, 1]
  const torch::Tensor count = m.sum(1).clamp_min(1.0);      // [B, 1]
  return (x * m).sum(1) / count;
}

torch::Tensor CategoricalKl(const torch::Tensor& q, const torch::Tensor& p) {
  const double tiny = 1e-12;
  return (q * (torch::log(q.clamp_min(tiny)) - torch::log(p.clamp_min(tiny)))).sum(-1);
}

SmearRouterImpl::SmearRouterImpl(int64_t in_features, int64_t num_experts, MopeRouter kind,
                                 double temperature, double init_std, std::string module,
                                 std::shared_ptr<MopeContext> context)
    : kind_(kind),
      temperature_(temperature),
      module_(std::move(module)),
      context_(std::move(context)) {
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({in_features})));
  proj = register_module("proj", torch::nn::Linear(in_features, num_experts));
  torch::NoGradGuard no_grad;
  proj->weight.normal_(0.0, init_std);
  proj->bias.zero_();
}

torch::Tensor SmearRouterImpl::Probabilities(const torch::Tensor& h) {
  const torch::Tensor logits = proj->forward(norm->forward(h.to(torch::kFloat32)));
  return torch::softmax(logits / temperature_, -1);
}

torch::Tensor SmearRouterImpl::Route(const torch::Tensor& x, int64_t num_experts) {
  TORCH_CHECK(proj->weight.size(0) == num_experts, "router of \"", module_, "\" has ",
              proj->weight.size(0), " experts, the mixture ", num_experts);
  const int64_t rows = x.size(0);
  if (context_->uniform) {
    return torch::full({1, 1, num_experts}, 1.0 / num_experts, x.options());
  }
  auto& recorder = context_->recorder;
  const bool record = recorder != nullptr && recorder->enabled;
  if (kind_ == MopeRouter::kPerToken) {
    torch::Tensor p = Probabilities(x);  // [B, S, E]
    if (record) {
      torch::NoGradGuard no_grad;
      torch::Tensor flat = p.detach().reshape({-1, num_experts});
      const torch::Tensor& mask = context_->token_mask();
      if (mask.defined()) flat = flat.index({mask.reshape({-1}) > 0.5});
      recorder->Record(module_, flat.to(torch::kFloat32).cpu());
    }
    return p;
  }
  if (context_->decoding() && cached_.defined() && cached_.size(0) == rows) return cached_;
  const torch::Tensor p = Probabilities(MaskedMean(x, context_->prompt_mask()));  // [B, E]
  torch::Tensor route = p;
  if (kind_ == MopeRouter::kPosterior && (is_training() || context_->compute_posterior)) {
    const torch::Tensor q = Probabilities(MaskedMean(x, context_->token_mask()));
    if (is_training()) {
      context_->AddKl(CategoricalKl(q, p).mean());
      route = q;
    }
    if (record) recorder->Record(module_ + "#posterior", q.detach().to(torch::kFloat32).cpu());
  }
  if (record) recorder->Record(module_, p.detach().to(torch::kFloat32).cpu());
  route = route.view({rows, 1, num_experts});
  cached_ = route.detach();
  return route;
}

std::function<torch::Tensor()> Mope::AuxiliaryLoss() const {
  std::shared_ptr<MopeContext> ctx = context;
  const double weight = options.kl_weight;
  return [ctx, weight]() -> torch::Tensor {
    torch::Tensor kl = ctx->TakeKl();
    if (!kl.defined()) return kl;
    ctx->kl_history.push_back(kl.item<double>());
    return kl * weight;
  };
}

namespace {

// Attaches fresh experts and routers on exactly `modules` (sorted).
absl::StatusOr<Mope> AttachOnModules(CausalLMImpl& model, const MopeOptions& options,
                                     const std::vector<std::string>& modules, uint64_t seed) {
  LIBRA_RETURN_IF_ERROR(CheckMopeOptions(options));
  std::map<std::string, std::shared_ptr<LinearImpl>> linears;
  for (auto& [name, linear] : model.Linears()) linears[name] = linear;
  for (const std::string& name : modules) {
    if (linears.count(name) == 0) {
      return absl::NotFoundError(absl::StrCat("module \"", name, "\" is not in the model"));
    }
  }
  FreezeBase(model);
  torch::manual_seed(seed);
  Mope mope;
  mope.options = options;
  mope.context = std::make_shared<MopeContext>();
  const double scale = options.lora.scale();
  for (const std::string& name : modules) {
    const std::shared_ptr<LinearImpl>& linear = linears[name];
    const int64_t in = linear->options.in_features(), out = linear->options.out_features();
    std::vector<LoraWeights> experts;
    for (int64_t e = 0; e < options.experts; ++e) {
      torch::Tensor a = torch::empty({options.lora.rank, in});
      {
        torch::NoGradGuard no_grad;
        torch::nn::init::kaiming_uniform_(a, std::sqrt(5.0));
      }
      experts.push_back({a, torch::zeros({out, options.lora.rank}), scale});
    }
    auto router = std::make_shared<SmearRouterImpl>(in, options.experts, options.router,
                                                    options.temperature, options.router_init_std,
                                                    name, mope.context);
    auto mixture = std::make_shared<MixtureAdapterImpl>(std::move(experts), router,
                                                        MixingMode::kParameter, /*trainable=*/true);
    mixture->to(linear->weight.device());
    linear->set_adapter(mixture);
    mope.routers[name] = router;
  }
  std::shared_ptr<MopeContext> ctx = mope.context;
  model.set_forward_observer([ctx](const torch::Tensor& ids, int64_t cache_length,
                                   const BatchLayout* layout) {
    ctx->Observe(ids, cache_length, layout);
  });
  return mope;
}

}  // namespace

absl::StatusOr<Mope> AttachMope(CausalLMImpl& model, const MopeOptions& options, uint64_t seed) {
  LIBRA_RETURN_IF_ERROR(CheckMopeOptions(options));
  try {
    if (!options.targets.regex.empty()) std::regex check(options.targets.regex);
  } catch (const std::regex_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad target regex \"", options.targets.regex, "\": ", e.what()));
  }
  std::vector<std::string> modules;
  for (auto& [name, linear] : model.Linears()) {
    if (name == "lm_head" && options.targets.regex.empty() &&
        std::find(options.targets.names.begin(), options.targets.names.end(), "lm_head") ==
            options.targets.names.end()) {
      continue;
    }
    if (options.targets.Matches(name)) modules.push_back(name);
  }
  std::sort(modules.begin(), modules.end());
  if (modules.empty()) {
    std::string wanted = options.targets.regex;
    for (const auto& n : options.targets.names) wanted += (wanted.empty() ? "" : ",") + n;
    return absl::NotFoundError(absl::StrCat("--targets: no module matches \"", wanted,
                                            "\" (e.g. q_proj, v_proj, dense, fc1)"));
  }
  return AttachOnModules(model, options, modules, seed);
}

void DetachMope(CausalLMImpl& model) {
  DetachAdapters(model);
  model.set_forward_observer(nullptr);
}

namespace {

constexpr char kOptionsKey[] = "mope_options";

nlohmann::json OptionsToJson(const MopeOptions& o, const std::vector<std::string>& modules) {
  return {{"experts", o.experts},           {"rank", o.lora.rank},
          {"alpha", o.lora.alpha},           {"use_rslora", o.lora.use_rslora},
          {"router", MopeRouterName(o.router)}, {"temperature", o.temperature},
          {"kl_weight", o.kl_weight},        {"router_init_std", o.router_init_std},
          {"modules", modules}};
}

}  // namespace

absl::Status SaveMope(CausalLMImpl& model, const Mope& mope, const std::string& path,
                      const std::map<std::string, std::string>& metadata) {
  SafetensorsWriter writer;
  std::vector<std::string> modules;
  for (auto& [name, linear] : model.Linears()) {
    auto mixture = std::dynamic_pointer_cast<MixtureAdapterImpl>(linear->adapter());
    if (mixture == nullptr || !mixture->trainable()) continue;
    modules.push_back(name);
    for (const auto& item : mixture->named_parameters()) {
      LIBRA_RETURN_IF_ERROR(writer.Add(absl::StrCat(name, ".", item.key()), ToCore(item.value())));
    }
  }
  if (modules.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": the model has no trainable mixture to save"));
  }
  std::sort(modules.begin(), modules.end());
  writer.SetMetadata(kOptionsKey, OptionsToJson(mope.options, modules).dump());
  for (const auto& [key, value] : metadata) writer.SetMetadata(key, value);
  return writer.WriteAtomically(path);
}

absl::StatusOr<bool> IsMopeFile(const std::string& path) {
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
  return file.metadata().count(kOptionsKey) > 0;
}

absl::StatusOr<Mope> LoadMope(CausalLMImpl& model, const std::string& path, bool trainable) {
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
  auto it = file.metadata().find(kOptionsKey);
  if (it == file.metadata().end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a mixture file (no \"", kOptionsKey, "\" metadata)"));
  }
  MopeOptions options;
  std::vector<std::string> modules;
  try {
    const nlohmann::json j = nlohmann::json::parse(it->second);
    options.experts = j.at("experts").get<int64_t>();
    options.lora.rank = j.at("rank").get<int64_t>();
    options.lora.alpha = j.at("alpha").get<double>();
    options.lora.use_rslora = j.at("use_rslora").get<bool>();
    LIBRA_ASSIGN_OR_RETURN(options.router, ParseMopeRouter(j.at("router").get<std::string>()));
    options.temperature = j.at("temperature").get<double>();
    options.kl_weight = j.at("kl_weight").get<double>();
    options.router_init_std = j.at("router_init_std").get<double>();
    modules = j.at("modules").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": bad \"", kOptionsKey, "\": ", e.what()));
  }
  if (absl::Status s = CheckMopeOptions(options); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
  }
  // Read and check every tensor before touching the model.
  std::map<std::string, std::shared_ptr<LinearImpl>> linears;
  for (auto& [name, linear] : model.Linears()) linears[name] = linear;
  std::map<std::string, torch::Tensor> tensors;
  for (const std::string& module : modules) {
    auto lin = linears.find(module);
    if (lin == linears.end()) {
      return absl::NotFoundError(
          absl::StrCat(path, ": module \"", module, "\" is not in the model"));
    }
    const int64_t in = lin->second->options.in_features(), out = lin->second->options.out_features();
    auto read = [&](const std::string& key, std::vector<int64_t> shape) -> absl::Status {
      const std::string name = absl::StrCat(module, ".", key);
      auto t = file.ReadFloat(name);
      if (!t.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", t.status().message()));
      torch::Tensor value = ToTorch(*t);
      if (value.sizes().vec() != shape) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": tensor \"", name, "\" has shape [", absl::StrJoin(value.sizes().vec(), ", "),
            "], expected [", absl::StrJoin(shape, ", "), "] (experts must agree in shape)"));
      }
      tensors[name] = value;
      return absl::OkStatus();
    };
    for (int64_t e = 0; e < options.experts; ++e) {
      LIBRA_RETURN_IF_ERROR(read(absl::StrCat("expert_", e, "_lora_A"), {options.lora.rank, in}));
      LIBRA_RETURN_IF_ERROR(read(absl::StrCat("expert_", e, "_lora_B"), {out, options.lora.rank}));
    }
    LIBRA_RETURN_IF_ERROR(read("router.norm.weight", {in}));
    LIBRA_RETURN_IF_ERROR(read("router.norm.bias", {in}));
    LIBRA_RETURN_IF_ERROR(read("router.proj.weight", {options.experts, in}));
    LIBRA_RETURN_IF_ERROR(read("router.proj.bias", {options.experts}));
  }
  LIBRA_ASSIGN_OR_RETURN(Mope mope, AttachOnModules(model, options, modules, /*seed=*/0));
  torch::NoGradGuard no_grad;
  for (const std::string& module : modules) {
    for (auto& item : linears[module]->adapter()->named_parameters()) {
      const std::string name = absl::StrCat(module, ".", item.key());
      auto t = tensors.find(name);
      if (t == tensors.end()) {
        return absl::InternalError(absl::StrCat(path, ": no tensor \"", name, "\""));
      }
      item.value().copy_(t->second);
      item.value().set_requires_grad(trainable);
    }
  }
  return mope;
}

RoutingStats ComputeRoutingStats(const torch::Tensor& routes_in) {
  RoutingStats stats;
  if (!routes_in.defined() || routes_in.dim() != 2 || routes_in.size(0) == 0) return stats;
  const torch::Tensor routes = routes_in.to(torch::kFloat64);
  const int64_t E = routes.size(1);
  const double log_e = std::log(static_cast<double>(E));
  auto entropy = [](const torch::Tensor& p) {
    return -(p * torch::log(p.clamp_min(1e-300))).sum(-1);
  };
  const torch::Tensor mean = routes.mean(0);
  stats.count = routes.size(0);
  stats.entropy = entropy(routes).mean().item<double>() / log_e;
  stats.entropy_of_mean = entropy(mean).item<double>() / log_e;
  stats.mutual_information = stats.entropy_of_mean - stats.entropy;
  for (int64_t e = 0; e < E; ++e) stats.usage.push_back(mean[e].item<double>());
  return stats;
}

}  // namespace libra::nn
