// Paper (c): "Guiding Language Model Reasoning with Planning Tokens"
// (Wang et al., COLM 2024), at quick scale on synthetic multi-step
// arithmetic chains (README.md).
//
// The method: infer a type for every reasoning step (Arithmetic: its
// operators; K-means or SQ-VAE on the frozen base's step embeddings), put
// planning tokens before each step, and fine-tune (LoRA plus the new
// tokens' rows) so that the model writes its plan before each step. Plain
// chain-of-thought fine-tuning and the untyped General tokens are the
// controls. Stages: OpenSetup (base, data), then per seed InferStepTypes
// and TrainConditions, then derived metrics, claims and plots.
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "nlohmann/json.hpp"
#include "papers/common/reproduce.h"
#include "papers/common/results.h"
#include "papers/lab/testbed_lab.h"
#include "papers/planning_tokens/arithmetic_base.h"
#include "src/core/cluster/partition_agreement.h"
#include "src/core/io/atomic_file.h"
#include "src/core/status_macros.h"
#include "src/core/text/byte_tokenizer.h"
#include "src/data/gsm8k.h"
#include "src/data/planning_tokens.h"
#include "src/data/synthetic/arithmetic_chains.h"
#include "src/nn/adapters.h"
#include "src/nn/checkpoint.h"
#include "src/nn/examples.h"
#include "src/nn/model.h"
#include "src/nn/planning_tokens.h"
#include "src/nn/trainer.h"

