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
// Run: OpenSetup, BuildLibraries (private and shared LoRAs, MBC clustering,
// MBC LoRAs), ScoreBase, then per seed the libraries' conditions and the
// diagnostics; then the opt-in ablation, the setup, tables, claims and plots.
//
// Also writes the web demo bundle: <out>/demo/base/{config.json,
// model.safetensors}, <out>/demo/library/ (an expert library with the
// seed-1 private experts and their Arrow prototypes), <out>/demo/bundle.json
// (tasks and test examples) and <out>/demo/results.json (a link to the run's).
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
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
#include "papers/common/workers.h"
#include "papers/lab/testbed_lab.h"
#include "src/core/arrow/diagnostics.h"
#include "src/core/arrow/library_prototypes.h"
#include "src/core/cluster/mbc.h"
#include "src/core/io/atomic_file.h"
#include "src/core/library/expert_library.h"
#include "src/core/merge/merge.h"
#include "src/core/status_macros.h"
#include "src/core/text/byte_tokenizer.h"
#include "src/nn/adapters.h"
#include "src/nn/arrow_router.h"
#include "src/nn/convert.h"
#include "src/nn/eval.h"
#include "src/nn/expert.h"
#include "src/nn/reuse_baselines.h"

namespace libra::papers::arrow_mbc {
namespace {

using nn::MixingMode;


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

// bundle.json of the web demo (web/README.md): the selected tasks (family,
// held-in or held-out, related tasks) and the first kDemoExamplesPerTask test
// examples of each, with the token ids the experts were scored on
// (nn::EncodeExample: <bos> source <sep> target <eos>).
constexpr int kDemoExamplesPerTask = 3;

nlohmann::json DemoBundleJson(const Lab& lab, const Selection& sel) {
  nlohmann::json tasks = nlohmann::json::array(), examples = nlohmann::json::array();
  for (const std::vector<const LabTask*>* split : {&sel.held_in, &sel.held_out}) {
    for (const LabTask* t : *split) {
      tasks.push_back(
          {{"name", t->name}, {"family", t->family}, {"held_out", t->held_out}, {"related", t->related}});
      const size_t n = std::min<size_t>(kDemoExamplesPerTask, t->test.size());
      for (size_t i = 0; i < n; ++i) {
        examples.push_back({{"task", t->name},
                            {"source", t->test[i].source},
                            {"target", t->test[i].target},
                            {"ids", t->test_tokens[i].ids},
                            {"target_start", t->test_tokens[i].target_start}});
      }
    }
  }
  const bool bytes = dynamic_cast<const text::ByteTokenizer*>(&lab.tokenizer()) != nullptr;
  return {{"format", "libra-demo-bundle"},
          {"version", 1},
          {"made_by", "papers/arrow_mbc"},
          {"random_weights", false},
          {"tokenizer", bytes ? "byte" : "model"},
          {"tasks", tasks},
          {"examples", examples}};
}

absl::Status WriteDemoBundle(Lab& lab, const std::string& out_dir, const Selection& sel,
                             const std::vector<Expert>& experts) {
  const std::vector<const LabTask*>& held_in = sel.held_in;
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
  LIBRA_RETURN_IF_ERROR(
      WriteFileAtomically(demo + "/bundle.json", DemoBundleJson(lab, sel).dump(1) + "\n"));
  // The driver writes results.json after the run (papers/common/reproduce.h):
  // a relative link lets the page show the claims of the run it demonstrates.
  fs::create_symlink("../results.json", demo + "/results.json", ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot link ", demo, "/results.json: ", ec.message()));
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
      LIBRA_ASSIGN_OR_RETURN(uint64_t task_seed, TaskExpertSeed(seed, *t));
      seeds.push_back(task_seed);
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

// What the run works on.
struct Setup {
  LabConfig config;
  PaperConfig paper;
  std::unique_ptr<Lab> lab;
  Selection sel;
  std::vector<const LabTask*> all;  // held-in, then held-out
  // The shared LoRA gets the private library's total budget.
  int64_t SharedSteps() const {
    return config.expert_steps * static_cast<int64_t>(sel.held_in.size());
  }
};

struct Timings {
  WorkerRun libraries, mbc_experts;
  double mbc = 0, eval = 0, diagnostics = 0;
};

absl::StatusOr<Setup> OpenSetup(const RunContext& ctx, Results& results) {
  Setup s;
  LIBRA_ASSIGN_OR_RETURN(s.config, LabConfigFromContext(ctx));
  if (ctx.quick()) {
    // The quick scale subsamples tasks so the lab's full-length (200-step)
    // experts fit the claims test's budget (README.md, "Budget"). Seeds stay 3.
    s.paper.held_out_per_family = 1;
    s.paper.held_in_per_family = 2;
    s.paper.mbc_clusters = 2;
  }
  LIBRA_ASSIGN_OR_RETURN(s.lab, Lab::Open(ctx, s.config));
  s.sel = SelectTasks(*s.lab, s.paper);
  if (s.sel.held_in.size() < 2 || s.sel.held_out.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        s.lab->data_dir(), ": arrow_mbc needs at least 2 held-in and 1 held-out task, found ",
        s.sel.held_in.size(), " and ", s.sel.held_out.size(),
        " (mark held-out tasks in suite.json, src/data/task_folder.h)"));
  }
  if (!ctx.quick()) {
    // The paper clusters 256 experts into 10: k grows with the library
    // (about one cluster per 25 experts), and is at least 4.
    s.paper.mbc_clusters =
        std::max(4, static_cast<int>(std::lround(static_cast<double>(s.sel.held_in.size()) / 25.6)));
  }
  s.paper.mbc_clusters = std::min<int>(s.paper.mbc_clusters, static_cast<int>(s.sel.held_in.size()));
  nlohmann::json config_json = s.config.ToJson();
  config_json["paper"] = {{"mbc_clusters", s.paper.mbc_clusters},
                          {"mbc_quantile", s.paper.mbc_quantile},
                          {"held_out_per_family", s.paper.held_out_per_family},
                          {"held_in_per_family", s.paper.held_in_per_family},
                          {"ties_density", s.paper.ties_density},
                          {"diagnostic_examples", s.paper.diagnostic_examples}};
  results.SetConfig(config_json);
  s.all = s.sel.held_in;
  s.all.insert(s.all.end(), s.sel.held_out.begin(), s.sel.held_out.end());
  return s;
}

// The private libraries and the shared LoRAs of every seed, in worker
// processes when --threads allows.
absl::Status TrainPrivateAndShared(const RunContext& ctx, const Setup& s, Timings& timings) {
  std::vector<ArtifactJob> jobs;
  for (int seed : ctx.seeds) {
    LIBRA_ASSIGN_OR_RETURN(uint64_t shared_seed, ExpertSeed(ExpertRole::kShared, seed, 0));
    jobs.push_back(LabLoraJob(*s.lab, s.sel.held_in, shared_seed, s.SharedSteps()));
    for (const LabTask* t : s.sel.held_in) {
      LIBRA_ASSIGN_OR_RETURN(uint64_t task_seed, TaskExpertSeed(seed, *t));
      jobs.push_back(LabLoraJob(*s.lab, {t}, task_seed));
    }
  }
  return BuildInWorkers(ctx, jobs, "arrow_mbc private and shared", &timings.libraries);
}

// One seed's private library and its MBC clustering.
struct Clustering {
  std::vector<Expert> priv;  // one per held-in task
  std::vector<uint64_t> priv_seeds;
  cluster::MbcResult mbc;
  std::vector<std::vector<const LabTask*>> members;  // per cluster (may be empty)
  std::vector<int> expert_cluster;  // held-in task -> its MBC expert's index
};

absl::StatusOr<Clustering> ClusterPrivateLibrary(const Setup& s, int seed, Timings& timings) {
  Clustering c;
  for (const LabTask* t : s.sel.held_in) {
    LIBRA_ASSIGN_OR_RETURN(uint64_t task_seed, TaskExpertSeed(seed, *t));
    LIBRA_ASSIGN_OR_RETURN(Expert e, s.lab->CachedLora({t}, task_seed));
    c.priv.push_back(std::move(e));
    c.priv_seeds.push_back(task_seed);
  }
  auto start = std::chrono::steady_clock::now();
  std::vector<std::vector<float>> vectors;
  for (const Expert& e : c.priv) vectors.push_back(Flatten(e));
  cluster::MbcOptions options;
  options.k = s.paper.mbc_clusters;
  options.sparsity_quantile = s.paper.mbc_quantile;
  options.seed = static_cast<uint64_t>(seed);
  LIBRA_ASSIGN_OR_RETURN(c.mbc, cluster::ClusterExperts(vectors, options));
  timings.mbc += SecondsSince(start);
  c.members.resize(s.paper.mbc_clusters);
  for (size_t i = 0; i < s.sel.held_in.size(); ++i) {
    c.members[c.mbc.assignment[i]].push_back(s.sel.held_in[i]);
  }
  c.expert_cluster.resize(s.sel.held_in.size());
  int expert = 0;
  for (const auto& members : c.members) {
    if (members.empty()) continue;
    for (const LabTask* t : members) {
      c.expert_cluster[std::find(s.sel.held_in.begin(), s.sel.held_in.end(), t) -
                       s.sel.held_in.begin()] = expert;
    }
    ++expert;
  }
  return c;
}

// One LoRA per non-empty cluster on the union of its tasks, for
// expert_steps x (tasks in the cluster) steps: a second round of workers,
// since the clusters come from the first round's experts.
absl::Status TrainMbcExperts(const RunContext& ctx, const Setup& s,
                             const std::map<int, Clustering>& clusterings, Timings& timings) {
  std::vector<ArtifactJob> jobs;
  for (const auto& [seed, c] : clusterings) {
    for (size_t k = 0; k < c.members.size(); ++k) {
      if (c.members[k].empty()) continue;
      LIBRA_ASSIGN_OR_RETURN(uint64_t cluster_seed, ExpertSeed(ExpertRole::kCluster, seed, k));
      jobs.push_back(LabLoraJob(*s.lab, c.members[k], cluster_seed,
                                s.config.expert_steps * static_cast<int64_t>(c.members[k].size())));
    }
  }
  return BuildInWorkers(ctx, jobs, "arrow_mbc MBC", &timings.mbc_experts);
}

absl::StatusOr<std::map<int, Clustering>> BuildLibraries(const RunContext& ctx, const Setup& s,
                                                         Timings& timings) {
  LIBRA_RETURN_IF_ERROR(TrainPrivateAndShared(ctx, s, timings));
  std::map<int, Clustering> clusterings;
  for (int seed : ctx.seeds) {
    LIBRA_ASSIGN_OR_RETURN(clusterings[seed], ClusterPrivateLibrary(s, seed, timings));
  }
  LIBRA_RETURN_IF_ERROR(TrainMbcExperts(ctx, s, clusterings, timings));
  return clusterings;
}

// The base model on every task (one base serves every seed).
struct BaseScores {
  std::map<std::string, double> token;          // task -> token accuracy
  std::map<std::string, nn::EvalResult> greedy;  // held-out task -> greedy decoding
};

absl::StatusOr<BaseScores> ScoreBase(const Setup& s, Timings& timings) {
  auto start = std::chrono::steady_clock::now();
  BaseScores base;
  for (const LabTask* t : s.all) {
    LIBRA_ASSIGN_OR_RETURN(TaskScore score, s.lab->Score(*t));
    base.token[t->name] = score.token_accuracy;
    if (t->held_out) {
      LIBRA_ASSIGN_OR_RETURN(base.greedy[t->name],
                             GreedyScores(*s.lab, *t, s.paper.diagnostic_examples));
    }
  }
  timings.eval += SecondsSince(start);
  return base;
}

// A seed's MBC library and shared LoRA (from the cache), with the cluster
// purity: the share of experts whose cluster's majority family is theirs.
struct SeedLibraries {
  std::vector<Expert> mbc;
  Expert shared;
};

absl::StatusOr<SeedLibraries> LoadSeedLibraries(const Setup& s, int seed, const Clustering& c,
                                                Results& results) {
  SeedLibraries libs;
  int pure = 0;
  for (size_t k = 0; k < c.members.size(); ++k) {
    std::map<std::string, int> count;
    for (const LabTask* t : c.members[k]) ++count[t->family];
    int best = 0;
    for (const auto& [family, n] : count) best = std::max(best, n);
    pure += best;
    if (c.members[k].empty()) continue;
    LIBRA_ASSIGN_OR_RETURN(uint64_t cluster_seed, ExpertSeed(ExpertRole::kCluster, seed, k));
    LIBRA_ASSIGN_OR_RETURN(
        Expert e, s.lab->CachedLora(c.members[k], cluster_seed,
                                    s.config.expert_steps * static_cast<int64_t>(c.members[k].size())));
    libs.mbc.push_back(std::move(e));
  }
  results.AddValue("mbc/family_purity", seed, static_cast<double>(pure) / s.sel.held_in.size());
  LIBRA_ASSIGN_OR_RETURN(uint64_t shared_seed, ExpertSeed(ExpertRole::kShared, seed, 0));
  LIBRA_ASSIGN_OR_RETURN(libs.shared, s.lab->CachedLora(s.sel.held_in, shared_seed, s.SharedSteps()));
  return libs;
}

// Token accuracy of the attached adapters on the tasks (held-out only unless
// `held_in_too`), with greedy exact match and ROUGE-L on held-out tasks;
// detaches the adapters.
absl::Status ScoreCondition(const Setup& s, const std::string& condition, bool held_in_too,
                            Scoreboard& board) {
  for (const LabTask* t : s.all) {
    if (!t->held_out && !held_in_too) continue;
    LIBRA_ASSIGN_OR_RETURN(TaskScore score, s.lab->Score(*t));
    board.Add(condition, *t, score.token_accuracy);
    if (t->held_out) {
      LIBRA_ASSIGN_OR_RETURN(nn::EvalResult g, GreedyScores(*s.lab, *t, s.paper.diagnostic_examples));
      board.Add(condition + "/em", *t, g.exact_match);
      board.Add(condition + "/rouge_l", *t, g.rouge_l);
    }
  }
  nn::DetachAdapters(s.lab->model());
  return absl::OkStatus();
}

// A library's reuse conditions: uniform merge (and, for the private
// library, the A-and-B merge and TIES), Arrow k = 1, 2, 4 (the MBC library:
// k = 1 and 4) with output mixing, and k = 4 with parameter mixing (private).
absl::Status ScoreLibrary(const Setup& s, const std::string& name, const std::vector<Expert>& experts,
                          Scoreboard& board) {
  nn::CausalLMImpl& model = s.lab->model();
  const bool is_private = name == "private";
  LIBRA_RETURN_IF_ERROR(nn::AttachMerge(model, experts, "uniform", {}, merge::LoraMode::kDelta));
  LIBRA_RETURN_IF_ERROR(ScoreCondition(s, name + "_uniform", true, board));
  if (is_private) {
    LIBRA_RETURN_IF_ERROR(nn::AttachMerge(model, experts, "uniform", {}, merge::LoraMode::kAb));
    LIBRA_RETURN_IF_ERROR(ScoreCondition(s, name + "_uniform_ab", false, board));
    merge::MergeArguments ties;
    ties.scalars["density"] = s.paper.ties_density;
    LIBRA_RETURN_IF_ERROR(nn::AttachMerge(model, experts, "ties", ties, merge::LoraMode::kDelta));
    LIBRA_RETURN_IF_ERROR(ScoreCondition(s, name + "_ties", false, board));
  }
  // Prototypes once per library; every Arrow variant reuses them.
  LIBRA_ASSIGN_OR_RETURN(nn::PrototypeMap prototypes, nn::ComputeArrowPrototypes(experts));
  for (int k : {1, 2, 4}) {
    if (!is_private && k == 2) continue;
    nn::ArrowOptions options;
    options.top_k = k;
    LIBRA_RETURN_IF_ERROR(
        nn::AttachArrow(model, experts, prototypes, options, MixingMode::kOutput).status());
    LIBRA_RETURN_IF_ERROR(ScoreCondition(s, absl::StrCat(name, "_arrow_k", k), k == 4, board));
  }
  if (is_private) {
    nn::ArrowOptions options;
    options.top_k = 4;
    LIBRA_RETURN_IF_ERROR(
        nn::AttachArrow(model, experts, prototypes, options, MixingMode::kParameter).status());
    LIBRA_RETURN_IF_ERROR(ScoreCondition(s, "private_arrow_k4_param", false, board));
  }
  return absl::OkStatus();
}

// Every condition of one seed: the base, the shared LoRA, the oracle (each
// held-in task's own expert) and both libraries.
absl::Status ScoreConditions(const Setup& s, const BaseScores& base, const Clustering& c,
                             const SeedLibraries& libs, Scoreboard& board, Timings& timings) {
  auto start = std::chrono::steady_clock::now();
  for (const LabTask* t : s.all) {
    board.Add("base", *t, base.token.at(t->name));
    if (t->held_out) {
      board.Add("base/em", *t, base.greedy.at(t->name).exact_match);
      board.Add("base/rouge_l", *t, base.greedy.at(t->name).rouge_l);
    }
  }
  nn::CausalLMImpl& model = s.lab->model();
  LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(model, libs.shared, false));
  LIBRA_RETURN_IF_ERROR(ScoreCondition(s, "shared", true, board));
  for (size_t i = 0; i < s.sel.held_in.size(); ++i) {
    LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(model, c.priv[i], false));
    LIBRA_ASSIGN_OR_RETURN(TaskScore score, s.lab->Score(*s.sel.held_in[i]));
    board.Add("oracle", *s.sel.held_in[i], score.token_accuracy);
    nn::DetachAdapters(model);
  }
  LIBRA_RETURN_IF_ERROR(ScoreLibrary(s, "private", c.priv, board));
  LIBRA_RETURN_IF_ERROR(ScoreLibrary(s, "mbc", libs.mbc, board));
  timings.eval += SecondsSince(start);
  return absl::OkStatus();
}

