#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "papers/independent_mechanisms/testbed_stream.h"

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "papers/lab/lab_experts.h"
#include "papers/lab/testbed_lab.h"
#include "src/core/cl/mechanisms.h"
#include "src/core/cl/metrics.h"
#include "src/core/cl/task_stream.h"
#include "src/core/status_macros.h"
#include "src/nn/adapters.h"
#include "src/nn/arrow_router.h"
#include "src/nn/expert.h"

namespace libra::papers::independent_mechanisms {
namespace {

// Fixed before the first run.
struct StreamConfig {
  int held_in_per_family = 0;  // 0: every held-in task of a family
  int64_t steps = 0;           // per family, both learners
  // Arrow k = 1: the best Arrow variant on this testbed in paper (a)'s
  // reproduction (papers/arrow_mbc/README.md).
  int64_t arrow_top_k = 1;
  double changed_tolerance = 0.1;  // of the largest parameter change, as in the toy
  nlohmann::json ToJson() const {
    return {{"held_in_per_family", held_in_per_family},
            {"steps_per_family", steps},
            {"arrow_top_k", arrow_top_k},
            {"changed_tolerance", changed_tolerance}};
  }
};

// Claims' margins, fixed before the first run.
constexpr double kKeepMargin = 0.05;      // F5: library on earlier families vs their own experts
constexpr double kSequentialLoss = 0.05;  // F5: the sequential LoRA forgets more than this

// A family of held-in tasks: the data's family, or the task alone when the
// data gives it none.
struct Family {
  std::string name;
  std::vector<const LabTask*> held_in;
  std::vector<nn::TokenizedExample> train;  // the held-in tasks' training examples
};

struct Stream {
  LabConfig lab_config;
  StreamConfig config;
  ExpertRecipe recipe;
  std::unique_ptr<Lab> lab;
  std::vector<Family> families;  // in the data's order
  std::vector<const LabTask*> held_out;
  std::vector<double> base_accuracy;  // per family, held-in test
  double base_held_out = 0;
};

// What one learner measured over one seed's stream (positions in the
// seed's family order).
struct LearnerRun {
  explicit LearnerRun(int families) : matrix(families) {}
  cl::AccuracyMatrix matrix;
  std::vector<double> fraction_changed;  // per family after the first
  std::vector<double> oracle;            // library: each family's own expert
  std::vector<double> routed_to_own;     // library, at the end: tokens routed to the own expert
  double held_out = 0;
};

absl::StatusOr<double> MeanAccuracy(Lab& lab, const std::vector<const LabTask*>& tasks) {
  if (tasks.empty()) return 0.0;
  double sum = 0;
  for (const LabTask* t : tasks) {
    LIBRA_ASSIGN_OR_RETURN(TaskScore score, lab.Score(*t));
    sum += score.token_accuracy;
  }
  return sum / tasks.size();
}

// A family's expert, and the sequential learner's pass over it, share this
// seed (data order; the expert's initialisation too).
absl::StatusOr<uint64_t> FamilySeed(int seed, int family) {
  return ExpertSeed(ExpertRole::kCluster, seed, family);
}

void GroupFamilies(Stream& s) {
  std::map<std::string, size_t> index;
  for (const LabTask& t : s.lab->tasks()) {
    if (t.held_out) {
      s.held_out.push_back(&t);
      continue;
    }
    const std::string name = t.family.empty() ? t.name : t.family;
    if (!index.count(name)) {
      index[name] = s.families.size();
      s.families.push_back(Family{name, {}, {}});
    }
    Family& f = s.families[index[name]];
    const int kept = static_cast<int>(f.held_in.size());
    if (s.config.held_in_per_family > 0 && kept >= s.config.held_in_per_family) continue;
    f.held_in.push_back(&t);
    f.train.insert(f.train.end(), t.train_tokens.begin(), t.train_tokens.end());
  }
}

// The lab with every family of the data (the stream is the families), the
// base model's scores. Quick scale: three held-in tasks per family, 100
// steps per family, half the test examples (the claims test's budget);
// $LIBRA_LAB_CONFIG (exploration) keeps the lab's families and sizes.
absl::StatusOr<Stream> OpenStream(const RunContext& ctx) {
  Stream s;
  LIBRA_ASSIGN_OR_RETURN(s.lab_config, LabConfigFromContext(ctx));
  s.config.steps = s.lab_config.expert_steps;
  if (std::getenv("LIBRA_LAB_CONFIG") == nullptr) {
    s.lab_config.families.clear();
    if (!ctx.full()) {
      s.lab_config.test_per_task = 32;
      s.config.held_in_per_family = 3;
      s.config.steps = 100;
    }
  }
  s.recipe = LoraRecipe(s.lab_config);
  s.recipe.steps = s.config.steps;
  LIBRA_ASSIGN_OR_RETURN(s.lab, Lab::Open(ctx, s.lab_config));
  GroupFamilies(s);
  if (s.families.size() < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        s.lab->data_dir(), ": the family stream needs at least 2 task families, found ",
        s.families.size()));
  }
  for (const Family& f : s.families) {
    LIBRA_ASSIGN_OR_RETURN(double base, MeanAccuracy(*s.lab, f.held_in));
    s.base_accuracy.push_back(base);
  }
  LIBRA_ASSIGN_OR_RETURN(s.base_held_out, MeanAccuracy(*s.lab, s.held_out));
  return s;
}

