// Adapters attached to a model's projections by target-module pattern (as
// PEFT's target_modules), with the base frozen:
//   LoRA   y = W x + b + s * B A dropout(x), s = alpha / r (rsLoRA: alpha /
//          sqrt r); A Kaiming-uniform, B zero, so training starts at the base.
//   full   y = (W + D) x + b with D a trainable dense delta, initially 0.
//   mixture  E LoRA experts on one module combined per token by a router:
//          output mixing    y = W x + b + sum_e w_e s_e B_e A_e x
//          parameter mixing y = W x + b + (sum_e w_e s_e B_e)(sum_e w_e A_e) x
//          (parameter mixing needs equal ranks; s_e is folded into B_e).
//   sparse y = (W + dW * M) x + b, only the masked entries trained
//          (sparse_adapter.h; masks are set by SparseMaskSchedule at step 0).
//
//   AdapterConfig config;
//   config.lora.rank = 8;
//   config.targets.names = {"q_proj", "v_proj"};
//   LIBRA_ASSIGN_OR_RETURN(std::vector<std::string> attached,
//                          AttachAdapters(*model, config, /*seed=*/1));
//   ... train TrainableParameters(*model) ...
//   MergeAdaptersIntoBase(*model);  // W += delta, adapters removed
#ifndef LIBRA_NN_ADAPTERS_H_
#define LIBRA_NN_ADAPTERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/nn/adapter.h"
#include "src/nn/model.h"
#include "src/nn/sparse_adapter.h"

namespace libra::nn {

struct LoraOptions {
  int64_t rank = 8;
  double alpha = 16.0;
  double dropout = 0.0;
  bool use_rslora = false;
  double scale() const;  // alpha / rank, or alpha / sqrt(rank) with rsLoRA
};

class LoraAdapterImpl : public AdapterImpl {
 public:
  LoraAdapterImpl(int64_t in_features, int64_t out_features, const LoraOptions& options);
  torch::Tensor Forward(const torch::Tensor& x, const torch::Tensor& weight,
                        const torch::Tensor& bias) override;
  torch::Tensor DeltaWeight() override;
  std::string kind() const override { return "lora"; }
  bool RowWise() const override { return true; }

  LoraOptions options;
  double scale;
  torch::Tensor lora_A;  // [r, in]
  torch::Tensor lora_B;  // [out, r]
};

class FullAdapterImpl : public AdapterImpl {
 public:
  FullAdapterImpl(int64_t in_features, int64_t out_features);
  torch::Tensor Forward(const torch::Tensor& x, const torch::Tensor& weight,
                        const torch::Tensor& bias) override;
  torch::Tensor DeltaWeight() override { return delta; }
  std::string kind() const override { return "full"; }
  bool RowWise() const override { return true; }

  torch::Tensor delta;  // [out, in]
};

// Router interface: per-token expert weights from the layer input.
// Route(x [B, S, in], E) returns [B, S, E], or a tensor that broadcasts to
// it ([B, 1, E] per sequence, [1, 1, E] global). Weights are used as given
// (a router normalises them itself if it wants to). A router with learned
// parameters registers them as a Module; Arrow and learned routers subclass
// this.
class RouterImpl : public torch::nn::Module {
 public:
  ~RouterImpl() override = default;
  virtual torch::Tensor Route(const torch::Tensor& x, int64_t num_experts) = 0;
};

// w_e = 1 / E.
class UniformRouterImpl : public RouterImpl {
 public:
  torch::Tensor Route(const torch::Tensor& x, int64_t num_experts) override;
};

// The same given weights for every token.
class FixedRouterImpl : public RouterImpl {
 public:
  explicit FixedRouterImpl(std::vector<double> weights) : weights_(std::move(weights)) {}
  torch::Tensor Route(const torch::Tensor& x, int64_t num_experts) override;

 private:
  std::vector<double> weights_;
};

// One-hot on the known expert of each sequence (e.g. its task), set before
// each forward: set_experts({task_of_row_0, task_of_row_1, ...}).
class OracleRouterImpl : public RouterImpl {
 public:
  void set_experts(std::vector<int64_t> experts) { experts_ = std::move(experts); }
  torch::Tensor Route(const torch::Tensor& x, int64_t num_experts) override;