// Routing of the private library on held-out sources (Arrow k = 4), per task
// and layer, against chance; and how much of each prototype lies in the span
// of its A's initial rows, against a random direction.
absl::Status DiagnoseSeed(const Setup& s, int seed, const Clustering& c, Timings& timings,
                          Results& results) {
  auto start = std::chrono::steady_clock::now();
  nn::CausalLMImpl& model = s.lab->model();
  LIBRA_ASSIGN_OR_RETURN(RoutingDiagnostics d,
                         DiagnoseRouting(model, s.sel, c.priv, s.paper.diagnostic_examples));
  for (const auto& [task, by_module] : d.entropy) {
    for (const auto& [module, h] : by_module) {
      results.AddValue(absl::StrCat("diag/", task, "/", module, "/entropy"), seed, h);
      results.AddValue(absl::StrCat("diag/", task, "/", module, "/related_top"), seed,
                       d.related_top.at(task).at(module));
    }
  }
  const double held_out = static_cast<double>(s.sel.held_out.size());
  for (const std::string& module : d.layers) {
    double h = 0, r = 0;
    for (const LabTask* t : s.sel.held_out) {
      h += d.entropy.at(t->name).at(module) / held_out;
      r += d.related_top.at(t->name).at(module) / held_out;
    }
    results.AddValue(absl::StrCat("diag/layer/", module, "/entropy"), seed, h);
    results.AddValue(absl::StrCat("diag/layer/", module, "/related_top"), seed, r);
  }
  results.AddValue("diag/related_top", seed, d.related_top_mean);
  double chance = 0;  // the related experts' share of the library
  for (const LabTask* t : s.sel.held_out) {
    int related = 0;
    for (const LabTask* h : s.sel.held_in) {
      related += std::count(t->related.begin(), t->related.end(), h->name) > 0;
    }
    chance += static_cast<double>(related) / s.sel.held_in.size() / held_out;
  }
  results.AddValue("diag/related_top_chance", seed, chance);
  LIBRA_ASSIGN_OR_RETURN(std::vector<double> shares,
                         InitSpanShares(model, s.config, c.priv, c.priv_seeds));
  double mean = 0;
  for (size_t i = 0; i < shares.size(); ++i) {
    results.AddValue(absl::StrCat("diag/init_span/", s.sel.held_in[i]->name), seed, shares[i]);
    mean += shares[i] / shares.size();
  }
  results.AddValue("diag/init_span", seed, mean);
  const int64_t in = model.Linears()[0].second->options.in_features();
  results.AddValue("diag/init_span_random", seed, static_cast<double>(s.config.rank) / in);
  timings.diagnostics += SecondsSince(start);
  return absl::OkStatus();
}

