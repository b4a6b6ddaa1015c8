// The planning-tokens paper's base model: a tiny byte-level Llama pretrained
// from scratch on single-step arithmetic word problems in the paper's own
// format (question, then "12+5=17.\nThe answer is: 17"), so that it is
// competent at one step and the study is about chains. The base is an
// artifact keyed by everything that defines it (ArithmeticBaseDefinition),
// pretrained once per machine (one thread: its bits depend on the count).
//
//   LIBRA_ASSIGN_OR_RETURN(std::string dir, CachedArithmeticBase(cache, ArithmeticBaseConfig()));
#ifndef LIBRA_PAPERS_PLANNING_TOKENS_ARITHMETIC_BASE_H_
#define LIBRA_PAPERS_PLANNING_TOKENS_ARITHMETIC_BASE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "papers/common/artifact_cache.h"
#include "src/core/text/tokenizer.h"
#include "src/data/gsm8k.h"
#include "src/data/synthetic/arithmetic_chains.h"
#include "src/nn/model.h"

namespace libra::papers {

// Bump when a change alters the pretrained base.
inline constexpr char kArithmeticBaseVersion[] = "planning-arithmetic-base-v3";
inline constexpr int kArithmeticBaseThreads = 1;

struct ArithmeticBaseConfig {
  int64_t hidden = 64;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t intermediate = 192;
  int64_t max_length = 256;
  int64_t steps = 6000;
  int64_t batch = 32;
  double lr = 3e-3;
  int examples = 20000;      // single-step problems, starts up to max_value ("all" split, seed 1000)
  int max_value = 99;        // the generator's bound on every number
  int measure_examples = 200;  // single-step test problems the base is measured on
};

// The problems the base and the paper draw from (one chain length for the
// base; the paper sets min/max steps).
data::synthetic::ArithmeticChainOptions ChainOptions(const ArithmeticBaseConfig& config,
                                                     uint64_t seed, int min_steps, int max_steps);

nlohmann::json ArithmeticBaseDefinition(const ArithmeticBaseConfig& config);

// Pretrains into `dir`: config.json, model.safetensors, base_key.json (the
// definition) and pretrain.json (steps, loss, seconds, and greedy exact
// match on the paper's single-step test problems, in training phrasings and
// in held-out phrasings, apart).
absl::Status PretrainArithmeticBase(const ArithmeticBaseConfig& config, const std::string& dir);

// The base from `cache`, pretrained on first use.
absl::StatusOr<std::string> CachedArithmeticBase(const ArtifactCache& cache,
                                                 const ArithmeticBaseConfig& config,
                                                 bool* hit = nullptr);

// Greedy decoding after [bos] question [sep] `prompt_suffix` (the first
// step's prefix tokens for planning conditions), the answer taken from
// "The answer is: N" (data::ExtractAnswer); one verdict per example.
// `texts`, when set, receives the generated texts.
absl::StatusOr<std::vector<bool>> SolveGreedily(nn::CausalLMImpl& model,
                                                const text::Tokenizer& tokenizer,
                                                const std::vector<data::Gsm8kExample>& examples,
                                                const std::string& prompt_suffix,
                                                int64_t max_new_tokens,
                                                std::vector<std::string>* texts = nullptr);

// The fraction of true verdicts (0 for none).
double Fraction(const std::vector<bool>& verdicts);

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_PLANNING_TOKENS_ARITHMETIC_BASE_H_
