// Paper (a): a library of LoRAs, MBC clustering and Arrow routing, on the
// testbed laboratory (papers/lab/testbed_lab.h).
//
//   private library: one LoRA per held-in task (Lab::CachedLora, per seed)
//   MBC library:     core MBC (src/core/cluster/mbc.h) on the private
//                    experts' flattened LoRA vectors, k clusters, one LoRA
//                    per cluster on the union of its tasks, trained for
//                    expert_steps x (tasks in the cluster): the private
//                    library's total budget
//   shared:          one multi-task LoRA on every held-in task, the same
//                    total budget
//   reuse:           uniform merge (ab and delta), TIES (core registry),
//                    Arrow k = 1, 2, 4 (src/nn/arrow_router.h; output mixing,
//                    and parameter mixing for k = 4), oracle (held-in: the
//                    task's own expert)
//   score:           teacher-forced token accuracy on each task's test split
//
// Diagnostics (held-out tasks, private library, Arrow k = 4, per layer):
// routing entropy and the share of tokens whose top expert was trained on a
// related task; per expert, the share of each prototype in the span of its
// LoRA A's initial rows (src/core/arrow/diagnostics.h).
//
// Also writes the web demo bundle: <out>/demo/base/{config.json,
// model.safetensors} and <out>/demo/library/ (an expert library with the
// seed-1 private experts and their Arrow prototypes).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
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
#include "papers/lab/testbed_lab.h"
#include "src/core/arrow/diagnostics.h"
#include "src/core/arrow/library_prototypes.h"
#include "src/core/cluster/mbc.h"
#include "src/core/library/expert_library.h"
#include "src/core/merge/merge.h"
#include "src/core/status_macros.h"
#include "src/nn/adapters.h"
#include "src/nn/arrow_router.h"
#include "src/nn/convert.h"
#include "src/nn/eval.h"
#include "src/nn/expert.h"
#include "src/nn/reuse_baselines.h"
#include "src/nn/runtime.h"

