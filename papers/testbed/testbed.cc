// The testbed facts of issue 6 on a real small language model.
//
//   base:    a Llama-family byte-level model pretrained on the instruction-free
//            corpus of the synthetic suite (papers/lab/testbed_lab.h)
//   experts: one LoRA per held-in task (the lab's configuration)
//   merge:   the mean of experts' LoRA deltas as a dense delta on each
//            adapted projection
//   score:   teacher-forced token accuracy on the task's test split (main
//            metric at this scale); exact match of greedy decoding for the
//            experts on their own task
//   probe:   a linear probe (softmax regression; nearest class mean as a
//            second, untrained one) on the mean over the instruction tokens
//            of the inputs to the adapted projections (the normed hidden
//            states of every layer), base model
//
// One base model serves every seed (it is the shared artifact); a seed sets
// the LoRA initialisation, the data order and the probe's train/test draw.
//
// Run: OpenSetup, TrainExperts, ScoreBase, CollectProbeFeatures, then per
// seed RecordBase, ScoreOwnTasks, ScoreHeldOutMerges and FitProbes; then the
// timings, the setup, the claims and the plots.
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <algorithm>
#include <chrono>
#include <cstdint>
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
#include "papers/lab/lab_experts.h"
#include "papers/common/progress.h"
#include "papers/common/reproduce.h"
#include "papers/common/workers.h"
#include "papers/lab/testbed_lab.h"
#include "papers/testbed/linear_probe.h"
#include "src/core/status_macros.h"
#include "src/nn/adapter.h"
#include "src/nn/adapters.h"
#include "src/nn/examples.h"
#include "src/nn/expert.h"
#include "src/nn/model.h"

namespace libra::papers::testbed {
namespace {


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

std::string HeldOutNames(const std::vector<LabTask>& tasks) {
  std::vector<std::string> names;
  for (const LabTask& t : tasks) {
    if (t.held_out) names.push_back(t.name);
  }
  return absl::StrJoin(names, ", ");
}

// Mean over the instruction tokens (after <bos>, before <sep>) of every
// recorded projection's input, concatenated over layers.
absl::StatusOr<std::vector<float>> ProbeFeatures(
    nn::CausalLMImpl& model, const std::vector<std::shared_ptr<RecordingAdapterImpl>>& recorders,
    const text::Tokenizer& tokenizer, const std::string& source) {
  torch::NoGradGuard no_grad;
  LIBRA_ASSIGN_OR_RETURN(std::vector<int64_t> prompt, nn::EncodePrompt(tokenizer, source));
  torch::Tensor ids =
      torch::tensor(prompt, torch::kInt64).unsqueeze(0).to(model.parameters().front().device());
  model.Hidden(ids);
  const int64_t n = static_cast<int64_t>(prompt.size());
  std::vector<float> features;
  for (const auto& r : recorders) {
    torch::Tensor mean = r->last[0].slice(0, 1, std::max<int64_t>(2, n - 1)).mean(0);
    mean = mean.to(torch::kCPU, torch::kFloat32).contiguous();
    const float* p = mean.data_ptr<float>();
    features.insert(features.end(), p, p + mean.numel());
  }
  return features;
}

constexpr int kProbeTrainPerTask = 32;

// What the run works on.
struct Setup {
  LabConfig config;
  std::unique_ptr<Lab> lab;
  int n_in = 0, n_out = 0;
};

struct Timings {
  WorkerRun experts;
  double base_eval = 0, eval = 0;
};

absl::StatusOr<Setup> OpenSetup(const RunContext& ctx, Results& results) {
  Setup s;
  LIBRA_ASSIGN_OR_RETURN(s.config, LabConfigFromContext(ctx));
  results.SetConfig(s.config.ToJson());
  LIBRA_ASSIGN_OR_RETURN(s.lab, Lab::Open(ctx, s.config));
  for (const LabTask& t : s.lab->tasks()) (t.held_out ? s.n_out : s.n_in) += 1;
  if (s.n_in == 0 || s.n_out == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        s.lab->data_dir(), ": the testbed needs held-in and held-out tasks, found ", s.n_in,
        " and ", s.n_out, " (mark held-out tasks in suite.json, src/data/task_folder.h)"));
  }
  return s;
}