absl::Status ScoreSeeds(const RunContext& ctx, const Setup& s, const BaseScores& base,
                        const std::map<int, Clustering>& clusterings, Timings& timings,
                        Results& results) {
  Progress progress("arrow_mbc", static_cast<int>(ctx.seeds.size()) * 3);
  for (int seed : ctx.seeds) {
    const Clustering& c = clusterings.at(seed);
    LIBRA_ASSIGN_OR_RETURN(SeedLibraries libs, LoadSeedLibraries(s, seed, c, results));
    progress.Advance(absl::StrCat("seed ", seed, " libraries"));
    Scoreboard board(results, seed);
    LIBRA_RETURN_IF_ERROR(ScoreConditions(s, base, c, libs, board, timings));
    progress.Advance(absl::StrCat("seed ", seed, " evaluation"));
    LIBRA_RETURN_IF_ERROR(DiagnoseSeed(s, seed, c, timings, results));
    board.Flush();
    progress.Advance(absl::StrCat("seed ", seed, " diagnostics"));
    if (seed == ctx.seeds.front()) {
      LIBRA_RETURN_IF_ERROR(WriteDemoBundle(*s.lab, ctx.out_dir, s.sel, c.priv));
    }
  }
  progress.Finish();
  return absl::OkStatus();
}