// Row i of a learner's matrix: the model as it is now, on every family;
// `after_family(j)`, if set, runs once family j is scored.
absl::Status ScoreRow(Stream& s, const std::vector<int>& order, int i, cl::AccuracyMatrix& m,
                      const std::function<void(int j)>& after_family = nullptr) {
  for (size_t j = 0; j < order.size(); ++j) {
    LIBRA_ASSIGN_OR_RETURN(double accuracy, MeanAccuracy(*s.lab, s.families[order[j]].held_in));
    m.Set(i, static_cast<int>(j), accuracy);
    if (after_family) after_family(static_cast<int>(j));
  }
  return absl::OkStatus();
}

double Mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0.0 : sum / v.size();
}

std::vector<double> FlattenLora(const Expert& expert) {
  std::vector<double> values;
  for (const nn::ExpertModule& m : expert) {
    for (const torch::Tensor& t : {m.lora_a, m.lora_b}) {
      const torch::Tensor flat = t.to(torch::kFloat64).contiguous().view(-1);
      values.insert(values.end(), flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
    }
  }
  return values;
}

// One LoRA fine-tuned on each family in turn, no replay.
absl::Status LearnEachFamily(Stream& s, const std::vector<int>& order, int seed, LearnerRun& run) {
  nn::CausalLMImpl& model = s.lab->model();
  std::vector<double> before = FlattenLora(nn::ExtractExpert(model));
  for (size_t i = 0; i < order.size(); ++i) {
    LIBRA_ASSIGN_OR_RETURN(const uint64_t data_seed, FamilySeed(seed, order[i]));
    LIBRA_RETURN_IF_ERROR(TrainAttachedOn(model, s.families[order[i]].train, s.recipe, data_seed));
    std::vector<double> after = FlattenLora(nn::ExtractExpert(model));
    if (i > 0) {
      run.fraction_changed.push_back(cl::FractionChanged(before, after, s.config.changed_tolerance));
    }
    before = std::move(after);
    LIBRA_RETURN_IF_ERROR(ScoreRow(s, order, static_cast<int>(i), run.matrix));
  }
  LIBRA_ASSIGN_OR_RETURN(run.held_out, MeanAccuracy(*s.lab, s.held_out));
  return absl::OkStatus();
}

absl::StatusOr<LearnerRun> LearnSequentially(Stream& s, const std::vector<int>& order, int seed) {
  LearnerRun run(static_cast<int>(order.size()));
  LIBRA_ASSIGN_OR_RETURN(const uint64_t init_seed, ExpertSeed(ExpertRole::kShared, seed, 0));
  LIBRA_RETURN_IF_ERROR(nn::AttachAdapters(s.lab->model(), s.recipe.adapter, init_seed).status());
  const absl::Status learned = LearnEachFamily(s, order, seed, run);
  nn::DetachAdapters(s.lab->model());
  LIBRA_RETURN_IF_ERROR(learned);
  return run;
}

// The share of `recorder`'s routed tokens, over every module, whose top
// expert is `expert` (mean over modules).
double RoutedToExpert(const nn::RoutingRecorder& recorder, int64_t expert) {
  std::vector<double> shares;
  for (const std::string& m : recorder.Modules()) {
    const torch::Tensor w = recorder.Weights(m);
    if (w.size(0) > 0) shares.push_back(nn::TopExpertShare(w, {expert}));
  }
  return Mean(shares);
}

// The library so far, routed by Arrow, on every family; after the last
// family also on the held-out tasks, with the share of each earlier
// family's tokens routed to its own expert (the diagnostic of F5).
absl::Status ScoreLibrary(Stream& s, const std::vector<Expert>& library,
                          const std::vector<int>& order, int i, LearnerRun& run) {
  const bool last = i + 1 == static_cast<int>(order.size());
  nn::ArrowOptions options;
  options.top_k = s.config.arrow_top_k;
  auto recorder = std::make_shared<nn::RoutingRecorder>();
  recorder->enabled = last;
  LIBRA_RETURN_IF_ERROR(
      nn::AttachArrow(s.lab->model(), library, options, nn::MixingMode::kOutput, recorder).status());
  absl::Status scored = ScoreRow(s, order, i, run.matrix, [&](int j) {
    if (last) run.routed_to_own.push_back(RoutedToExpert(*recorder, j));
    recorder->Clear();
  });
  if (scored.ok() && last) {
    recorder->enabled = false;
    absl::StatusOr<double> held_out = MeanAccuracy(*s.lab, s.held_out);
    if (held_out.ok()) run.held_out = *held_out;
    scored = held_out.status();
  }
  nn::DetachAdapters(s.lab->model());
  return scored;
}

// One expert per family, earlier experts frozen; the fraction changed counts
// the new expert's entries against everything the library stores.
absl::StatusOr<LearnerRun> GrowLibrary(Stream& s, const std::vector<int>& order, int seed) {
  nn::CausalLMImpl& model = s.lab->model();
  LearnerRun run(static_cast<int>(order.size()));
  std::vector<Expert> library;
  int64_t stored = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const Family& family = s.families[order[i]];
    LIBRA_ASSIGN_OR_RETURN(const uint64_t family_seed, FamilySeed(seed, order[i]));
    LIBRA_ASSIGN_OR_RETURN(Expert expert, TrainExpertOn(model, family.train, s.recipe, family_seed));
    stored += ExpertParameters(expert);
    if (i > 0) run.fraction_changed.push_back(static_cast<double>(ExpertParameters(expert)) / stored);
    library.push_back(std::move(expert));
    LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(model, library.back(), /*trainable=*/false));
    absl::StatusOr<double> own = MeanAccuracy(*s.lab, family.held_in);
    nn::DetachAdapters(model);
    LIBRA_RETURN_IF_ERROR(own.status());
    run.oracle.push_back(*own);
    LIBRA_RETURN_IF_ERROR(ScoreLibrary(s, library, order, static_cast<int>(i), run));
  }
  return run;
}

