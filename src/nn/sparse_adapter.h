// Sparse adapter (paper (b), "Exploring Sparse Adapters for Scalable Merging
// of Parameter Efficient Experts"): y = x (W0 + dW)^T + b where dW is zero
// outside a binary mask M. Only the kept entries are parameters: `values`
// [nnz] (trainable) at flat row-major `indices` [nnz] (int64 buffer,
// ascending), so gradients and AdamW moments have nnz elements.
//
// The mask is chosen by connection sensitivity (SNIP): score every entry by
// |dL/dW_eff * W_eff| with W_eff = W0 + dW (at the start dW = 0, so scoring
// dW alone would give 0), on a few calibration batches, and keep the top
// keep_ratio fraction, per module ("layer") or with one threshold across all
// adapted modules ("global"), as single entries or as 16 x 16 blocks scored
// by their summed score. During the first epoch the mask is recomputed every
// update_every steps; entries that stay keep their learned values (and AdamW
// moments), new entries start at 0; after the first epoch it is frozen.
//
// Forward: W_eff = W0.flatten().index_add(indices, values), one GEMM. The
// backward forms the dense weight gradient (one GEMM, as full fine-tuning
// does) and gathers the nnz kept entries; measured faster on CPU than a
// gather-based sampled product (bench/sparse).
//
//   AdapterConfig config;
//   config.kind = AdapterKind::kSparse;
//   config.sparse.keep_ratio = 0.05;
//   config.sparse.update_every = 20;
//   AttachAdapters(*model, config, seed);      // masks empty until step 0
//   TrainOptions options;
//   options.before_step = SparseMaskSchedule(*model, config.sparse);
//   Train(*model, data, options);
#ifndef LIBRA_NN_SPARSE_ADAPTER_H_
#define LIBRA_NN_SPARSE_ADAPTER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/nn/adapter.h"
#include "src/nn/model.h"
#include "src/nn/train_hooks.h"

namespace libra::nn {

enum class MaskScope { kLayer, kGlobal };
absl::StatusOr<MaskScope> ParseMaskScope(const std::string& name);  // "layer", "global"

struct SparseOptions {
  double keep_ratio = 0.05;  // fraction of entries (or blocks) kept, in (0, 1]
  MaskScope scope = MaskScope::kLayer;
  int64_t block_size = 1;    // 1: single entries; 16: 16 x 16 blocks
  int64_t update_every = 0;  // recompute every K steps in the first epoch; 0: only at step 0
  int64_t calibration_batches = 1;  // micro-batches whose gradients give the score
};

// Errors: keep_ratio outside (0, 1], block size other than 1 or 16,
// negative update_every, calibration_batches < 1.
absl::Status CheckSparseOptions(const SparseOptions& options);

class SparseAdapterImpl : public AdapterImpl {
 public:
  SparseAdapterImpl(int64_t in_features, int64_t out_features);
  torch::Tensor Forward(const torch::Tensor& x, const torch::Tensor& weight,
                        const torch::Tensor& bias) override;
  torch::Tensor DeltaWeight() override;  // dense [out, in]
  std::string kind() const override { return "sparse"; }
  bool RowWise() const override { return true; }

  int64_t nnz() const { return indices.numel(); }
  bool has_mask() const { return has_mask_; }

  // Moves to a new mask (flat indices, any order; sorted here). Entries in
  // both masks keep their values, new ones start at 0. Returns, for each
  // new entry, its position in the old `values` or -1.
  torch::Tensor SetMask(const torch::Tensor& new_indices);
  // Sets indices and values as given (loading an expert).
  void SetEntries(const torch::Tensor& new_indices, const torch::Tensor& new_values);

  // While scoring, Forward uses a dense leaf W_eff = W0 + dW whose gradient
  // accumulates over backward passes; EndScoring returns |grad * W_eff|
  // [out, in] (zeros if no gradient reached it).
  void BeginScoring();
  torch::Tensor EndScoring();

  int64_t in_features, out_features;
  torch::Tensor values;   // parameter [nnz]
  torch::Tensor indices;  // buffer [nnz] int64, ascending

 private:
  bool has_mask_ = false;
  bool scoring_ = false;
  torch::Tensor scoring_weight_;
};

// Kept flat indices (ascending) of each module from its score [out, in]:
// top keep_ratio of entries (block_size 1) or of block_size x block_size
// blocks (score summed per block; edge blocks are partial), per module or
// with one global ranking. Keeps at least one unit. Ties go to the lower
// flat position (of the module, then of the module list).
std::vector<torch::Tensor> SelectMasks(const std::vector<torch::Tensor>& scores,
                                       const SparseOptions& options);

// The model's sparse adapters by module name, sorted.
std::vector<std::pair<std::string, std::shared_ptr<SparseAdapterImpl>>> SparseAdapters(
    CausalLMImpl& model);

// Scores every sparse adapter on `calibration_loss(i)` for i in
// [0, calibration_batches) (gradients averaged), selects the masks and
// applies them. Returns the remap of each changed "values" parameter.
absl::StatusOr<ParameterRemap> UpdateSparseMasks(
    CausalLMImpl& model, const SparseOptions& options,
    const std::function<torch::Tensor(int64_t)>& calibration_loss);

// The TrainOptions::before_step hook of sparse training: masks at step 0
// (if not set yet, or when update_every > 0), then every update_every steps
// while step < steps_per_epoch, then frozen.
BeforeStepHook SparseMaskSchedule(CausalLMImpl& model, const SparseOptions& options);

}  // namespace libra::nn

#endif  // LIBRA_NN_SPARSE_ADAPTER_H_
