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

// Applies expert files: one is attached as is; several form a mixture on
// their shared modules, weighted by `weights` (fixed router) or uniformly,
// with "output" or "parameter" mixing.
absl::Status ApplyExperts(ModelSession& session, const std::vector<std::string>& files,
                          const std::vector<std::string>& weights, const std::string& mixing);

// Lines of a Flan JSONL file (source and target required), optionally only
// the given tasks and split ("" keeps all).
absl::StatusOr<std::vector<data::FlanExample>> ReadExamples(const std::string& path,
                                                            const std::vector<std::string>& tasks,
                                                            const std::string& split);

}  // namespace libra::cli

#endif  // LIBRA_CLI_MODEL_SESSION_H_
