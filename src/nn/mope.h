// Mixtures of parameter-efficient experts (MoPE; Ostapenko et al. 2023, the
// authors' microsoft/mttl projects/instr_routing): E trainable LoRA experts
// on each adapted projection, mixed by a learned router of that module, on
// the expert mixture of adapters.h (MixtureAdapterImpl, parameter mixing:
// A_mix = sum_k p_k A_k and B_mix = sum_k p_k B_k, y = W0 x + s (x A_mix^T)
// B_mix^T).
//
// Routers (SmearRouterImpl), one per module, p = softmax((W LN(h) + b) / tau):
//   pe         per example (SMEAR): h = the module input averaged over the
//              prompt tokens (padding excluded); during generation the
//              route is computed on the prompt and cached for the decoded
//              tokens.
//   pt         per token: h = each token's own input.
//   posterior  pe plus a posterior q (VSMEAR) from the mean over every
//              non-pad token (prompt and response), sharing W, b and LN with
//              the prior p. Training routes with q and adds
//              kl_weight * mean over routers of KL(q || p) to the loss
//              (Mope::AuxiliaryLoss, TrainOptions::auxiliary_loss);
//              evaluation and generation route with p.
// Uniform-average evaluation (MopeContext::uniform) replaces every route by
// 1/E. Prompt boundaries come from the model's BatchLayout (model.h), which
// the trainer and TargetTokenAccuracy set; without a layout every token of a
// new sequence counts as prompt (generation).
//
//   MopeOptions options;  // 8 experts of rank 4, router pe
//   options.targets.names = {"q_proj", "v_proj"};
//   LIBRA_ASSIGN_OR_RETURN(Mope mope, AttachMope(*model, options, /*seed=*/1));
//   train_options.auxiliary_loss = mope.AuxiliaryLoss();
//   LIBRA_RETURN_IF_ERROR(Train(*model, data, train_options).status());
//   LIBRA_RETURN_IF_ERROR(SaveMope(*model, mope, "mope.safetensors"));
#ifndef LIBRA_NN_MOPE_H_
#define LIBRA_NN_MOPE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/nn/adapters.h"
#include "src/nn/arrow_router.h"
#include "src/nn/model.h"

namespace libra::nn {

enum class MopeRouter { kPerExample, kPerToken, kPosterior };
// "pe", "pt", "posterior"; anything else is an error naming --router.
absl::StatusOr<MopeRouter> ParseMopeRouter(const std::string& name);
std::string MopeRouterName(MopeRouter router);

struct MopeOptions {
  int64_t experts = 8;
  LoraOptions lora{/*rank=*/4, /*alpha=*/16.0};
  MopeRouter router = MopeRouter::kPerExample;
  double temperature = 1.0;   // tau
  double kl_weight = 1.0;     // lambda (posterior only)
  double router_init_std = 0.02;  // W ~ N(0, this), b = 0
  TargetModules targets;
};

// experts >= 2, temperature > 0, rank > 0, kl_weight >= 0; errors name the
// flag (--experts, --tau, --rank, --kl_weight).
absl::Status CheckMopeOptions(const MopeOptions& options);

// State shared by the routers of one model: the current batch's masks (from
// the model's forward observer), evaluation switches, the KL terms of the
// current forward pass and the routing recorder.
class MopeContext {
 public:
  // The model's ForwardObserver (AttachMope installs it).
  void Observe(const torch::Tensor& input_ids, int64_t cache_length, const BatchLayout* layout);

  // [B, S] float masks of the current forward (undefined: every token).
  const torch::Tensor& prompt_mask() const { return prompt_mask_; }
  const torch::Tensor& token_mask() const { return token_mask_; }
  // The current forward continues sequences through a KV cache: per-example
  // routers reuse the route they computed on the prompt.
  bool decoding() const { return decoding_; }

  // Every router returns 1/E (uniform-average evaluation).
  bool uniform = false;
  // Posterior routers also compute (and record) q outside training.
  bool compute_posterior = false;
  // Routes are recorded here when set: per-example routes [B, E] under the
  // module's name (the posterior's under "<module>#posterior"), per-token
  // routes of non-pad tokens [tokens, E].
  std::shared_ptr<RoutingRecorder> recorder;