namespace libra::papers::arrow_mbc {
namespace {

using nn::MixingMode;

// Why the MBC claims are inconclusive at quick scale (measured 2026-11-29;
// papers/arrow_mbc/README.md).
constexpr char kMbcSpreadReason[] =
    "quick scale clusters 4 private experts into 2: the clusters mix the two families in some "
    "seeds and not in others (family purity 0.50, 1.00, 0.75 over seeds 1-3), so every MBC "
    "score on the two held-out tasks swings by about 0.08 over seeds (std), more than the "
    "differences the claims compare";

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// What the paper's experiment chooses on top of the lab.
uint64_t PrivateSeed(int seed, const LabTask& task) {
  return static_cast<uint64_t>(seed) * 1000 + task.index;
}
uint64_t SharedSeed(int seed) { return static_cast<uint64_t>(seed) * 1000 + 900; }

struct PaperConfig {
  int mbc_clusters = 4;
  double mbc_quantile = 0.8;
  // Quick scale subsamples tasks (per family): these many held-out tasks,
  // and held-in tasks (their related tasks first). 0: all.
  int held_out_per_family = 0;
  int held_in_per_family = 0;
  int diagnostic_examples = 16;  // test sources per held-out task routed for diagnostics
  double ties_density = 0.2;
};

struct Selection {
  std::vector<const LabTask*> held_in, held_out;
};

Selection SelectTasks(const Lab& lab, const PaperConfig& paper) {
  Selection s;
  std::vector<std::string> families;
  for (const LabTask& t : lab.tasks()) {
    if (std::find(families.begin(), families.end(), t.family) == families.end()) {
      families.push_back(t.family);
    }
  }
  for (const std::string& family : families) {
    std::vector<const LabTask*> out, in;
    for (const LabTask& t : lab.tasks()) {
      if (t.family != family) continue;
      (t.held_out ? out : in).push_back(&t);
    }
    if (paper.held_out_per_family > 0 && static_cast<int>(out.size()) > paper.held_out_per_family) {
      out.resize(paper.held_out_per_family);
    }
    if (paper.held_in_per_family > 0 && static_cast<int>(in.size()) > paper.held_in_per_family) {
      std::set<std::string> related;
      for (const LabTask* t : out) related.insert(t->related.begin(), t->related.end());
      std::stable_partition(in.begin(), in.end(),
                            [&](const LabTask* t) { return related.count(t->name) > 0; });
      in.resize(paper.held_in_per_family);
      std::sort(in.begin(), in.end(),
                [](const LabTask* a, const LabTask* b) { return a->index < b->index; });
    }
    s.held_in.insert(s.held_in.end(), in.begin(), in.end());
    s.held_out.insert(s.held_out.end(), out.begin(), out.end());
  }
  return s;
}

// Flattened LoRA vector for MBC: every module (sorted), A then B.
std::vector<float> Flatten(const Expert& expert) {
  std::vector<const nn::ExpertModule*> modules;
  for (const auto& m : expert) modules.push_back(&m);
  std::sort(modules.begin(), modules.end(),
            [](const auto* a, const auto* b) { return a->module < b->module; });
  std::vector<float> out;
  for (const auto* m : modules) {
    for (const torch::Tensor& t : {m->lora_a, m->lora_b}) {
      torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
      out.insert(out.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    }
  }
  return out;
}

// Accumulates per-condition scores over a set of tasks.
class Scoreboard {
 public:
  Scoreboard(Results& results, int seed) : results_(results), seed_(seed) {}
  void Add(const std::string& condition, const LabTask& task, double value) {
    const std::string split = task.held_out ? "held_out" : "held_in";
    sums_[absl::StrCat(split, "/", condition)].push_back(value);
    results_.AddValue(absl::StrCat("task/", task.name, "/", condition), seed_, value);
  }
  void Flush() {
    for (const auto& [metric, values] : sums_) {
      double sum = 0;
      for (double v : values) sum += v;
      results_.AddValue(metric, seed_, sum / values.size());
    }
  }

 private:
  Results& results_;
  int seed_;
  std::map<std::string, std::vector<double>> sums_;
};

// Exact match and ROUGE-L of greedy decoding on a task's first `examples`
// test examples, with whatever adapters are attached.
absl::StatusOr<nn::EvalResult> GreedyScores(Lab& lab, const LabTask& task, int examples) {
  std::vector<nn::EvalExample> batch;
  for (const data::FlanExample& e : task.test) {
    if (static_cast<int>(batch.size()) >= examples) break;
    batch.push_back({e.source, e.target, {}});
  }
  nn::GenerateOptions options;
  options.max_new_tokens = 24;
  options.max_length = lab.config().max_length;
  return nn::Evaluate(lab.model(), lab.tokenizer(), batch, options);
}

absl::Status WriteDemoBundle(Lab& lab, const std::string& out_dir,
                             const std::vector<const LabTask*>& held_in,
                             const std::vector<Expert>& experts) {
  namespace fs = std::filesystem;
  const std::string demo = out_dir + "/demo";
  std::error_code ec;
  fs::remove_all(demo, ec);
  fs::create_directories(demo + "/base", ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", demo, "/base: ", ec.message()));
  for (const char* file : {"config.json", "model.safetensors"}) {
    fs::copy_file(lab.base_dir() + "/" + file, demo + "/base/" + file,
                  fs::copy_options::overwrite_existing, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot copy ", lab.base_dir(), "/", file, ": ", ec.message()));
    }
  }
  LIBRA_ASSIGN_OR_RETURN(ExpertLibrary library,
                         ExpertLibrary::Create(demo + "/library", "arrow_mbc_private_seed1",
                                               "testbed-base"));
  const std::string staging = demo + "/staging";
  fs::create_directories(staging, ec);
  for (size_t i = 0; i < held_in.size(); ++i) {
    const std::string file = absl::StrCat(staging, "/", held_in[i]->name, ".safetensors");
    LIBRA_RETURN_IF_ERROR(nn::SaveExpert(file, experts[i], {{"task", held_in[i]->name}}));
    ExpertRecord record;
    record.name = held_in[i]->name;
    record.type = AdapterType::kLora;
    record.lora.rank = static_cast<int>(lab.config().rank);
    record.lora.alpha = lab.config().alpha;
    record.target_modules = lab.config().targets;
    record.tasks = {held_in[i]->name};
    LIBRA_RETURN_IF_ERROR(library.AddFile(record, file).status());
  }
  fs::remove_all(staging, ec);
  LIBRA_RETURN_IF_ERROR(arrow::RefreshLibraryPrototypes(library, /*top_k=*/1).status());
  return absl::OkStatus();
}

// Share of each expert's prototypes in the span of its A's initial rows
// (the LoRA initialisation is re-created from the expert's seed).
absl::StatusOr<std::vector<double>> InitSpanShares(nn::CausalLMImpl& model, const LabConfig& config,
                                                   const std::vector<Expert>& experts,
                                                   const std::vector<uint64_t>& seeds) {
  std::vector<double> shares;
  for (size_t i = 0; i < experts.size(); ++i) {
    nn::AdapterConfig adapter;
    adapter.lora.rank = config.rank;
    adapter.lora.alpha = config.alpha;
    adapter.targets.names = config.targets;
    LIBRA_RETURN_IF_ERROR(nn::AttachAdapters(model, adapter, seeds[i]).status());
    Expert initial = nn::ExtractExpert(model);
    nn::DetachAdapters(model);
    LIBRA_ASSIGN_OR_RETURN(nn::PrototypeMap p, nn::ComputeArrowPrototypes({experts[i]}));
    double sum = 0;
    for (const nn::ExpertModule& m : initial) {
      LIBRA_ASSIGN_OR_RETURN(double share, arrow::InitSpanEnergy(nn::ToCore(p.at(m.module)[0]),
                                                                 nn::ToCore(m.lora_a), m.module));
      sum += share;
    }
    shares.push_back(sum / initial.size());
  }
  return shares;
}

// Held-out routing of a library with Arrow k = 4: per task and module, the
// mean routing entropy and the share of tokens whose top expert is related.
struct RoutingDiagnostics {
  std::vector<std::string> layers;
  std::map<std::string, std::map<std::string, double>> entropy, related_top;  // task -> module
  double related_top_mean = 0;  // over tasks and layers
};

absl::StatusOr<RoutingDiagnostics> DiagnoseRouting(nn::CausalLMImpl& model,
                                                   const Selection& sel,
                                                   const std::vector<Expert>& library,
                                                   int examples) {
  RoutingDiagnostics d;
  auto recorder = std::make_shared<nn::RoutingRecorder>();
  nn::ArrowOptions options;
  options.top_k = 4;
  LIBRA_ASSIGN_OR_RETURN(nn::ArrowMixture mixture,
                         nn::AttachArrow(model, library, options, MixingMode::kOutput, recorder));
  for (const auto& [module, router] : mixture.routers) d.layers.push_back(module);
  for (const LabTask* t : sel.held_out) {
    std::vector<int64_t> related;
    for (size_t i = 0; i < sel.held_in.size(); ++i) {
      if (std::find(t->related.begin(), t->related.end(), sel.held_in[i]->name) !=
          t->related.end()) {
        related.push_back(static_cast<int64_t>(i));
      }
    }
    recorder->Clear();
    torch::NoGradGuard no_grad;
    const int n = std::min<int>(examples, static_cast<int>(t->test_tokens.size()));
    const torch::Device device = model.parameters().front().device();
    for (int e = 0; e < n; ++e) {
      model.forward(torch::tensor(t->test_tokens[e].ids, torch::kInt64).unsqueeze(0).to(device));
    }
    for (const std::string& module : d.layers) {
      torch::Tensor w = recorder->Weights(module);
      d.entropy[t->name][module] = nn::MeanRoutingEntropy(w);
      d.related_top[t->name][module] = nn::TopExpertShare(w, related);
      d.related_top_mean += d.related_top[t->name][module] / (d.layers.size() * sel.held_out.size());
    }
  }
  nn::DetachAdapters(model);
  return d;
}

// Ablation (labelled, never a claim): the private library trained with
// decoupled weight decay on LoRA A, so that A's random initial rows fade
// from the prototypes; held-out uniform vs Arrow and the diagnostics.
absl::Status RunWeightDecayAblation(const RunContext& ctx, const LabConfig& base_config,
                                    const Selection& base_selection, double decay,
                                    Results& results) {
  LabConfig config = base_config;
  config.lora_a_weight_decay = decay;
  LIBRA_ASSIGN_OR_RETURN(std::unique_ptr<Lab> lab, Lab::Open(ctx, config));
  Selection sel;
  for (const LabTask* t : base_selection.held_in) sel.held_in.push_back(lab->FindTask(t->name));
  for (const LabTask* t : base_selection.held_out) sel.held_out.push_back(lab->FindTask(t->name));
  nn::CausalLMImpl& model = lab->model();
  for (int seed : ctx.seeds) {
    std::vector<Expert> priv;
    std::vector<uint64_t> seeds;
    for (const LabTask* t : sel.held_in) {
      seeds.push_back(static_cast<uint64_t>(seed) * 1000 + t->index);
      LIBRA_ASSIGN_OR_RETURN(Expert e, lab->CachedLora({t}, seeds.back()));
      priv.push_back(std::move(e));
    }
    for (const std::string& method : {std::string("uniform"), std::string("arrow_k4")}) {
      if (method == "uniform") {
        LIBRA_RETURN_IF_ERROR(nn::AttachMerge(model, priv, "uniform", {}, merge::LoraMode::kDelta));
      } else {
        nn::ArrowOptions options;
        options.top_k = 4;
        LIBRA_RETURN_IF_ERROR(
            nn::AttachArrow(model, priv, options, MixingMode::kOutput).status());
      }
      double sum = 0;
      for (const LabTask* t : sel.held_out) {
        LIBRA_ASSIGN_OR_RETURN(TaskScore s, lab->Score(*t));
        sum += s.token_accuracy;
      }
      nn::DetachAdapters(model);
      results.AddValue("ablation_a_decay/held_out/private_" + method, seed,
                       sum / sel.held_out.size());
    }
    double own = 0;
    for (size_t i = 0; i < priv.size(); ++i) {
      LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(model, priv[i], false));
      LIBRA_ASSIGN_OR_RETURN(TaskScore s, lab->Score(*sel.held_in[i]));
      own += s.token_accuracy / priv.size();
      nn::DetachAdapters(model);
    }
    results.AddValue("ablation_a_decay/held_in/oracle", seed, own);
    LIBRA_ASSIGN_OR_RETURN(std::vector<double> shares, InitSpanShares(model, config, priv, seeds));
    double mean = 0;
    for (double v : shares) mean += v / shares.size();
    results.AddValue("ablation_a_decay/diag/init_span", seed, mean);
    LIBRA_ASSIGN_OR_RETURN(RoutingDiagnostics d, DiagnoseRouting(model, sel, priv, 16));
    results.AddValue("ablation_a_decay/diag/related_top", seed, d.related_top_mean);
  }
  results.DescribeMetric("ablation_a_decay/held_out/private_uniform",
                         absl::StrFormat("ablation, LoRA A weight decay %g: held-out, private "
                                         "uniform merge", decay));
  results.DescribeMetric("ablation_a_decay/held_out/private_arrow_k4",
                         absl::StrFormat("ablation, LoRA A weight decay %g: held-out, private "
                                         "Arrow k=4", decay));
  return absl::OkStatus();
}

absl::Status Run(const RunContext& ctx, Results& results) {
  ConfigureRuntime(ctx.threads);
  LIBRA_ASSIGN_OR_RETURN(LabConfig config, LabConfigFromContext(ctx));
  PaperConfig paper;
  if (ctx.quick()) {
    // The quick scale subsamples tasks so the lab's full-length (200-step)
    // experts fit about 4 minutes on 2 idle cores (README.md, "Budget").
    // Seeds stay 3.
    paper.held_out_per_family = 1;
    paper.held_in_per_family = 2;
    paper.mbc_clusters = 2;
  }
  LIBRA_ASSIGN_OR_RETURN(std::unique_ptr<Lab> lab, Lab::Open(ctx, config));
  const Selection sel = SelectTasks(*lab, paper);
  if (sel.held_in.size() < 2 || sel.held_out.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        lab->data_dir(), ": arrow_mbc needs at least 2 held-in and 1 held-out task, found ",
        sel.held_in.size(), " and ", sel.held_out.size(),
        " (mark held-out tasks in suite.json, src/data/task_folder.h)"));
  }
  paper.mbc_clusters = std::min<int>(paper.mbc_clusters, static_cast<int>(sel.held_in.size()));
  nlohmann::json config_json = config.ToJson();
  config_json["paper"] = {{"mbc_clusters", paper.mbc_clusters},
                          {"mbc_quantile", paper.mbc_quantile},
                          {"held_out_per_family", paper.held_out_per_family},
                          {"held_in_per_family", paper.held_in_per_family},
                          {"ties_density", paper.ties_density},
                          {"diagnostic_examples", paper.diagnostic_examples}};
  results.SetConfig(config_json);
  nn::CausalLMImpl& model = lab->model();
  std::vector<const LabTask*> all = sel.held_in;
  all.insert(all.end(), sel.held_out.begin(), sel.held_out.end());