// Opt-in ablation ($LIBRA_ARROW_MBC_A_DECAY=<decay>, or full scale with 10).
absl::Status RunAblation(const RunContext& ctx, const Setup& s, Results& results) {
  double decay = ctx.full() ? 10.0 : 0.0;
  if (const char* env = std::getenv("LIBRA_ARROW_MBC_A_DECAY"); env != nullptr && *env) {
    decay = std::atof(env);
  }
  if (decay <= 0) return absl::OkStatus();
  auto start = std::chrono::steady_clock::now();
  LIBRA_RETURN_IF_ERROR(RunWeightDecayAblation(ctx, s.config, s.sel, decay, results));
  results.AddNote(absl::StrFormat(
      "Ablation (a training choice of the library, not the method): the private library "
      "retrained with decoupled weight decay %g on LoRA A (metrics ablation_a_decay/*), %.0f s.",
      decay, SecondsSince(start)));
  return absl::OkStatus();
}

// The first seed's clusters and the private experts' MBC similarity.
void AddClusterTables(const RunContext& ctx, const Setup& s, const Clustering& c, Results& results) {
  const int seed = ctx.seeds.front();
  const size_t n = s.sel.held_in.size();
  std::vector<std::vector<std::string>> cluster_rows, similarity_rows;
  for (size_t k = 0; k < c.members.size(); ++k) {
    if (c.members[k].empty()) continue;
    std::vector<std::string> names;
    for (const LabTask* t : c.members[k]) names.push_back(t->name);
    cluster_rows.push_back({absl::StrCat(seed), absl::StrCat(k), absl::StrJoin(names, ", ")});
  }
  nlohmann::json matrix = nlohmann::json::array(), labels = nlohmann::json::array();
  std::vector<std::string> columns = {"expert"};
  for (size_t i = 0; i < n; ++i) {
    columns.push_back(s.sel.held_in[i]->name);
    std::vector<std::string> row = {s.sel.held_in[i]->name};
    nlohmann::json values = nlohmann::json::array();
    for (size_t j = 0; j < n; ++j) {
      const double sim = c.mbc.similarity.at(static_cast<int64_t>(i * n + j));
      row.push_back(absl::StrFormat("%.2f", sim));
      values.push_back(sim);
    }
    similarity_rows.push_back(std::move(row));
    matrix.push_back(std::move(values));
    labels.push_back(absl::StrCat(s.sel.held_in[i]->name, " [cluster ", c.expert_cluster[i], "]"));
  }
  results.AddTable("MBC clusters (first seed)", {"seed", "cluster", "tasks"}, cluster_rows);
  results.AddTable("MBC cosine similarity of the private experts (first seed)", columns,
                   similarity_rows);
  results.AddPlot({{"id", "mbc_similarity"},
                   {"kind", "heatmap"},
                   {"title", "MBC: cosine similarity of the private experts, with their "
                             "clusters (first seed)"},
                   {"matrix", matrix},
                   {"row_labels", labels},
                   {"col_labels", labels},
                   {"vmin", -1},
                   {"vmax", 1},
                   {"cmap", "RdBu_r"},
                   {"annotate", true}});
}

