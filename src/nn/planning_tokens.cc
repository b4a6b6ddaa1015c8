#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/planning_tokens.h"

#include "absl/strings/str_cat.h"
#include "src/core/cluster/kmeans.h"
#include "src/core/io/safetensors.h"
#include "src/core/status_macros.h"
#include "src/nn/convert.h"

namespace libra::nn {
namespace {

constexpr char kInputRows[] = "added_embed_tokens";
constexpr char kOutputWeight[] = "added_lm_head.weight";
constexpr char kOutputBias[] = "added_lm_head.bias";

torch::nn::Sequential ReluMlp(int64_t in, int64_t hidden, int64_t out, int hidden_layers) {
  torch::nn::Sequential mlp;
  int64_t width = in;
  for (int i = 0; i < hidden_layers; ++i) {
    mlp->push_back(torch::nn::Linear(width, hidden));
    mlp->push_back(torch::nn::ReLU());
    width = hidden;
  }
  mlp->push_back(torch::nn::Linear(width, out));
  return mlp;
}

}  // namespace

absl::StatusOr<torch::Tensor> StepEmbeddings(
    CausalLMImpl& model, const std::vector<int64_t>& ids,
    const std::vector<std::pair<int64_t, int64_t>>& spans) {
  const int64_t n = static_cast<int64_t>(ids.size());
  for (const auto& [begin, end] : spans) {
    if (begin < 0 || begin >= end || end > n) {
      return absl::InvalidArgumentError(
          absl::StrCat("step span [", begin, ", ", end, ") outside the ", n, " tokens"));
    }
  }
  torch::NoGradGuard no_grad;
  const torch::Device device = model.model->embed_tokens->weight.device();
  torch::Tensor input = torch::tensor(ids, torch::kInt64).unsqueeze(0).to(device);
  torch::Tensor hidden = model.Hidden(input)[0].to(torch::kFloat32);  // [S, hidden]
  std::vector<torch::Tensor> rows;
  for (const auto& [begin, end] : spans) rows.push_back(hidden.slice(0, begin, end).mean(0));
  return torch::stack(rows).cpu();
}

absl::StatusOr<std::vector<int>> KMeansTypes(const torch::Tensor& embeddings, int k, uint64_t seed) {
  cluster::KMeansOptions options;
  options.k = k;
  options.seed = seed;
  LIBRA_ASSIGN_OR_RETURN(cluster::KMeansResult result, cluster::KMeans(ToCore(embeddings), options));
  return result.assignment;
}

SqVaeImpl::SqVaeImpl(int64_t input_dim, const SqVaeOptions& options) {
  // Encoder d -> h -> h -> h, then mu and log sigma^2 (2K).
  encoder = register_module("encoder", ReluMlp(input_dim, options.hidden, 2 * options.types, 3));
  decoder = register_module("decoder", ReluMlp(options.code_dim, options.hidden, input_dim, 3));
  codebook = register_parameter("codebook", torch::randn({options.code_dim, options.types}));
}

SqVaeOutput SqVaeImpl::forward(const torch::Tensor& x, bool sample) {
  std::vector<torch::Tensor> parts = encoder->forward(x).chunk(2, -1);
  SqVaeOutput out{parts[0], parts[1], {}};
  torch::Tensor z = sample ? out.mu + torch::exp(0.5 * out.log_var) * torch::randn_like(out.mu)
                           : out.mu;
  torch::Tensor code = torch::matmul(torch::softmax(z, -1), codebook.t());  // [n, code_dim]
  out.x_hat = decoder->forward(code);
  return out;
}

torch::Tensor SqVaeLoss(const SqVaeOutput& out, const torch::Tensor& x, double kl_weight) {
  torch::Tensor reconstruction = 0.5 * (x - out.x_hat).pow(2).sum(-1);
  torch::Tensor kl = 0.5 * (out.mu.pow(2) + out.log_var.exp() - out.log_var - 1).sum(-1);
  return (reconstruction + kl_weight * kl).mean();
}

absl::StatusOr<std::vector<int>> SqVaeTypes(const std::vector<torch::Tensor>& groups,
                                            const SqVaeOptions& options) {
  if (groups.empty()) return absl::InvalidArgumentError("SQ-VAE: no step embeddings");
  if (options.types < 1 || options.epochs < 1) {
    return absl::InvalidArgumentError(absl::StrCat("SQ-VAE: types ", options.types, " and epochs ",
                                                   options.epochs, " must be positive"));
  }
  torch::manual_seed(options.seed);
  SqVae vae(groups[0].size(1), options);
  torch::optim::Adam adam(vae->parameters(), torch::optim::AdamOptions(options.learning_rate));
  const int64_t n = static_cast<int64_t>(groups.size());
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    torch::Tensor order = torch::randperm(n, torch::kInt64);
    for (int64_t i = 0; i < n; ++i) {
      const torch::Tensor& x = groups[order[i].item<int64_t>()];
      adam.zero_grad();
      SqVaeLoss(vae->forward(x), x, options.kl_weight).backward();
      adam.step();
    }
  }
  torch::NoGradGuard no_grad;
  std::vector<int> types;
  for (const torch::Tensor& x : groups) {
    torch::Tensor argmax = vae->forward(x, /*sample=*/false).mu.argmax(-1);
    for (int64_t i = 0; i < argmax.size(0); ++i) types.push_back(argmax[i].item<int>());
  }
  return types;
}

