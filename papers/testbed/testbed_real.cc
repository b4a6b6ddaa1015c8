// The testbed facts of issue 6 on a real small language model.
//
//   base:    a Llama-family byte-level model pretrained on the instruction-free
//            corpus of the synthetic suite (cached by its configuration)
//   experts: one rank-4 LoRA (q_proj, v_proj) per held-in task
//   merge:   the mean of experts' LoRA deltas (sum_e s_e B_e A_e / E) as a
//            dense delta on each adapted projection
//   score:   teacher-forced token accuracy on the task's test split (main
//            metric at this scale) and exact match of greedy decoding
//   probe:   nearest class mean (standardised features) on the mean over the
//            instruction tokens of the inputs to the adapted projections
//            (the normed hidden states of every layer), base model
//
// One base model serves every seed (it is the shared artifact); a seed sets
// the LoRA initialisation, the data order and the probe's train/test draw.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "papers/common/artifact_cache.h"
#include "papers/common/progress.h"
#include "papers/common/reproduce.h"
#include "papers/common/suite_cache.h"
#include "papers/testbed/nearest_class_mean.h"
#include "src/nn/runtime.h"
#include "src/core/status_macros.h"
#include "src/core/text/byte_tokenizer.h"
#include "src/data/flan_example.h"
#include "src/data/flan_jsonl_reader.h"
#include "src/data/synthetic/suite.h"
#include "src/data/synthetic/tasks.h"
#include "src/nn/adapters.h"
#include "src/nn/checkpoint.h"
#include "src/nn/config.h"
#include "src/nn/eval.h"
#include "src/nn/examples.h"
#include "src/nn/expert.h"
#include "src/nn/model.h"
#include "src/nn/trainer.h"

namespace libra::papers::testbed {
namespace {

using data::FlanExample;

// Bump when a change alters the pretrained base model.
constexpr char kBaseProducerVersion[] = "testbed-base-v1";

struct Config {
  // Base model.
  int64_t hidden = 128;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t intermediate = 384;
  int64_t max_length = 96;
  int pretrain_examples = 20000;
  int64_t pretrain_steps = 1500;
  int64_t pretrain_batch = 32;
  double pretrain_lr = 3e-3;
  // Experts.
  int64_t rank = 4;
  double alpha = 8.0;
  std::vector<std::string> targets = {"q_proj", "v_proj"};
  int train_per_task = 256;
  int64_t expert_steps = 200;
  int64_t expert_batch = 16;
  double expert_lr = 3e-3;
  // Evaluation.
  int test_per_task = 64;
  int probe_train_per_task = 32;
  // Families used (empty: all); quick scale subsamples.
  std::vector<std::string> families;

