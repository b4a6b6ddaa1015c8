// MBC: model-based clustering of LoRA experts by their parameters.
//
// Steps, as the MBC paper's code takes them (paper (a)):
//   1. Flatten: per expert, all lora_A then lora_B values of every module,
//      modules in path order (lora_modules.h), into one vector.
//   2. Sparsify: zero the entries whose |value| is at or below that expert's
//      own `sparsity_quantile` of |values| (linear interpolation between
//      order statistics, numpy's default). 0 disables this step.
//   3. Embed: truncated SVD to d = min(embedding_dims, N) dimensions. With N
//      experts far fewer than parameters, this is the eigendecomposition of
//      the N x N Gram matrix G = X X^T: embedding = U_d sqrt(Lambda_d) = X V_d
//      (no centring, as in truncated SVD). Exact, not randomised.
//   4. L2-normalise each row; similarity S = E E^T (cosine, N x N).
//   5. k-means (k-means++, restarts, seed; kmeans.h) on the rows of S.
//
// The Gram matrix can be accumulated chunk by chunk (module by module over
// all experts), so a large library never needs all N flattened vectors in
// memory at once:
//
//   cluster::GramAccumulator gram(num_experts);
//   for each module: gram.Add(chunk_of_expert_0, ..., chunk_of_expert_N-1);
//   LIBRA_ASSIGN_OR_RETURN(cluster::MbcResult r, cluster::ClusterFromGram(gram, options));
//
// or, in memory: cluster::ClusterExperts(flattened_vectors, options).
#ifndef LIBRA_CORE_CLUSTER_MBC_H_
#define LIBRA_CORE_CLUSTER_MBC_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "src/core/lora/lora_modules.h"
#include "src/core/tensor.h"

namespace libra::cluster {

struct MbcOptions {
  int k = 10;
  double sparsity_quantile = 0.8;  // in [0, 1); 0 keeps every entry
  int embedding_dims = 64;
  int restarts = 10;
  int max_iterations = 300;
  uint64_t seed = 42;
};

struct MbcResult {
  std::vector<int> assignment;  // [N], cluster of each expert
  Tensor similarity;            // [N, N] cosine similarity of the embeddings
  Tensor embedding;             // [N, d], L2-normalised rows
  double inertia = 0.0;         // k-means inertia on the rows of similarity
};

// Step 1: A then B of each module, in the given (sorted) module order.
absl::StatusOr<std::vector<float>> FlattenLora(const std::vector<NamedLoraModule>& modules);

// The q-quantile of |values| (linear interpolation); q in [0, 1].
absl::StatusOr<double> AbsQuantile(absl::Span<const float> values, double q);

// Step 2 on one expert's vector, in place. Returns the threshold used
// (-1 when q == 0 and nothing is zeroed).
absl::StatusOr<double> SparsifyByQuantile(absl::Span<float> values, double q);
// Zeroes |values| <= threshold (the streaming form, threshold from a first pass).
void ZeroAtOrBelow(absl::Span<float> values, double threshold);

// Accumulates G = X X^T over column chunks of the N x D expert matrix X.
class GramAccumulator {
 public:
  explicit GramAccumulator(int64_t experts);
  // chunks[e]: expert e's values for the same column range; equal lengths.
  absl::Status Add(absl::Span<const absl::Span<const float>> chunks);
  int64_t experts() const { return experts_; }
  int64_t columns() const { return columns_; }
  const std::vector<double>& gram() const { return gram_; }  // [N, N] row-major

 private:
  int64_t experts_;
  int64_t columns_ = 0;
  std::vector<double> gram_;
};

// Steps 3-4: the L2-normalised embedding [N, d] from a Gram matrix.
absl::StatusOr<Tensor> EmbedFromGram(const std::vector<double>& gram, int64_t experts, int dims);
// S = E E^T for an embedding with unit (or zero) rows.
Tensor CosineSimilarity(const Tensor& embedding);

// Steps 3-5.
absl::StatusOr<MbcResult> ClusterFromGram(const GramAccumulator& gram, const MbcOptions& options);
// Steps 2-5 on flattened vectors (step 2 applied to copies).
absl::StatusOr<MbcResult> ClusterExperts(const std::vector<std::vector<float>>& vectors,
                                         const MbcOptions& options);

}  // namespace libra::cluster

#endif  // LIBRA_CORE_CLUSTER_MBC_H_
