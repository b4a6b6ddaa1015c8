// What `libra train`, `libra eval` and `libra generate` share: a base model
// folder loaded with its tokenizer (tokenizer.json when present, else the
// byte-level tokenizer), checked against each other, and Flan-style data.
//
//   LIBRA_ASSIGN_OR_RETURN(ModelSession session, LoadModelSession("models/tiny", "cpu"));
//   LIBRA_ASSIGN_OR_RETURN(auto examples, ReadExamples("train.jsonl", {"sort"}, ""));
#ifndef LIBRA_CLI_MODEL_SESSION_H_
#define LIBRA_CLI_MODEL_SESSION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/core/text/tokenizer.h"
#include "src/data/flan_example.h"
#include "src/nn/arrow_router.h"
#include "src/nn/model.h"

namespace libra::cli {

struct ModelSession {
  nn::CausalLM model{nullptr};
  std::unique_ptr<text::Tokenizer> tokenizer;
  torch::Device device = torch::kCPU;
};

// Errors: missing folder or files, unknown architecture, a tokenizer with
// more tokens than the model's vocabulary.
absl::StatusOr<ModelSession> LoadModelSession(const std::string& base_dir,
                                              const std::string& device);

// Which experts `libra eval` and `libra generate` apply and how they are
// routed: expert files, or experts of a library (names or all) with their
// scales from its manifest.
struct ExpertSelection {
  std::vector<std::string> files;    // --expert_file
  std::string library;               // --library DIR
  std::vector<std::string> experts;  // --experts (with --library)
  bool all = false;                  // --all (with --library)
  // uniform | weights | arrow; empty: weights when given, else uniform.
  std::string router;
  std::vector<std::string> weights;
  std::string mixing = "output";
  int top_k = 4;  // Arrow: experts kept per token (the paper's k)
};

// What was attached: expert names in mixture order, and for Arrow routing a
// recorder of each module's per-token weights.
struct AppliedExperts {
  std::vector<std::string> names;
  std::shared_ptr<nn::RoutingRecorder> recorder;
};

// One expert is attached as is; several form a mixture on their shared
// modules, routed uniformly, by fixed weights, or by Arrow (prototypes from
// the library's store, computed in memory when missing or stale), with
// "output" or "parameter" mixing. Experts that do not fit the model are an
// error naming the expert and the module.
absl::StatusOr<AppliedExperts> ApplyExperts(ModelSession& session, const ExpertSelection& selection);

// The selection the flags give (--expert_file, --library, --experts, --all,
// --router, --weights, --mixing, --top_k).
ExpertSelection ExpertSelectionFromFlags();

// Lines of a Flan JSONL file (source and target required), optionally only
// the given tasks and split ("" keeps all).
absl::StatusOr<std::vector<data::FlanExample>> ReadExamples(const std::string& path,
                                                            const std::vector<std::string>& tasks,
                                                            const std::string& split);

}  // namespace libra::cli

#endif  // LIBRA_CLI_MODEL_SESSION_H_
