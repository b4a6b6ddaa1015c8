// `libra eval`: greedy generation with the KV cache on Flan-style JSONL and
// the scores exact match, ROUGE-L and teacher-forced token accuracy, with
// the base model alone, one expert, or a mixture of experts.
//
//   libra eval --base models/tiny --data test.jsonl --task sort --expert_file experts/sort.safetensors
//   libra eval --base models/tiny --data test.jsonl --expert_file a.safetensors,b.safetensors
//     --mixing parameter --weights 0.3,0.7 --json  (one line)
//   libra eval --base models/tiny --data test.jsonl --library lib --all --router arrow --top_k 4
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/cli/command.h"
#include "src/cli/common_flags.h"
#include "src/cli/model_session.h"
#include "src/core/status_macros.h"
#include "src/nn/eval.h"

ABSL_FLAG(int64_t, limit, 0, "Evaluate at most this many examples (0: all).");
ABSL_FLAG(bool, show_predictions, false, "Print each prediction next to its target.");

namespace libra::cli {
namespace {

absl::Status Eval() {
  LIBRA_ASSIGN_OR_RETURN(std::vector<data::FlanExample> examples,
                         ReadExamples(absl::GetFlag(FLAGS_data), absl::GetFlag(FLAGS_task),
                                      absl::GetFlag(FLAGS_split)));
  LIBRA_ASSIGN_OR_RETURN(ModelSession session,
                         LoadModelSession(absl::GetFlag(FLAGS_base), absl::GetFlag(FLAGS_device)));
  LIBRA_RETURN_IF_ERROR(ApplyExperts(session, ExpertSelectionFromFlags()).status());
  const int64_t limit = absl::GetFlag(FLAGS_limit);
  std::vector<nn::EvalExample> eval;
  for (const auto& ex : examples) {
    if (limit > 0 && static_cast<int64_t>(eval.size()) == limit) break;
    eval.push_back({ex.source, ex.target, ex.options});
  }
  nn::GenerateOptions options;
  options.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  options.max_length = absl::GetFlag(FLAGS_max_length);
  options.device = session.device;
  LIBRA_ASSIGN_OR_RETURN(nn::EvalResult result,
                         nn::Evaluate(*session.model, *session.tokenizer, eval, options));
  if (absl::GetFlag(FLAGS_show_predictions)) {
    for (size_t i = 0; i < eval.size(); ++i) {
      std::printf("%s\t=> %s\t(target %s)\n", eval[i].source.c_str(), result.predictions[i].c_str(),
                  eval[i].target.c_str());
    }
  }
  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::json j = {{"count", result.count},
                        {"exact_match", result.exact_match},
                        {"rouge_l", result.rouge_l},
                        {"token_accuracy", result.token_accuracy},
                        {"multiple_choice", result.multiple_choice}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "examples %lld (multiple choice %lld)  exact_match %.4f  rouge_l %.4f  token_accuracy "
        "%.4f\n",
        static_cast<long long>(result.count), static_cast<long long>(result.multiple_choice),
        result.exact_match, result.rouge_l, result.token_accuracy);
  }
  return absl::OkStatus();
}

}  // namespace

int RunEval(const std::vector<std::string>& args) {
  if (!args.empty()) return UsageError("libra eval takes no positional arguments");
  absl::Status status = Eval();
  if (!status.ok()) return ReportError(status);
  return kExitOk;
}

}  // namespace libra::cli
