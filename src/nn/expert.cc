#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/expert.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/core/io/safetensors.h"
#include "src/core/merge/expert_file.h"
#include "src/core/status_macros.h"
#include "src/nn/convert.h"

namespace libra::nn {

std::vector<ExpertModule> ExtractExpert(CausalLMImpl& model) {
  std::vector<ExpertModule> out;
  for (auto& [name, linear] : model.Linears()) {
    const auto& adapter = linear->adapter();
    ExpertModule module;
    module.module = name;
    if (auto lora = std::dynamic_pointer_cast<LoraAdapterImpl>(adapter)) {
      module.kind = ExpertModule::Kind::kLora;
      module.lora_a = lora->lora_A.detach().to(torch::kCPU).clone();
      module.lora_b = lora->lora_B.detach().to(torch::kCPU).clone();
      module.scale = lora->scale;
    } else if (auto full = std::dynamic_pointer_cast<FullAdapterImpl>(adapter)) {
      module.kind = ExpertModule::Kind::kDense;
      module.delta = full->delta.detach().to(torch::kCPU).clone();
    } else if (auto sparse = std::dynamic_pointer_cast<SparseAdapterImpl>(adapter)) {
      module.kind = ExpertModule::Kind::kSparse;
      module.sparse_indices = sparse->indices.detach().to(torch::kCPU).clone();
      module.sparse_values = sparse->values.detach().to(torch::kCPU, torch::kFloat32).clone();
      module.sparse_shape = {sparse->out_features, sparse->in_features};
    } else {
      continue;
    }
    out.push_back(std::move(module));
  }
  std::sort(out.begin(), out.end(),
            [](const ExpertModule& a, const ExpertModule& b) { return a.module < b.module; });
  return out;
}

merge::ModuleDelta ToCoreDelta(const ExpertModule& module) {
  merge::ModuleDelta delta;
  if (module.kind == ExpertModule::Kind::kLora) {
    delta.kind = merge::ModuleDelta::Kind::kLora;
    delta.lora.a = ToCore(module.lora_a);
    delta.lora.b = ToCore(module.lora_b);
    delta.lora.scale = static_cast<float>(module.scale);
  } else if (module.kind == ExpertModule::Kind::kSparse) {
    delta.kind = merge::ModuleDelta::Kind::kSparse;
    const torch::Tensor indices = module.sparse_indices.to(torch::kCPU, torch::kInt64).contiguous();
    const torch::Tensor values = module.sparse_values.to(torch::kCPU, torch::kFloat32).contiguous();
    delta.sparse.shape = module.sparse_shape;
    delta.sparse.indices.assign(indices.data_ptr<int64_t>(), indices.data_ptr<int64_t>() + indices.numel());
    delta.sparse.values.assign(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
  } else {
    delta.kind = merge::ModuleDelta::Kind::kDense;
    delta.dense = ToCore(module.delta);
  }
  return delta;
}

absl::StatusOr<ExpertModule> FromCoreDelta(const std::string& name,
                                           const merge::ModuleDelta& delta) {
  ExpertModule module;
  module.module = name;
  switch (delta.kind) {
    case merge::ModuleDelta::Kind::kLora:
      LIBRA_RETURN_IF_ERROR(merge::CheckLoraShapes(delta.lora, name));
      module.kind = ExpertModule::Kind::kLora;
      module.lora_a = ToTorch(delta.lora.a);
      module.lora_b = ToTorch(delta.lora.b);
      module.scale = delta.lora.scale;
      return module;
    case merge::ModuleDelta::Kind::kDense:
      if (delta.dense.rank() != 2) {
        return absl::InvalidArgumentError(absl::StrCat(
            "module \"", name, "\": dense delta must be 2-D, got ", ShapeToString(delta.dense.shape())));
      }
      module.kind = ExpertModule::Kind::kDense;
      module.delta = ToTorch(delta.dense);
      return module;
    case merge::ModuleDelta::Kind::kSparse:
      break;
  }
  const merge::SparseDelta& sparse = delta.sparse;
  if (sparse.shape.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "module \"", name, "\": sparse delta must be 2-D, got ", ShapeToString(sparse.shape)));
  }
  if (sparse.indices.size() != sparse.values.size()) {
    return absl::InvalidArgumentError(absl::StrCat("module \"", name, "\": ", sparse.indices.size(),
                                                   " sparse indices but ", sparse.values.size(), " values"));
  }
  const int64_t size = sparse.shape[0] * sparse.shape[1];
  for (size_t i = 0; i < sparse.indices.size(); ++i) {
    if (sparse.indices[i] < 0 || sparse.indices[i] >= size) {
      return absl::InvalidArgumentError(absl::StrCat("module \"", name, "\": sparse index ",
                                                     sparse.indices[i], " outside [0, ", size, ")"));
    }
  }
  module.kind = ExpertModule::Kind::kSparse;
  module.sparse_shape = sparse.shape;
  module.sparse_indices = torch::tensor(sparse.indices, torch::kInt64);
  module.sparse_values = torch::tensor(sparse.values, torch::kFloat32);
  auto [sorted, order] = module.sparse_indices.sort();
  if (sorted.numel() > 1 && sorted.slice(0, 1).eq(sorted.slice(0, 0, -1)).any().item<bool>()) {
    return absl::InvalidArgumentError(
        absl::StrCat("module \"", name, "\": repeated sparse index"));
  }
  module.sparse_indices = sorted;
  module.sparse_values = module.sparse_values.index_select(0, order);
  return module;
}