  // The private libraries and the shared LoRAs of every seed first, in
  // worker processes when --threads allows (papers/lab/lab_experts.h).
  // MBC experts wait for the seed loop: their tasks come from clustering.
  std::vector<ExpertJob> jobs;
  for (int seed : ctx.seeds) {
    jobs.push_back(LabLoraJob(*lab, sel.held_in, SharedSeed(seed),
                              config.expert_steps * static_cast<int64_t>(sel.held_in.size())));
    for (const LabTask* t : sel.held_in) jobs.push_back(LabLoraJob(*lab, {t}, PrivateSeed(seed, *t)));
  }
  WorkerRun workers;
  LIBRA_ASSIGN_OR_RETURN(const bool worker, TrainInWorkers(ctx, jobs, "arrow_mbc", &workers));
  if (worker) return absl::OkStatus();

  auto start = std::chrono::steady_clock::now();
  std::map<std::string, double> base_score;
  std::map<std::string, nn::EvalResult> base_greedy;  // held-out tasks
  for (const LabTask* t : all) {
    LIBRA_ASSIGN_OR_RETURN(TaskScore s, lab->Score(*t));
    base_score[t->name] = s.token_accuracy;
    if (t->held_out) {
      LIBRA_ASSIGN_OR_RETURN(base_greedy[t->name],
                             GreedyScores(*lab, *t, paper.diagnostic_examples));
    }
  }
  double eval_seconds = Seconds(start), mbc_seconds = 0, diag_seconds = 0;