void AddTimingTable(const Setup& s, const Timings& t, Results& results) {
  const Lab& lab = *s.lab;
  results.AddTable(
      "Timings (this run)", {"stage", "time"},
      {{"base model", absl::StrFormat("%.1f s (%s)", lab.base_seconds(),
                                      lab.base_from_cache() ? "loaded" : "pretrained")},
       {"LoRA training in this process", absl::StrFormat("%.1f s, %lld steps", lab.train_seconds(),
                                                         static_cast<long long>(lab.train_steps()))},
       {absl::StrCat("LoRA training in ", t.libraries.workers, " worker processes"),
        absl::StrFormat("%.1f s wall, %d experts (private and shared)", t.libraries.seconds,
                        t.libraries.built)},
       {absl::StrCat("MBC LoRA training in ", t.mbc_experts.workers, " worker processes"),
        absl::StrFormat("%.1f s wall, %d experts", t.mbc_experts.seconds, t.mbc_experts.built)},
       {"MBC clustering", absl::StrFormat("%.2f s", t.mbc)},
       {"evaluation", absl::StrFormat("%.1f s", t.eval)},
       {"diagnostics", absl::StrFormat("%.1f s", t.diagnostics)}});
  results.AddStageTime(lab.base_from_cache() ? "base model (reused)" : "base model (pretrained)",
                       lab.base_seconds());
  results.AddStageTime("expert training",
                       t.libraries.seconds + t.mbc_experts.seconds + lab.train_seconds());
}

