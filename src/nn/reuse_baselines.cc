#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/reuse_baselines.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "src/core/merge/registry.h"
#include "src/core/status_macros.h"

namespace libra::nn {

absl::StatusOr<std::vector<ExpertModule>> MergeExperts(
    const std::vector<std::vector<ExpertModule>>& experts, const std::string& method,
    const merge::MergeArguments& args, merge::LoraMode mode) {
  if (experts.empty()) return absl::InvalidArgumentError("a merge needs at least one expert");
  LIBRA_ASSIGN_OR_RETURN(const merge::MethodSpec* spec, merge::FindMethod(method));
  LIBRA_ASSIGN_OR_RETURN(merge::MergeParams params,
                         merge::BindParams(*spec, args, static_cast<int>(experts.size())));
  merge::MergeOptions options;
  options.mode = mode;
  LIBRA_RETURN_IF_ERROR(merge::CheckMode(*spec, options));
  std::vector<ExpertModule> merged;
  for (const ExpertModule& first : experts[0]) {
    std::vector<merge::ModuleDelta> deltas;
    for (size_t e = 0; e < experts.size(); ++e) {
      auto it = std::find_if(experts[e].begin(), experts[e].end(),
                             [&](const ExpertModule& m) { return m.module == first.module; });
      if (it == experts[e].end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "expert ", e, " has no module \"", first.module, "\" (experts must share modules)"));
      }
      deltas.push_back(ToCoreDelta(*it));
    }
    LIBRA_ASSIGN_OR_RETURN(merge::ModuleDelta result,
                           merge::MergeModule(*spec, params, options, first.module, deltas));
    LIBRA_ASSIGN_OR_RETURN(ExpertModule module, FromCoreDelta(first.module, result));
    merged.push_back(std::move(module));
  }
  return merged;
}

absl::Status AttachMerge(CausalLMImpl& model,
                         const std::vector<std::vector<ExpertModule>>& experts,
                         const std::string& method, const merge::MergeArguments& args,
                         merge::LoraMode mode) {
  LIBRA_ASSIGN_OR_RETURN(std::vector<ExpertModule> merged,
                         MergeExperts(experts, method, args, mode));
  return ApplyExpert(model, merged, /*trainable=*/false);
}

absl::StatusOr<std::shared_ptr<OracleRouterImpl>> AttachOracle(
    CausalLMImpl& model, const std::vector<std::vector<ExpertModule>>& experts, MixingMode mode) {
  auto oracle = std::make_shared<OracleRouterImpl>();
  LIBRA_RETURN_IF_ERROR(AttachMixture(model, experts, oracle, mode));
  return oracle;
}

}  // namespace libra::nn