  std::vector<std::string> layers;  // module names routed (for per-layer diagnostics)
  std::vector<std::vector<std::string>> cluster_rows;
  std::vector<std::vector<std::string>> similarity_rows;
  nlohmann::json similarity_matrix = nlohmann::json::array();
  nlohmann::json similarity_labels = nlohmann::json::array();
  Progress progress("arrow_mbc", static_cast<int>(ctx.seeds.size()) * 4);
  for (int seed : ctx.seeds) {
    Scoreboard board(results, seed);
    for (const LabTask* t : all) {
      board.Add("base", *t, base_score.at(t->name));
      if (t->held_out) {
        board.Add("base/em", *t, base_greedy.at(t->name).exact_match);
        board.Add("base/rouge_l", *t, base_greedy.at(t->name).rouge_l);
      }
    }

    // Private library.
    std::vector<Expert> priv;
    for (const LabTask* t : sel.held_in) {
      LIBRA_ASSIGN_OR_RETURN(Expert e, lab->CachedLora({t}, PrivateSeed(seed, *t)));
      priv.push_back(std::move(e));
    }
    progress.Advance(absl::StrCat("seed ", seed, " private library"));

    // MBC clustering of the private experts.
    start = std::chrono::steady_clock::now();
    std::vector<std::vector<float>> vectors;
    for (const Expert& e : priv) vectors.push_back(Flatten(e));
    cluster::MbcOptions mbc;
    mbc.k = paper.mbc_clusters;
    mbc.sparsity_quantile = paper.mbc_quantile;
    mbc.seed = static_cast<uint64_t>(seed);
    LIBRA_ASSIGN_OR_RETURN(cluster::MbcResult clusters, cluster::ClusterExperts(vectors, mbc));
    mbc_seconds += Seconds(start);
    std::vector<std::vector<const LabTask*>> members(paper.mbc_clusters);
    for (size_t i = 0; i < sel.held_in.size(); ++i) {
      members[clusters.assignment[i]].push_back(sel.held_in[i]);
    }
    // Cluster purity: share of experts whose cluster's majority family is theirs.
    int pure = 0;
    for (const auto& m : members) {
      std::map<std::string, int> count;
      for (const LabTask* t : m) ++count[t->family];
      int best = 0;
      for (const auto& [f, c] : count) best = std::max(best, c);
      pure += best;
    }
    results.AddValue("mbc/family_purity", seed, static_cast<double>(pure) / sel.held_in.size());
    std::vector<Expert> mbc_experts;
    std::vector<int> expert_cluster(sel.held_in.size());
    for (int c = 0; c < paper.mbc_clusters; ++c) {
      if (members[c].empty()) continue;
      std::vector<std::string> names;
      for (const LabTask* t : members[c]) {
        names.push_back(t->name);
        expert_cluster[std::find(sel.held_in.begin(), sel.held_in.end(), t) - sel.held_in.begin()] =
            static_cast<int>(mbc_experts.size());
      }
      if (seed == ctx.seeds.front()) {
        cluster_rows.push_back({absl::StrCat(seed), absl::StrCat(c), absl::StrJoin(names, ", ")});
      }
      LIBRA_ASSIGN_OR_RETURN(
          Expert e, lab->CachedLora(members[c], static_cast<uint64_t>(seed) * 1000 + 500 + c,
                                    config.expert_steps * static_cast<int64_t>(members[c].size())));
      mbc_experts.push_back(std::move(e));
    }
    if (seed == ctx.seeds.front()) {
      for (size_t i = 0; i < sel.held_in.size(); ++i) {
        std::vector<std::string> row = {sel.held_in[i]->name};
        nlohmann::json values = nlohmann::json::array();
        for (size_t j = 0; j < sel.held_in.size(); ++j) {
          const double sim =
              clusters.similarity.at(static_cast<int64_t>(i * sel.held_in.size() + j));
          row.push_back(absl::StrFormat("%.2f", sim));
          values.push_back(sim);
        }
        similarity_rows.push_back(std::move(row));
        similarity_matrix.push_back(std::move(values));
        similarity_labels.push_back(
            absl::StrCat(sel.held_in[i]->name, " [cluster ", expert_cluster[i], "]"));
      }
    }
    progress.Advance(absl::StrCat("seed ", seed, " MBC library"));

    // Shared multi-task LoRA, the private library's total budget.
    LIBRA_ASSIGN_OR_RETURN(
        Expert shared,
        lab->CachedLora(sel.held_in, SharedSeed(seed),
                        config.expert_steps * static_cast<int64_t>(sel.held_in.size())));
    progress.Advance(absl::StrCat("seed ", seed, " shared"));

    // Evaluation.
    start = std::chrono::steady_clock::now();
    auto score_all = [&](const std::string& condition, bool held_in_too) -> absl::Status {
      for (const LabTask* t : all) {
        if (!t->held_out && !held_in_too) continue;
        LIBRA_ASSIGN_OR_RETURN(TaskScore s, lab->Score(*t));
        board.Add(condition, *t, s.token_accuracy);
        if (t->held_out) {
          LIBRA_ASSIGN_OR_RETURN(nn::EvalResult g,
                                 GreedyScores(*lab, *t, paper.diagnostic_examples));
          board.Add(condition + "/em", *t, g.exact_match);
          board.Add(condition + "/rouge_l", *t, g.rouge_l);
        }
      }
      nn::DetachAdapters(model);
      return absl::OkStatus();
    };
    LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(model, shared, false));
    LIBRA_RETURN_IF_ERROR(score_all("shared", true));
    for (size_t i = 0; i < sel.held_in.size(); ++i) {  // oracle: the task's own expert
      LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(model, priv[i], false));
      LIBRA_ASSIGN_OR_RETURN(TaskScore s, lab->Score(*sel.held_in[i]));
      board.Add("oracle", *sel.held_in[i], s.token_accuracy);
      nn::DetachAdapters(model);
    }
    struct Library {
      std::string name;
      const std::vector<Expert>* experts;
    };
    for (const Library& library : {Library{"private", &priv}, Library{"mbc", &mbc_experts}}) {
      const bool is_private = library.name == "private";
      LIBRA_RETURN_IF_ERROR(
          nn::AttachMerge(model, *library.experts, "uniform", {}, merge::LoraMode::kDelta));
      LIBRA_RETURN_IF_ERROR(score_all(library.name + "_uniform", true));
      if (is_private) {
        LIBRA_RETURN_IF_ERROR(
            nn::AttachMerge(model, *library.experts, "uniform", {}, merge::LoraMode::kAb));
        LIBRA_RETURN_IF_ERROR(score_all(library.name + "_uniform_ab", false));
        merge::MergeArguments ties;
        ties.scalars["density"] = paper.ties_density;
        LIBRA_RETURN_IF_ERROR(
            nn::AttachMerge(model, *library.experts, "ties", ties, merge::LoraMode::kDelta));
        LIBRA_RETURN_IF_ERROR(score_all(library.name + "_ties", false));
      }
      // Prototypes once per library; every Arrow variant reuses them.
      LIBRA_ASSIGN_OR_RETURN(nn::PrototypeMap prototypes,
                             nn::ComputeArrowPrototypes(*library.experts));
      for (int k : {1, 2, 4}) {
        if (!is_private && k != 4 && k != 1) continue;
        nn::ArrowOptions options;
        options.top_k = k;
        LIBRA_RETURN_IF_ERROR(nn::AttachArrow(model, *library.experts, prototypes, options,
                                              MixingMode::kOutput)
                                  .status());
        LIBRA_RETURN_IF_ERROR(score_all(absl::StrCat(library.name, "_arrow_k", k), k == 4));
      }
      if (is_private) {
        nn::ArrowOptions options;
        options.top_k = 4;
        LIBRA_RETURN_IF_ERROR(nn::AttachArrow(model, *library.experts, prototypes, options,
                                              MixingMode::kParameter)
                                  .status());
        LIBRA_RETURN_IF_ERROR(score_all("private_arrow_k4_param", false));
      }
    }
    eval_seconds += Seconds(start);
    progress.Advance(absl::StrCat("seed ", seed, " evaluation"));

