#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "papers/planning_tokens/arithmetic_base.h"

#include <chrono>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "papers/common/results.h"
#include "src/core/io/atomic_file.h"
#include "src/core/status_macros.h"
#include "src/core/text/byte_tokenizer.h"
#include "src/data/planning_tokens.h"
#include "src/nn/checkpoint.h"
#include "src/nn/eval.h"
#include "src/nn/examples.h"
#include "src/nn/trainer.h"

namespace libra::papers {
namespace {

constexpr uint64_t kBaseDataSeed = 1000;
constexpr uint64_t kBaseInitSeed = 1234;

absl::StatusOr<std::vector<nn::TokenizedExample>> PlainExamples(
    const text::Tokenizer& tokenizer, const std::vector<data::Gsm8kExample>& examples,
    int64_t max_length) {
  std::vector<nn::TokenizedExample> out;
  for (const data::Gsm8kExample& e : examples) {
    LIBRA_ASSIGN_OR_RETURN(nn::TokenizedExample t,
                           nn::EncodeExample(tokenizer, e.question,
                                             data::PlainChain(e.steps, e.answer), max_length));
    out.push_back(std::move(t));
  }
  return out;
}

nn::ModelConfig BaseModelConfig(const ArithmeticBaseConfig& config, int64_t vocab) {
  nn::ModelConfig mc;
  mc.vocab_size = vocab;
  mc.hidden_size = config.hidden;
  mc.intermediate_size = config.intermediate;
  mc.num_hidden_layers = config.layers;
  mc.num_attention_heads = config.heads;
  mc.num_key_value_heads = config.heads;
  mc.max_position_embeddings = config.max_length;
  mc.tie_word_embeddings = true;
  return mc;
}

}  // namespace

data::synthetic::ArithmeticChainOptions ChainOptions(const ArithmeticBaseConfig& config,
                                                     uint64_t seed, int min_steps, int max_steps) {
  data::synthetic::ArithmeticChainOptions options;
  options.seed = seed;
  options.min_steps = min_steps;
  options.max_steps = max_steps;
  options.max_value = config.max_value;
  return options;
}

nlohmann::json ArithmeticBaseDefinition(const ArithmeticBaseConfig& c) {
  return {{"hidden", c.hidden},   {"layers", c.layers},   {"heads", c.heads},
          {"intermediate", c.intermediate}, {"max_length", c.max_length}, {"steps", c.steps},
          {"batch", c.batch},     {"lr", c.lr},           {"examples", c.examples},
          {"max_value", c.max_value}, {"measure_examples", c.measure_examples},
          {"data_seed", kBaseDataSeed}, {"init_seed", kBaseInitSeed},
          {"threads", kArithmeticBaseThreads}, {"version", kArithmeticBaseVersion}};
}

absl::Status PretrainArithmeticBase(const ArithmeticBaseConfig& config, const std::string& dir) {
  const int threads = at::get_num_threads();
  at::set_num_threads(kArithmeticBaseThreads);
  text::ByteTokenizer tokenizer;
  // Every single-step problem the paper's chains are made of, starts over
  // the whole range, in training phrasings ("all"): the base knows the
  // facts, as a pretrained language model does; what it has never seen is
  // a chain of them (and, in test, held-out phrasings).
  auto options = ChainOptions(config, kBaseDataSeed, 1, 1);
  options.max_start = config.max_value;
  LIBRA_ASSIGN_OR_RETURN(
      std::vector<nn::TokenizedExample> data,
      PlainExamples(tokenizer, data::synthetic::ArithmeticChains(options, "all", config.examples),
                    config.max_length));
  torch::manual_seed(kBaseInitSeed);
  nn::CausalLM model(BaseModelConfig(config, tokenizer.vocab_size()));
  {
    torch::NoGradGuard no_grad;  // small tied embeddings (papers/lab's choice)
    model->model->embed_tokens->weight.normal_(0.0, 0.1);
  }
  nn::TrainOptions train;
  train.learning_rate = config.lr;
  train.weight_decay = 0.01;
  train.warmup_steps = config.steps / 20;
  train.batch_size = config.batch;
  train.max_steps = config.steps;
  train.seed = kBaseInitSeed;
  train.log_every = 100;
  // Every layer at every row: the base's bits stay those that the claims
  // were measured on (TrainOptions::last_layer_at_targets).
  train.last_layer_at_targets = false;
  const auto start = std::chrono::steady_clock::now();
  LIBRA_ASSIGN_OR_RETURN(nn::TrainStats stats, nn::Train(*model, data, train));
  const double seconds = SecondsSince(start);
  // Competence at one step, on the paper's single-step test problems: in
  // training phrasings, and in held-out ones (which no training shows).
  nlohmann::json report = {{"steps", stats.steps}, {"last_loss", stats.last_loss},
                           {"seconds", seconds}};
  for (const auto& [key, heldout] : {std::pair<const char*, double>{"train_phrasings", 0.0},
                                     {"heldout_phrasings", 1.0}}) {
    auto test_options = options;
    test_options.test_heldout_phrasing = heldout;
    LIBRA_ASSIGN_OR_RETURN(
        std::vector<bool> solved,
        SolveGreedily(*model, tokenizer,
                      data::synthetic::ArithmeticChains(test_options, "test",
                                                        config.measure_examples),
                      "", 48));
    report[absl::StrCat("single_step_exact_match_", key)] = Fraction(solved);
  }
  report["single_step_problems"] = config.measure_examples;
  at::set_num_threads(threads);
  LIBRA_RETURN_IF_ERROR(nn::SaveCheckpoint(*model, dir));
  LIBRA_RETURN_IF_ERROR(
      WriteFileAtomically(dir + "/base_key.json", ArithmeticBaseDefinition(config).dump(2) + "\n"));
  return WriteFileAtomically(dir + "/pretrain.json", report.dump(2) + "\n");
}

absl::StatusOr<std::string> CachedArithmeticBase(const ArtifactCache& cache,
                                                 const ArithmeticBaseConfig& config, bool* hit) {
  ArtifactKey key{"planning_base", ArithmeticBaseDefinition(config), kArithmeticBaseVersion};
  return cache.GetOrBuild(
      key, [&](const std::string& tmp) { return PretrainArithmeticBase(config, tmp); }, hit);
}

absl::StatusOr<std::vector<bool>> SolveGreedily(nn::CausalLMImpl& model,
                                                const text::Tokenizer& tokenizer,
                                                const std::vector<data::Gsm8kExample>& examples,
                                                const std::string& prompt_suffix,
                                                int64_t max_new_tokens,
                                                std::vector<std::string>* texts) {
  const std::optional<int32_t> eos = tokenizer.special_ids().eos;
  nn::GenerateOptions options;
  options.max_new_tokens = max_new_tokens;
  options.device = model.model->embed_tokens->weight.device();
  LIBRA_ASSIGN_OR_RETURN(std::vector<int32_t> suffix, tokenizer.Encode(prompt_suffix));
  std::vector<bool> verdicts;
  for (const data::Gsm8kExample& e : examples) {
    LIBRA_ASSIGN_OR_RETURN(std::vector<int64_t> prompt, nn::EncodePrompt(tokenizer, e.question));
    prompt.insert(prompt.end(), suffix.begin(), suffix.end());
    std::vector<int64_t> out = nn::GreedyGenerate(model, prompt, eos ? *eos : -1, options);
    LIBRA_ASSIGN_OR_RETURN(std::string text,
                           tokenizer.Decode(std::vector<int32_t>(out.begin(), out.end())));
    const std::optional<std::string> answer = data::ExtractAnswer(text);
    verdicts.push_back(answer.has_value() && data::SameAnswer(*answer, e.answer));
    if (texts != nullptr) texts->push_back(prompt_suffix + text);
  }
  model.train();
  return verdicts;
}

double Fraction(const std::vector<bool>& verdicts) {
  if (verdicts.empty()) return 0.0;
  int64_t count = 0;
  for (bool v : verdicts) count += v;
  return static_cast<double>(count) / static_cast<double>(verdicts.size());
}

}  // namespace libra::papers