absl::Status SaveExpert(const std::string& path, const std::vector<ExpertModule>& modules,
                        const std::map<std::string, std::string>& metadata) {
  if (modules.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": the expert has no modules"));
  }
  SafetensorsWriter writer;
  std::optional<double> scale;
  int64_t rank = 0;
  for (const ExpertModule& module : modules) {
    if (module.kind == ExpertModule::Kind::kLora) {
      if (scale && *scale != module.scale) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": module \"", module.module, "\" has LoRA scale ", module.scale,
            ", others ", *scale, " (one scale per file)"));
      }
      scale = module.scale;
      rank = module.lora_a.size(0);
      LIBRA_RETURN_IF_ERROR(writer.Add(merge::LoraATensorName(module.module), ToCore(module.lora_a)));
      LIBRA_RETURN_IF_ERROR(writer.Add(merge::LoraBTensorName(module.module), ToCore(module.lora_b)));
    } else if (module.kind == ExpertModule::Kind::kSparse) {
      const merge::SparseDelta sparse = ToCoreDelta(module).sparse;
      const int64_t nnz = static_cast<int64_t>(sparse.indices.size());
      LIBRA_RETURN_IF_ERROR(writer.Add(module.module + ".sparse.values", Tensor({nnz}, sparse.values)));
      LIBRA_RETURN_IF_ERROR(writer.AddInt64(module.module + ".sparse.indices", Int64Tensor{{nnz}, sparse.indices}));
      LIBRA_RETURN_IF_ERROR(writer.AddInt64(
          module.module + ".sparse.shape",
          Int64Tensor{{static_cast<int64_t>(sparse.shape.size())}, sparse.shape}));
    } else {
      LIBRA_RETURN_IF_ERROR(writer.Add(merge::DenseDeltaTensorName(module.module), ToCore(module.delta)));
    }
  }
  if (scale) {
    // Shortest decimal that reads back as the same float the core uses.
    char text[32];
    std::snprintf(text, sizeof(text), "%.9g", static_cast<float>(*scale));
    writer.SetMetadata("lora_scale", text);
    writer.SetMetadata("lora_rank", absl::StrCat(rank));
  }
  for (const auto& [key, value] : metadata) writer.SetMetadata(key, value);
  return writer.WriteAtomically(path);
}