  nlohmann::json ToJson() const {
    return {{"hidden", hidden},
            {"layers", layers},
            {"heads", heads},
            {"intermediate", intermediate},
            {"max_length", max_length},
            {"pretrain_examples", pretrain_examples},
            {"pretrain_steps", pretrain_steps},
            {"pretrain_batch", pretrain_batch},
            {"pretrain_lr", pretrain_lr},
            {"rank", rank},
            {"alpha", alpha},
            {"targets", targets},
            {"train_per_task", train_per_task},
            {"expert_steps", expert_steps},
            {"expert_batch", expert_batch},
            {"expert_lr", expert_lr},
            {"test_per_task", test_per_task},
            {"probe_train_per_task", probe_train_per_task},
            {"families", families}};
  }
  nlohmann::json BaseKey() const {
    return {{"hidden", hidden},
            {"layers", layers},
            {"heads", heads},
            {"intermediate", intermediate},
            {"max_length", max_length},
            {"pretrain_examples", pretrain_examples},
            {"pretrain_steps", pretrain_steps},
            {"pretrain_batch", pretrain_batch},
            {"pretrain_lr", pretrain_lr}};
  }
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

absl::StatusOr<std::vector<nn::TokenizedExample>> Tokenize(const text::Tokenizer& tokenizer,
                                                           const std::vector<FlanExample>& in,
                                                           int64_t max_length) {
  std::vector<nn::TokenizedExample> out;
  out.reserve(in.size());
  for (const FlanExample& e : in) {
    LIBRA_ASSIGN_OR_RETURN(nn::TokenizedExample t,
                           nn::EncodeExample(tokenizer, e.source, e.target, max_length));
    out.push_back(std::move(t));
  }
  return out;
}

absl::Status PretrainBase(const Config& config, const std::string& pretrain_path,
                          const std::string& dir) {
  text::ByteTokenizer tokenizer;
  LIBRA_ASSIGN_OR_RETURN(std::vector<FlanExample> corpus,
                         data::ReadFlanJsonl(pretrain_path, {}, std::string(data::kTrainSplit)));
  if (static_cast<int>(corpus.size()) > config.pretrain_examples) {
    corpus.resize(config.pretrain_examples);
  }
  LIBRA_ASSIGN_OR_RETURN(std::vector<nn::TokenizedExample> data,
                         Tokenize(tokenizer, corpus, config.max_length));
  nn::ModelConfig mc;
  mc.vocab_size = tokenizer.vocab_size();
  mc.hidden_size = config.hidden;
  mc.intermediate_size = config.intermediate;
  mc.num_hidden_layers = config.layers;
  mc.num_attention_heads = config.heads;
  mc.num_key_value_heads = config.heads;
  mc.max_position_embeddings = config.max_length;
  mc.tie_word_embeddings = true;
  torch::manual_seed(1234);
  nn::CausalLM model(mc);
  nn::TrainOptions options;
  options.learning_rate = config.pretrain_lr;
  options.weight_decay = 0.01;
  options.warmup_steps = config.pretrain_steps / 20;
  options.batch_size = config.pretrain_batch;
  options.max_steps = config.pretrain_steps;
  options.seed = 1234;
  options.log_every = 100;
  auto start = std::chrono::steady_clock::now();
  LIBRA_ASSIGN_OR_RETURN(nn::TrainStats stats, nn::Train(*model, data, options));
  std::fprintf(stderr, "[testbed] pretrained base: %lld steps in %.1f s, last loss %.3f\n",
               static_cast<long long>(stats.steps), Seconds(start), stats.last_loss);
  return nn::SaveCheckpoint(*model, dir);
}

// Records the input of a projection (the normed hidden state) and leaves the
// output unchanged.
class RecordingAdapterImpl : public nn::AdapterImpl {
 public:
  torch::Tensor Forward(const torch::Tensor& x, const torch::Tensor& weight,
                        const torch::Tensor& bias) override {
    last = x.detach();
    return torch::nn::functional::linear(x, weight, bias.defined() ? bias : torch::Tensor());
  }
  torch::Tensor DeltaWeight() override { return torch::Tensor(); }
  std::string kind() const override { return "recording"; }
  torch::Tensor last;
};

struct TaskData {
  std::string name;
  std::string family;
  bool held_out = false;
  std::vector<std::string> related;
  std::vector<FlanExample> train, test;
  std::vector<nn::TokenizedExample> train_tok;
  std::vector<nn::EvalExample> test_eval;
};

struct Score {
  double token_accuracy = 0;
  double exact_match = 0;
};

absl::StatusOr<Score> Evaluate(nn::CausalLMImpl& model, const text::Tokenizer& tokenizer,
                               const TaskData& task) {
  torch::NoGradGuard no_grad;
  nn::GenerateOptions options;
  options.max_new_tokens = 24;
  LIBRA_ASSIGN_OR_RETURN(nn::EvalResult r, nn::Evaluate(model, tokenizer, task.test_eval, options));
  return Score{r.token_accuracy, r.exact_match};
}

// The mean of the experts' deltas on each module, attached as dense deltas.
absl::Status ApplyUniformMerge(nn::CausalLMImpl& model,
                               const std::vector<const std::vector<nn::ExpertModule>*>& experts) {
  std::map<std::string, torch::Tensor> sum;
  for (const auto* expert : experts) {
    for (const nn::ExpertModule& m : *expert) {
      torch::Tensor delta = m.scale * torch::matmul(m.lora_b, m.lora_a);
      auto it = sum.find(m.module);
      if (it == sum.end()) {
        sum.emplace(m.module, delta);
      } else {
        it->second = it->second + delta;
      }
    }
  }
  std::vector<nn::ExpertModule> merged;
  for (auto& [module, delta] : sum) {
    nn::ExpertModule m;
    m.module = module;
    m.kind = nn::ExpertModule::Kind::kDense;
    m.delta = delta / static_cast<double>(experts.size());
    merged.push_back(std::move(m));
  }
  return nn::ApplyExpert(model, merged, /*trainable=*/false);
}

// Mean over the instruction tokens (after <bos>, before <sep>) of every
// adapted projection's input, concatenated over layers.
absl::StatusOr<std::vector<float>> ProbeFeatures(
    nn::CausalLMImpl& model, const std::vector<std::shared_ptr<RecordingAdapterImpl>>& recorders,
    const text::Tokenizer& tokenizer, const std::string& source) {
  torch::NoGradGuard no_grad;
  LIBRA_ASSIGN_OR_RETURN(std::vector<int64_t> prompt, nn::EncodePrompt(tokenizer, source));
  torch::Tensor ids = torch::tensor(prompt, torch::kInt64).unsqueeze(0);
  model.Hidden(ids);
  const int64_t n = static_cast<int64_t>(prompt.size());
  std::vector<float> features;
  for (const auto& r : recorders) {
    torch::Tensor mean = r->last[0].slice(0, 1, std::max<int64_t>(2, n - 1)).mean(0).contiguous();
    const float* p = mean.data_ptr<float>();
    features.insert(features.end(), p, p + mean.numel());
  }
  return features;
}

// $LIBRA_TESTBED_CONFIG (a JSON object) overrides fields for exploration;
// the overridden configuration is what results.json records.
absl::StatusOr<Config> MakeConfig(const RunContext& ctx) {
  Config config;
  if (ctx.quick()) {
    config.families = {"letters", "digits"};
  }
  const char* env = std::getenv("LIBRA_TESTBED_CONFIG");
  if (env == nullptr || *env == '\0') return config;
  nlohmann::json o = nlohmann::json::parse(env, nullptr, /*allow_exceptions=*/false);
  if (!o.is_object()) return absl::InvalidArgumentError("LIBRA_TESTBED_CONFIG: not a JSON object");
  nlohmann::json merged = config.ToJson();
  for (auto& [k, v] : o.items()) {
    if (!merged.contains(k)) {
      return absl::InvalidArgumentError(absl::StrCat("LIBRA_TESTBED_CONFIG: unknown field \"", k, "\""));
    }
    merged[k] = v;
  }
  config.hidden = merged["hidden"];
  config.layers = merged["layers"];
  config.heads = merged["heads"];
  config.intermediate = merged["intermediate"];
  config.max_length = merged["max_length"];
  config.pretrain_examples = merged["pretrain_examples"];
  config.pretrain_steps = merged["pretrain_steps"];
  config.pretrain_batch = merged["pretrain_batch"];
  config.pretrain_lr = merged["pretrain_lr"];
  config.rank = merged["rank"];
  config.alpha = merged["alpha"];
  config.targets = merged["targets"].get<std::vector<std::string>>();
  config.train_per_task = merged["train_per_task"];
  config.expert_steps = merged["expert_steps"];
  config.expert_batch = merged["expert_batch"];
  config.expert_lr = merged["expert_lr"];
  config.test_per_task = merged["test_per_task"];
  config.probe_train_per_task = merged["probe_train_per_task"];
  config.families = merged["families"].get<std::vector<std::string>>();
  return config;
}

absl::Status RunTestbed(const RunContext& ctx, Results& results) {
  ConfigureRuntime(ctx.threads);
  LIBRA_ASSIGN_OR_RETURN(const Config config, MakeConfig(ctx));
  results.SetConfig(config.ToJson());
  text::ByteTokenizer tokenizer;

  // Data: the synthetic suite at quick scale, Flan JSONL from --data at full scale.
  std::string data_dir = ctx.options.data;
  if (data_dir.empty()) {
    data::synthetic::SuiteOptions suite;
    suite.seed = 1;
    suite.train_per_task = config.train_per_task;
    suite.validation_per_task = 16;
    suite.test_per_task = config.test_per_task;
    suite.pretrain.examples = config.pretrain_examples + config.pretrain_examples / 20;
    LIBRA_ASSIGN_OR_RETURN(data_dir, CachedSuite(*ctx.cache, suite));
  }

  // Base model.
  auto start = std::chrono::steady_clock::now();
  std::string base_dir = ctx.options.base_model;
  bool base_hit = true;
  if (base_dir.empty()) {
    nlohmann::json key_config = config.BaseKey();
    key_config["corpus"] = data_dir + "/pretrain.jsonl";
    ArtifactKey key{"base_model", key_config, kBaseProducerVersion};
    LIBRA_ASSIGN_OR_RETURN(
        base_dir, ctx.cache->GetOrBuild(
                      key,
                      [&](const std::string& dir) {
                        return PretrainBase(config, data_dir + "/pretrain.jsonl", dir);
                      },
                      &base_hit));
  }
  const double base_seconds = Seconds(start);
  LIBRA_ASSIGN_OR_RETURN(nn::CausalLM model, nn::LoadCheckpoint(base_dir, torch::kCPU));
  nn::FreezeBase(*model);

  // Tasks.
  std::vector<TaskData> tasks;
  for (const data::synthetic::Task& t : data::synthetic::AllTasks()) {
    if (!config.families.empty() &&
        std::find(config.families.begin(), config.families.end(), t.spec.family) ==
            config.families.end()) {
      continue;
    }
    TaskData task;
    task.name = t.spec.name;
    task.family = t.spec.family;
    task.held_out = t.spec.held_out;
    task.related = t.spec.related;
    std::string path = absl::StrCat(data_dir, "/tasks/", task.name, ".jsonl");
    LIBRA_ASSIGN_OR_RETURN(task.train,
                           data::ReadFlanJsonl(path, {}, std::string(data::kTrainSplit)));
    LIBRA_ASSIGN_OR_RETURN(task.test, data::ReadFlanJsonl(path, {}, std::string(data::kTestSplit)));
    if (static_cast<int>(task.train.size()) > config.train_per_task) {
      task.train.resize(config.train_per_task);
    }
    if (static_cast<int>(task.test.size()) > config.test_per_task) {
      task.test.resize(config.test_per_task);
    }
    LIBRA_ASSIGN_OR_RETURN(task.train_tok, Tokenize(tokenizer, task.train, config.max_length));
    for (const FlanExample& e : task.test) task.test_eval.push_back({e.source, e.target, {}});
    tasks.push_back(std::move(task));
  }
  int n_in = 0, n_out = 0;
  for (const TaskData& t : tasks) (t.held_out ? n_out : n_in) += 1;

  // The base model on every task (the same for every seed: it is one artifact).
  start = std::chrono::steady_clock::now();
  std::vector<Score> base_score(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    LIBRA_ASSIGN_OR_RETURN(base_score[i], Evaluate(*model, tokenizer, tasks[i]));
  }
  const double base_eval_seconds = Seconds(start);

  // Probe features (base model, every adapted layer's projection input).
  std::vector<std::shared_ptr<RecordingAdapterImpl>> recorders;
  for (auto& [name, linear] : model->Linears()) {
    if (name.size() >= 6 && name.substr(name.size() - 6) == "q_proj") {
      auto r = std::make_shared<RecordingAdapterImpl>();
      linear->set_adapter(r);
      recorders.push_back(r);
    }
  }
  std::vector<std::vector<std::vector<float>>> probe_pool(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    // Train examples for the probe's class means, test examples to score.
    for (int k = 0; k < config.probe_train_per_task && k < static_cast<int>(tasks[i].train.size());
         ++k) {
      LIBRA_ASSIGN_OR_RETURN(auto f,
                             ProbeFeatures(*model, recorders, tokenizer, tasks[i].train[k].source));
      probe_pool[i].push_back(std::move(f));
    }
  }
  std::vector<std::vector<std::vector<float>>> probe_test(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    for (const FlanExample& e : tasks[i].test) {
      LIBRA_ASSIGN_OR_RETURN(auto f, ProbeFeatures(*model, recorders, tokenizer, e.source));
      probe_test[i].push_back(std::move(f));
    }
  }
  nn::DetachAdapters(*model);

  std::vector<std::vector<std::string>> timing_rows;
  Progress progress("testbed", static_cast<int>(ctx.seeds.size() * tasks.size()));
  double train_seconds = 0, eval_seconds = 0;
  int64_t total_expert_steps = 0;
  for (int seed : ctx.seeds) {
    double base_in = 0, base_out = 0, base_best = 0, base_in_em = 0, base_out_em = 0;
    for (size_t i = 0; i < tasks.size(); ++i) {
      (tasks[i].held_out ? base_out : base_in) += base_score[i].token_accuracy;
      (tasks[i].held_out ? base_out_em : base_in_em) += base_score[i].exact_match;
      base_best = std::max(base_best, base_score[i].token_accuracy);
    }
    results.AddValue("base/held_in", seed, base_in / n_in);
    results.AddValue("base/held_out", seed, base_out / n_out);
    results.AddValue("base/best_task", seed, base_best);
    results.AddValue("base/held_in_em", seed, base_in_em / n_in);
    results.AddValue("base/held_out_em", seed, base_out_em / n_out);

    // Fact 2: one expert per held-in task, on its own task.
    std::map<std::string, std::vector<nn::ExpertModule>> experts;
    double own = 0, own_min = 1, own_em = 0;
    for (size_t i = 0; i < tasks.size(); ++i) {
      if (tasks[i].held_out) continue;
      nn::AdapterConfig adapter;
      adapter.lora.rank = config.rank;
      adapter.lora.alpha = config.alpha;
      adapter.targets.names = config.targets;
      LIBRA_RETURN_IF_ERROR(
          nn::AttachAdapters(*model, adapter, static_cast<uint64_t>(seed) * 1000 + i).status());
      nn::TrainOptions options;
      options.learning_rate = config.expert_lr;
      options.batch_size = config.expert_batch;
      options.max_steps = config.expert_steps;
      options.warmup_steps = config.expert_steps / 10;
      options.seed = static_cast<uint64_t>(seed) * 1000 + i;
      options.progress = false;
      auto t0 = std::chrono::steady_clock::now();
      LIBRA_RETURN_IF_ERROR(nn::Train(*model, tasks[i].train_tok, options).status());
      train_seconds += Seconds(t0);
      total_expert_steps += config.expert_steps;
      t0 = std::chrono::steady_clock::now();
      LIBRA_ASSIGN_OR_RETURN(Score s, Evaluate(*model, tokenizer, tasks[i]));
      eval_seconds += Seconds(t0);
      experts[tasks[i].name] = nn::ExtractExpert(*model);
      nn::DetachAdapters(*model);
      own += s.token_accuracy;
      own_em += s.exact_match;
      own_min = std::min(own_min, s.token_accuracy);
      results.AddValue(absl::StrCat("expert/", tasks[i].name), seed, s.token_accuracy);
      progress.Advance(absl::StrCat("seed ", seed, " ", tasks[i].name));
    }
    results.AddValue("expert/own_task", seed, own / n_in);
    results.AddValue("expert/own_task_worst", seed, own_min);
    results.AddValue("expert/own_task_em", seed, own_em / n_in);

    // Facts 3 and 4: held-out tasks under uniform merges of unrelated (other
    // families') and related (the task's `related` list) experts.
    double unrelated = 0, related = 0, family = 0, unrelated_em = 0, related_em = 0;
    for (size_t i = 0; i < tasks.size(); ++i) {
      if (!tasks[i].held_out) continue;
      std::vector<const std::vector<nn::ExpertModule>*> rel, unrel, fam;
      for (const TaskData& t : tasks) {
        if (t.held_out) continue;
        const auto* e = &experts.at(t.name);
        if (t.family != tasks[i].family) unrel.push_back(e);
        if (t.family == tasks[i].family) fam.push_back(e);
        if (std::find(tasks[i].related.begin(), tasks[i].related.end(), t.name) !=
            tasks[i].related.end()) {
          rel.push_back(e);
        }
      }
      auto t0 = std::chrono::steady_clock::now();
      LIBRA_RETURN_IF_ERROR(ApplyUniformMerge(*model, unrel));
      LIBRA_ASSIGN_OR_RETURN(Score su, Evaluate(*model, tokenizer, tasks[i]));
      LIBRA_RETURN_IF_ERROR(ApplyUniformMerge(*model, rel));
      LIBRA_ASSIGN_OR_RETURN(Score sr, Evaluate(*model, tokenizer, tasks[i]));
      LIBRA_RETURN_IF_ERROR(ApplyUniformMerge(*model, fam));
      LIBRA_ASSIGN_OR_RETURN(Score sf, Evaluate(*model, tokenizer, tasks[i]));
      nn::DetachAdapters(*model);
      eval_seconds += Seconds(t0);
      unrelated += su.token_accuracy;
      related += sr.token_accuracy;
      family += sf.token_accuracy;
      unrelated_em += su.exact_match;
      related_em += sr.exact_match;
      progress.Advance(absl::StrCat("seed ", seed, " ", tasks[i].name));
    }
    results.AddValue("held_out/unrelated_merge", seed, unrelated / n_out);
    results.AddValue("held_out/related_merge", seed, related / n_out);
    results.AddValue("held_out/family_merge", seed, family / n_out);
    results.AddValue("held_out/unrelated_merge_em", seed, unrelated_em / n_out);
    results.AddValue("held_out/related_merge_em", seed, related_em / n_out);

    // Fact 5: the probe, class means from a seed-dependent draw of the pool.
    std::vector<std::vector<std::vector<float>>> probe_train(tasks.size());
    for (size_t i = 0; i < tasks.size(); ++i) {
      std::vector<size_t> order(probe_pool[i].size());
      for (size_t k = 0; k < order.size(); ++k) order[k] = k;
      std::mt19937_64 rng(static_cast<uint64_t>(seed) * 7919 + i);
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t k = 0; k < order.size() / 2 + 1 && k < order.size(); ++k) {
        probe_train[i].push_back(probe_pool[i][order[k]]);
      }
    }
    results.AddValue("probe/task_accuracy", seed,
                     NearestClassMeanAccuracy(probe_train, probe_test));
  }
  progress.Finish();