// One LoRA per held-in task and seed, in worker processes when --threads
// allows; the seed loop then reads them from the cache.
absl::Status TrainExperts(const RunContext& ctx, const Setup& s, Timings& timings) {
  std::vector<ArtifactJob> jobs;
  for (int seed : ctx.seeds) {
    for (const LabTask& t : s.lab->tasks()) {
      if (t.held_out) continue;
      LIBRA_ASSIGN_OR_RETURN(uint64_t expert_seed, TaskExpertSeed(seed, t));
      jobs.push_back(LabLoraJob(*s.lab, {&t}, expert_seed));
    }
  }
  return BuildInWorkers(ctx, jobs, "testbed", &timings.experts);
}

// The base model on every task (the same for every seed: it is one artifact).
absl::StatusOr<std::vector<TaskScore>> ScoreBase(const Setup& s, Timings& timings) {
  auto start = std::chrono::steady_clock::now();
  std::vector<TaskScore> base(s.lab->tasks().size());
  for (const LabTask& t : s.lab->tasks()) {
    LIBRA_ASSIGN_OR_RETURN(base[t.index], s.lab->Score(t));
  }
  timings.base_eval = SecondsSince(start);
  return base;
}

// Probe features of the base model (every layer's q_proj input): a pool of
// training examples per task, from which each seed draws, and the test split.
struct ProbeData {
  std::vector<std::vector<std::vector<float>>> pool, test;  // task -> example -> feature
};

absl::StatusOr<ProbeData> CollectProbeFeatures(const Setup& s) {
  nn::CausalLMImpl& model = s.lab->model();
  std::vector<std::shared_ptr<RecordingAdapterImpl>> recorders;
  for (auto& [name, linear] : model.Linears()) {
    if (name.size() >= 6 && name.substr(name.size() - 6) == "q_proj") {
      auto r = std::make_shared<RecordingAdapterImpl>();
      linear->set_adapter(r);
      recorders.push_back(r);
    }
  }
  const std::vector<LabTask>& tasks = s.lab->tasks();
  ProbeData probe;
  probe.pool.resize(tasks.size());
  probe.test.resize(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    for (int k = 0; k < kProbeTrainPerTask && k < static_cast<int>(tasks[i].train.size()); ++k) {
      LIBRA_ASSIGN_OR_RETURN(auto f, ProbeFeatures(model, recorders, s.lab->tokenizer(),
                                                   tasks[i].train[k].source));
      probe.pool[i].push_back(std::move(f));
    }
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    for (const data::FlanExample& e : tasks[i].test) {
      LIBRA_ASSIGN_OR_RETURN(auto f, ProbeFeatures(model, recorders, s.lab->tokenizer(), e.source));
      probe.test[i].push_back(std::move(f));
    }
  }
  nn::DetachAdapters(model);
  return probe;
}

// Fact 1: the base alone, per seed (one base serves every seed).
void RecordBase(const Setup& s, int seed, const std::vector<TaskScore>& base, Results& results) {
  double held_in = 0, held_out = 0, best = 0;
  for (const LabTask& t : s.lab->tasks()) {
    (t.held_out ? held_out : held_in) += base[t.index].token_accuracy;
    best = std::max(best, base[t.index].token_accuracy);
  }
  results.AddValue("base/held_in", seed, held_in / s.n_in);
  results.AddValue("base/held_out", seed, held_out / s.n_out);
  results.AddValue("base/best_task", seed, best);
  if (s.lab->base_report().contains("own_format_token_accuracy")) {
    results.AddValue("base/own_format", seed,
                     s.lab->base_report()["own_format_token_accuracy"].get<double>());
  }
}