  void AddKl(const torch::Tensor& kl) { kl_terms_.push_back(kl); }
  // Mean of the KL terms added since the last call (undefined when none),
  // and forgets them.
  torch::Tensor TakeKl();
  // Mean KL of each training forward pass so far (for "KL falls").
  std::vector<double> kl_history;

 private:
  torch::Tensor prompt_mask_, token_mask_;
  bool decoding_ = false;
  std::vector<torch::Tensor> kl_terms_;
};

class SmearRouterImpl : public RouterImpl {
 public:
  SmearRouterImpl(int64_t in_features, int64_t num_experts, MopeRouter kind, double temperature,
                  double init_std, std::string module, std::shared_ptr<MopeContext> context);
  // x [B, S, in] -> [B, 1, E] (pe, posterior) or [B, S, E] (pt).
  torch::Tensor Route(const torch::Tensor& x, int64_t num_experts) override;
  // softmax((W LN(h) + b) / tau) for h [.., in] -> [.., E].
  torch::Tensor Probabilities(const torch::Tensor& h);
  MopeRouter kind() const { return kind_; }

  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear proj{nullptr};

 private:
  MopeRouter kind_;
  double temperature_;
  std::string module_;
  std::shared_ptr<MopeContext> context_;
  torch::Tensor cached_;  // the last per-example route [B, 1, E], for decoding
};

// Mean of x [B, S, in] over the tokens where mask [B, S] is 1 (every token
// when undefined) -> [B, in]; a row with no such token gets 0.
torch::Tensor MaskedMean(const torch::Tensor& x, const torch::Tensor& mask);

// KL(q || p) per row of two [.., E] distributions.
torch::Tensor CategoricalKl(const torch::Tensor& q, const torch::Tensor& p);

struct Mope {
  MopeOptions options;
  std::shared_ptr<MopeContext> context;
  std::map<std::string, std::shared_ptr<SmearRouterImpl>> routers;  // by module
  // kl_weight * the mean KL(q || p) of the last forward pass (posterior;
  // undefined otherwise); TrainOptions::auxiliary_loss. Records kl_history.
  std::function<torch::Tensor()> AuxiliaryLoss() const;
};

// Freezes the base and attaches E fresh trainable experts (A
// Kaiming-uniform, B = 0, scale alpha / r) and a router to every module
// matching options.targets (lm_head only when named), initialised from
// `seed`; installs the model's forward observer. Errors: bad options, no
// module matching.
absl::StatusOr<Mope> AttachMope(CausalLMImpl& model, const MopeOptions& options, uint64_t seed);

// Removes the mixtures and the forward observer.
void DetachMope(CausalLMImpl& model);

// Writes every expert and router tensor of the attached mixtures
// (<module>.expert_<e>_lora_A/B, <module>.router.norm.weight, ...) and the
// options as metadata, atomically.
absl::Status SaveMope(CausalLMImpl& model, const Mope& mope, const std::string& path,
                      const std::map<std::string, std::string>& metadata = {});
// Whether `path` is a SaveMope file (safetensors with the mixture's options
// in its metadata); errors only when the file cannot be read as safetensors.
absl::StatusOr<bool> IsMopeFile(const std::string& path);
// Attaches the mixture a SaveMope file describes, with its weights
// (bit-identical). Errors name the file: unreadable, missing metadata, a
// module the model lacks, experts that disagree in shape.
absl::StatusOr<Mope> LoadMope(CausalLMImpl& model, const std::string& path, bool trainable = false);

// Routing diagnostics of routes [n, E] (rows sum to 1), entropies divided by
// log E: entropy = mean_x H(p(x)), entropy_of_mean = H(mean_x p(x)),
// mutual_information = entropy_of_mean - entropy (0: every input gets the
// same mixture); usage = mean_x p(x).
struct RoutingStats {
  double entropy = 0, entropy_of_mean = 0, mutual_information = 0;
  std::vector<double> usage;
  int64_t count = 0;
};
RoutingStats ComputeRoutingStats(const torch::Tensor& routes);

}  // namespace libra::nn

#endif  // LIBRA_NN_MOPE_H_
