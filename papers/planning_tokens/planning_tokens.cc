// Paper (c): "Guiding Language Model Reasoning with Planning Tokens"
// (Wang et al., COLM 2024): at quick scale on synthetic multi-step
// arithmetic chains, at full scale on GSM8K with a Hugging Face checkpoint
// (README.md).
//
// The method: infer a type for every reasoning step (Arithmetic: its
// operators; K-means or SQ-VAE on the frozen base's step embeddings), put
// planning tokens before each step, and fine-tune (LoRA plus the new
// tokens' rows, or every parameter) so that the model writes its plan
// before each step. Plain chain-of-thought fine-tuning and the untyped
// General tokens are the controls. Stages: OpenSetup (base, data, step
// embeddings), then per seed InferStepTypes and TrainConditions, then
// derived metrics, claims and plots.
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
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "nlohmann/json.hpp"
#include "papers/common/config_override.h"
#include "papers/common/reproduce.h"
#include "papers/common/results.h"
#include "papers/lab/testbed_lab.h"
#include "papers/planning_tokens/arithmetic_base.h"
#include "src/core/cluster/partition_agreement.h"
#include "src/core/io/atomic_file.h"
#include "src/core/status_macros.h"
#include "src/core/text/model_tokenizer.h"
#include "src/data/gsm8k.h"
#include "src/data/planning_tokens.h"
#include "src/data/synthetic/arithmetic_chains.h"
#include "src/nn/adapters.h"
#include "src/nn/checkpoint.h"
#include "src/nn/config.h"
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
constexpr uint64_t kDataSeed = 7;
// Planning tokens: one prefix and one token per type (General: two prefixes,
// the same count, untyped); K = 5 types for K-means and SQ-VAE.
constexpr int kPrefix = 1, kSpecial = 1, kTypes = 5;
// SQ-VAE, narrower than the authors' 512/64 for a 64-wide base.
constexpr int64_t kVaeHidden = 64, kVaeCode = 16;
constexpr double kVaeLearningRate = 1e-3;

// Data sizes, fine-tuning and evaluation, fixed per scale before the run;
// $LIBRA_PLANNING_TOKENS_CONFIG (a JSON object) overrides fields for
// exploration (and the full-scale test's few steps). results.json records
// the configuration used.
struct PlanningConfig {
  // Quick: synthetic problems per split (test: per chain length). Full:
  // `train` caps train.jsonl (0: all), the last `dev` of its lines are the
  // dev split, and `test` caps test.jsonl (0: all).
  int train = 300, dev = 12, test = 10;
  // The same for every condition: LoRA r 16, alpha 16 on the MLP
  // projections (the paper's), plus the new tokens' rows; `rounds` rounds of
  // `round_steps`, the round chosen on dev. Full fine-tuning trains every
  // parameter at `full_lr`, a tenth of LoRA's (the usual ratio; the paper
  // gives no rate for it).
  int rounds = 2;
  int64_t round_steps = 100, batch = 8;
  double lr = 3e-3, full_lr = 3e-4;
  int64_t lora_rank = 16;
  double lora_alpha = 16.0;
  int64_t max_length = 256, max_new_tokens = 80;
  // C4's buckets: chains of at most `short_max` steps are short.
  int short_max = 2;

  NLOHMANN_DEFINE_TYPE_INTRUSIVE_WITH_DEFAULT(PlanningConfig, train, dev, test, rounds,
                                              round_steps, batch, lr, full_lr, lora_rank,
                                              lora_alpha, max_length, max_new_tokens, short_max)
};

// Standard scale: twice the chains, dev twice as large, and six times the
// fine-tuning examples of quick (batch 32, 3 rounds of 100 steps).
PlanningConfig StandardScaleConfig() {
  PlanningConfig c;
  c.train = 600;
  c.dev = 24;
  c.rounds = 3;
  c.batch = 32;
  return c;
}

