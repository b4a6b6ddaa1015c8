// The baselines Arrow is compared with (paper (a)), attached to a
// LibTorch model: merges of a library through the core's merge registry
// (src/core/merge: uniform in ab or delta mode, TIES, any registered
// method), and the oracle (each sequence's own expert).
//
//   LIBRA_RETURN_IF_ERROR(AttachMerge(*model, experts, "uniform", {}, merge::LoraMode::kAb));
//   merge::MergeArguments ties;
//   ties.scalars["density"] = 0.2;
//   LIBRA_RETURN_IF_ERROR(AttachMerge(*model, experts, "ties", ties, merge::LoraMode::kDelta));
//   LIBRA_ASSIGN_OR_RETURN(auto oracle, AttachOracle(*model, experts, MixingMode::kOutput));
//   oracle->set_experts({task_of_row_0, ...});
#ifndef LIBRA_NN_REUSE_BASELINES_H_
#define LIBRA_NN_REUSE_BASELINES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/core/merge/merge.h"
#include "src/core/merge/method.h"
#include "src/nn/adapters.h"
#include "src/nn/expert.h"
#include "src/nn/model.h"

namespace libra::nn {

// Merges the experts module by module with the registered `method`
// (ToCoreDelta -> merge::MergeModule -> FromCoreDelta). Every expert must
// have every module of experts[0]. Results are LoRA modules (ab, svd) or
// dense deltas (delta mode).
absl::StatusOr<std::vector<ExpertModule>> MergeExperts(
    const std::vector<std::vector<ExpertModule>>& experts, const std::string& method,
    const merge::MergeArguments& args, merge::LoraMode mode);

// MergeExperts, then attached (frozen) with ApplyExpert.
absl::Status AttachMerge(CausalLMImpl& model,
                         const std::vector<std::vector<ExpertModule>>& experts,
                         const std::string& method, const merge::MergeArguments& args,
                         merge::LoraMode mode);

// A mixture routed by an oracle router; set its experts before each forward.
absl::StatusOr<std::shared_ptr<OracleRouterImpl>> AttachOracle(
    CausalLMImpl& model, const std::vector<std::vector<ExpertModule>>& experts, MixingMode mode);

}  // namespace libra::nn

#endif  // LIBRA_NN_REUSE_BASELINES_H_