 private:
  std::vector<int64_t> experts_;
};

enum class MixingMode { kOutput, kParameter };

struct LoraWeights {
  torch::Tensor a;  // [r, in]
  torch::Tensor b;  // [out, r]
  double scale = 1.0;
};

class MixtureAdapterImpl : public AdapterImpl {
 public:
  // Frozen experts (the default): buffers, each scale folded into its B.
  // `trainable` experts (mixtures of parameter-efficient experts, mope.h):
  // parameters "expert_<e>_lora_A" [r, in] and "expert_<e>_lora_B" [out, r]
  // trained with the router; the scale, which all experts must then share,
  // stays apart (applied to the rank-r activations, as LoRA does).
  MixtureAdapterImpl(std::vector<LoraWeights> experts, std::shared_ptr<RouterImpl> router,
                     MixingMode mode, bool trainable = false);
  torch::Tensor Forward(const torch::Tensor& x, const torch::Tensor& weight,
                        const torch::Tensor& bias) override;
  // The delta under the router's weights for a [1, 1, in] zero input
  // (uniform and fixed routers); token-dependent routers have no single delta.
  torch::Tensor DeltaWeight() override;
  std::string kind() const override { return "mixture"; }
  int64_t num_experts() const { return static_cast<int64_t>(a_.size()); }
  bool trainable() const { return trainable_; }
  MixingMode mode() const { return mode_; }
  const std::shared_ptr<RouterImpl>& router() const { return router_; }
  // Expert e as stored: A [r, in], B [out, r] and the scale not folded into B
  // (1 for frozen experts).
  const torch::Tensor& expert_a(int64_t e) const { return a_[e]; }
  const torch::Tensor& expert_b(int64_t e) const { return b_[e]; }
  double scale() const { return scale_; }

 private:
  torch::Tensor OutputMix(const torch::Tensor& x, const torch::Tensor& w);
  torch::Tensor ParameterMix(const torch::Tensor& x, const torch::Tensor& w);
  std::vector<torch::Tensor> a_, b_;  // frozen, scale folded into b_
  torch::Tensor a_cat_, b_cat_, column_expert_;  // output mixing: [sum r, in], [out, sum r]
  std::shared_ptr<RouterImpl> router_;
  MixingMode mode_;
  bool trainable_ = false;
  double scale_ = 1.0;  // trainable experts only; frozen ones fold it into b_
};

// PEFT-like target_modules: a module matches when its name equals an entry
// or ends with "." + entry; or, when `regex` is set, when the regex matches
// the whole name.
struct TargetModules {
  std::vector<std::string> names;
  std::string regex;
  bool Matches(const std::string& module) const;
};

enum class AdapterKind { kLora, kFull, kSparse };

absl::StatusOr<AdapterKind> ParseAdapterKind(const std::string& name);  // "lora", "full", "sparse"

struct AdapterConfig {
  AdapterKind kind = AdapterKind::kLora;
  LoraOptions lora;
  SparseOptions sparse;
  TargetModules targets;
};

// Freezes every base parameter and attaches a fresh adapter to each matching
// projection (initialised from `seed`). Returns the module names, sorted.
// Errors: rank <= 0, bad sparse options, bad regex, or no module matching.
absl::StatusOr<std::vector<std::string>> AttachAdapters(CausalLMImpl& model,
                                                        const AdapterConfig& config,
                                                        uint64_t seed);

// Every base parameter gets requires_grad = false.
void FreezeBase(CausalLMImpl& model);

// Parameters that require grad, by name (adapters and learned routers).
std::vector<std::pair<std::string, torch::Tensor>> TrainableParameters(CausalLMImpl& model);

// W += DeltaWeight() for every adapter, which is then removed.
void MergeAdaptersIntoBase(CausalLMImpl& model);

// Removes every adapter (the base is unchanged).
void DetachAdapters(CausalLMImpl& model);

}  // namespace libra::nn

#endif  // LIBRA_NN_ADAPTERS_H_