// Full scale: GSM8K with a Hugging Face checkpoint, the authors' LoRA
// learning rate (2e-4) and longer solutions.
PlanningConfig FullScaleConfig() {
  PlanningConfig c;
  c.train = 0;
  c.dev = 100;
  c.test = 0;
  c.rounds = 3;
  c.round_steps = 1000;
  c.lr = 2e-4;
  c.full_lr = 2e-5;
  c.max_length = 512;
  c.max_new_tokens = 256;
  c.short_max = 3;
  return c;
}

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
  PlanningConfig config;
  std::string base_dir;   // its tokenizer.json, when it has one, is the tokenizer
  std::string base_text;  // what the report says of the base
  std::vector<Gsm8kExample> train, dev, test;
  std::vector<int> lengths;                    // the chain lengths test has, ascending
  std::vector<torch::Tensor> step_embeddings;  // per train example [steps, hidden]
  std::vector<std::string> true_operators;     // per train step, flattened: its operators
};

// The base's folder; `reused` tells whether it was there already (a given
// --base_model always is). Quick scale checks that a given folder is this
// paper's base.
absl::StatusOr<std::string> OpenBase(const RunContext& ctx, const ArithmeticBaseConfig& config,
                                     bool* reused) {
  *reused = true;
  if (ctx.options.base_model.empty()) return CachedArithmeticBase(*ctx.cache, config, reused);
  const std::string dir = ctx.options.base_model;
  if (ctx.full()) return dir;
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

// The base's single-step exact match from its pretrain.json.
std::string BaseCompetence(const nlohmann::json& report) {
  if (!report.is_object() || !report.contains("single_step_exact_match_train_phrasings")) {
    return "unknown";
  }
  return absl::StrFormat("%.3f in training phrasings, %.3f in held-out phrasings",
                         report.value("single_step_exact_match_train_phrasings", 0.0),
                         report.value("single_step_exact_match_heldout_phrasings", 0.0));
}

// Quick scale: the synthetic chains and the cached arithmetic base.
absl::Status OpenQuickData(const RunContext& ctx, Setup& s, Results& results) {
  const ArithmeticBaseConfig base_config;
  const auto base_start = std::chrono::steady_clock::now();
  bool reused = true;
  LIBRA_ASSIGN_OR_RETURN(s.base_dir, OpenBase(ctx, base_config, &reused));
  results.AddStageTime(reused ? "base model (reused)" : "base model (pretrained)",
                       SecondsSince(base_start));
  const auto options = ChainOptions(base_config, kDataSeed, kMinSteps, kMaxSteps);
  s.train = data::synthetic::ArithmeticChains(options, "train", s.config.train);
  s.dev = data::synthetic::ArithmeticChains(options, "validation", s.config.dev);
  for (int length = kMinSteps; length <= kMaxSteps; ++length) {
    auto one = ChainOptions(base_config, kDataSeed, length, length);
    for (Gsm8kExample& e : data::synthetic::ArithmeticChains(one, "test", s.config.test)) {
      s.test.push_back(std::move(e));
    }
  }
  auto pretrain = ReadFile(s.base_dir + "/pretrain.json");
  const nlohmann::json report =
      pretrain.ok() ? nlohmann::json::parse(*pretrain, nullptr, false) : nlohmann::json();
  s.base_text = absl::StrCat(
      "Base: byte-level Llama, hidden ", base_config.hidden, ", ", base_config.layers,
      " layers, pretrained ", base_config.steps, " steps on single-step problems; greedy exact "
      "match on single-step test problems: ", BaseCompetence(report), ".");
  return absl::OkStatus();
}

// Full scale: DIR/train.jsonl and DIR/test.jsonl in GSM8K format, and the
// checkpoint given by --base_model.
absl::Status OpenFullData(const RunContext& ctx, Setup& s) {
  s.base_dir = ctx.options.base_model;
  LIBRA_ASSIGN_OR_RETURN(s.train, data::ReadGsm8kJsonl(ctx.options.data + "/train.jsonl"));
  LIBRA_ASSIGN_OR_RETURN(s.test, data::ReadGsm8kJsonl(ctx.options.data + "/test.jsonl"));
  const PlanningConfig& c = s.config;
  if (static_cast<int>(s.train.size()) <= c.dev) {
    return absl::InvalidArgumentError(absl::StrCat(
        ctx.options.data, "/train.jsonl: ", s.train.size(), " problems; the dev split alone takes ",
        c.dev, " (the file's last lines)"));
  }
  s.dev.assign(s.train.end() - c.dev, s.train.end());
  s.train.resize(s.train.size() - c.dev);
  if (c.train > 0 && static_cast<int>(s.train.size()) > c.train) s.train.resize(c.train);
  if (c.test > 0 && static_cast<int>(s.test.size()) > c.test) s.test.resize(c.test);
  if (s.test.empty()) return absl::InvalidArgumentError(ctx.options.data + "/test.jsonl: no problems");
  LIBRA_ASSIGN_OR_RETURN(nn::ModelConfig mc, nn::ReadModelConfig(s.base_dir + "/config.json"));
  s.base_text = absl::StrCat("Base: the checkpoint ", s.base_dir, " (", mc.model_type, ", hidden ",
                             mc.hidden_size, ", ", mc.num_hidden_layers, " layers). Data: ",
                             ctx.options.data, " (GSM8K format; the last ", c.dev,
                             " train lines are the dev split).");
  return absl::OkStatus();
}

absl::StatusOr<Setup> OpenSetup(const RunContext& ctx, Results& results) {
  Setup s;
  s.config = ctx.full() ? FullScaleConfig() : ctx.standard() ? StandardScaleConfig() : PlanningConfig();
  LIBRA_RETURN_IF_ERROR(OverrideConfigFromEnvironment(s.config, "LIBRA_PLANNING_TOKENS_CONFIG"));
  if (ctx.full()) {
    LIBRA_RETURN_IF_ERROR(OpenFullData(ctx, s));
  } else {
    if (!ctx.options.data.empty()) {
      return absl::InvalidArgumentError("planning_tokens: --data is for --scale full (GSM8K)");
    }
    LIBRA_RETURN_IF_ERROR(OpenQuickData(ctx, s, results));
  }
  for (const Gsm8kExample& e : s.test) s.lengths.push_back(e.chain_length);
  std::sort(s.lengths.begin(), s.lengths.end());
  s.lengths.erase(std::unique(s.lengths.begin(), s.lengths.end()), s.lengths.end());
  // Step embeddings of the frozen base, once (they do not depend on the
  // seed); the true labels are each step's operators (Arithmetic's types).
  LIBRA_ASSIGN_OR_RETURN(nn::CausalLM base, nn::LoadCheckpoint(s.base_dir, torch::kCPU));
  base->eval();
  LIBRA_ASSIGN_OR_RETURN(std::unique_ptr<text::Tokenizer> tokenizer,
                         text::LoadModelTokenizer(s.base_dir));
  LIBRA_RETURN_IF_ERROR(
      text::CheckTokenizerFitsModel(*tokenizer, base->config().vocab_size, s.base_dir));
  for (const Gsm8kExample& e : s.train) {
    std::vector<std::pair<int64_t, int64_t>> spans;
    LIBRA_ASSIGN_OR_RETURN(std::vector<int64_t> ids, ChainIds(*tokenizer, e, spans));
    LIBRA_ASSIGN_OR_RETURN(torch::Tensor embeddings, nn::StepEmbeddings(*base, ids, spans));
    s.step_embeddings.push_back(embeddings);
    for (const std::string& step : e.steps) {
      s.true_operators.push_back(absl::StrJoin(data::ArithmeticTypes(step), " "));
    }
  }
  results.SetConfig({{"base", ctx.full() ? nlohmann::json(s.base_dir)
                                         : ArithmeticBaseDefinition(ArithmeticBaseConfig())},
                     {"planning", s.config}, {"n_prefix", kPrefix}, {"n_special", kSpecial},
                     {"types", kTypes}});
  results.SetSetup(absl::StrCat(s.base_text, " Train ", s.train.size(), " chains, dev ",
                                s.dev.size(), ", test ", s.test.size(), "."));
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

// Labels as integers, equal labels equal integers (for NMI).
std::vector<int> LabelIndices(const std::vector<std::string>& labels) {
  std::map<std::string, int> index;
  std::vector<int> out;
  for (const std::string& label : labels) {
    out.push_back(index.emplace(label, static_cast<int>(index.size())).first->second);
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
  const std::vector<int> truth = LabelIndices(s.true_operators);
  LIBRA_ASSIGN_OR_RETURN(double kmeans_nmi, cluster::NormalizedMutualInformation(kmeans, truth));
  LIBRA_ASSIGN_OR_RETURN(double sqvae_nmi, cluster::NormalizedMutualInformation(sqvae, truth));
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

// A new token's key word: "<plus_0>" -> "plus".
std::string KeyWord(const std::string& token) { return token.substr(1, token.rfind('_') - 1); }

struct Model {
  nn::CausalLM model{nullptr};
  std::unique_ptr<text::Tokenizer> tokenizer;
  std::vector<nn::TokenizedExample> train;
  double added_fraction = 0;
};

// The base with the condition's planning tokens (in the tokenizer and as new
// rows) and a fresh LoRA, or every parameter trainable (`full`); and the
// condition's training targets.
absl::StatusOr<Model> PrepareModel(const Setup& s, Method method,
                                   const std::vector<StepTypes>* types, int seed, bool full) {
  Model m;
  LIBRA_ASSIGN_OR_RETURN(m.model, nn::LoadCheckpoint(s.base_dir, torch::kCPU));
  LIBRA_ASSIGN_OR_RETURN(m.tokenizer, text::LoadModelTokenizer(s.base_dir));
  const data::PlanningOptions options = OptionsFor(method);
  if (method != Method::kPlain) {
    std::vector<std::string> all;
    for (const StepTypes& example : *types) {
      for (const auto& step : example) all.insert(all.end(), step.begin(), step.end());
    }
    const std::vector<std::string> vocab = data::PlanningVocabulary(all, options);
    std::vector<std::string> words;
    for (const std::string& token : vocab) words.push_back(KeyWord(token));
    int64_t base_parameters = 0;
    for (const auto& [name, p] : nn::BaseStateDict(*m.model)) base_parameters += p.numel();
    LIBRA_RETURN_IF_ERROR(nn::AddPlanningTokens(*m.model, *m.tokenizer, vocab, words).status());
    m.added_fraction = static_cast<double>(nn::AddedTokenParameters(*m.model)) / base_parameters;
  }
  for (size_t i = 0; i < s.train.size(); ++i) {
    const Gsm8kExample& e = s.train[i];
    const std::string target = method == Method::kPlain
                                   ? data::PlainChain(e.steps, e.answer)
                                   : data::PlannedChain(e.steps, (*types)[i], e.answer, options);
    LIBRA_ASSIGN_OR_RETURN(nn::TokenizedExample t,
                           nn::EncodeExample(*m.tokenizer, e.question, target, s.config.max_length));
    m.train.push_back(std::move(t));
  }
  if (full) return m;  // every parameter trains, the new rows included
  nn::AdapterConfig lora;
  lora.lora.rank = s.config.lora_rank;
  lora.lora.alpha = s.config.lora_alpha;
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

// Trains config.rounds rounds; after each, exact match on dev, and on test
// when dev improved; the round best on dev (the earliest on ties) is
// reported, test never chooses.
absl::StatusOr<Scores> TrainAndScore(const Setup& s, Model& m, Method method, int seed, bool full) {
  // The prompt ends with the first step's prefix tokens (no type tokens).
  const std::string prompt_suffix =
      method == Method::kPlain ? "" : data::StepPlan({}, {OptionsFor(method).n_prefix, 0});
  const PlanningConfig& c = s.config;
  Scores best;
  for (int round = 1; round <= c.rounds; ++round) {
    nn::TrainOptions train;
    train.learning_rate = full ? c.full_lr : c.lr;
    train.schedule = nn::Schedule::kConstant;
    train.batch_size = c.batch;
    train.max_steps = c.round_steps;
    train.seed = static_cast<uint64_t>(seed) * 100 + round;
    train.progress = false;
    LIBRA_RETURN_IF_ERROR(nn::Train(*m.model, m.train, train).status());
    LIBRA_ASSIGN_OR_RETURN(std::vector<bool> dev, SolveGreedily(*m.model, *m.tokenizer, s.dev,
                                                                prompt_suffix, c.max_new_tokens));
    if (Fraction(dev) <= best.dev) continue;
    std::vector<std::string> texts;
    LIBRA_ASSIGN_OR_RETURN(best.test_verdicts,
                           SolveGreedily(*m.model, *m.tokenizer, s.test, prompt_suffix,
                                         c.max_new_tokens, &texts));
    best.dev = Fraction(dev);
    best.test = Fraction(best.test_verdicts);
    best.round = round;
    best.sample = texts.back();
  }
  return best;
}

void RecordScores(const Setup& s, const std::string& id, const Scores& scores, int seed,
                  Results& results) {
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
    auto& bucket = length <= s.config.short_max ? short_chains : long_chains;
    bucket.first += ok;
    bucket.second += 1;
  }
  for (const auto& [length, counts] : by_length) {
    results.AddValue(absl::StrCat(id, "/len", length), seed,
                     static_cast<double>(counts.first) / counts.second);
  }
  // An empty bucket (a test set without long chains) scores 0.
  auto fraction = [](std::pair<int, int> b) { return b.second ? double(b.first) / b.second : 0.0; };
  results.AddValue(id + "/short", seed, fraction(short_chains));
  results.AddValue(id + "/long", seed, fraction(long_chains));
}

// One condition: prepare, train, score, record (and a sample for seed 1).
absl::StatusOr<Scores> RunCondition(const Setup& s, const std::string& id, const std::string& label,
                                    Method method, const std::vector<StepTypes>* types, bool full,
                                    int seed, Results& results, double* added_fraction) {
  const auto start = std::chrono::steady_clock::now();
  LIBRA_ASSIGN_OR_RETURN(Model m, PrepareModel(s, method, types, seed, full));
  *added_fraction = std::max(*added_fraction, m.added_fraction);
  LIBRA_ASSIGN_OR_RETURN(Scores scores, TrainAndScore(s, m, method, seed, full));
  RecordScores(s, id, scores, seed, results);
  if (seed == 1) {
    results.AddNote(absl::StrCat("A ", label, " solution (seed 1, last test problem): `",
                                 absl::StrReplaceAll(scores.sample, {{"\n", "⏎"}}), "`"));
  }
  // One stage per condition; the seeds add up.
  results.AddStageTime(absl::StrCat(label, " training"), SecondsSince(start));
  return scores;
}

// The LoRA conditions, then full fine-tuning of plain CoT and of the typed
// variant best on dev under LoRA (this seed's; ties: the first of kTyped).
absl::Status TrainConditions(const Setup& s, int seed, Results& results) {
  LIBRA_ASSIGN_OR_RETURN(auto types, InferStepTypes(s, seed, results));
  double added_fraction = 0;
  // The typed conditions come in kTyped's order; `best_index` indexes kTyped.
  const Condition* best = nullptr;
  double best_dev = -1;
  int best_index = 0, typed_index = 0;
  for (const Condition& c : kConditions) {
    const std::vector<StepTypes>* condition_types =
        c.method == Method::kPlain ? nullptr : &types.at(c.method);
    LIBRA_ASSIGN_OR_RETURN(Scores scores, RunCondition(s, c.id, c.label, c.method, condition_types,
                                                       /*full=*/false, seed, results,
                                                       &added_fraction));
    if (c.method == Method::kPlain || c.method == Method::kGeneral) continue;
    if (scores.dev > best_dev) {
      best = &c;
      best_dev = scores.dev;
      best_index = typed_index;
    }
    ++typed_index;
  }
  LIBRA_RETURN_IF_ERROR(RunCondition(s, "full_cot", "full fine-tuning, plain CoT", Method::kPlain,
                                     nullptr, /*full=*/true, seed, results, &added_fraction)
                            .status());
  LIBRA_RETURN_IF_ERROR(RunCondition(s, "full_typed", "full fine-tuning, best typed",
                                     best->method, &types.at(best->method), /*full=*/true, seed,
                                     results, &added_fraction)
                            .status());
  results.AddValue("full_typed/method", seed, best_index);
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

void JudgeClaims(const Setup& s, Results& results) {
  // Margins fixed before the first run (README.md).
  for (const char* typed : kTyped) {
    results.AddClaim(Claim{absl::StrCat("C1_", typed, "_beats_cot"),
                           absl::StrCat("Planning tokens typed by ", typed,
                                        " beat plain chain-of-thought fine-tuning."),
                           Quantity::Metric(absl::StrCat(typed, "/test")),
                           Quantity::Metric("cot/test"), Direction::kGreater, 0.02});
  }
  results.AddClaim(Claim{"C1_full_typed_beats_cot",
                         "Under full fine-tuning too, the typed variant best on dev beats plain "
                         "chain-of-thought fine-tuning.",
                         Quantity::Metric("full_typed/test"), Quantity::Metric("full_cot/test"),
                         Direction::kGreater, 0.02});
  results.AddClaim(Claim{"C2_typed_beats_general",
                         "Typed planning tokens beat the untyped General tokens at equal count.",
                         Quantity::Metric("typed/test"), Quantity::Metric("general/test"),
                         Direction::kGreater, 0.02});
  results.AddClaim(Claim{"C3_sqvae_at_least_kmeans", "SQ-VAE types are at least as good as K-means.",
                         Quantity::Metric("sqvae/test"), Quantity::Metric("kmeans/test"),
                         Direction::kAtLeast, 0.02});
  results.AddClaim(Claim{"C4_gain_grows_with_length",
                         absl::StrCat("The gain over plain CoT is larger on long chains (more than ",
                                      s.config.short_max, " steps) than on short ones."),
                         Quantity::Metric("gain/long"), Quantity::Metric("gain/short"),
                         Direction::kGreater, 0.0});
  results.AddClaim(Claim{"C5_new_embeddings_small",
                         "The new embeddings add under 1% of the model's parameters.",
                         Quantity::Metric("added_fraction"), Quantity::Constant(0.01),
                         Direction::kLess, 0.0});
}

void DescribePlots(const Setup& s, Results& results) {
  nlohmann::json series = nlohmann::json::array();
  for (const Condition& c : kConditions) {
    nlohmann::json metrics = nlohmann::json::array();
    for (int length : s.lengths) metrics.push_back(absl::StrCat(c.id, "/len", length));
    series.push_back({{"label", c.label}, {"metrics", metrics}});
  }
  results.AddPlot({{"id", "accuracy_by_chain_length"},
                   {"kind", "line"},
                   {"title", "Test exact match by chain length"},
                   {"xlabel", "reasoning steps"},
                   {"ylabel", "exact match"},
                   {"x", s.lengths},
                   {"series", series},
                   {"size", {6, 4}}});
}

absl::Status Run(const RunContext& ctx, Results& results) {
  LIBRA_ASSIGN_OR_RETURN(Setup setup, OpenSetup(ctx, results));
  for (int seed : ctx.seeds) LIBRA_RETURN_IF_ERROR(TrainConditions(setup, seed, results));
  RecordDerived(ctx, results);
  JudgeClaims(setup, results);
  DescribePlots(setup, results);
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