// Fact 2: one expert per held-in task, on its own task. Returns the experts
// by task name.
absl::StatusOr<std::map<std::string, Expert>> ScoreOwnTasks(const Setup& s, int seed,
                                                            Timings& timings, Progress& progress,
                                                            Results& results) {
  nn::CausalLMImpl& model = s.lab->model();
  std::map<std::string, Expert> experts;
  double own = 0, own_min = 1, own_em = 0;
  for (const LabTask& t : s.lab->tasks()) {
    if (t.held_out) continue;
    LIBRA_ASSIGN_OR_RETURN(uint64_t expert_seed, TaskExpertSeed(seed, t));
    LIBRA_ASSIGN_OR_RETURN(Expert expert, s.lab->CachedLora({&t}, expert_seed));
    auto t0 = std::chrono::steady_clock::now();
    LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(model, expert, /*trainable=*/false));
    LIBRA_ASSIGN_OR_RETURN(TaskScore score, s.lab->Score(t, /*exact_match=*/true));
    nn::DetachAdapters(model);
    timings.eval += SecondsSince(t0);
    experts[t.name] = std::move(expert);
    own += score.token_accuracy;
    own_em += score.exact_match;
    own_min = std::min(own_min, score.token_accuracy);
    results.AddValue(absl::StrCat("expert/", t.name), seed, score.token_accuracy);
    progress.Advance(absl::StrCat("seed ", seed, " ", t.name));
  }
  results.AddValue("expert/own_task", seed, own / s.n_in);
  results.AddValue("expert/own_task_worst", seed, own_min);
  results.AddValue("expert/own_task_em", seed, own_em / s.n_in);
  return experts;
}

// The merges a held-out task is scored under: unrelated (other families'),
// family (its own family's) and related (its `related` list) experts. A data
// folder without families or `related` lists leaves some sets empty: those
// are not formed, and a fact no task measures is not recorded.
std::map<std::string, std::vector<const Expert*>> MergeSets(
    const Setup& s, const LabTask& held_out, const std::map<std::string, Expert>& experts) {
  std::map<std::string, std::vector<const Expert*>> sets;
  for (const LabTask& t : s.lab->tasks()) {
    if (t.held_out) continue;
    const Expert* e = &experts.at(t.name);
    sets[t.family != held_out.family ? "unrelated_merge" : "family_merge"].push_back(e);
    if (std::find(held_out.related.begin(), held_out.related.end(), t.name) !=
        held_out.related.end()) {
      sets["related_merge"].push_back(e);
    }
  }
  return sets;
}

// Facts 3 and 4: held-out tasks under uniform merges; also where a merge's
// gain lies (the answer's first token and its end token).
absl::Status ScoreHeldOutMerges(const Setup& s, int seed, const std::vector<TaskScore>& base,
                                const std::map<std::string, Expert>& experts, Timings& timings,
                                Progress& progress, Results& results) {
  nn::CausalLMImpl& model = s.lab->model();
  std::map<std::string, std::pair<double, int>> merged;  // metric -> (sum, tasks)
  auto add = [&merged](const std::string& metric, double value) {
    merged[metric].first += value;
    merged[metric].second += 1;
  };
  auto add_boundary_tokens = [&add](const std::string& kind, const TaskScore& score) {
    add(absl::StrCat(kind, "/first"), score.first_token_accuracy);
    add(absl::StrCat(kind, "/end"), score.end_token_accuracy);
  };
  for (const LabTask& t : s.lab->tasks()) {
    if (!t.held_out) continue;
    add_boundary_tokens("base", base[t.index]);
    auto t0 = std::chrono::steady_clock::now();
    for (const auto& [kind, set] : MergeSets(s, t, experts)) {
      LIBRA_ASSIGN_OR_RETURN(Expert merged, MergeExperts(set, "uniform"));
      LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(model, merged, /*trainable=*/false));
      LIBRA_ASSIGN_OR_RETURN(TaskScore score, s.lab->Score(t));
      add(kind, score.token_accuracy);
      add_boundary_tokens(kind, score);
    }
    nn::DetachAdapters(model);
    timings.eval += SecondsSince(t0);
    progress.Advance(absl::StrCat("seed ", seed, " ", t.name));
  }
  for (const auto& [kind, sum] : merged) {
    results.AddValue(absl::StrCat("held_out/", kind), seed, sum.first / sum.second);
  }
  return absl::OkStatus();
}

