#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/arrow_router.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/core/arrow/expert_prototypes.h"
#include "src/core/arrow/library_prototypes.h"
#include "src/core/arrow/prototype.h"
#include "src/core/status_macros.h"
#include "src/nn/convert.h"

namespace libra::nn {

void RoutingRecorder::Record(const std::string& module, const torch::Tensor& weights) {
  if (!enabled) return;
  weights_[module].push_back(
      weights.detach().to(torch::kCPU, torch::kFloat32).reshape({-1, weights.size(-1)}));
}

torch::Tensor RoutingRecorder::Weights(const std::string& module) const {
  auto it = weights_.find(module);
  if (it == weights_.end() || it->second.empty()) return torch::zeros({0, 0});
  return torch::cat(it->second, 0);
}

std::vector<std::string> RoutingRecorder::Modules() const {
  std::vector<std::string> out;
  for (const auto& [module, w] : weights_) out.push_back(module);
  return out;
}

ArrowRouterImpl::ArrowRouterImpl(const torch::Tensor& prototypes, const ArrowOptions& options,
                                 std::string module, std::shared_ptr<RoutingRecorder> recorder)
    : options_(options), module_(std::move(module)), recorder_(std::move(recorder)) {
  TORCH_CHECK(prototypes.dim() == 2 && prototypes.size(0) >= 1,
              "module \"", module_, "\": prototypes must be [E, in], got ", prototypes.sizes());
  TORCH_CHECK(options.top_k >= 1, "Arrow top_k must be >= 1, got ", options.top_k);
  TORCH_CHECK(options.temperature > 0, "Arrow temperature must be > 0, got ", options.temperature);
  prototypes_ = register_buffer("prototypes", prototypes.detach().to(torch::kFloat32).clone());
}

torch::Tensor ArrowRouterImpl::Route(const torch::Tensor& x, int64_t num_experts) {
  TORCH_CHECK(num_experts == prototypes_.size(0), "module \"", module_, "\": ", num_experts,
              " experts but ", prototypes_.size(0), " prototypes");
  TORCH_CHECK(x.size(-1) == prototypes_.size(1), "module \"", module_, "\": input dim ",
              x.size(-1), " but prototypes have ", prototypes_.size(1));
  torch::NoGradGuard no_grad;  // routing is zero-shot: nothing to learn
  const torch::Tensor p = prototypes_.to(x.device(), x.scalar_type());
  torch::Tensor logits = torch::matmul(x.detach(), p.t()).abs();  // [B, S, E]
  if (options_.temperature != 1.0) logits = logits / options_.temperature;
  const int64_t k = std::min<int64_t>(options_.top_k, num_experts);
  auto [top_values, top_indices] = logits.topk(k, -1);
  torch::Tensor weights =
      torch::zeros_like(logits).scatter_(-1, top_indices, torch::softmax(top_values, -1));
  if (recorder_ != nullptr) recorder_->Record(module_, weights);
  return weights;
}

absl::StatusOr<PrototypeMap> ComputeArrowPrototypes(
    const std::vector<std::vector<ExpertModule>>& experts) {
  if (experts.empty()) return absl::InvalidArgumentError("Arrow needs at least one expert");
  PrototypeMap out;
  for (const ExpertModule& first : experts[0]) {
    if (first.kind != ExpertModule::Kind::kLora) continue;
    std::vector<torch::Tensor> rows;
    for (size_t e = 0; e < experts.size(); ++e) {
      auto it = std::find_if(experts[e].begin(), experts[e].end(),
                             [&](const ExpertModule& m) { return m.module == first.module; });
      if (it == experts[e].end() || it->kind != ExpertModule::Kind::kLora) {
        return absl::InvalidArgumentError(absl::StrCat(
            "expert ", e, " has no LoRA module \"", first.module, "\" (experts must share modules)"));
      }
      LIBRA_ASSIGN_OR_RETURN(Tensor p, arrow::TopRightSingularVector(
                                           ToCore(it->lora_a), ToCore(it->lora_b),
                                           static_cast<float>(it->scale), first.module));
      rows.push_back(ToTorch(p));
    }
    out[first.module] = torch::stack(rows);
  }
  if (out.empty()) return absl::InvalidArgumentError("the experts have no LoRA module");
  return out;
}

absl::StatusOr<PrototypeMap> LoadArrowPrototypes(const ExpertLibrary& library,
                                                 const std::vector<std::string>& experts) {
  if (experts.empty()) return absl::InvalidArgumentError("Arrow needs at least one expert");
  std::vector<arrow::ExpertPrototypes> loaded;
  for (const std::string& name : experts) {
    LIBRA_ASSIGN_OR_RETURN(arrow::ExpertPrototypes p, arrow::LoadLibraryPrototypes(library, name));
    loaded.push_back(std::move(p));
  }
  std::vector<const arrow::ExpertPrototypes*> pointers;
  for (const auto& p : loaded) pointers.push_back(&p);
  PrototypeMap out;
  for (const arrow::ModulePrototypes& m : loaded[0].modules) {
    LIBRA_ASSIGN_OR_RETURN(Tensor stacked, arrow::StackPrototypes(pointers, m.module));
    out[m.module] = ToTorch(stacked);
  }
  return out;
}

absl::StatusOr<ArrowMixture> AttachArrow(CausalLMImpl& model,
                                         const std::vector<std::vector<ExpertModule>>& experts,
                                         const ArrowOptions& options, MixingMode mode,
                                         std::shared_ptr<RoutingRecorder> recorder) {
  LIBRA_ASSIGN_OR_RETURN(PrototypeMap prototypes, ComputeArrowPrototypes(experts));
  return AttachArrow(model, experts, prototypes, options, mode, std::move(recorder));
}

absl::StatusOr<ArrowMixture> AttachArrow(CausalLMImpl& model,
                                         const std::vector<std::vector<ExpertModule>>& experts,
                                         const PrototypeMap& prototypes,
                                         const ArrowOptions& options, MixingMode mode,
                                         std::shared_ptr<RoutingRecorder> recorder) {
  if (options.top_k < 1) {
    return absl::InvalidArgumentError(absl::StrCat("Arrow top_k must be >= 1, got ", options.top_k));
  }
  if (!(options.temperature > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Arrow temperature must be > 0, got ", options.temperature));
  }
  ArrowMixture mixture;
  RouterFactory factory =
      [&](const std::string& module) -> absl::StatusOr<std::shared_ptr<RouterImpl>> {
    auto it = prototypes.find(module);
    if (it == prototypes.end()) {
      return absl::NotFoundError(absl::StrCat("no Arrow prototypes for module \"", module, "\""));
    }
    if (it->second.dim() != 2 || it->second.size(0) != static_cast<int64_t>(experts.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "module \"", module, "\": expected ", experts.size(), " prototypes, got shape [",
          it->second.dim() == 2 ? absl::StrCat(it->second.size(0), ", ", it->second.size(1))
                                : std::string("?"),
          "]"));
    }
    auto router = std::make_shared<ArrowRouterImpl>(it->second, options, module, recorder);
    mixture.routers[module] = router;
    return std::shared_ptr<RouterImpl>(router);
  };
  LIBRA_RETURN_IF_ERROR(AttachMixture(model, experts, factory, mode));
  return mixture;
}

double MeanRoutingEntropy(const torch::Tensor& weights) {
  if (weights.numel() == 0) return 0.0;
  const torch::Tensor w = weights.to(torch::kFloat64).reshape({-1, weights.size(-1)});
  const torch::Tensor terms = torch::where(w > 0, -w * torch::log(w), torch::zeros_like(w));
  return terms.sum(-1).mean().item<double>();
}

double TopExpertShare(const torch::Tensor& weights, const std::vector<int64_t>& experts) {
  if (weights.numel() == 0) return 0.0;
  const torch::Tensor top = weights.reshape({-1, weights.size(-1)}).argmax(-1);
  torch::Tensor in_set = torch::zeros_like(top, torch::kBool);
  for (int64_t e : experts) in_set = in_set.logical_or(top == e);
  return in_set.to(torch::kFloat64).mean().item<double>();
}

}  // namespace libra::nn
