// Paper (f): "From IID to the Independent Mechanisms assumption in
// continual learning" (Ostapenko et al., 2023), a position paper, turned
// into a measured experiment (README.md).
//
// Experiment 1, the sparse-mechanism-shift toy (after Bengio et al. 2019):
//   1. DrawStreams: per seed, kSystems random ground truths A -> B over
//      kValues values, each with its continual sequence of shifts: the first
//      distribution, an intervention on P(A), a change of P(B | A = a) for
//      one a, a label-side shift (new P(B), P(A | B) kept), then a return to
//      the first distribution.
//   2. RunStream: the causal P(A)P(B|A), anti-causal P(B)P(A|B) and
//      monolithic joint-softmax learners, logit tables trained by SGD on the
//      same batches, task after task; measured per learner and shift:
//      adaptation regret, gradient share in the changed module, drift of the
//      unchanged mechanisms, fraction of parameters changed, and the
//      accuracy matrix (score -KL) for forgetting and forward transfer.
//   3. JudgeClaims F1-F4, tables and plots.
//
// Experiment 2, a library of modules against one monolithic adapter on the
// testbed's task families as a continual stream (testbed_stream.h): F4's
// testbed half and F5.
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <chrono>
#include <map>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "papers/common/reproduce.h"
#include "papers/independent_mechanisms/testbed_stream.h"
#include "papers/lab/testbed_lab.h"
#include "src/core/cl/mechanisms.h"
#include "src/core/cl/metrics.h"
#include "src/core/status_macros.h"