// Fact 5: the probes, trained on a seed-dependent draw of the pool.
void FitProbes(const ProbeData& probe, int seed, Results& results) {
  std::vector<std::vector<std::vector<float>>> train(probe.pool.size());
  for (size_t i = 0; i < probe.pool.size(); ++i) {
    std::vector<size_t> order(probe.pool[i].size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::mt19937_64 rng(static_cast<uint64_t>(seed) * 7919 + i);
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t k = 0; k < order.size() / 2 + 1 && k < order.size(); ++k) {
      train[i].push_back(probe.pool[i][order[k]]);
    }
  }
  results.AddValue("probe/softmax", seed, SoftmaxProbe::Fit(train).Accuracy(probe.test));
  results.AddValue("probe/nearest_class_mean", seed, NearestClassMeanAccuracy(train, probe.test));
}

absl::Status ScoreSeeds(const RunContext& ctx, const Setup& s, const std::vector<TaskScore>& base,
                        const ProbeData& probe, Timings& timings, Results& results) {
  Progress progress("testbed", static_cast<int>(ctx.seeds.size() * s.lab->tasks().size()));
  for (int seed : ctx.seeds) {
    RecordBase(s, seed, base, results);
    LIBRA_ASSIGN_OR_RETURN(auto experts, ScoreOwnTasks(s, seed, timings, progress, results));
    LIBRA_RETURN_IF_ERROR(ScoreHeldOutMerges(s, seed, base, experts, timings, progress, results));
    FitProbes(probe, seed, results);
  }
  progress.Finish();
  return absl::OkStatus();
}

void AddTimingTable(const Setup& s, const Timings& t, Results& results) {
  const int64_t steps = s.lab->train_steps();
  const double train_seconds = s.lab->train_seconds();
  const double per_step_ms = steps ? 1000.0 * train_seconds / steps : 0;
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"base model", s.lab->base_from_cache() ? "reused" : "pretrained",
                  absl::StrFormat("%.1f s", s.lab->base_seconds())});
  rows.push_back({"base evaluation (all tasks)", "", absl::StrFormat("%.1f s", t.base_eval)});
  rows.push_back({"expert training (cache misses)",
                  absl::StrFormat("%lld steps, %.1f ms/step", static_cast<long long>(steps), per_step_ms),
                  absl::StrFormat("%.1f s", train_seconds)});
  if (t.experts.workers > 0) {
    rows.push_back({absl::StrCat("expert training in ", t.experts.workers, " worker processes"),
                    absl::StrFormat("%d experts", t.experts.built),
                    absl::StrFormat("%.1f s (wall)", t.experts.seconds)});
  }
  rows.push_back({"expert and merge evaluation", "", absl::StrFormat("%.1f s", t.eval)});
  results.AddTable("Timings (this run)", {"stage", "detail", "time"}, rows);
  results.AddStageTime(s.lab->base_from_cache() ? "base model (reused)" : "base model (pretrained)",
                       s.lab->base_seconds());
  results.AddStageTime("expert training", t.experts.seconds + train_seconds);
}