void DescribeRun(const Setup& s, Results& results) {
  const LabConfig& config = s.config;
  const PaperConfig& paper = s.paper;
  std::vector<std::string> in_names, out_names;
  for (const LabTask* t : s.sel.held_in) in_names.push_back(t->name);
  for (const LabTask* t : s.sel.held_out) out_names.push_back(t->name);
  results.SetSetup(absl::StrFormat(
      "Testbed laboratory (papers/lab/testbed_lab.h), base: %s; LoRA rank %lld (alpha %.0f) on %s, %lld steps per task, batch %lld, "
      "lr %g, A weight decay %g. Held-in tasks (%d): %s. Held-out tasks (%d): %s.%s "
      "MBC: quantile %.1f, k = %d, one LoRA per cluster trained for %lld steps per task in it. "
      "Shared: one LoRA on all held-in tasks for %lld steps (the private library's total). "
      "TIES density %.1f. Arrow: faithful (|<x, p>|, raw hidden states, temperature 1), output "
      "mixing unless marked param. Score: teacher-forced token accuracy on %d test examples per "
      "task (the claims' metric); on held-out tasks also exact match and ROUGE-L of greedy "
      "decoding on the first %d test examples (<condition>/em, <condition>/rouge_l).",
      s.lab->DescribeBase(), static_cast<long long>(config.rank), config.alpha,
      absl::StrJoin(config.targets, ", "), static_cast<long long>(config.expert_steps),
      static_cast<long long>(config.expert_batch), config.expert_lr, config.lora_a_weight_decay,
      static_cast<int>(in_names.size()), absl::StrJoin(in_names, ", "),
      static_cast<int>(out_names.size()), absl::StrJoin(out_names, ", "),
      paper.held_in_per_family > 0
          ? absl::StrFormat(" Quick scale subsamples tasks: %d held-out and %d held-in per family "
                            "(the held-out tasks' related tasks first).",
                            paper.held_out_per_family, paper.held_in_per_family)
          : "",
      paper.mbc_quantile, paper.mbc_clusters, static_cast<long long>(config.expert_steps),
      static_cast<long long>(s.SharedSteps()), paper.ties_density, config.test_per_task,
      paper.diagnostic_examples));
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
}

