#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/eval.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "src/core/status_macros.h"
#include "src/nn/examples.h"
#include "src/nn/metrics.h"

namespace libra::nn {

std::vector<int64_t> GreedyGenerate(CausalLMImpl& model, const std::vector<int64_t>& prompt_in,
                                    int64_t eos, const GenerateOptions& options) {
  torch::NoGradGuard no_grad;
  model.eval();
  std::vector<int64_t> prompt = prompt_in;
  const int64_t room = std::max<int64_t>(1, options.max_length - options.max_new_tokens);
  if (static_cast<int64_t>(prompt.size()) > room) prompt.erase(prompt.begin(), prompt.end() - room);
  KvCache cache;
  torch::Tensor input = torch::tensor(prompt, torch::kInt64).view({1, -1}).to(options.device);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < options.max_new_tokens; ++i) {
    torch::Tensor hidden = model.Hidden(input, &cache);
    torch::Tensor logits = model.Head(hidden.select(1, hidden.size(1) - 1));
    const int64_t next = logits.argmax(-1).item<int64_t>();
    if (next == eos) break;
    out.push_back(next);
    input = torch::full({1, 1}, next, torch::dtype(torch::kInt64).device(options.device));
  }
  return out;
}

absl::StatusOr<std::string> GenerateText(CausalLMImpl& model, const text::Tokenizer& tokenizer,
                                         const std::string& source,
                                         const GenerateOptions& options) {
  LIBRA_ASSIGN_OR_RETURN(std::vector<int64_t> prompt, EncodePrompt(tokenizer, source));
  const int64_t eos = tokenizer.special_ids().eos.value_or(-1);
  std::vector<int64_t> ids = GreedyGenerate(model, prompt, eos, options);
  std::vector<int32_t> ids32(ids.begin(), ids.end());
  text::DecodeOptions decode;
  decode.skip_special_tokens = true;
  return tokenizer.Decode(ids32, decode);
}

std::vector<double> ScoreOptions(CausalLMImpl& model, const std::vector<int64_t>& prompt,
                                 const std::vector<std::vector<int64_t>>& options,
                                 torch::Device device) {
  torch::NoGradGuard no_grad;
  model.eval();
  std::vector<double> scores;
  for (const auto& option : options) {
    std::vector<int64_t> ids = prompt;
    ids.insert(ids.end(), option.begin(), option.end());
    torch::Tensor input = torch::tensor(ids, torch::kInt64).view({1, -1}).to(device);
    const BatchLayout layout{{static_cast<int64_t>(prompt.size())}, {static_cast<int64_t>(ids.size())}};
    ScopedBatchLayout scoped(model, layout);
    torch::Tensor logp = torch::log_softmax(model.forward(input)[0].to(torch::kFloat32), -1);
    double total = 0.0;
    for (size_t k = 0; k < option.size(); ++k) {
      total += logp[static_cast<int64_t>(prompt.size() + k) - 1][option[k]].item<double>();
    }
    scores.push_back(total);
  }
  return scores;
}