torch::Tensor MeanEmbeddingRows(CausalLMImpl& model,
                                const std::vector<std::vector<int32_t>>& word_ids) {
  torch::NoGradGuard no_grad;
  const torch::Tensor& table = model.model->embed_tokens->weight;
  std::vector<torch::Tensor> rows;
  for (const std::vector<int32_t>& ids : word_ids) {
    torch::Tensor index = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kInt64);
    rows.push_back(table.index_select(0, index.to(table.device())).mean(0));
  }
  return torch::stack(rows);
}

absl::StatusOr<std::vector<int32_t>> AddPlanningTokens(CausalLMImpl& model,
                                                       text::Tokenizer& tokenizer,
                                                       const std::vector<std::string>& tokens,
                                                       const std::vector<std::string>& key_words) {
  if (tokens.size() != key_words.size()) {
    return absl::InvalidArgumentError(absl::StrCat("AddPlanningTokens: ", tokens.size(),
                                                   " tokens but ", key_words.size(), " key words"));
  }
  const int64_t first_row = model.vocab_size();  // base rows plus rows added before
  if (tokenizer.vocab_size() > first_row) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer has ", tokenizer.vocab_size(), " tokens but the model only ",
                     first_row, " rows: planning tokens would not get their own rows"));
  }
  std::vector<std::vector<int32_t>> word_ids;
  for (size_t i = 0; i < tokens.size(); ++i) {
    LIBRA_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer.Encode(key_words[i]));
    if (ids.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("planning token ", tokens[i], ": key word \"", key_words[i], "\" is empty"));
    }
    word_ids.push_back(std::move(ids));
  }
  std::vector<std::string> placeholders;
  for (int64_t id = tokenizer.vocab_size(); id < first_row; ++id) {
    placeholders.push_back(absl::StrCat("<|libra_unused_", id, "|>"));
  }
  if (!placeholders.empty()) {
    LIBRA_RETURN_IF_ERROR(tokenizer.AddTokens(placeholders, /*special=*/true).status());
  }
  LIBRA_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer.AddTokens(tokens, /*special=*/false));
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] != first_row + static_cast<int64_t>(i)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "planning token ", tokens[i], " is already in the vocabulary (id ", ids[i], ")"));
    }
  }
  model.AddTokens(MeanEmbeddingRows(model, word_ids));
  return ids;
}

absl::Status SaveAddedTokens(CausalLMImpl& model, const std::string& path) {
  if (model.added_tokens() == 0) {
    return absl::FailedPreconditionError(absl::StrCat("no added tokens to save to ", path));
  }
  SafetensorsWriter writer;
  LIBRA_RETURN_IF_ERROR(writer.Add(kInputRows, ToCore(model.model->added_embed_tokens)));
  LIBRA_RETURN_IF_ERROR(writer.Add(kOutputWeight, ToCore(model.added_lm_head->weight)));
  LIBRA_RETURN_IF_ERROR(writer.Add(kOutputBias, ToCore(model.added_lm_head->bias)));
  return writer.WriteAtomically(path);
}

absl::Status LoadAddedTokens(CausalLMImpl& model, const std::string& path) {
  if (model.added_tokens() != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("model already has added tokens; cannot load ", path));
  }
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
  LIBRA_ASSIGN_OR_RETURN(Tensor input, file.ReadFloat(kInputRows));
  LIBRA_ASSIGN_OR_RETURN(Tensor weight, file.ReadFloat(kOutputWeight));
  LIBRA_ASSIGN_OR_RETURN(Tensor bias, file.ReadFloat(kOutputBias));
  const int64_t hidden = model.config().hidden_size;
  if (input.shape().size() != 2 || input.shape()[1] != hidden || weight.shape() != input.shape() ||
      bias.shape() != Shape{input.shape()[0]}) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": added token rows must be [n, ", hidden, "] (input, output) and [n] (bias)"));
  }
  model.AddTokens(ToTorch(input));
  torch::NoGradGuard no_grad;
  const torch::Device device = model.model->embed_tokens->weight.device();
  model.added_lm_head->weight.copy_(ToTorch(weight).to(device));
  model.added_lm_head->bias.copy_(ToTorch(bias).to(device));
  return absl::OkStatus();
}

int64_t AddedTokenParameters(CausalLMImpl& model) {
  if (model.added_tokens() == 0) return 0;
  return model.model->added_embed_tokens.numel() + model.added_lm_head->weight.numel() +
         model.added_lm_head->bias.numel();
}

}  // namespace libra::nn