// A learner's measurements of one seed as stream/<learner>/... metrics.
absl::Status RecordLearner(const Stream& s, const std::vector<int>& order, const std::string& name,
                           const LearnerRun& run, int seed, Results& r) {
  const std::string p = absl::StrCat("stream/", name, "/");
  const int n = run.matrix.tasks();
  std::vector<double> before;
  for (int f : order) before.push_back(s.base_accuracy[f]);
  LIBRA_ASSIGN_OR_RETURN(const double transfer, run.matrix.ForwardTransfer(before));
  r.AddValue(p + "final_accuracy", seed, run.matrix.FinalAverageAccuracy());
  r.AddValue(p + "forgetting", seed, run.matrix.Forgetting());
  r.AddValue(p + "forward_transfer", seed, transfer);
  r.AddValue(p + "fraction_changed", seed, Mean(run.fraction_changed));
  r.AddValue(p + "held_out", seed, run.held_out);
  for (int j = 0; j + 1 < n; ++j) {
    r.AddValue(absl::StrCat(p, "forgetting@", j), seed, run.matrix.At(j, j) - run.matrix.At(n - 1, j));
  }
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) r.AddValue(absl::StrCat(p, "R", i, j), seed, run.matrix.At(i, j));
  }
  return absl::OkStatus();
}

