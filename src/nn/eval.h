// Evaluation: greedy generation with the KV cache, exact match, ROUGE-L,
// teacher-forced token accuracy on targets, and log-likelihood scoring of
// the options of a multiple-choice question.
//
//   LIBRA_ASSIGN_OR_RETURN(std::string answer,
//                          GenerateText(*model, tokenizer, "Sort: 312", {.max_new_tokens = 8}));
//   LIBRA_ASSIGN_OR_RETURN(EvalResult result, Evaluate(*model, tokenizer, pairs, options));
//   std::vector<double> ll = ScoreOptions(*model, prompt_ids, {{ids_a}, {ids_b}}, device);
#ifndef LIBRA_NN_EVAL_H_
#define LIBRA_NN_EVAL_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "src/core/text/tokenizer.h"
#include "src/nn/examples.h"
#include "src/nn/model.h"

namespace libra::nn {

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  int64_t max_length = 2048;  // prompt + generated; the prompt is cut from the left
  torch::Device device = torch::kCPU;
};

// Greedy decoding until `eos` (not included) or max_new_tokens.
std::vector<int64_t> GreedyGenerate(CausalLMImpl& model, const std::vector<int64_t>& prompt,
                                    int64_t eos, const GenerateOptions& options);

absl::StatusOr<std::string> GenerateText(CausalLMImpl& model, const text::Tokenizer& tokenizer,
                                         const std::string& source,
                                         const GenerateOptions& options);

// Sum of log p(option tokens | prompt) for each option.
std::vector<double> ScoreOptions(CausalLMImpl& model, const std::vector<int64_t>& prompt,
                                 const std::vector<std::vector<int64_t>>& options,
                                 torch::Device device);

struct EvalExample {
  std::string source;
  std::string target;
  std::vector<std::string> options;  // multiple choice when not empty
};

struct EvalResult {
  int64_t count = 0;
  double exact_match = 0.0;     // mean
  double rouge_l = 0.0;         // mean
  double token_accuracy = 0.0;  // teacher-forced, over all target tokens
  int64_t multiple_choice = 0;  // examples scored by option log-likelihood
  std::vector<std::string> predictions;
};

// Teacher-forced accuracy of `model` on `examples`' target tokens: over all
// of them, over only the first (where the answer starts) and over only the
// last (the end-of-answer token); one forward pass per batch of `batch`
// right-padded rows (the model is causal: padding does not reach earlier
// positions). Runs in the model's current mode: call eval() first for
// scores without dropout.
struct TargetAccuracy {
  double all = 0, first = 0, end = 0;
  int64_t correct = 0, tokens = 0;  // all = correct / tokens
};
TargetAccuracy TargetTokenAccuracy(CausalLMImpl& model, const std::vector<TokenizedExample>& examples,
                                   int64_t batch = 32);

absl::StatusOr<EvalResult> Evaluate(CausalLMImpl& model, const text::Tokenizer& tokenizer,
                                    const std::vector<EvalExample>& examples,
                                    const GenerateOptions& options);

}  // namespace libra::nn

#endif  // LIBRA_NN_EVAL_H_