absl::StatusOr<std::vector<ExpertModule>> LoadExpert(const std::string& path) {
  LIBRA_ASSIGN_OR_RETURN(merge::ExpertFile file, merge::ExpertFile::Open(path));
  std::vector<ExpertModule> out;
  for (const merge::ModuleEntry& entry : file.modules()) {
    LIBRA_ASSIGN_OR_RETURN(merge::ModuleDelta delta, file.Load(entry));
    std::string name = entry.name;
    LIBRA_ASSIGN_OR_RETURN(ExpertModule module, FromCoreDelta(name, delta));
    out.push_back(std::move(module));
  }
  return out;
}

namespace {

absl::StatusOr<std::shared_ptr<LinearImpl>> FindLinear(CausalLMImpl& model,
                                                       const std::string& name) {
  for (auto& [candidate, linear] : model.Linears()) {
    if (candidate == name) return linear;
  }
  return absl::NotFoundError(absl::StrCat("expert module \"", name, "\" is not in the model"));
}

absl::Status CheckShape(const std::string& what, const torch::Tensor& t,
                        std::vector<int64_t> expected) {
  if (t.sizes().vec() == expected) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("tensor \"", what, "\": expected ",
                                                 ShapeToString(expected), ", got ",
                                                 ShapeToString(t.sizes().vec())));
}

}  // namespace

// Every expert of a mixture must be LoRA on the same modules, each module in
// the model with shapes that fit it; checked before anything is attached, so
// a foreign expert is an error naming it instead of a LibTorch failure later.
absl::Status CheckMixtureFitsModel(CausalLMImpl& model,
                                   const std::vector<std::vector<ExpertModule>>& experts,
                                   const std::vector<std::string>& names) {
  auto expert = [&](size_t e) {
    return e < names.size() ? absl::StrCat("expert \"", names[e], "\"") : absl::StrCat("expert ", e);
  };
  for (size_t e = 0; e < experts.size(); ++e) {
    if (experts[e].size() != experts[0].size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          expert(e), " has ", experts[e].size(), " modules, ", expert(0), " has ", experts[0].size(),
          " (experts of a mixture must share modules)"));
    }
    for (const ExpertModule& module : experts[e]) {
      auto in_first = std::find_if(experts[0].begin(), experts[0].end(),
                                   [&](const ExpertModule& m) { return m.module == module.module; });
      if (module.kind != ExpertModule::Kind::kLora || in_first == experts[0].end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            expert(e), " module \"", module.module,
            "\": a mixture needs LoRA experts that share modules"));
      }
      LIBRA_ASSIGN_OR_RETURN(std::shared_ptr<LinearImpl> linear, FindLinear(model, module.module));
      const int64_t in = linear->options.in_features(), out = linear->options.out_features();
      const int64_t r = module.lora_a.dim() == 2 ? module.lora_a.size(0) : -1;
      absl::Status fits = CheckShape(merge::LoraATensorName(module.module), module.lora_a, {r, in});
      if (fits.ok()) {
        fits = CheckShape(merge::LoraBTensorName(module.module), module.lora_b, {out, r});
      }
      if (!fits.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(expert(e), " does not fit the model: ", fits.message()));
      }
    }
  }
  return absl::OkStatus();
}