// F5's quantities: the library's final accuracy on the families before the
// last, and those families' own experts on them.
void RecordKeep(const LearnerRun& library, int seed, Results& r) {
  const int n = library.matrix.tasks();
  double final_sum = 0, oracle_sum = 0, routed_sum = 0;
  for (int j = 0; j + 1 < n; ++j) {
    final_sum += library.matrix.At(n - 1, j);
    oracle_sum += library.oracle[j];
    routed_sum += library.routed_to_own[j];
  }
  r.AddValue("stream/library/earlier_final", seed, final_sum / (n - 1));
  r.AddValue("stream/oracle/earlier", seed, oracle_sum / (n - 1));
  r.AddValue("stream/oracle/accuracy", seed, Mean(library.oracle));
  r.AddValue("stream/library/earlier_routed_to_own", seed, routed_sum / (n - 1));
  r.AddValue("stream/library/routed_to_own", seed, Mean(library.routed_to_own));
}

// The per-seed means of a learner's matrix entries, as a heatmap.
void DescribeMatrixPlot(const std::string& name, int n, Results& r) {
  nlohmann::json matrix = nlohmann::json::array(), labels = nlohmann::json::array();
  for (int i = 0; i < n; ++i) {
    labels.push_back(absl::StrCat("family ", i + 1));
    nlohmann::json row = nlohmann::json::array();
    for (int j = 0; j < n; ++j) {
      double sum = 0;
      const auto& values = r.Values(absl::StrCat("stream/", name, "/R", i, j));
      for (const auto& [seed, v] : values) sum += v;
      row.push_back(values.empty() ? 0.0 : sum / values.size());
    }
    matrix.push_back(row);
  }
  r.AddPlot({{"id", "stream_matrix_" + name}, {"kind", "heatmap"},
             {"title", "Token accuracy on family j after family i, " + name + " (mean over seeds)"},
             {"matrix", matrix}, {"row_labels", labels}, {"col_labels", labels},
             {"xlabel", "family j (stream position)"}, {"ylabel", "after family i"},
             {"vmin", 0}, {"annotate", true}});
}

void DescribePlots(int n, Results& r) {
  for (const char* name : {"sequential", "library"}) DescribeMatrixPlot(name, n, r);
  nlohmann::json cats = nlohmann::json::array(), series = nlohmann::json::array();
  for (int j = 0; j + 1 < n; ++j) cats.push_back(absl::StrCat("family ", j + 1));
  for (const char* name : {"sequential", "library"}) {
    nlohmann::json metrics = nlohmann::json::array();
    for (int j = 0; j + 1 < n; ++j) metrics.push_back(absl::StrCat("stream/", name, "/forgetting@", j));
    series.push_back({{"label", name}, {"metrics", metrics}});
  }
  r.AddPlot({{"id", "stream_forgetting"}, {"kind", "bar"},
             {"title", "Forgetting per family (accuracy just after learning it minus at the end)"},
             {"categories", cats}, {"ylabel", "token accuracy drop"}, {"series", series}});
}