TargetAccuracy TargetTokenAccuracy(CausalLMImpl& model, const std::vector<TokenizedExample>& examples,
                                   int64_t batch) {
  torch::NoGradGuard no_grad;
  int64_t correct = 0, total = 0, first_correct = 0, end_correct = 0, answers = 0;
  const std::vector<torch::Tensor> parameters = model.parameters();
  const torch::Device device =
      parameters.empty() ? torch::Device(torch::kCPU) : parameters.front().device();
  for (size_t begin = 0; begin < examples.size(); begin += batch) {
    const size_t end = std::min(examples.size(), begin + static_cast<size_t>(batch));
    int64_t length = 0;
    for (size_t i = begin; i < end; ++i) length = std::max<int64_t>(length, examples[i].ids.size());
    const int64_t rows = static_cast<int64_t>(end - begin);
    std::vector<int64_t> ids(rows * length, 0);
    BatchLayout layout;
    for (size_t i = begin; i < end; ++i) {
      std::copy(examples[i].ids.begin(), examples[i].ids.end(), ids.begin() + (i - begin) * length);
      const int64_t n = static_cast<int64_t>(examples[i].ids.size());
      layout.prompt_lengths.push_back(std::min<int64_t>(examples[i].target_start, n));
      layout.lengths.push_back(n);
    }
    // The rows that predict a target token: position k predicts token k + 1.
    std::vector<int64_t> positions, expected;
    for (size_t i = begin; i < end; ++i) {
      const TokenizedExample& ex = examples[i];
      const int64_t first = std::max<int64_t>(ex.target_start, 1) - 1;
      const int64_t last = static_cast<int64_t>(ex.ids.size()) - 2;
      for (int64_t k = first; k <= last; ++k) {
        positions.push_back(static_cast<int64_t>(i - begin) * length + k);
        expected.push_back(ex.ids[k + 1]);
      }
    }
    if (positions.empty()) continue;
    torch::Tensor input = torch::tensor(ids, torch::kInt64).view({rows, length}).to(device);
    torch::Tensor predicted;
    {
      ScopedBatchLayout scoped(model, layout);
      const torch::Tensor at = torch::tensor(positions, torch::kInt64).to(device);
      predicted = model.Head(model.HiddenAt(input, at)).argmax(-1).to(torch::kCPU).contiguous();
    }
    const int64_t* p = predicted.data_ptr<int64_t>();
    size_t next = 0;
    for (size_t i = begin; i < end; ++i) {
      const TokenizedExample& ex = examples[i];
      const int64_t first = std::max<int64_t>(ex.target_start, 1) - 1;
      const int64_t last = static_cast<int64_t>(ex.ids.size()) - 2;
      if (first > last) continue;
      const size_t begin_row = next;
      for (int64_t k = first; k <= last; ++k, ++next) correct += p[next] == expected[next];
      total += last - first + 1;
      first_correct += p[begin_row] == expected[begin_row];
      end_correct += p[next - 1] == expected[next - 1];
      ++answers;
    }
  }
  TargetAccuracy accuracy;
  accuracy.correct = correct;
  accuracy.tokens = total;
  if (total > 0) accuracy.all = static_cast<double>(correct) / total;
  if (answers > 0) {
    accuracy.first = static_cast<double>(first_correct) / answers;
    accuracy.end = static_cast<double>(end_correct) / answers;
  }
  return accuracy;
}

absl::StatusOr<EvalResult> Evaluate(CausalLMImpl& model, const text::Tokenizer& tokenizer,
                                    const std::vector<EvalExample>& examples,
                                    const GenerateOptions& options) {
  torch::NoGradGuard no_grad;
  EvalResult result;
  int64_t correct_tokens = 0, target_tokens = 0;
  const int64_t eos = tokenizer.special_ids().eos.value_or(-1);
  text::EncodeOptions plain;
  plain.split_special_tokens = false;
  for (const EvalExample& ex : examples) {
    std::string prediction;
    LIBRA_ASSIGN_OR_RETURN(std::vector<int64_t> prompt, EncodePrompt(tokenizer, ex.source));
    if (!ex.options.empty()) {
      std::vector<std::vector<int64_t>> option_ids;
      const bool spaced = !tokenizer.special_ids().sep.has_value();
      for (const std::string& option : ex.options) {
        LIBRA_ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                               tokenizer.Encode(spaced ? " " + option : option, plain));
        option_ids.emplace_back(ids.begin(), ids.end());
      }
      std::vector<double> scores = ScoreOptions(model, prompt, option_ids, options.device);
      prediction = ex.options[std::max_element(scores.begin(), scores.end()) - scores.begin()];
      ++result.multiple_choice;
    } else {
      std::vector<int64_t> ids = GreedyGenerate(model, prompt, eos, options);
      std::vector<int32_t> ids32(ids.begin(), ids.end());
      text::DecodeOptions decode;
      decode.skip_special_tokens = true;
      LIBRA_ASSIGN_OR_RETURN(prediction, tokenizer.Decode(ids32, decode));
    }
    result.exact_match += ExactMatch(prediction, ex.target);
    result.rouge_l += RougeL(prediction, ex.target);
    LIBRA_ASSIGN_OR_RETURN(TokenizedExample tf,
                           EncodeExample(tokenizer, ex.source, ex.target, options.max_length));
    // Scored here, between generations, so that a model in training mode
    // draws its dropout masks in the same order as it always has.
    const TargetAccuracy accuracy = TargetTokenAccuracy(model, {tf}, /*batch=*/1);
    correct_tokens += accuracy.correct;
    target_tokens += accuracy.tokens;
    result.predictions.push_back(std::move(prediction));
    ++result.count;
  }
  if (result.count > 0) {
    result.exact_match /= result.count;
    result.rouge_l /= result.count;
  }
  result.token_accuracy = target_tokens > 0 ? static_cast<double>(correct_tokens) / target_tokens : 0.0;
  return result;
}

}  // namespace libra::nn