  const double per_step_ms = total_expert_steps ? 1000.0 * train_seconds / total_expert_steps : 0;
  timing_rows.push_back({"base model", base_hit ? "cache hit" : "pretrained",
                         absl::StrFormat("%.1f s", base_seconds)});
  timing_rows.push_back({"base evaluation (all tasks)", "", absl::StrFormat("%.1f s", base_eval_seconds)});
  timing_rows.push_back({"expert training", absl::StrFormat("%lld steps, %.1f ms/step",
                                                            static_cast<long long>(total_expert_steps),
                                                            per_step_ms),
                         absl::StrFormat("%.1f s", train_seconds)});
  timing_rows.push_back({"expert and merge evaluation", "", absl::StrFormat("%.1f s", eval_seconds)});
  results.AddTable("Timings (this run)", {"stage", "detail", "time"}, timing_rows);

  std::vector<std::string> family_names;
  for (const TaskData& t : tasks) {
    if (std::find(family_names.begin(), family_names.end(), t.family) == family_names.end()) {
      family_names.push_back(t.family);
    }
  }
  results.SetSetup(absl::StrFormat(
      "Base: Llama-family byte-level model, d_model %lld, %lld layers, %lld heads, pretrained "
      "%lld steps (batch %lld) on %d lines of the instruction-free corpus, target-only loss; "
      "one base for every seed (cached by its configuration). Tasks: families %s (%d held-in, "
      "%d held-out)%s. Experts: LoRA rank %lld (alpha %.0f) on %s, %lld steps, batch %lld, lr %g, "
      "%d training examples per task. Scores on %d test examples per task: teacher-forced token "
      "accuracy (main) and exact match of greedy decoding. Merge: the mean of the experts' LoRA "
      "deltas. Probe: nearest class mean (standardised) on the mean instruction-token input of "
      "every layer's q_proj in the base model.",
      static_cast<long long>(config.hidden), static_cast<long long>(config.layers),
      static_cast<long long>(config.heads), static_cast<long long>(config.pretrain_steps),
      static_cast<long long>(config.pretrain_batch), config.pretrain_examples,
      absl::StrJoin(family_names, ", "), n_in, n_out,
      config.families.empty() ? "" : " (quick scale: a subsample of the suite's 4 families)",
      static_cast<long long>(config.rank), config.alpha, absl::StrJoin(config.targets, ", "),
      static_cast<long long>(config.expert_steps), static_cast<long long>(config.expert_batch),
      config.expert_lr, config.train_per_task, config.test_per_task));