void DescribeSetup(const Stream& s, Results& r) {
  std::vector<std::string> families, held_out;
  for (const Family& f : s.families) {
    families.push_back(absl::StrFormat("%s (%d tasks)", f.name, static_cast<int>(f.held_in.size())));
  }
  for (const LabTask* t : s.held_out) held_out.push_back(t->name);
  r.SetSetup(absl::StrFormat(
      "Experiment 1, the toy: see the configuration. Experiment 2, the testbed stream. Base: %s. "
      "Families of held-in tasks, in a seeded order per seed: %s. Both learners train a LoRA "
      "(rank %lld, alpha %g, on %s; lr %g, batch %lld) for %lld steps per family, with the same "
      "data order per family. Sequential: one LoRA continued family after family, no replay. "
      "Library: one fresh LoRA per family, earlier ones frozen, reused by Arrow routing (top-%lld, "
      "output mixing) over the experts so far; oracle: a family's own expert. Scores: "
      "teacher-forced token accuracy on %d test examples per task, a family's score the mean over "
      "its tasks; held-out tasks (%s) scored after the last family.",
      s.lab->DescribeBase(), absl::StrJoin(families, ", "),
      static_cast<long long>(s.lab_config.rank), s.lab_config.alpha,
      absl::StrJoin(s.lab_config.targets, ", "), s.recipe.learning_rate,
      static_cast<long long>(s.recipe.batch), static_cast<long long>(s.config.steps),
      static_cast<long long>(s.config.arrow_top_k), s.lab_config.test_per_task,
      absl::StrJoin(held_out, ", ")));
}

}  // namespace

absl::StatusOr<nlohmann::json> RunTestbedStream(const RunContext& ctx, Results& results) {
  const auto start = std::chrono::steady_clock::now();
  LIBRA_ASSIGN_OR_RETURN(Stream s, OpenStream(ctx));
  const int n = static_cast<int>(s.families.size());
  for (int seed : ctx.seeds) {
    const std::vector<int> order = cl::DomainOrder(n, static_cast<uint64_t>(seed));
    LIBRA_ASSIGN_OR_RETURN(const LearnerRun sequential, LearnSequentially(s, order, seed));
    LIBRA_ASSIGN_OR_RETURN(const LearnerRun library, GrowLibrary(s, order, seed));
    LIBRA_RETURN_IF_ERROR(RecordLearner(s, order, "sequential", sequential, seed, results));
    LIBRA_RETURN_IF_ERROR(RecordLearner(s, order, "library", library, seed, results));
    RecordKeep(library, seed, results);
    results.AddValue("stream/base/held_out", seed, s.base_held_out);
  }
  results.AddStageTime("testbed stream", SecondsSince(start));
  DescribeSetup(s, results);
  DescribePlots(n, results);
  nlohmann::json config = s.config.ToJson();
  config["lab"] = s.lab_config.ToJson();
  return config;
}

void JudgeTestbedClaims(Results& r) {
  r.AddClaim({"F4_testbed_forgetting",
              "On the testbed stream the library of per-family experts with Arrow routing forgets "
              "less than one LoRA fine-tuned family after family (forgetting of token accuracy).",
              Quantity::Metric("stream/library/forgetting"),
              Quantity::Metric("stream/sequential/forgetting"), Direction::kLess, 0.0});
  r.AddClaim({"F5_library_keeps",
              absl::StrFormat("After the last family, the Arrow-routed library's accuracy on the "
                              "earlier families is within %.2f of their own experts'.",
                              kKeepMargin),
              Quantity::Metric("stream/library/earlier_final"),
              Quantity::Metric("stream/oracle/earlier"), Direction::kAtLeast, kKeepMargin});
  r.AddClaim({"F5_sequential_loses",
              absl::StrFormat("The sequential LoRA loses more than %.2f of its accuracy on the "
                              "earlier families (forgetting).",
                              kSequentialLoss),
              Quantity::Metric("stream/sequential/forgetting"), Quantity::Constant(kSequentialLoss),
              Direction::kGreater, 0.0});
}

}  // namespace libra::papers::independent_mechanisms