    // Diagnostics: routing of the private library on held-out sources.
    start = std::chrono::steady_clock::now();
    {
      LIBRA_ASSIGN_OR_RETURN(RoutingDiagnostics d,
                             DiagnoseRouting(model, sel, priv, paper.diagnostic_examples));
      layers = d.layers;
      for (const auto& [task, by_module] : d.entropy) {
        for (const auto& [module, h] : by_module) {
          results.AddValue(absl::StrCat("diag/", task, "/", module, "/entropy"), seed, h);
          results.AddValue(absl::StrCat("diag/", task, "/", module, "/related_top"), seed,
                           d.related_top.at(task).at(module));
        }
      }
      for (const std::string& module : layers) {
        double h = 0, r = 0;
        for (const LabTask* t : sel.held_out) {
          h += d.entropy.at(t->name).at(module) / sel.held_out.size();
          r += d.related_top.at(t->name).at(module) / sel.held_out.size();
        }
        results.AddValue(absl::StrCat("diag/layer/", module, "/entropy"), seed, h);
        results.AddValue(absl::StrCat("diag/layer/", module, "/related_top"), seed, r);
      }
      results.AddValue("diag/related_top", seed, d.related_top_mean);
      // Chance level of related_top: the related experts' share of the library.
      double chance = 0;
      for (const LabTask* t : sel.held_out) {
        int related = 0;
        for (const LabTask* h : sel.held_in) {
          related += std::count(t->related.begin(), t->related.end(), h->name) > 0;
        }
        chance += static_cast<double>(related) / sel.held_in.size() / sel.held_out.size();
      }
      results.AddValue("diag/related_top_chance", seed, chance);

      std::vector<uint64_t> seeds;
      for (const LabTask* t : sel.held_in) seeds.push_back(static_cast<uint64_t>(seed) * 1000 + t->index);
      LIBRA_ASSIGN_OR_RETURN(std::vector<double> shares, InitSpanShares(model, config, priv, seeds));
      double mean = 0;
      for (size_t i = 0; i < shares.size(); ++i) {
        results.AddValue(absl::StrCat("diag/init_span/", sel.held_in[i]->name), seed, shares[i]);
        mean += shares[i] / shares.size();
      }
      results.AddValue("diag/init_span", seed, mean);
      const int64_t in = model.Linears()[0].second->options.in_features();
      results.AddValue("diag/init_span_random", seed, static_cast<double>(config.rank) / in);
    }
    diag_seconds += Seconds(start);
    board.Flush();

