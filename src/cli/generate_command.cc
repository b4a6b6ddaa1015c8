// `libra generate`: greedy continuation of each prompt with the KV cache,
// with the base model, one expert, or a mixture of experts (expert files or
// a library's experts; uniform, fixed-weight or Arrow routing).
//
//   libra generate --base models/tiny --expert_file experts/sort.safetensors "Sort: 3 1 2"
//   libra generate --base models/tiny --library lib --all --router arrow --show_routing "Sort: 3 1 2"
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "src/cli/command.h"
#include "src/cli/common_flags.h"
#include "src/cli/model_session.h"
#include "src/core/status_macros.h"
#include "src/nn/eval.h"
#include "src/nn/examples.h"

ABSL_FLAG(bool, show_routing, false,
          "With --router arrow: for each generated token, its top experts and weights (mean over "
          "modules); --json prints them as JSON.");

namespace libra::cli {
namespace {

// Row r of the result: the routing weights [E] that produced generated token
// r, the mean over modules of each module's recorded weights at the position
// that predicted it (the prompt's last, then each fed-back token).
torch::Tensor RoutingPerGeneratedToken(const nn::RoutingRecorder& recorder, int64_t prompt_tokens,
                                       int64_t generated) {
  torch::Tensor sum;
  int64_t modules = 0;
  for (const std::string& module : recorder.Modules()) {
    torch::Tensor w = recorder.Weights(module);  // [rows, E]
    torch::Tensor rows = w.slice(0, prompt_tokens - 1, prompt_tokens - 1 + generated);
    sum = sum.defined() ? sum + rows : rows.clone();
    ++modules;
  }
  return sum / static_cast<double>(std::max<int64_t>(modules, 1));
}

absl::Status PrintRouting(const ModelSession& session, const AppliedExperts& applied,
                          const std::vector<int64_t>& ids, const torch::Tensor& weights,
                          int top_k, nlohmann::json* json) {
  for (size_t t = 0; t < ids.size(); ++t) {
    LIBRA_ASSIGN_OR_RETURN(std::string token,
                           session.tokenizer->Decode(std::vector<int32_t>{static_cast<int32_t>(ids[t])}));
    auto top = weights[static_cast<int64_t>(t)].topk(std::min<int64_t>(top_k, weights.size(1)));
    nlohmann::json experts = nlohmann::json::array();
    std::string line = absl::StrFormat("  %-10s", absl::StrCat("\"", token, "\""));
    for (int64_t k = 0; k < std::get<0>(top).size(0); ++k) {
      const std::string& name = applied.names[std::get<1>(top)[k].item<int64_t>()];
      const double weight = std::get<0>(top)[k].item<double>();
      experts.push_back({{"expert", name}, {"weight", weight}});
      absl::StrAppendFormat(&line, "  %s %.3f", name, weight);
    }
    if (json != nullptr) {
      json->push_back({{"token", token}, {"experts", experts}});
    } else {
      std::printf("%s\n", line.c_str());
    }
  }
  return absl::OkStatus();
}

absl::Status Generate(const std::vector<std::string>& prompts) {
  LIBRA_ASSIGN_OR_RETURN(ModelSession session,
                         LoadModelSession(absl::GetFlag(FLAGS_base), absl::GetFlag(FLAGS_device)));
  LIBRA_ASSIGN_OR_RETURN(AppliedExperts applied, ApplyExperts(session, ExpertSelectionFromFlags()));
  const bool show_routing = absl::GetFlag(FLAGS_show_routing);
  if (show_routing && applied.recorder == nullptr) {
    return absl::InvalidArgumentError("--show_routing needs a routed mixture (--router arrow)");
  }
  nn::GenerateOptions options;
  options.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  options.max_length = absl::GetFlag(FLAGS_max_length);
  options.device = session.device;
  const bool json = absl::GetFlag(FLAGS_json);
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& prompt : prompts) {
    LIBRA_ASSIGN_OR_RETURN(std::vector<int64_t> prompt_ids, nn::EncodePrompt(*session.tokenizer, prompt));
    if (applied.recorder) applied.recorder->Clear();
    const std::vector<int64_t> ids = nn::GreedyGenerate(*session.model, prompt_ids,
                                                        session.tokenizer->special_ids().eos.value_or(-1), options);
    text::DecodeOptions decode;
    decode.skip_special_tokens = true;
    LIBRA_ASSIGN_OR_RETURN(std::string text,
                           session.tokenizer->Decode(std::vector<int32_t>(ids.begin(), ids.end()), decode));
    nlohmann::json routing = nlohmann::json::array();
    if (!json) std::printf("%s\n", text.c_str());
    if (show_routing && !ids.empty()) {
      // GreedyGenerate cuts a long prompt from the left to this many tokens.
      const int64_t room = std::max<int64_t>(1, options.max_length - options.max_new_tokens);
      const int64_t prompt_tokens = std::min<int64_t>(static_cast<int64_t>(prompt_ids.size()), room);
      torch::Tensor weights =
          RoutingPerGeneratedToken(*applied.recorder, prompt_tokens, static_cast<int64_t>(ids.size()));
      LIBRA_RETURN_IF_ERROR(PrintRouting(session, applied, ids, weights, ExpertSelectionFromFlags().top_k,
                                         json ? &routing : nullptr));
    }
    if (json) out.push_back({{"prompt", prompt}, {"text", text}, {"routing", routing}});
  }
  if (json) std::printf("%s\n", out.dump().c_str());
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
