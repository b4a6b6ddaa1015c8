// Planning tokens (Wang et al., COLM 2024), the model side: step embeddings,
// the K-means and SQ-VAE step types, and the new tokens' rows.
//
// Step embeddings. One causal pass of the frozen model over the question and
// the whole solution; a step's embedding is the mean of the last layer's
// hidden states (after the final norm) over the step's tokens, so it is
// conditioned on the question and the earlier steps.
//
// SQ-VAE (the authors' "stochastic quantised VAE"): an encoder MLP
// (d -> h -> h -> h, ReLU) gives mu and log sigma^2 in R^K;
// z = mu + sigma * eps; the code q = C softmax(z), C a learned codebook
// [code_dim, K]; a decoder MLP (code_dim -> h -> h -> h -> d) gives x_hat.
//   loss = 1/2 ||x - x_hat||^2 + kl_weight * KL(N(mu, sigma^2) || N(0, I)),
//   KL = 1/2 sum_k (mu_k^2 + sigma_k^2 - log sigma_k^2 - 1),
// averaged over steps; a step's type is argmax mu.
//
// New tokens (CausalLMImpl::AddTokens) start from the mean input embedding
// of their key word's tokens: for a byte-level vocabulary, of its bytes.
//
//   torch::Tensor e = StepEmbeddings(model, ids, {{5, 12}, {12, 20}});  // [2, hidden]
//   LIBRA_ASSIGN_OR_RETURN(std::vector<int> types, KMeansTypes(e, 5, seed));
#ifndef LIBRA_NN_PLANNING_TOKENS_H_
#define LIBRA_NN_PLANNING_TOKENS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/core/text/tokenizer.h"
#include "src/nn/model.h"

namespace libra::nn {

// [steps, hidden]: row i is the mean hidden state over ids[spans[i].first,
// spans[i].second) from one pass over `ids` (no gradient).
absl::StatusOr<torch::Tensor> StepEmbeddings(CausalLMImpl& model, const std::vector<int64_t>& ids,
                                             const std::vector<std::pair<int64_t, int64_t>>& spans);

// K-means (src/core/cluster, k-means++ with restarts) on the rows.
absl::StatusOr<std::vector<int>> KMeansTypes(const torch::Tensor& embeddings, int k, uint64_t seed);

struct SqVaeOptions {
  int64_t types = 5;
  int64_t hidden = 512;
  int64_t code_dim = 64;
  double kl_weight = 0.1;
  double learning_rate = 1e-4;
  int epochs = 10;
  uint64_t seed = 0;
};

struct SqVaeOutput {
  torch::Tensor mu, log_var, x_hat;  // [n, K], [n, K], [n, d]
};

class SqVaeImpl : public torch::nn::Module {
 public:
  SqVaeImpl(int64_t input_dim, const SqVaeOptions& options);
  // With `sample`, z = mu + sigma * eps (eps from the global generator);
  // else z = mu.
  SqVaeOutput forward(const torch::Tensor& x, bool sample = true);

  torch::nn::Sequential encoder{nullptr}, decoder{nullptr};
  torch::Tensor codebook;  // [code_dim, K]
};
TORCH_MODULE(SqVae);

// The loss above, averaged over the rows of x.
torch::Tensor SqVaeLoss(const SqVaeOutput& out, const torch::Tensor& x, double kl_weight);

// Trains an SQ-VAE (Adam, one group of rows per batch, `options.epochs`
// passes in a seeded order) on `groups` (one tensor of step embeddings per
// example, each [steps, d]) and returns argmax mu for every row of every
// group, in order.
absl::StatusOr<std::vector<int>> SqVaeTypes(const std::vector<torch::Tensor>& groups,
                                            const SqVaeOptions& options);

// [words, hidden]: each word's mean input-embedding row over `word_ids`.
torch::Tensor MeanEmbeddingRows(CausalLMImpl& model,
                                const std::vector<std::vector<int32_t>>& word_ids);

// Adds `tokens` to `tokenizer` (non-special: recognised in any text,
// training targets included) and to `model` as new rows (AddTokens), each
// starting from the mean input embedding of its key word (`key_words[i]`
// in the tokenizer's pieces; a byte-level vocabulary gives its bytes). The
// new rows follow the model's rows; a tokenizer with fewer tokens than that
// (a checkpoint whose embedding matrix is padded past tokenizer.json) first
// gets unused special placeholders up to it, so that each token's id is its
// row. Errors: a tokenizer larger than the model, a token already in the
// vocabulary, a key word that encodes to nothing.
absl::StatusOr<std::vector<int32_t>> AddPlanningTokens(CausalLMImpl& model,
                                                       text::Tokenizer& tokenizer,
                                                       const std::vector<std::string>& tokens,
                                                       const std::vector<std::string>& key_words);

// The added tokens' rows (input rows, output weight and bias) as one
// safetensors file; LoadAddedTokens adds them to a model that has none.
absl::Status SaveAddedTokens(CausalLMImpl& model, const std::string& path);
absl::Status LoadAddedTokens(CausalLMImpl& model, const std::string& path);

// Parameters the added tokens bring (input rows, output rows and biases).
int64_t AddedTokenParameters(CausalLMImpl& model);

}  // namespace libra::nn

#endif  // LIBRA_NN_PLANNING_TOKENS_H_
