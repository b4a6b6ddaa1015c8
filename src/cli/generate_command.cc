// `libra generate`: greedy continuation of each prompt with the KV cache,
// with the base model, one expert, or a mixture of experts.
//
//   libra generate --base models/tiny --expert_file experts/sort.safetensors "Sort: 3 1 2"
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "src/cli/command.h"
#include "src/cli/common_flags.h"
#include "src/cli/model_session.h"
#include "src/core/status_macros.h"
#include "src/nn/eval.h"

namespace libra::cli {
namespace {

absl::Status Generate(const std::vector<std::string>& prompts) {
  LIBRA_ASSIGN_OR_RETURN(ModelSession session,
                         LoadModelSession(absl::GetFlag(FLAGS_base), absl::GetFlag(FLAGS_device)));
  LIBRA_RETURN_IF_ERROR(ApplyExperts(session, absl::GetFlag(FLAGS_expert_file),
                                     absl::GetFlag(FLAGS_weights), absl::GetFlag(FLAGS_mixing)));
  nn::GenerateOptions options;
  options.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  options.max_length = absl::GetFlag(FLAGS_max_length);
  options.device = session.device;
  for (const std::string& prompt : prompts) {
    LIBRA_ASSIGN_OR_RETURN(std::string text,
                           nn::GenerateText(*session.model, *session.tokenizer, prompt, options));
    std::printf("%s\n", text.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

int RunGenerate(const std::vector<std::string>& args) {
  if (args.empty()) return UsageError("libra generate needs at least one prompt");
  absl::Status status = Generate(args);
  if (!status.ok()) return ReportError(status);
  return kExitOk;
}

}  // namespace libra::cli