void DescribeRun(const Setup& s, Results& results) {
  const LabConfig& config = s.config;
  std::vector<std::string> family_names;
  for (const LabTask& t : s.lab->tasks()) {
    if (std::find(family_names.begin(), family_names.end(), t.family) == family_names.end()) {
      family_names.push_back(t.family);
    }
  }
  results.SetSetup(absl::StrFormat(
      "Base: %s; target-only loss; one base for every seed (cached by its configuration). Tasks: families %s (%d held-in, "
      "%d held-out: %s)%s. Experts: LoRA rank %lld (alpha %.0f) on %s, %lld steps, batch %lld, lr %g, "
      "%d training examples per task, A weight decay %g. Scores on %d test examples per task: teacher-forced token "
      "accuracy (main) and, for experts on their own task, exact match of greedy decoding. Merge: the mean of the experts' LoRA "
      "deltas. Probe: softmax regression (L2, C = 1; nearest class mean as a second probe) on "
      "standardised mean instruction-token inputs of every layer's q_proj in the base model.",
      s.lab->DescribeBase(), absl::StrJoin(family_names, ", "), s.n_in, s.n_out,
      HeldOutNames(s.lab->tasks()),
      config.families.empty() ? "" : " (quick scale: a subsample of the suite's 4 families)",
      static_cast<long long>(config.rank), config.alpha, absl::StrJoin(config.targets, ", "),
      static_cast<long long>(config.expert_steps), static_cast<long long>(config.expert_batch),
      config.expert_lr, config.train_per_task, config.lora_a_weight_decay, config.test_per_task));
  results.DescribeMetric("base/held_in", "base model token accuracy, mean over held-in tasks");
  results.DescribeMetric("base/held_out", "base model token accuracy, mean over held-out tasks");
  results.DescribeMetric("base/own_format",
                         "base model token accuracy in its own pretraining format (held-out "
                         "corpus lines); the issue asks for 0.8 or more");
  results.DescribeMetric("base/best_task", "base model token accuracy on its best task");
  results.DescribeMetric("expert/own_task", "each held-in expert on its own task, token accuracy");
  results.DescribeMetric("expert/own_task_worst", "the worst held-in expert on its own task");
  results.DescribeMetric("expert/own_task_em", "each held-in expert on its own task, exact match");
  for (const char* kind : {"base", "unrelated_merge", "related_merge", "family_merge"}) {
    results.DescribeMetric(absl::StrCat("held_out/", kind, "/first"),
                           absl::StrCat("held-out tasks, ", kind, ": accuracy on the answer's first token"));
    results.DescribeMetric(absl::StrCat("held_out/", kind, "/end"),
                           absl::StrCat("held-out tasks, ", kind, ": accuracy on the end-of-answer token"));
  }
  results.DescribeMetric("held_out/unrelated_merge",
                         "held-out tasks, uniform merge of the other families' experts");
  results.DescribeMetric("held_out/related_merge",
                         "held-out tasks, uniform merge of the task's related experts");
  results.DescribeMetric("held_out/family_merge",
                         "held-out tasks, uniform merge of the own family's experts");
  results.DescribeMetric("probe/softmax",
                         "softmax-regression probe on base hidden states, task identity");
  results.DescribeMetric("probe/nearest_class_mean",
                         "nearest-class-mean probe on base hidden states, task identity");
}

