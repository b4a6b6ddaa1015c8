// Arrow routing inside the LibTorch model (src/core/arrow/router.h describes
// the method): at every LoRA module, per token, logits |<x, p_e>| /
// temperature against the experts' prototypes p_e, the top k kept, softmax
// over those k. The result feeds a MixtureAdapter (adapters.h), so both
// parameter mixing and output mixing work.
//
// Prototypes are computed once, when the mixture is attached (by the core's
// low-rank method, src/core/arrow/prototype.h, from the experts' A and B), or
// read from a library's stored auxiliary files; each module's router keeps
// them as one [E, in] buffer that no forward pass touches.
//
//   ArrowOptions options;  // top_k = 4, temperature = 1
//   auto recorder = std::make_shared<RoutingRecorder>();
//   LIBRA_ASSIGN_OR_RETURN(ArrowMixture arrow,
//                          AttachArrow(*model, experts, options, MixingMode::kParameter, recorder));
//   model->Logits(ids);
//   torch::Tensor w = recorder->Weights("model.layers.0.self_attn.q_proj");  // [tokens, E]
//   double h = MeanRoutingEntropy(w);
#ifndef LIBRA_NN_ARROW_ROUTER_H_
#define LIBRA_NN_ARROW_ROUTER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/core/library/expert_library.h"
#include "src/nn/adapters.h"
#include "src/nn/expert.h"
#include "src/nn/model.h"

namespace libra::nn {

struct ArrowOptions {
  int64_t top_k = 4;         // the paper's k; clipped to the number of experts
  double temperature = 1.0;  // logits are divided by it; > 0
};

// Routing weights seen by each module, for diagnostics. Disabled recorders
// record nothing (benchmarks); Clear() between evaluations.
class RoutingRecorder {
 public:
  void Record(const std::string& module, const torch::Tensor& weights);  // [.., E]
  void Clear() { weights_.clear(); }
  // Every recorded token of `module`, in order: [tokens, E] (empty [0, 0]
  // when nothing was recorded).
  torch::Tensor Weights(const std::string& module) const;
  std::vector<std::string> Modules() const;

  bool enabled = true;

 private:
  std::map<std::string, std::vector<torch::Tensor>> weights_;
};

class ArrowRouterImpl : public RouterImpl {
 public:
  // `prototypes` [E, in], one unit row per expert. `module` names the
  // module for the recorder (may be null).
  ArrowRouterImpl(const torch::Tensor& prototypes, const ArrowOptions& options,
                  std::string module, std::shared_ptr<RoutingRecorder> recorder);
  // x [B, S, in] -> [B, S, E]: softmax over the top k logits, 0 elsewhere.
  torch::Tensor Route(const torch::Tensor& x, int64_t num_experts) override;
  const torch::Tensor& prototypes() const { return prototypes_; }

 private:
  torch::Tensor prototypes_;
  ArrowOptions options_;
  std::string module_;
  std::shared_ptr<RoutingRecorder> recorder_;
};

// Module -> [E, in] prototypes (row e: expert e's top right singular vector
// of s B A, core sign convention), for every module the experts share.
using PrototypeMap = std::map<std::string, torch::Tensor>;

// Computed by the core (one conversion of each A and B to core tensors).
absl::StatusOr<PrototypeMap> ComputeArrowPrototypes(
    const std::vector<std::vector<ExpertModule>>& experts);

// The prototypes a library stores for `experts` (in that order), read
// through src/core/arrow/library_prototypes.h (FailedPrecondition when
// missing or stale).
absl::StatusOr<PrototypeMap> LoadArrowPrototypes(const ExpertLibrary& library,
                                                 const std::vector<std::string>& experts);

// What AttachArrow attached: the router of each module.
struct ArrowMixture {
  std::map<std::string, std::shared_ptr<ArrowRouterImpl>> routers;
};

// A mixture of `experts` on every module they share, each module routed by
// its own Arrow router. Prototypes are computed here, once.
absl::StatusOr<ArrowMixture> AttachArrow(CausalLMImpl& model,
                                         const std::vector<std::vector<ExpertModule>>& experts,
                                         const ArrowOptions& options, MixingMode mode,
                                         std::shared_ptr<RoutingRecorder> recorder = nullptr);
// The same with prototypes given (e.g. LoadArrowPrototypes).
absl::StatusOr<ArrowMixture> AttachArrow(CausalLMImpl& model,
                                         const std::vector<std::vector<ExpertModule>>& experts,
                                         const PrototypeMap& prototypes,
                                         const ArrowOptions& options, MixingMode mode,
                                         std::shared_ptr<RoutingRecorder> recorder = nullptr);

// Mean over tokens of the entropy (nats) of the routing weights [tokens, E].
double MeanRoutingEntropy(const torch::Tensor& weights);

// Share of tokens whose top expert (largest weight) is in `experts`.
double TopExpertShare(const torch::Tensor& weights, const std::vector<int64_t>& experts);

}  // namespace libra::nn

#endif  // LIBRA_NN_ARROW_ROUTER_H_