  results.DescribeMetric("base/held_in", "base model token accuracy, mean over held-in tasks");
  results.DescribeMetric("base/held_out", "base model token accuracy, mean over held-out tasks");
  results.DescribeMetric("base/best_task", "base model token accuracy on its best task");
  results.DescribeMetric("expert/own_task", "each held-in expert on its own task, token accuracy");
  results.DescribeMetric("expert/own_task_worst", "the worst held-in expert on its own task");
  results.DescribeMetric("expert/own_task_em", "each held-in expert on its own task, exact match");
  results.DescribeMetric("held_out/unrelated_merge",
                         "held-out tasks, uniform merge of the other families' experts");
  results.DescribeMetric("held_out/related_merge",
                         "held-out tasks, uniform merge of the task's related experts");
  results.DescribeMetric("held_out/family_merge",
                         "held-out tasks, uniform merge of the own family's experts");
  results.DescribeMetric("probe/task_accuracy",
                         "nearest-class-mean probe on base hidden states, task identity");

  auto add = [&](const std::string& id, const std::string& statement, Quantity a, Quantity b,
                 Direction d, double margin) {
    return Claim{id, statement, std::move(a), std::move(b), d, margin};
  };
  results.AddClaim(add("base_poor",
                       "The base model alone is poor at every task (best task token accuracy "
                       "below 0.6).",
                       Quantity::Metric("base/best_task"), Quantity::Constant(0.6),
                       Direction::kLess, 0.0));
  results.AddClaim(add("expert_good",
                       "One expert trained on a task is good at it (mean own-task token accuracy "
                       "above 0.9).",
                       Quantity::Metric("expert/own_task"), Quantity::Constant(0.9),
                       Direction::kGreater, 0.0));
  results.AddClaim(add("unrelated_no_help",
                       "Experts of unrelated tasks do not help on held-out tasks (at most base "
                       "+ 0.02 token accuracy).",
                       Quantity::Metric("held_out/unrelated_merge"),
                       Quantity::Metric("base/held_out"), Direction::kAtMost, 0.02));
  results.AddClaim(add("related_help",
                       "Experts of related tasks help on held-out tasks (by more than 0.05 token "
                       "accuracy).",
                       Quantity::Metric("held_out/related_merge"),
                       Quantity::Metric("base/held_out"), Direction::kGreater, 0.05));
  results.AddClaim(add("task_decodable",
                       "The task is linearly decodable from the hidden states at the adapted "
                       "layers (probe accuracy above 0.9).",
                       Quantity::Metric("probe/task_accuracy"), Quantity::Constant(0.9),
                       Direction::kGreater, 0.0));