absl::Status ApplyExpert(CausalLMImpl& model, const std::vector<ExpertModule>& modules,
                         bool trainable) {
  FreezeBase(model);
  for (const ExpertModule& module : modules) {
    LIBRA_ASSIGN_OR_RETURN(std::shared_ptr<LinearImpl> linear, FindLinear(model, module.module));
    const int64_t in = linear->options.in_features(), out = linear->options.out_features();
    std::shared_ptr<AdapterImpl> adapter;
    torch::NoGradGuard no_grad;
    if (module.kind == ExpertModule::Kind::kLora) {
      const int64_t r = module.lora_a.size(0);
      LIBRA_RETURN_IF_ERROR(CheckShape(merge::LoraATensorName(module.module), module.lora_a, {r, in}));
      LIBRA_RETURN_IF_ERROR(CheckShape(merge::LoraBTensorName(module.module), module.lora_b, {out, r}));
      LoraOptions options;
      options.rank = r;
      auto lora = std::make_shared<LoraAdapterImpl>(in, out, options);
      lora->scale = module.scale;
      lora->lora_A.copy_(module.lora_a);
      lora->lora_B.copy_(module.lora_b);
      adapter = lora;
    } else if (module.kind == ExpertModule::Kind::kSparse) {
      if (module.sparse_shape != std::vector<int64_t>{out, in}) {
        return absl::InvalidArgumentError(absl::StrCat(
            "tensor \"", module.module, ".sparse.shape\": expected ", ShapeToString({out, in}),
            ", got ", ShapeToString(module.sparse_shape)));
      }
      LIBRA_ASSIGN_OR_RETURN(ExpertModule checked, FromCoreDelta(module.module, ToCoreDelta(module)));
      auto sparse = std::make_shared<SparseAdapterImpl>(in, out);
      sparse->SetEntries(checked.sparse_indices, checked.sparse_values);
      adapter = sparse;
    } else {
      LIBRA_RETURN_IF_ERROR(CheckShape(module.module + ".delta", module.delta, {out, in}));
      auto full = std::make_shared<FullAdapterImpl>(in, out);
      full->delta.copy_(module.delta);
      adapter = full;
    }
    for (auto& param : adapter->parameters()) param.set_requires_grad(trainable);
    adapter->to(linear->weight.device());
    linear->set_adapter(adapter);
  }
  return absl::OkStatus();
}

absl::Status AttachMixture(CausalLMImpl& model,
                           const std::vector<std::vector<ExpertModule>>& experts,
                           std::shared_ptr<RouterImpl> router, MixingMode mode) {
  if (router == nullptr) return absl::InvalidArgumentError("a mixture needs a router");
  return AttachMixture(
      model, experts,
      [&](const std::string&) -> absl::StatusOr<std::shared_ptr<RouterImpl>> { return router; },
      mode);
}

absl::Status AttachMixture(CausalLMImpl& model,
                           const std::vector<std::vector<ExpertModule>>& experts,
                           const RouterFactory& make_router, MixingMode mode) {
  if (experts.empty()) return absl::InvalidArgumentError("a mixture needs at least one expert");
  LIBRA_RETURN_IF_ERROR(CheckMixtureFitsModel(model, experts));
  FreezeBase(model);
  for (const ExpertModule& first : experts[0]) {
    std::vector<LoraWeights> weights;
    for (size_t e = 0; e < experts.size(); ++e) {
      auto it = std::find_if(experts[e].begin(), experts[e].end(),
                             [&](const ExpertModule& m) { return m.module == first.module; });
      weights.push_back({it->lora_a, it->lora_b, it->scale});
    }
    LIBRA_ASSIGN_OR_RETURN(std::shared_ptr<LinearImpl> linear, FindLinear(model, first.module));
    if (mode == MixingMode::kParameter) {
      for (size_t e = 1; e < weights.size(); ++e) {
        if (weights[e].a.size(0) != weights[0].a.size(0)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "module \"", first.module, "\": parameter mixing needs equal ranks, got ",
              weights[0].a.size(0), " and ", weights[e].a.size(0)));
        }
      }
    }
    LIBRA_ASSIGN_OR_RETURN(std::shared_ptr<RouterImpl> router, make_router(first.module));
    if (router == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("module \"", first.module, "\": the router factory returned no router"));
    }
    auto mixture = std::make_shared<MixtureAdapterImpl>(weights, router, mode);
    mixture->to(linear->weight.device());
    linear->set_adapter(mixture);
  }
  return absl::OkStatus();
}

}  // namespace libra::nn