// The paper's claims. Whether one is a known failure, and why, is recorded
// in expectations.json with the numbers it was measured at.
void JudgeClaims(Results& results) {
  auto claim = [&results](std::string id, std::string statement, std::string a, std::string b,
                          Direction d, double margin) {
    results.AddClaim(Claim{std::move(id), std::move(statement), Quantity::Metric(std::move(a)),
                           Quantity::Metric(std::move(b)), d, margin});
  };
  claim("uniform_beats_base",
        "On held-out tasks, the uniform merge of the private library beats the base model.",
        "held_out/private_uniform", "held_out/base", Direction::kGreater, 0.0);
  claim("arrow_beats_uniform",
        "On held-out tasks, Arrow routing (k=4) of the private library beats its uniform merge.",
        "held_out/private_arrow_k4", "held_out/private_uniform", Direction::kGreater, 0.0);
  claim("mbc_uniform_at_least_private",
        "MBC experts are at least as good as private experts under uniform merging (held-out, "
        "within 0.01).",
        "held_out/mbc_uniform", "held_out/private_uniform", Direction::kAtLeast, 0.01);
  claim("mbc_arrow_at_least_private",
        "MBC experts are at least as good as private experts under Arrow routing (held-out, "
        "within 0.01).",
        "held_out/mbc_arrow_k4", "held_out/private_arrow_k4", Direction::kAtLeast, 0.01);
  claim("mbc_arrow_matches_shared",
        "MBC with Arrow is close to or above the shared multi-task LoRA (held-out, within 0.02).",
        "held_out/mbc_arrow_k4", "held_out/shared", Direction::kAtLeast, 0.02);
}