// The testbed facts as claims. Whether one is a known failure, and why, is
// recorded in expectations.json with the numbers it was measured at.
void JudgeClaims(Results& results) {
  std::vector<Claim> claims = {
      {"base_poor",
       "The base model alone is poor at every task (best task token accuracy below 0.6).",
       Quantity::Metric("base/best_task"), Quantity::Constant(0.6), Direction::kLess, 0.0},
      {"expert_good",
       "One expert trained on a task is good at it (mean own-task token accuracy above 0.9).",
       Quantity::Metric("expert/own_task"), Quantity::Constant(0.9), Direction::kGreater, 0.0},
      {"unrelated_no_help",
       "Experts of unrelated tasks do not help on held-out tasks (at most base + 0.02 token "
       "accuracy).",
       Quantity::Metric("held_out/unrelated_merge"), Quantity::Metric("base/held_out"),
       Direction::kAtMost, 0.02},
      {"related_help",
       "Experts of related tasks help on held-out tasks (by more than 0.05 token accuracy).",
       Quantity::Metric("held_out/related_merge"), Quantity::Metric("base/held_out"),
       Direction::kGreater, 0.05},
      {"task_decodable",
       "The task is linearly decodable from the hidden states at the adapted layers (probe "
       "accuracy above 0.9).",
       Quantity::Metric("probe/softmax"), Quantity::Constant(0.9), Direction::kGreater, 0.0}};
  for (Claim& claim : claims) {
    if (!results.HasMetric(claim.a.metric)) {
      results.AddNote(absl::StrCat("Claim ", claim.id, " is not judged: no held-out task of this "
                                   "data has the experts it needs (", claim.a.metric, ")."));
      continue;
    }
    results.AddClaim(std::move(claim));
  }
}

void DescribePlots(const RunContext& ctx, const Setup& s, const std::vector<TaskScore>& base,
                   Results& results) {
  auto metric_or_null = [&](const std::string& metric) -> nlohmann::json {
    return results.HasMetric(metric) ? nlohmann::json(metric) : nlohmann::json();
  };
  results.AddPlot({{"id", "facts"},
                   {"kind", "bar"},
                   {"title", "Testbed facts, mean ± std over seeds"},
                   {"ylabel", "token accuracy on test examples"},
                   {"categories", {"held-in", "held-out"}},
                   {"series",
                    {{{"label", "base"}, {"metrics", {"base/held_in", "base/held_out"}}},
                     {{"label", "own expert"}, {"metrics", {"expert/own_task", nullptr}}},
                     {{"label", "merge of unrelated experts"},
                      {"metrics", {nullptr, metric_or_null("held_out/unrelated_merge")}}},
                     {{"label", "merge of related experts"},
                      {"metrics", {nullptr, metric_or_null("held_out/related_merge")}}},
                     {{"label", "merge of family experts"},
                      {"metrics", {nullptr, metric_or_null("held_out/family_merge")}}}}}});
  std::vector<std::string> categories;
  nlohmann::json base_metrics = nlohmann::json::array(), expert_metrics = nlohmann::json::array();
  for (const LabTask& t : s.lab->tasks()) {
    if (t.held_out) continue;
    categories.push_back(t.name);
    const std::string metric = absl::StrCat("base_task/", t.name);
    for (int seed : ctx.seeds) results.AddValue(metric, seed, base[t.index].token_accuracy);
    base_metrics.push_back(metric);
    expert_metrics.push_back(absl::StrCat("expert/", t.name));
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
}

absl::Status RunTestbed(const RunContext& ctx, Results& results) {
  LIBRA_ASSIGN_OR_RETURN(Setup setup, OpenSetup(ctx, results));
  Timings timings;
  LIBRA_RETURN_IF_ERROR(TrainExperts(ctx, setup, timings));
  LIBRA_ASSIGN_OR_RETURN(const std::vector<TaskScore> base, ScoreBase(setup, timings));
  LIBRA_ASSIGN_OR_RETURN(const ProbeData probe, CollectProbeFeatures(setup));
  LIBRA_RETURN_IF_ERROR(ScoreSeeds(ctx, setup, base, probe, timings, results));
  AddTimingTable(setup, timings, results);
  DescribeRun(setup, results);
  JudgeClaims(results);
  DescribePlots(ctx, setup, base, results);
  return absl::OkStatus();
}

}  // namespace
}  // namespace libra::papers::testbed

int main(int argc, char** argv) {
  return libra::papers::ReproduceMain(
      argc, argv,
      libra::papers::LabPaper("testbed", "Testbed facts (small Llama-family model, LoRA experts)",
                              &libra::papers::testbed::RunTestbed));
}