  results.AddPlot({{"id", "facts"},
                   {"kind", "bar"},
                   {"title", "Testbed facts, mean ± std over seeds"},
                   {"ylabel", "token accuracy on test examples"},
                   {"categories", {"held-in", "held-out"}},
                   {"series",
                    {{{"label", "base"}, {"metrics", {"base/held_in", "base/held_out"}}},
                     {{"label", "own expert"}, {"metrics", {"expert/own_task", nullptr}}},
                     {{"label", "merge of unrelated experts"},
                      {"metrics", {nullptr, "held_out/unrelated_merge"}}},
                     {{"label", "merge of related experts"},
                      {"metrics", {nullptr, "held_out/related_merge"}}},
                     {{"label", "merge of family experts"},
                      {"metrics", {nullptr, "held_out/family_merge"}}}}}});
  std::vector<std::string> categories;
  nlohmann::json base_metrics = nlohmann::json::array(), expert_metrics = nlohmann::json::array();
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (tasks[i].held_out) continue;
    categories.push_back(tasks[i].name);
    std::string m = absl::StrCat("base_task/", tasks[i].name);
    for (int seed : ctx.seeds) results.AddValue(m, seed, base_score[i].token_accuracy);
    base_metrics.push_back(m);
    expert_metrics.push_back(absl::StrCat("expert/", tasks[i].name));
  }
  results.AddPlot({{"id", "held_in_tasks"},
                   {"kind", "bar"},
                   {"title", "Held-in tasks: base vs own expert"},
                   {"ylabel", "token accuracy"},
                   {"xrotation", 45},
                   {"size", {10, 4}},
                   {"categories", categories},
                   {"series",
                    {{{"label", "base"}, {"metrics", base_metrics}},
                     {{"label", "own expert"}, {"metrics", expert_metrics}}}}});
  return absl::OkStatus();
}

}  // namespace
}  // namespace libra::papers::testbed

int main(int argc, char** argv) {
  return libra::papers::ReproduceMain(
      argc, argv, {"testbed", "Testbed facts (small Llama-family model, LoRA experts)",
                   &libra::papers::testbed::RunTestbed});
}