void DescribePlots(Results& results) {
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
}

absl::Status Run(const RunContext& ctx, Results& results) {
  LIBRA_ASSIGN_OR_RETURN(Setup setup, OpenSetup(ctx, results));
  Timings timings;
  using Clusterings = std::map<int, Clustering>;  // seed -> its clustering
  LIBRA_ASSIGN_OR_RETURN(const Clusterings clusterings, BuildLibraries(ctx, setup, timings));
  LIBRA_ASSIGN_OR_RETURN(const BaseScores base, ScoreBase(setup, timings));
  LIBRA_RETURN_IF_ERROR(ScoreSeeds(ctx, setup, base, clusterings, timings, results));
  LIBRA_RETURN_IF_ERROR(RunAblation(ctx, setup, results));
  DescribeRun(setup, results);
  AddClusterTables(ctx, setup, clusterings.at(ctx.seeds.front()), results);
  AddTimingTable(setup, timings, results);
  JudgeClaims(results);
  DescribePlots(results);
  return absl::OkStatus();
}

}  // namespace
}  // namespace libra::papers::arrow_mbc

int main(int argc, char** argv) {
  return libra::papers::ReproduceMain(
      argc, argv,
      libra::papers::LabPaper("arrow_mbc",
                              "Towards Modular LLMs: a library of LoRAs, MBC and Arrow routing",
                              &libra::papers::arrow_mbc::Run));
}