namespace libra::papers {
namespace {

using data::Gsm8kExample;
using StepTypes = std::vector<std::vector<std::string>>;  // per step, its types

// Data: chains of 1-4 steps (the base knows single steps).
constexpr int kMinSteps = 1, kMaxSteps = 4;
constexpr int kShortMax = 2;  // C4's buckets, fixed before the run: 1-2 vs 3-4 steps
constexpr uint64_t kDataSeed = 7;
constexpr int kTrainExamples = 300, kDevExamples = 12, kTestPerLength = 10;
// Fine-tuning, the same for every condition: LoRA r 16, alpha 16 on the MLP
// projections (the paper's), plus the new tokens' rows; two rounds, the
// round chosen on dev.
constexpr int64_t kLoraRank = 16;
constexpr double kLoraAlpha = 16.0;
constexpr int kRounds = 2;
constexpr int64_t kRoundSteps = 50, kBatch = 8;
constexpr double kLearningRate = 3e-3;
constexpr int64_t kMaxNewTokens = 80;
// Planning tokens: one prefix and one token per type (General: two prefixes,
// the same count, untyped); K = 5 types for K-means and SQ-VAE.
constexpr int kPrefix = 1, kSpecial = 1, kTypes = 5;
// SQ-VAE, narrower than the authors' 512/64 for a 64-wide base.
constexpr int64_t kVaeHidden = 64, kVaeCode = 16;
constexpr double kVaeLearningRate = 1e-3;

enum class Method { kPlain, kGeneral, kArithmetic, kKMeans, kSqVae };
struct Condition {
  const char* id;
  const char* label;
  Method method;
};
constexpr Condition kConditions[] = {{"cot", "plain CoT", Method::kPlain},
                                     {"general", "General", Method::kGeneral},
                                     {"arithmetic", "Arithmetic", Method::kArithmetic},
                                     {"kmeans", "K-means", Method::kKMeans},
                                     {"sqvae", "SQ-VAE", Method::kSqVae}};
constexpr const char* kTyped[] = {"arithmetic", "kmeans", "sqvae"};

struct Setup {
  ArithmeticBaseConfig base_config;
  std::string base_dir;
  std::vector<Gsm8kExample> train, dev, test;
  std::vector<torch::Tensor> step_embeddings;  // per train example [steps, hidden]
  std::vector<int> true_operators;             // per train step, flattened
};

// The base's folder; `reused` tells whether it was there already (a given
// --base_model always is).
absl::StatusOr<std::string> OpenBase(const RunContext& ctx, const ArithmeticBaseConfig& config,
                                     bool* reused) {
  *reused = true;
  if (ctx.options.base_model.empty()) return CachedArithmeticBase(*ctx.cache, config, reused);
  const std::string dir = ctx.options.base_model;
  LIBRA_ASSIGN_OR_RETURN(std::string key, ReadFile(dir + "/base_key.json"));
  if (nlohmann::json::parse(key, nullptr, false) != ArithmeticBaseDefinition(config)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--base_model ", dir, ": base_key.json is not this paper's base definition"));
  }
  return dir;
}

// Spans of each step's tokens in [bos] question [sep] step1\n step2\n ...
absl::StatusOr<std::vector<int64_t>> ChainIds(const text::Tokenizer& tokenizer,
                                              const Gsm8kExample& e,
                                              std::vector<std::pair<int64_t, int64_t>>& spans) {
  LIBRA_ASSIGN_OR_RETURN(std::vector<int64_t> ids, nn::EncodePrompt(tokenizer, e.question));
  for (const std::string& step : e.steps) {
    LIBRA_ASSIGN_OR_RETURN(std::vector<int32_t> piece, tokenizer.Encode(step + "\n"));
    spans.emplace_back(ids.size(), ids.size() + piece.size() - 1);  // without the newline
    ids.insert(ids.end(), piece.begin(), piece.end());
  }
  return ids;
}

absl::StatusOr<Setup> OpenSetup(const RunContext& ctx, Results& results) {
  // Standard scale runs the quick configuration (no larger one is defined).
  if (ctx.full() || !ctx.options.data.empty()) {
    return absl::UnimplementedError(
        "planning_tokens: only --scale quick on the synthetic chains is implemented "
        "(--scale full with GSM8K and a tokenizer.json checkpoint is not yet)");
  }
  Setup s;
  const auto base_start = std::chrono::steady_clock::now();
  bool reused = true;
  LIBRA_ASSIGN_OR_RETURN(s.base_dir, OpenBase(ctx, s.base_config, &reused));
  results.AddStageTime(reused ? "base model (reused)" : "base model (pretrained)",
                       SecondsSince(base_start));
  const auto options = ChainOptions(s.base_config, kDataSeed, kMinSteps, kMaxSteps);
  s.train = data::synthetic::ArithmeticChains(options, "train", kTrainExamples);
  s.dev = data::synthetic::ArithmeticChains(options, "validation", kDevExamples);
  for (int length = kMinSteps; length <= kMaxSteps; ++length) {
    auto one = ChainOptions(s.base_config, kDataSeed, length, length);
    for (Gsm8kExample& e : data::synthetic::ArithmeticChains(one, "test", kTestPerLength)) {
      s.test.push_back(std::move(e));
    }
  }
  // Step embeddings of the frozen base, once (they do not depend on the seed).
  LIBRA_ASSIGN_OR_RETURN(nn::CausalLM base, nn::LoadCheckpoint(s.base_dir, torch::kCPU));
  base->eval();
  text::ByteTokenizer tokenizer;
  for (const Gsm8kExample& e : s.train) {
    std::vector<std::pair<int64_t, int64_t>> spans;
    LIBRA_ASSIGN_OR_RETURN(std::vector<int64_t> ids, ChainIds(tokenizer, e, spans));
    LIBRA_ASSIGN_OR_RETURN(torch::Tensor embeddings, nn::StepEmbeddings(*base, ids, spans));
    s.step_embeddings.push_back(embeddings);
    for (char op : data::synthetic::ChainOperators(e)) s.true_operators.push_back(op);
  }
  auto pretrain = ReadFile(s.base_dir + "/pretrain.json");
  const nlohmann::json report =
      pretrain.ok() ? nlohmann::json::parse(*pretrain, nullptr, false) : nlohmann::json();
  results.SetConfig({{"base", ArithmeticBaseDefinition(s.base_config)},
                     {"train", kTrainExamples}, {"dev", kDevExamples},
                     {"test_per_length", kTestPerLength}, {"steps", {kMinSteps, kMaxSteps}},
                     {"rounds", kRounds}, {"round_steps", kRoundSteps}, {"batch", kBatch},
                     {"lr", kLearningRate}, {"lora_rank", kLoraRank}, {"lora_alpha", kLoraAlpha},
                     {"n_prefix", kPrefix}, {"n_special", kSpecial}, {"types", kTypes}});
  results.SetSetup(absl::StrCat(
      "Base: byte-level Llama, hidden ", s.base_config.hidden, ", ", s.base_config.layers,
      " layers, pretrained ", s.base_config.steps, " steps on single-step problems; greedy exact "
      "match on single-step test problems (held-out phrasings included): ",
      report.is_object() ? absl::StrFormat("%.3f", report.value("single_step_exact_match", 0.0))
                         : "unknown",
      ". Train ", kTrainExamples, " chains of ", kMinSteps, "-", kMaxSteps, " steps, dev ",
      kDevExamples, ", test ", kTestPerLength, " per chain length."));
  return s;
}

// Flattened labels back into per-example, per-step type names.
std::vector<StepTypes> NamedTypes(const Setup& s, const std::vector<int>& labels,
                                  const std::string& prefix) {
  std::vector<StepTypes> out;
  size_t next = 0;
  for (const Gsm8kExample& e : s.train) {
    StepTypes types;
    for (size_t i = 0; i < e.steps.size(); ++i) types.push_back({absl::StrCat(prefix, labels[next++])});
    out.push_back(std::move(types));
  }
  return out;
}

// The types of every train step under each method, for one seed.
absl::StatusOr<std::map<Method, std::vector<StepTypes>>> InferStepTypes(const Setup& s, int seed,
                                                                        Results& results) {
  std::map<Method, std::vector<StepTypes>> types;
  for (const Gsm8kExample& e : s.train) {
    StepTypes arithmetic, general;
    for (const std::string& step : e.steps) {
      arithmetic.push_back(data::ArithmeticTypes(step));
      general.push_back({});
    }
    types[Method::kArithmetic].push_back(arithmetic);
    types[Method::kGeneral].push_back(general);
  }
  LIBRA_ASSIGN_OR_RETURN(std::vector<int> kmeans,
                         nn::KMeansTypes(torch::cat(s.step_embeddings), kTypes, seed));
  nn::SqVaeOptions vae;
  vae.types = kTypes;
  vae.hidden = kVaeHidden;
  vae.code_dim = kVaeCode;
  vae.learning_rate = kVaeLearningRate;
  vae.seed = seed;
  LIBRA_ASSIGN_OR_RETURN(std::vector<int> sqvae, nn::SqVaeTypes(s.step_embeddings, vae));
  LIBRA_ASSIGN_OR_RETURN(double kmeans_nmi,
                         cluster::NormalizedMutualInformation(kmeans, s.true_operators));
  LIBRA_ASSIGN_OR_RETURN(double sqvae_nmi,
                         cluster::NormalizedMutualInformation(sqvae, s.true_operators));
  results.AddValue("kmeans/nmi", seed, kmeans_nmi);
  results.AddValue("sqvae/nmi", seed, sqvae_nmi);
  types[Method::kKMeans] = NamedTypes(s, kmeans, "k");
  types[Method::kSqVae] = NamedTypes(s, sqvae, "v");
  return types;
}

data::PlanningOptions OptionsFor(Method method) {
  if (method == Method::kGeneral) return {kPrefix + kSpecial, 0};
  return {kPrefix, kSpecial};
}

// "<plus_0>" -> the bytes of "plus": the key word a new row starts from.
std::vector<int32_t> KeyWordBytes(const std::string& token) {
  const std::string word = token.substr(1, token.rfind('_') - 1);
  return std::vector<int32_t>(word.begin(), word.end());
}

struct Model {
  nn::CausalLM model{nullptr};
  text::ByteTokenizer tokenizer;
  std::vector<nn::TokenizedExample> train;
  double added_fraction = 0;
};

// The base with the condition's planning tokens and a fresh LoRA, and the
// condition's training targets.
absl::StatusOr<Model> PrepareModel(const Setup& s, Method method,
                                   const std::vector<StepTypes>* types, int seed) {
  Model m;
  LIBRA_ASSIGN_OR_RETURN(m.model, nn::LoadCheckpoint(s.base_dir, torch::kCPU));
  const data::PlanningOptions options = OptionsFor(method);
  if (method != Method::kPlain) {
    std::vector<std::string> all;
    for (const StepTypes& example : *types) {
      for (const auto& step : example) all.insert(all.end(), step.begin(), step.end());
    }
    const std::vector<std::string> vocab = data::PlanningVocabulary(all, options);
    LIBRA_RETURN_IF_ERROR(m.tokenizer.AddTokens(vocab, /*special=*/false).status());
    std::vector<std::vector<int32_t>> words;
    for (const std::string& token : vocab) words.push_back(KeyWordBytes(token));
    int64_t base_parameters = 0;
    for (const auto& [name, p] : nn::BaseStateDict(*m.model)) base_parameters += p.numel();
    m.model->AddTokens(nn::MeanEmbeddingRows(*m.model, words));
    m.added_fraction = static_cast<double>(nn::AddedTokenParameters(*m.model)) / base_parameters;
  }
  for (size_t i = 0; i < s.train.size(); ++i) {
    const Gsm8kExample& e = s.train[i];
    const std::string target = method == Method::kPlain
                                   ? data::PlainChain(e.steps, e.answer)
                                   : data::PlannedChain(e.steps, (*types)[i], e.answer, options);
    LIBRA_ASSIGN_OR_RETURN(nn::TokenizedExample t,
                           nn::EncodeExample(m.tokenizer, e.question, target,
                                             s.base_config.max_length));
    m.train.push_back(std::move(t));
  }
  nn::AdapterConfig lora;
  lora.lora.rank = kLoraRank;
  lora.lora.alpha = kLoraAlpha;
  lora.targets.names = {"gate_proj", "up_proj", "down_proj"};
  LIBRA_RETURN_IF_ERROR(nn::AttachAdapters(*m.model, lora, seed).status());
  return m;
}

struct Scores {
  double dev = -1, test = 0;
  std::vector<bool> test_verdicts;
  int round = 0;
  std::string sample;  // one generated test solution
};

// Trains kRounds rounds; after each, exact match on dev and test; the round
// best on dev (the earliest on ties) is reported, test never chooses.
absl::StatusOr<Scores> TrainAndScore(const Setup& s, Model& m, Method method, int seed) {
  // The prompt ends with the first step's prefix tokens (no type tokens).
  const std::string prompt_suffix =
      method == Method::kPlain ? "" : data::StepPlan({}, {OptionsFor(method).n_prefix, 0});
  Scores best;
  for (int round = 1; round <= kRounds; ++round) {
    nn::TrainOptions train;
    train.learning_rate = kLearningRate;
    train.schedule = nn::Schedule::kConstant;
    train.batch_size = kBatch;
    train.max_steps = kRoundSteps;
    train.seed = static_cast<uint64_t>(seed) * 100 + round;
    train.progress = false;
    LIBRA_RETURN_IF_ERROR(nn::Train(*m.model, m.train, train).status());
    LIBRA_ASSIGN_OR_RETURN(std::vector<bool> dev, SolveGreedily(*m.model, m.tokenizer, s.dev,
                                                                prompt_suffix, kMaxNewTokens));
    if (Fraction(dev) <= best.dev) continue;
    std::vector<std::string> texts;
    LIBRA_ASSIGN_OR_RETURN(best.test_verdicts,
                           SolveGreedily(*m.model, m.tokenizer, s.test, prompt_suffix,
                                         kMaxNewTokens, &texts));
    best.dev = Fraction(dev);
    best.test = Fraction(best.test_verdicts);
    best.round = round;
    best.sample = texts.back();
  }
  return best;
}

void RecordScores(const Setup& s, const Condition& c, const Scores& scores, int seed,
                  Results& results) {
  const std::string id = c.id;
  results.AddValue(id + "/test", seed, scores.test);
  results.AddValue(id + "/dev", seed, scores.dev);
  results.AddValue(id + "/round", seed, scores.round);
  std::map<int, std::pair<int, int>> by_length;  // correct, total
  std::pair<int, int> short_chains, long_chains;
  for (size_t i = 0; i < s.test.size(); ++i) {
    const int length = s.test[i].chain_length;
    const bool ok = scores.test_verdicts[i];
    by_length[length].first += ok;
    by_length[length].second += 1;
    auto& bucket = length <= kShortMax ? short_chains : long_chains;
    bucket.first += ok;
    bucket.second += 1;
  }
  for (const auto& [length, counts] : by_length) {
    results.AddValue(absl::StrCat(id, "/len", length), seed,
                     static_cast<double>(counts.first) / counts.second);
  }
  results.AddValue(id + "/short", seed, static_cast<double>(short_chains.first) / short_chains.second);
  results.AddValue(id + "/long", seed, static_cast<double>(long_chains.first) / long_chains.second);
}

absl::Status TrainConditions(const Setup& s, int seed, Results& results) {
  LIBRA_ASSIGN_OR_RETURN(auto types, InferStepTypes(s, seed, results));
  double added_fraction = 0;
  for (const Condition& c : kConditions) {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<StepTypes>* condition_types =
        c.method == Method::kPlain ? nullptr : &types.at(c.method);
    LIBRA_ASSIGN_OR_RETURN(Model m, PrepareModel(s, c.method, condition_types, seed));
    added_fraction = std::max(added_fraction, m.added_fraction);
    LIBRA_ASSIGN_OR_RETURN(Scores scores, TrainAndScore(s, m, c.method, seed));
    RecordScores(s, c, scores, seed, results);
    if (seed == 1) {
      results.AddNote(absl::StrCat("A ", c.label, " solution (seed 1, last test problem): `",
                                   absl::StrReplaceAll(scores.sample, {{"\n", "⏎"}}), "`"));
    }
    // One stage per condition; the seeds add up.
    results.AddStageTime(absl::StrCat(c.label, " training"), SecondsSince(start));
  }
  results.AddValue("added_fraction", seed, added_fraction);
  return absl::OkStatus();
}

// Typed mean and the gains over plain CoT by chain-length bucket.
void RecordDerived(const RunContext& ctx, Results& results) {
  for (int seed : ctx.seeds) {
    double test = 0, short_gain = 0, long_gain = 0;
    for (const char* typed : kTyped) {
      const std::string id = typed;
      test += results.Values(id + "/test").at(seed) / 3;
      short_gain += (results.Values(id + "/short").at(seed) - results.Values("cot/short").at(seed)) / 3;
      long_gain += (results.Values(id + "/long").at(seed) - results.Values("cot/long").at(seed)) / 3;
    }
    results.AddValue("typed/test", seed, test);
    results.AddValue("gain/short", seed, short_gain);
    results.AddValue("gain/long", seed, long_gain);
  }
}

void JudgeClaims(Results& results) {
  // Margins fixed before the first run (README.md).
  for (const char* typed : kTyped) {
    results.AddClaim(Claim{absl::StrCat("C1_", typed, "_beats_cot"),
                           absl::StrCat("Planning tokens typed by ", typed,
                                        " beat plain chain-of-thought fine-tuning."),
                           Quantity::Metric(absl::StrCat(typed, "/test")),
                           Quantity::Metric("cot/test"), Direction::kGreater, 0.02});
  }
  results.AddClaim(Claim{"C2_typed_beats_general",
                         "Typed planning tokens beat the untyped General tokens at equal count.",
                         Quantity::Metric("typed/test"), Quantity::Metric("general/test"),
                         Direction::kGreater, 0.02});
  results.AddClaim(Claim{"C3_sqvae_at_least_kmeans", "SQ-VAE types are at least as good as K-means.",
                         Quantity::Metric("sqvae/test"), Quantity::Metric("kmeans/test"),
                         Direction::kAtLeast, 0.02});
  results.AddClaim(Claim{"C4_gain_grows_with_length",
                         "The gain over plain CoT is larger on long chains (3-4 steps) than on "
                         "short ones (1-2).",
                         Quantity::Metric("gain/long"), Quantity::Metric("gain/short"),
                         Direction::kGreater, 0.0});
  results.AddClaim(Claim{"C5_new_embeddings_small",
                         "The new embeddings add under 1% of the model's parameters.",
                         Quantity::Metric("added_fraction"), Quantity::Constant(0.01),
                         Direction::kLess, 0.0});
}

void DescribePlots(Results& results) {
  nlohmann::json series = nlohmann::json::array();
  for (const Condition& c : kConditions) {
    nlohmann::json metrics = nlohmann::json::array();
    for (int length = kMinSteps; length <= kMaxSteps; ++length) {
      metrics.push_back(absl::StrCat(c.id, "/len", length));
    }
    series.push_back({{"label", c.label}, {"metrics", metrics}});
  }
  results.AddPlot({{"id", "accuracy_by_chain_length"},
                   {"kind", "line"},
                   {"title", "Test exact match by chain length"},
                   {"xlabel", "reasoning steps"},
                   {"ylabel", "exact match"},
                   {"x", {1, 2, 3, 4}},
                   {"series", series},
                   {"size", {6, 4}}});
}

absl::Status Run(const RunContext& ctx, Results& results) {
  LIBRA_ASSIGN_OR_RETURN(Setup setup, OpenSetup(ctx, results));
  for (int seed : ctx.seeds) LIBRA_RETURN_IF_ERROR(TrainConditions(setup, seed, results));
  RecordDerived(ctx, results);
  JudgeClaims(results);
  DescribePlots(results);
  return absl::OkStatus();
}

}  // namespace
}  // namespace libra::papers

int main(int argc, char** argv) {
  return libra::papers::ReproduceMain(
      argc, argv,
      libra::papers::LabPaper("planning_tokens",
                              "Guiding Language Model Reasoning with Planning Tokens", &libra::papers::Run));
}