namespace libra::papers::independent_mechanisms {
namespace {

using cl::Factorisation;
using cl::LogitModel;
using cl::MechanismSystem;
using cl::Table;

// The toy, fixed before the first run.
constexpr int kValues = 10;            // N, values of A and of B
constexpr int kSystems = 20;           // ground truths per seed
constexpr int kBatch = 256;            // samples per SGD step, shared by the learners
constexpr double kLearningRate = 1.0;  // plain SGD on the mean NLL, every learner
constexpr int kFirstTaskSteps = 2000;  // learning the first distribution
constexpr int kShiftSteps = 300;       // each later task
constexpr int kRegretSteps = 100;      // the adaptation window of the regret
constexpr double kChangedTolerance = 0.1;  // of the largest parameter change
constexpr int kCurveSteps[] = {0, 5, 10, 20, 40, 70, 99};

// Claims' margins, fixed before the first run.
constexpr double kRegretRatio = 0.8;     // F1: causal regret at most 80% of the other's
constexpr double kGradientShare = 0.9;   // F2: share of ||g||^2 in the changed module
constexpr double kSparsityGap = 0.2;     // F2: fraction changed, monolithic minus causal
constexpr double kDriftTolerance = 0.05; // F3: mean total variation of P(B | A)

constexpr Factorisation kLearners[] = {Factorisation::kCausal, Factorisation::kAntiCausal,
                                       Factorisation::kJoint};
// Tasks 1..4; task 0 is the first distribution.
const char* const kShifts[] = {"cause", "mechanism", "label", "return"};
constexpr int kTasks = 5;

struct Stream {
  std::vector<MechanismSystem> tasks;  // kTasks distributions
  int shifted_value = 0;               // the a of the mechanism shift
};

// Sums over the systems of one seed, divided at the end.
using Sums = std::map<std::string, double>;

Stream DrawStream(std::mt19937_64& rng) {
  Stream s;
  s.tasks.push_back(cl::RandomSystem(kValues, rng));
  s.tasks.push_back(cl::InterveneOnCause(s.tasks.back(), rng));
  s.shifted_value = static_cast<int>(cl::UniformDouble(rng) * kValues);
  s.tasks.push_back(cl::ShiftMechanism(s.tasks.back(), s.shifted_value, rng));
  s.tasks.push_back(cl::ShiftEffectMarginal(s.tasks.back(), rng));
  s.tasks.push_back(s.tasks[0]);
  return s;
}

double Kl(const LogitModel& m, const Table& joint) {
  return cl::CrossEntropy(m, joint) - cl::Entropy(joint);
}

// The mean total variation between two models' P(B | A) over the rows a
// with keep[a] (the unchanged mechanisms).
double ConditionalDrift(const LogitModel& before, const LogitModel& after,
                        const std::vector<bool>& keep) {
  const Table p = cl::ConditionalOfSecondGivenFirst(cl::ModelJoint(before));
  const Table q = cl::ConditionalOfSecondGivenFirst(cl::ModelJoint(after));
  Table p_kept, q_kept;
  for (int a = 0; a < kValues; ++a) {
    if (!keep[a]) continue;
    p_kept.push_back(p[a]);
    q_kept.push_back(q[a]);
  }
  return cl::MeanTotalVariation(p_kept, q_kept);
}

// Step 0 of a shift, on the new distribution's population gradient: the
// share in the module that changed (causal: the marginal for the cause
// shift, row a for the mechanism shift; monolithic: row a's cells).
void MeasureGradientShares(const LogitModel& m, const Stream& s, int task, Sums& sums) {
  const std::string name = cl::FactorisationName(m.factorisation);
  const std::vector<double> g = cl::Gradient(m, s.tasks[task].Joint());
  if (m.factorisation == Factorisation::kCausal && task == 1) {
    sums[name + "/cause/grad_share"] += cl::GradientShare(g, cl::Modules(m)[0]);
  }
  if (m.factorisation == Factorisation::kCausal && task == 2) {
    const cl::ModuleRange row = cl::Modules(m)[1 + s.shifted_value];
    sums[name + "/mechanism/grad_share"] += cl::GradientShare(g, row);
    // Diagnostic: the share of the gradient's change caused by the shift,
    // without the residual gradient left by the unfinished earlier tasks.
    std::vector<double> change = cl::Gradient(m, s.tasks[task - 1].Joint());
    for (size_t i = 0; i < g.size(); ++i) change[i] = g[i] - change[i];
    sums[name + "/mechanism/grad_share_of_change"] += cl::GradientShare(change, row);
    sums[name + "/mechanism/shifted_value_mass"] += s.tasks[task].p_a[s.shifted_value];
  }
  if (m.factorisation == Factorisation::kJoint && task == 2) {
    sums[name + "/mechanism/grad_share"] +=
        cl::GradientShare(g, {s.shifted_value * kValues, kValues});
  }
}

// One task of the stream for one learner, on the shared batches.
void LearnTask(LogitModel& m, const Stream& s, int task, const std::vector<Table>& batches,
               Sums& sums) {
  const std::string prefix =
      task == 0 ? "" : absl::StrCat(cl::FactorisationName(m.factorisation), "/", kShifts[task - 1]);
  const LogitModel before = m;
  const Table truth = s.tasks[task].Joint();
  if (task > 0) MeasureGradientShares(m, s, task, sums);
  for (size_t step = 0; step < batches.size(); ++step) {
    if (task > 0 && static_cast<int>(step) < kRegretSteps) {
      const double kl = Kl(m, truth);
      sums[prefix + "/regret"] += kl;
      for (int t : kCurveSteps) {
        if (t == static_cast<int>(step)) sums[absl::StrCat(prefix, "/kl@", t)] += kl;
      }
    }
    cl::SgdStep(m, batches[step], kLearningRate);
  }
  if (task == 0) return;
  sums[prefix + "/fraction_changed"] += cl::FractionChanged(before.params, m.params, kChangedTolerance);
  std::vector<bool> keep(kValues, true);
  if (task == 2) keep[s.shifted_value] = false;
  if (task <= 2) sums[prefix + "/mechanism_drift"] += ConditionalDrift(before, m, keep);
}

// The whole stream for the three learners; the accuracy matrices score
// -KL(p_j || q after task i), so forgetting and forward transfer are in nats.
absl::Status RunStream(const Stream& s, std::mt19937_64& rng, Sums& sums) {
  std::vector<LogitModel> models;
  std::vector<cl::AccuracyMatrix> matrices(3, cl::AccuracyMatrix(kTasks));
  std::vector<std::vector<double>> before(3);
  for (Factorisation f : kLearners) models.push_back(cl::UniformModel(f, kValues));
  for (int l = 0; l < 3; ++l) {
    for (int j = 0; j < kTasks; ++j) before[l].push_back(-Kl(models[l], s.tasks[j].Joint()));
  }
  for (int task = 0; task < kTasks; ++task) {
    std::vector<Table> batches;
    const int steps = task == 0 ? kFirstTaskSteps : kShiftSteps;
    for (int i = 0; i < steps; ++i) batches.push_back(cl::SampleCounts(s.tasks[task], kBatch, rng));
    for (int l = 0; l < 3; ++l) {
      LearnTask(models[l], s, task, batches, sums);
      for (int j = 0; j < kTasks; ++j) matrices[l].Set(task, j, -Kl(models[l], s.tasks[j].Joint()));
    }
  }
  for (int l = 0; l < 3; ++l) {
    const std::string name = cl::FactorisationName(kLearners[l]);
    sums[name + "/forgetting"] += matrices[l].Forgetting();
    LIBRA_ASSIGN_OR_RETURN(const double transfer, matrices[l].ForwardTransfer(before[l]));
    sums[name + "/forward_transfer"] += transfer;
    for (int i = 0; i < kTasks; ++i) {
      for (int j = 0; j < kTasks; ++j) sums[absl::StrCat(name, "/R", i, j)] += matrices[l].At(i, j);
    }
  }
  return absl::OkStatus();
}

absl::Status RunToy(const RunContext& ctx, Results& results) {
  const auto start = std::chrono::steady_clock::now();
  for (int seed : ctx.seeds) {
    std::mt19937_64 rng(static_cast<uint64_t>(seed));
    Sums sums;
    for (int i = 0; i < kSystems; ++i) {
      const Stream stream = DrawStream(rng);
      LIBRA_RETURN_IF_ERROR(RunStream(stream, rng, sums));
    }
    for (const auto& [metric, sum] : sums) results.AddValue(metric, seed, sum / kSystems);
    for (const char* other : {"anti_causal", "monolithic"}) {
      for (const char* shift : {"cause", "mechanism", "label", "return"}) {
        results.AddValue(absl::StrCat("f1/", shift, "/causal_over_", other), seed,
                         sums[absl::StrCat("causal/", shift, "/regret")] /
                             sums[absl::StrCat(other, "/", shift, "/regret")]);
      }
    }
  }
  results.AddStageTime("toy streams", SecondsSince(start));
  return absl::OkStatus();
}

Quantity M(const std::string& metric) { return Quantity::Metric(metric); }
Quantity C(double value) { return Quantity::Constant(value); }

void JudgeClaims(Results& r) {
  for (const char* shift : {"cause", "mechanism"}) {
    for (const char* other : {"anti_causal", "monolithic"}) {
      r.AddClaim({absl::StrCat("F1_", shift, "_vs_", other),
                  absl::StrFormat("After the %s shift the causal-modular learner's adaptation "
                                  "regret is at most %.0f%% of the %s learner's.",
                                  shift, 100 * kRegretRatio, other),
                  M(absl::StrCat("f1/", shift, "/causal_over_", other)), C(kRegretRatio),
                  Direction::kAtMost, 0.0});
    }
  }
  r.AddClaim({"F2_share_cause",
              "At the intervention on P(A), at least 90% of the causal learner's squared gradient "
              "norm falls in its P(A) module.",
              M("causal/cause/grad_share"), C(kGradientShare), Direction::kAtLeast, 0.0});
  r.AddClaim({"F2_share_mechanism",
              "At the shift of P(B | A = a), at least 90% of the causal learner's squared gradient "
              "norm falls in its row a of P(B | A).",
              M("causal/mechanism/grad_share"), C(kGradientShare), Direction::kAtLeast, 0.0});
  for (const char* shift : {"cause", "mechanism"}) {
    r.AddClaim({absl::StrCat("F2_sparse_", shift),
                absl::StrFormat("Over the %s shift the causal learner changes a fraction of its "
                                "parameters at least %.1f below the monolithic learner's.",
                                shift, kSparsityGap),
                M(absl::StrCat("causal/", shift, "/fraction_changed")),
                M(absl::StrCat("monolithic/", shift, "/fraction_changed")), Direction::kLess,
                kSparsityGap});
  }
  r.AddClaim({"F3_invariance",
              "Under the intervention on P(A) the causal learner's P(B | A) drifts by at most 0.05 "
              "(mean total variation over a).",
              M("causal/cause/mechanism_drift"), C(kDriftTolerance), Direction::kAtMost, 0.0});
  r.AddClaim({"F3_vs_monolithic",
              "... and by less than the P(B | A) implied by the monolithic learner.",
              M("causal/cause/mechanism_drift"), M("monolithic/cause/mechanism_drift"),
              Direction::kLess, 0.0});
  r.AddClaim({"F4_forgetting",
              "Over the stream the causal-modular learner forgets less than the monolithic one "
              "(forgetting of -KL, nats).",
              M("causal/forgetting"), M("monolithic/forgetting"), Direction::kLess, 0.0});
}

void DescribePlots(Results& r) {
  nlohmann::json xs = nlohmann::json::array();
  for (int t : kCurveSteps) xs.push_back(t);
  for (const char* shift : kShifts) {
    nlohmann::json series = nlohmann::json::array();
    for (Factorisation f : kLearners) {
      nlohmann::json metrics = nlohmann::json::array();
      for (int t : kCurveSteps) {
        metrics.push_back(absl::StrCat(cl::FactorisationName(f), "/", shift, "/kl@", t));
      }
      series.push_back({{"label", cl::FactorisationName(f)}, {"metrics", metrics}});
    }
    r.AddPlot({{"id", absl::StrCat("adaptation_", shift)}, {"kind", "line"},
               {"title", absl::StrCat("KL(new || model) while adapting to the ", shift, " shift")},
               {"x", xs}, {"xlabel", "SGD step after the shift"}, {"ylabel", "KL (nats)"},
               {"series", series}});
  }
  nlohmann::json cats = nlohmann::json::array(), series = nlohmann::json::array();
  for (const char* shift : kShifts) cats.push_back(shift);
  for (Factorisation f : kLearners) {
    nlohmann::json metrics = nlohmann::json::array();
    for (const char* shift : kShifts) {
      metrics.push_back(absl::StrCat(cl::FactorisationName(f), "/", shift, "/regret"));
    }
    series.push_back({{"label", cl::FactorisationName(f)}, {"metrics", metrics}});
  }
  r.AddPlot({{"id", "regret"}, {"kind", "bar"},
             {"title", absl::StrCat("Adaptation regret: summed KL over the first ", kRegretSteps,
                                    " steps")},
             {"categories", cats}, {"ylabel", "regret (nats x steps)"}, {"series", series}});
}

// The accuracy matrices (mean over seeds) as heatmaps, one per learner.
void DescribeMatrices(Results& r) {
  nlohmann::json labels = {"first", "cause", "mechanism", "label", "return"};
  for (Factorisation f : kLearners) {
    const std::string name = cl::FactorisationName(f);
    nlohmann::json matrix = nlohmann::json::array();
    for (int i = 0; i < kTasks; ++i) {
      nlohmann::json row = nlohmann::json::array();
      for (int j = 0; j < kTasks; ++j) {
        double sum = 0.0;
        const auto& values = r.Values(absl::StrCat(name, "/R", i, j));
        for (const auto& [seed, v] : values) sum += v;
        row.push_back(sum / values.size());
      }
      matrix.push_back(row);
    }
    r.AddPlot({{"id", "matrix_" + name}, {"kind", "heatmap"},
               {"title", "-KL(p_j || model after task i), " + name + " (mean over seeds)"},
               {"matrix", matrix}, {"row_labels", labels}, {"col_labels", labels},
               {"xlabel", "distribution j"}, {"ylabel", "after task i"}, {"annotate", true}});
  }
}

absl::Status Run(const RunContext& ctx, Results& results) {
  nlohmann::json config = {{"values", kValues}, {"systems_per_seed", kSystems}, {"batch", kBatch},
                           {"learning_rate", kLearningRate}, {"first_task_steps", kFirstTaskSteps},
                           {"shift_steps", kShiftSteps}, {"regret_steps", kRegretSteps},
                           {"changed_tolerance", kChangedTolerance},
                           {"shifts", {"cause", "mechanism", "label", "return"}}};
  LIBRA_RETURN_IF_ERROR(RunToy(ctx, results));
  LIBRA_ASSIGN_OR_RETURN(config["testbed_stream"], RunTestbedStream(ctx, results));
  results.SetConfig(config);
  JudgeClaims(results);
  JudgeTestbedClaims(results);
  DescribePlots(results);
  DescribeMatrices(results);
  return absl::OkStatus();
}

}  // namespace
}  // namespace libra::papers::independent_mechanisms

int main(int argc, char** argv) {
  return libra::papers::ReproduceMain(
      argc, argv,
      libra::papers::LabPaper("independent_mechanisms",
                              "From IID to the Independent Mechanisms assumption in continual learning",
                              &libra::papers::independent_mechanisms::Run));
}