    if (seed == ctx.seeds.front()) {
      LIBRA_RETURN_IF_ERROR(WriteDemoBundle(*lab, ctx.out_dir, sel.held_in, priv));
    }
  }
  progress.Finish();

  // Opt-in ablation (LIBRA_ARROW_MBC_A_DECAY=<decay>, or full scale with 10).
  double decay = ctx.quick() ? 0.0 : 10.0;
  if (const char* env = std::getenv("LIBRA_ARROW_MBC_A_DECAY"); env != nullptr && *env) {
    decay = std::atof(env);
  }
  if (decay > 0) {
    start = std::chrono::steady_clock::now();
    LIBRA_RETURN_IF_ERROR(RunWeightDecayAblation(ctx, config, sel, decay, results));
    results.AddNote(absl::StrFormat(
        "Ablation (a training choice of the library, not the method): the private library "
        "retrained with decoupled weight decay %g on LoRA A (metrics ablation_a_decay/*), %.0f s.",
        decay, Seconds(start)));
  }

  // Report.
  std::vector<std::string> in_names, out_names;
  for (const LabTask* t : sel.held_in) in_names.push_back(t->name);
  for (const LabTask* t : sel.held_out) out_names.push_back(t->name);
  results.SetSetup(absl::StrFormat(
      "Testbed laboratory (papers/lab/testbed_lab.h), base: %s; LoRA rank %lld (alpha %.0f) on %s, %lld steps per task, batch %lld, "
      "lr %g, A weight decay %g. Held-in tasks (%d): %s. Held-out tasks (%d): %s.%s "
      "MBC: quantile %.1f, k = %d, one LoRA per cluster trained for %lld steps per task in it. "
      "Shared: one LoRA on all held-in tasks for %lld steps (the private library's total). "
      "TIES density %.1f. Arrow: faithful (|<x, p>|, raw hidden states, temperature 1), output "
      "mixing unless marked param. Score: teacher-forced token accuracy on %d test examples per "
      "task (the claims' metric); on held-out tasks also exact match and ROUGE-L of greedy "
      "decoding on the first %d test examples (<condition>/em, <condition>/rouge_l).",
      lab->DescribeBase(),
      static_cast<long long>(config.rank), config.alpha, absl::StrJoin(config.targets, ", "),
      static_cast<long long>(config.expert_steps), static_cast<long long>(config.expert_batch),
      config.expert_lr, config.lora_a_weight_decay, static_cast<int>(in_names.size()),
      absl::StrJoin(in_names, ", "), static_cast<int>(out_names.size()),
      absl::StrJoin(out_names, ", "),
      paper.held_in_per_family > 0
          ? absl::StrFormat(" Quick scale subsamples tasks: %d held-out and %d held-in per family "
                            "(the held-out tasks' related tasks first).",
                            paper.held_out_per_family, paper.held_in_per_family)
          : "",
      paper.mbc_quantile, paper.mbc_clusters, static_cast<long long>(config.expert_steps),
      static_cast<long long>(config.expert_steps * in_names.size()), paper.ties_density,
      config.test_per_task, paper.diagnostic_examples));
  results.AddTable("MBC clusters (first seed)", {"seed", "cluster", "tasks"}, cluster_rows);
  std::vector<std::string> sim_columns = {"expert"};
  sim_columns.insert(sim_columns.end(), in_names.begin(), in_names.end());
  results.AddTable("MBC cosine similarity of the private experts (first seed)", sim_columns,
                   similarity_rows);
  results.AddPlot({{"id", "mbc_similarity"},
                   {"kind", "heatmap"},
                   {"title", "MBC: cosine similarity of the private experts, with their "
                             "clusters (first seed)"},
                   {"matrix", similarity_matrix},
                   {"row_labels", similarity_labels},
                   {"col_labels", similarity_labels},
                   {"vmin", -1},
                   {"vmax", 1},
                   {"cmap", "RdBu_r"},
                   {"annotate", true}});
  results.AddTable("Timings (this run)", {"stage", "time"},
                   {{"base model", absl::StrFormat("%.1f s (%s)", lab->base_seconds(),
                                                   lab->base_from_cache() ? "loaded" : "pretrained")},
                    {"LoRA training", absl::StrFormat("%.1f s, %lld steps", lab->train_seconds(),
                                                      static_cast<long long>(lab->train_steps()))},
                    {absl::StrCat("LoRA training in ", workers.workers, " worker processes"),
                     absl::StrFormat("%.1f s wall, %d experts (private and shared)",
                                     workers.seconds, workers.trained)},
                    {"MBC clustering", absl::StrFormat("%.2f s", mbc_seconds)},
                    {"evaluation", absl::StrFormat("%.1f s", eval_seconds)},
                    {"diagnostics", absl::StrFormat("%.1f s", diag_seconds)}});

  const std::vector<std::pair<std::string, std::string>> conditions = {
      {"base", "base model"},
      {"shared", "shared multi-task LoRA"},
      {"private_uniform", "private library, uniform merge (mean of deltas)"},
      {"private_uniform_ab", "private library, uniform merge of A and B"},
      {"private_ties", "private library, TIES merge"},
      {"private_arrow_k1", "private library, Arrow k=1"},
      {"private_arrow_k2", "private library, Arrow k=2"},
      {"private_arrow_k4", "private library, Arrow k=4"},
      {"private_arrow_k4_param", "private library, Arrow k=4, parameter mixing"},
      {"mbc_uniform", "MBC library, uniform merge"},
      {"mbc_arrow_k1", "MBC library, Arrow k=1"},
      {"mbc_arrow_k4", "MBC library, Arrow k=4"},
      {"oracle", "the task's own expert (held-in only)"}};
  for (const auto& [id, text] : conditions) {
    results.DescribeMetric("held_out/" + id, "held-out token accuracy: " + text);
    results.DescribeMetric("held_in/" + id, "held-in token accuracy: " + text);
  }
  results.DescribeMetric("diag/related_top",
                         "held-out tokens whose top Arrow expert (k=4, private) is a related "
                         "task's, mean over layers");
  results.DescribeMetric("diag/related_top_chance", "the related experts' share of the library");
  results.DescribeMetric("diag/init_span",
                         "share of a private prototype in the span of its A's initial rows");
  results.DescribeMetric("diag/init_span_random", "the same for a random direction (r / in)");
  results.DescribeMetric("mbc/family_purity", "share of experts in a cluster of their family's majority");

  // Known failures: measured at quick scale over seeds 1-3 after a real
  // attempt (README.md gives the numbers and the diagnostics behind them).
  const std::map<std::string, KnownFailure> known = {
      {"mbc_uniform_at_least_private",
       {kMbcSpreadReason,
        "MBC uniform 0.199 +- 0.081 vs private uniform 0.123 +- 0.007: ahead by 0.076 but "
        "inconclusive (quick scale, seeds 1-3)"}},
      {"mbc_arrow_at_least_private",
       {kMbcSpreadReason,
        "MBC Arrow k=4 0.225 +- 0.078 vs private Arrow k=4 0.238 +- 0.069: inconclusive "
        "(quick scale, seeds 1-3)"}},
      {"mbc_arrow_matches_shared",
       {kMbcSpreadReason,
        "MBC Arrow k=4 0.225 +- 0.078 vs shared 0.253 +- 0.035 (0.02 allowed): inconclusive "
        "(quick scale, seeds 1-3)"}}};
  // Known failures were measured at quick scale; a full-scale run is judged afresh.
  const bool quick = ctx.quick();
  auto claim = [&known, quick](std::string id, std::string statement, std::string a, std::string b,
                               Direction d, double margin) {
    Claim c;
    if (auto it = known.find(id); quick && it != known.end()) {
      c.known_failure = true;
      c.failure = it->second;
    }
    c.id = std::move(id);
    c.statement = std::move(statement);
    c.a = Quantity::Metric(std::move(a));
    c.b = Quantity::Metric(std::move(b));
    c.direction = d;
    c.margin = margin;
    return c;
  };
  results.AddClaim(claim("uniform_beats_base",
                         "On held-out tasks, the uniform merge of the private library beats the "
                         "base model.",
                         "held_out/private_uniform", "held_out/base", Direction::kGreater, 0.0));
  results.AddClaim(claim("arrow_beats_uniform",
                         "On held-out tasks, Arrow routing (k=4) of the private library beats its "
                         "uniform merge.",
                         "held_out/private_arrow_k4", "held_out/private_uniform",
                         Direction::kGreater, 0.0));
  results.AddClaim(claim("mbc_uniform_at_least_private",
                         "MBC experts are at least as good as private experts under uniform "
                         "merging (held-out, within 0.01).",
                         "held_out/mbc_uniform", "held_out/private_uniform", Direction::kAtLeast,
                         0.01));
  results.AddClaim(claim("mbc_arrow_at_least_private",
                         "MBC experts are at least as good as private experts under Arrow "
                         "routing (held-out, within 0.01).",
                         "held_out/mbc_arrow_k4", "held_out/private_arrow_k4", Direction::kAtLeast,
                         0.01));
  results.AddClaim(claim("mbc_arrow_matches_shared",
                         "MBC with Arrow is close to or above the shared multi-task LoRA "
                         "(held-out, within 0.02).",
                         "held_out/mbc_arrow_k4", "held_out/shared", Direction::kAtLeast, 0.02));

  const std::vector<std::string> plotted = {"base",         "shared",           "private_uniform",
                                            "private_ties", "private_arrow_k1", "private_arrow_k4",
                                            "mbc_uniform",  "mbc_arrow_k4"};
  nlohmann::json series = nlohmann::json::array();
  for (const std::string& id : plotted) {
    const bool held_in_scored = id != "private_ties" && id != "private_arrow_k1";
    series.push_back({{"label", id},
                      {"metrics", {held_in_scored ? nlohmann::json("held_in/" + id) : nlohmann::json(),
                                   "held_out/" + id}}});
  }
  results.AddPlot({{"id", "reuse"},
                   {"kind", "bar"},
                   {"title", "Library reuse, mean ± std over seeds"},
                   {"ylabel", "token accuracy"},
                   {"categories", {"held-in", "held-out"}},
                   {"size", {10, 4}},
                   {"series", series}});
  return absl::OkStatus();
}

}  // namespace
}  // namespace libra::papers::arrow_mbc

int main(int argc, char** argv) {
  return libra::papers::ReproduceMain(
      argc, argv,
      {"arrow_mbc", "Towards Modular LLMs: a library of LoRAs, MBC and Arrow routing",
       &libra::papers::arrow_mbc::Run});
}
