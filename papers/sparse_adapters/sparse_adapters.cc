// Paper (b), "Exploring Sparse Adapters for Scalable Merging of Parameter
// Efficient Experts", on the testbed (papers/lab/testbed_lab.h).
//
//   experts: per held-in task and seed, a sparse adapter (keep 5% and 1% of
//            entries, per layer, connection-sensitivity masks recomputed
//            during the first epoch; and 16 x 16 blocks at 5%), a LoRA of
//            about the same number of trainable entries as sparse 5%, and
//            full fine-tuning of the same modules (papers/lab/lab_experts.h),
//            each kind at the learning rate its validation score (own task
//            and merged) chose
//   merges:  the core registry: sparse_overlap for sparse experts, uniform
//            (mean of deltas) for LoRA and full, TIES (density 0.2) for full
//   subsets: 2, 5, 10 and all held-in tasks, drawn per seed (three draws
//            per size below all, the same for every method)
//   score:   teacher-forced token accuracy on the test split; in-distribution
//            = mean over the merged tasks, held-out = mean over held-out tasks
//   masks:   Jaccard of sparse 5% masks per layer (mean over task pairs) and
//            overlap growth as experts are merged (tasks in the seed's order)
#include <algorithm>
#include <cstdlib>
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
#include "papers/common/claim.h"
#include "papers/lab/lab_experts.h"
#include "papers/common/progress.h"
#include "papers/common/reproduce.h"
#include "papers/lab/testbed_lab.h"
#include "src/core/merge/mask_overlap.h"
#include "src/core/status_macros.h"
#include "src/nn/adapters.h"
#include "src/nn/expert.h"
#include "src/nn/model.h"
#include "src/nn/runtime.h"

namespace libra::papers::sparse_adapters {
namespace {

// Quick scale (measured, see README.md): 100 steps per expert, 32 test
// examples per task, the first 5 held-in tasks of each family.
constexpr int64_t kQuickSteps = 100;
constexpr int kQuickTestPerTask = 32;
constexpr int kQuickHeldInPerFamily = 5;
// Task subsets drawn per seed for each merge size below all tasks.
constexpr int kSubsetsPerSize = 3;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// An adapter kind as trained (one expert per task and seed).
struct TrainedKind {
  std::string id;     // metric prefix
  std::string label;  // tables and plots
  ExpertRecipe recipe;
  std::string merge_method;  // the kind's own merge (registry name)
};

// A merge of one trained kind by one registry method.
struct MergeRow {
  std::string id;
  std::string label;
  std::string kind;    // TrainedKind::id
  std::string method;  // registry name
  merge::MergeArguments args;
};

// Per-seed values kept here for the tables (Results keeps its own copy).
class Recorder {
 public:
  explicit Recorder(Results& results) : results_(results) {}
  void Add(const std::string& metric, int seed, double value) {
    results_.AddValue(metric, seed, value);
    values_[metric][seed] = value;
  }
  std::string Cell(const std::string& metric, const char* format = "%.3f") const {
    auto it = values_.find(metric);
    if (it == values_.end()) return "-";
    Summary s = Summarize(it->second);
    return absl::StrCat(absl::StrFormat(format, s.mean), " ± ", absl::StrFormat(format, s.std));
  }

 private:
  Results& results_;
  std::map<std::string, SeedValues> values_;
};

uint64_t ExpertSeed(int seed, const LabTask& task) {
  return static_cast<uint64_t>(seed) * 1000 + task.index;
}

std::string TaskNames(const std::vector<const LabTask*>& tasks) {
  return absl::StrJoin(tasks, ", ", [](std::string* out, const LabTask* t) { out->append(t->name); });
}

merge::ExpertMasks MasksOf(const Expert& expert) {
  merge::ExpertMasks masks;
  for (const nn::ExpertModule& m : expert) {
    if (m.kind != nn::ExpertModule::Kind::kSparse) continue;
    masks[m.module] = nn::ToCoreDelta(m).sparse;
  }
  return masks;
}

// Each kind's learning rate, chosen on validation data. Rates step by a
// factor of 3 from a third of the lab's rate to three times it; a kind whose
// best rate is its highest gets the next step up, to at most 3^kMaxRateSteps
// times the lab's rate (sparse adapters train few entries and want larger
// rates; README.md). One expert per kind, rate and selection task (the first
// held-in task of each family), with seed 0, which no experiment uses (their
// experts take seed * 1000 + task), trained in workers round by round. A
// rate's score is the mean of its experts' own-task accuracy and of their
// merge's (by the kind's own method): the paper uses each expert alone and
// merged, and a rate chosen on single tasks alone wrecked merges (sparse 1%
// at 0.243 merged 10 tasks to 0.099, below the base). Sets each kind's rate,
// records the scores, and returns true in a worker process that has trained
// its share.
constexpr int kMaxRateSteps = 4;

absl::StatusOr<bool> ChooseLearningRates(const RunContext& ctx, Lab& lab,
                                         const std::vector<const LabTask*>& held_in,
                                         std::vector<TrainedKind>& kinds, Results& results,
                                         WorkerRun* workers) {
  const double lab_rate = lab.config().expert_lr;
  std::vector<const LabTask*> selection;
  for (const LabTask* t : held_in) {
    if (std::none_of(selection.begin(), selection.end(),
                     [t](const LabTask* s) { return s->family == t->family; })) {
      selection.push_back(t);
    }
  }
  const ExpertSource source = [&](const ExpertRecipe& recipe, const LabTask& task) {
    return CachedExpert(*ctx.cache, lab, recipe, {&task}, ExpertSeed(0, task));
  };
  std::vector<std::vector<double>> rates(kinds.size(), {lab_rate / 3, lab_rate, lab_rate * 3});
  std::vector<std::vector<LearningRateScore>> scores(kinds.size());
  bool extended = true;
  for (int round = 1; extended; ++round) {
    std::vector<ExpertJob> jobs;
    for (size_t k = 0; k < kinds.size(); ++k) {
      for (double rate : rates[k]) {
        ExpertRecipe at_rate = kinds[k].recipe;
        at_rate.learning_rate = rate;
        for (const LabTask* t : selection) {
          jobs.push_back(RecipeExpertJob(*ctx.cache, lab, at_rate, {t}, ExpertSeed(0, *t)));
        }
      }
    }
    WorkerRun trained;
    LIBRA_ASSIGN_OR_RETURN(const bool worker,
                           TrainInWorkers(ctx, jobs, absl::StrCat("sparse_adapters (lr selection, round ", round, ")"),
                                          &trained));
    if (worker) return true;
    workers->workers = std::max(workers->workers, trained.workers);
    workers->trained += trained.trained;
    workers->seconds += trained.seconds;
    extended = false;
    for (size_t k = 0; k < kinds.size(); ++k) {
      // Only the rates this round added; earlier ones keep their scores.
      const std::vector<double> fresh(rates[k].begin() + scores[k].size(), rates[k].end());
      if (fresh.empty()) continue;
      LIBRA_ASSIGN_OR_RETURN(
          std::vector<LearningRateScore> added,
          ScoreLearningRates(lab.model(), kinds[k].recipe, fresh, selection, source,
                             LearningRateMerge{kinds[k].merge_method, {}}));
      scores[k].insert(scores[k].end(), added.begin(), added.end());
      const int steps_above = static_cast<int>(rates[k].size()) - 2;
      if (BestLearningRate(scores[k]) == rates[k].back() && steps_above < kMaxRateSteps) {
        rates[k].push_back(rates[k].back() * 3);
        extended = true;
      }
    }
  }
  std::vector<double> columns;
  for (const std::vector<double>& r : rates) {
    for (double rate : r) {
      if (std::find(columns.begin(), columns.end(), rate) == columns.end()) columns.push_back(rate);
    }
  }
  std::sort(columns.begin(), columns.end());
  std::vector<std::vector<std::string>> rows;
  for (size_t k = 0; k < kinds.size(); ++k) {
    kinds[k].recipe.learning_rate = BestLearningRate(scores[k]);
    std::vector<std::string> row = {kinds[k].label};
    for (double rate : columns) {
      auto it = std::find_if(scores[k].begin(), scores[k].end(),
                             [rate](const LearningRateScore& s) { return s.learning_rate == rate; });
      row.push_back(it == scores[k].end()
                        ? "-"
                        : absl::StrFormat("%.3f (%.3f / %.3f)", it->objective(), it->validation_accuracy,
                                          it->merged_validation_accuracy.value_or(0.0)));
    }
    row.push_back(absl::StrFormat("%g", kinds[k].recipe.learning_rate));
    rows.push_back(std::move(row));
    for (int seed : ctx.seeds) {
      results.AddValue(absl::StrCat("lr/", kinds[k].id), seed, kinds[k].recipe.learning_rate);
      for (const LearningRateScore& s : scores[k]) {
        results.AddValue(absl::StrFormat("lr_selection/%s/%g", kinds[k].id, s.learning_rate), seed,
                         s.objective());
        results.AddValue(absl::StrFormat("lr_selection/%s/%g/single", kinds[k].id, s.learning_rate),
                         seed, s.validation_accuracy);
        results.AddValue(absl::StrFormat("lr_selection/%s/%g/merged", kinds[k].id, s.learning_rate),
                         seed, s.merged_validation_accuracy.value_or(0.0));
      }
    }
  }
  std::vector<std::string> header = {"adapter"};
  for (double rate : columns) header.push_back(absl::StrFormat("lr %g", rate));
  header.push_back("chosen");
  results.AddTable(absl::StrCat("Learning rate per kind: validation token accuracy, the mean of each "
                                "task's own expert and of their merge (own / merged; tasks ",
                                TaskNames(selection), "; seed 0)"),
                   header, rows);
  return false;
}

absl::Status RunSparseAdapters(const RunContext& ctx, Results& results) {
  ConfigureRuntime(ctx.threads);
  LIBRA_ASSIGN_OR_RETURN(LabConfig config, LabConfigFromContext(ctx));
  if (ctx.quick()) {
    // Quick scale: every family, so that "all" merges 20 tasks (the paper's
    // largest merge): 5 kinds x 20 tasks x 3 seeds = 300 experts, about 13
    // minutes on 2 cores, over the 4-minute quick budget (README.md);
    // $LIBRA_LAB_CONFIG still wins.
    config.families.clear();
    config.expert_steps = kQuickSteps;
    config.test_per_task = kQuickTestPerTask;
    const char* env = std::getenv("LIBRA_LAB_CONFIG");
    if (env != nullptr && *env != '\0') {
      LIBRA_RETURN_IF_ERROR(config.Override(nlohmann::json::parse(env, nullptr, false)));
    }
  }
  results.SetConfig(config.ToJson());
  LIBRA_ASSIGN_OR_RETURN(std::unique_ptr<Lab> lab, Lab::Open(ctx, config));
  nn::CausalLMImpl& model = lab->model();
  const std::vector<LabTask>& tasks = lab->tasks();
  std::vector<const LabTask*> held_in, held_out;
  std::map<std::string, int> per_family;
  for (const LabTask& t : tasks) {
    if (t.held_out) {
      held_out.push_back(&t);
    } else if (!ctx.quick() || per_family[t.family]++ < kQuickHeldInPerFamily) {
      held_in.push_back(&t);
    }
  }
  const int n_in = static_cast<int>(held_in.size());
  if (n_in < 2 || held_out.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        lab->data_dir(), ": sparse_adapters needs at least 2 held-in and 1 held-out task, found ",
        n_in, " and ", held_out.size(), " (mark held-out tasks in suite.json, src/data/task_folder.h)"));
  }
  Recorder rec(results);

  // Sparse 5% of a 128 x 128 projection keeps 819 entries; LoRA rank 4 has
  // 4 (128 + 128) = 1024: the nearest rank.
  std::vector<TrainedKind> kinds = {
      {"sparse5", "sparse 5%", SparseRecipe(config, 0.05, 1), "sparse_overlap"},
      {"sparse1", "sparse 1%", SparseRecipe(config, 0.01, 1), "sparse_overlap"},
      {"block5", "sparse 5% (16x16 blocks)", SparseRecipe(config, 0.05, 16), "sparse_overlap"},
      {"lora", absl::StrCat("LoRA r", config.rank), LoraRecipe(config), "uniform"},
      {"full", "full FT", FullRecipe(config), "uniform"},
  };
  merge::MergeArguments ties_args;
  ties_args.scalars["density"] = 0.2;
  std::vector<MergeRow> rows = {
      {"sparse5", "sparse 5%, sparse_overlap", "sparse5", "sparse_overlap", {}},
      {"sparse1", "sparse 1%, sparse_overlap", "sparse1", "sparse_overlap", {}},
      {"block5", "sparse 5% blocks, sparse_overlap", "block5", "sparse_overlap", {}},
      {"lora", "LoRA, uniform", "lora", "uniform", {}},
      {"full", "full FT, uniform", "full", "uniform", {}},
      {"full_ties", "full FT, TIES (density 0.2)", "full", "ties", ties_args},
  };
  std::vector<int> sizes;
  for (int k : {2, 5, 10}) {
    if (k < n_in) sizes.push_back(k);
  }
  sizes.push_back(n_in);

  WorkerRun selection_workers;
  LIBRA_ASSIGN_OR_RETURN(const bool selection_worker,
                         ChooseLearningRates(ctx, *lab, held_in, kinds, results, &selection_workers));
  if (selection_worker) return absl::OkStatus();

  // Every expert first, in worker processes when --threads allows
  // (lab_experts.h); the loops below then read them from the cache.
  std::vector<ExpertJob> jobs;
  for (int seed : ctx.seeds) {
    for (const TrainedKind& kind : kinds) {
      for (const LabTask* t : held_in) {
        jobs.push_back(RecipeExpertJob(*ctx.cache, *lab, kind.recipe, {t}, ExpertSeed(seed, *t)));
      }
    }
  }
  WorkerRun workers;
  LIBRA_ASSIGN_OR_RETURN(const bool worker,
                         TrainInWorkers(ctx, jobs, "sparse_adapters", &workers));
  if (worker) return absl::OkStatus();

  // The base on every task: one artifact for every seed.
  auto start = std::chrono::steady_clock::now();
  double base_in = 0, base_out = 0;
  std::vector<double> base_score(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    LIBRA_ASSIGN_OR_RETURN(TaskScore s, lab->Score(tasks[i]));
    base_score[i] = s.token_accuracy;
    if (tasks[i].held_out) base_out += s.token_accuracy;
  }
  for (const LabTask* t : held_in) base_in += base_score[t->index];
  base_in /= n_in;
  base_out /= std::max<size_t>(1, held_out.size());
  const double base_eval_seconds = Seconds(start);

  double train_seconds = 0, eval_seconds = 0, merge_seconds = 0;
  int64_t trained = 0;
  std::map<std::string, int64_t> parameters;
  int merges_per_seed = 0;
  for (int k : sizes) merges_per_seed += static_cast<int>(rows.size()) * (k < n_in ? kSubsetsPerSize : 1);
  Progress progress("sparse_adapters",
                    static_cast<int>(ctx.seeds.size() * (kinds.size() * n_in + merges_per_seed)));
  for (int seed : ctx.seeds) {
    rec.Add("base/held_in", seed, base_in);
    rec.Add("base/held_out", seed, base_out);

    // Single-task experts.
    std::map<std::string, std::vector<Expert>> experts;
    for (const TrainedKind& kind : kinds) {
      double own = 0;
      for (int i = 0; i < n_in; ++i) {
        bool hit = false;
        LIBRA_ASSIGN_OR_RETURN(
            Expert expert, CachedExpert(*ctx.cache, *lab, kind.recipe, {held_in[i]},
                                        ExpertSeed(seed, *held_in[i]), &hit, &train_seconds));
        if (!hit) ++trained;
        parameters[kind.id] = ExpertParameters(expert);
        auto t0 = std::chrono::steady_clock::now();
        LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(model, expert, /*trainable=*/false));
        LIBRA_ASSIGN_OR_RETURN(TaskScore s, lab->Score(*held_in[i]));
        nn::DetachAdapters(model);
        eval_seconds += Seconds(t0);
        own += s.token_accuracy;
        rec.Add(absl::StrCat("single/", kind.id, "/", held_in[i]->name), seed, s.token_accuracy);
        experts[kind.id].push_back(std::move(expert));
        progress.Advance(absl::StrCat("seed ", seed, " ", kind.id, " ", held_in[i]->name));
      }
      rec.Add(absl::StrCat("single/", kind.id), seed, own / n_in);
    }

    // Merges of task subsets, the same subsets for every method. A size
    // below all draws kSubsetsPerSize subsets: the seed's value is their
    // mean, and their std is the spread over task subsets.
    std::mt19937_64 rng(static_cast<uint64_t>(seed) * 7919 + 17);
    std::vector<int> order(n_in);
    for (int i = 0; i < n_in; ++i) order[i] = i;
    for (int k : sizes) {
      const int draws = k < n_in ? kSubsetsPerSize : 1;
      std::map<std::string, std::vector<double>> per_draw;  // metric -> one value per subset
      for (int draw = 0; draw < draws; ++draw) {
        std::shuffle(order.begin(), order.end(), rng);
        std::vector<int> subset(order.begin(), order.begin() + k);
        std::sort(subset.begin(), subset.end());
        double base_subset = 0;
        for (int i : subset) base_subset += base_score[held_in[i]->index];
        per_draw[absl::StrCat("base/in/", k)].push_back(base_subset / k);
        std::map<std::string, double> in_score;
        for (const MergeRow& row : rows) {
          std::vector<const Expert*> chosen;
          for (int i : subset) chosen.push_back(&experts.at(row.kind)[i]);
          auto t0 = std::chrono::steady_clock::now();
          LIBRA_ASSIGN_OR_RETURN(Expert merged, MergeExperts(chosen, row.method, row.args));
          merge_seconds += Seconds(t0);
          t0 = std::chrono::steady_clock::now();
          LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(model, merged, /*trainable=*/false));
          double in = 0, out = 0;
          for (int i : subset) {
            LIBRA_ASSIGN_OR_RETURN(TaskScore s, lab->Score(*held_in[i]));
            in += s.token_accuracy;
          }
          for (const LabTask* t : held_out) {
            LIBRA_ASSIGN_OR_RETURN(TaskScore s, lab->Score(*t));
            out += s.token_accuracy;
          }
          nn::DetachAdapters(model);
          eval_seconds += Seconds(t0);
          in /= k;
          out /= std::max<size_t>(1, held_out.size());
          in_score[row.id] = in;
          per_draw[absl::StrCat("merge/", row.id, "/in/", k)].push_back(in);
          per_draw[absl::StrCat("merge/", row.id, "/out/", k)].push_back(out);
          progress.Advance(absl::StrCat("seed ", seed, " merge ", k, " (subset ", draw + 1, " of ",
                                        draws, ") ", row.id));
        }
        double best_other = 0;
        for (const MergeRow& row : rows) {
          if (row.kind == "lora" || row.kind == "full") best_other = std::max(best_other, in_score[row.id]);
        }
        per_draw[absl::StrCat("merge/sparse5_advantage/", k)].push_back(in_score["sparse5"] - best_other);
      }
      for (const auto& [metric, values] : per_draw) {
        const Summary over_subsets = Summarize(values);
        rec.Add(metric, seed, over_subsets.mean);
        if (draws > 1) rec.Add(absl::StrCat(metric, "/subset_std"), seed, over_subsets.std);
      }
    }

    // Mask statistics of sparse 5%: pairwise Jaccard per layer, overlap growth.
    std::vector<merge::ExpertMasks> masks;
    for (const Expert& e : experts.at("sparse5")) masks.push_back(MasksOf(e));
    std::map<int64_t, std::pair<double, int>> jaccard_by_layer;
    for (int a = 0; a < n_in; ++a) {
      for (int b = a + 1; b < n_in; ++b) {
        LIBRA_ASSIGN_OR_RETURN(std::vector<merge::ModuleOverlap> modules,
                               merge::MaskOverlapByModule(masks[a], masks[b]));
        for (const merge::LayerOverlap& l : merge::OverlapByLayer(modules)) {
          jaccard_by_layer[l.layer].first += l.overlap.jaccard();
          jaccard_by_layer[l.layer].second += 1;
        }
      }
    }
    for (const auto& [layer, sum] : jaccard_by_layer) {
      rec.Add(absl::StrCat("mask/jaccard/layer", layer), seed, sum.first / sum.second);
    }
    std::vector<merge::ExpertMasks> ordered;
    std::shuffle(order.begin(), order.end(), rng);
    for (int i : order) ordered.push_back(masks[i]);
    LIBRA_ASSIGN_OR_RETURN(std::vector<merge::OverlapGrowthPoint> growth,
                           merge::OverlapGrowth(ordered));
    for (const merge::OverlapGrowthPoint& p : growth) {
      rec.Add(absl::StrCat("mask/shared_fraction/", p.experts), seed, p.shared_fraction());
      rec.Add(absl::StrCat("mask/union_fraction/", p.experts), seed, p.union_fraction());
    }
  }
  progress.Finish();

  // Tables.
  std::vector<std::vector<std::string>> single_rows;
  for (const TrainedKind& kind : kinds) {
    single_rows.push_back({kind.label, absl::StrCat(parameters[kind.id]),
                           rec.Cell(absl::StrCat("single/", kind.id))});
  }
  single_rows.push_back({"base (no adapter)", "0", absl::StrFormat("%.3f", base_in)});
  results.AddTable("Single-task token accuracy (held-in experts on their own task), mean ± std over seeds",
                   {"adapter", "trainable entries", "own task"}, single_rows);

  std::vector<std::string> merge_columns = {"method"};
  for (int k : sizes) merge_columns.push_back(absl::StrCat("in, ", k, " tasks"));
  for (int k : sizes) merge_columns.push_back(absl::StrCat("held-out, ", k));
  std::vector<std::vector<std::string>> merge_rows;
  for (const MergeRow& row : rows) {
    std::vector<std::string> r = {row.label};
    for (int k : sizes) r.push_back(rec.Cell(absl::StrCat("merge/", row.id, "/in/", k)));
    for (int k : sizes) r.push_back(rec.Cell(absl::StrCat("merge/", row.id, "/out/", k)));
    merge_rows.push_back(std::move(r));
  }
  {
    std::vector<std::string> r = {"sparse 5% minus best LoRA/full merge"};
    for (int k : sizes) r.push_back(rec.Cell(absl::StrCat("merge/sparse5_advantage/", k)));
    for (size_t k = 0; k < sizes.size(); ++k) r.push_back("");
    merge_rows.push_back(std::move(r));
  }
  {
    std::vector<std::string> r = {"base (no adapter)"};
    for (int k : sizes) r.push_back(rec.Cell(absl::StrCat("base/in/", k)));
    for (size_t k = 0; k < sizes.size(); ++k) r.push_back(absl::StrFormat("%.3f", base_out));
    merge_rows.push_back(std::move(r));
  }
  results.AddTable(
      absl::StrFormat("Merged experts: token accuracy in distribution (mean over the merged tasks) "
                      "and held out (base: held-in %.3f, held-out %.3f), mean ± std over seeds",
                      base_in, base_out),
      merge_columns, merge_rows);

  {
    std::vector<std::string> columns = {"method"};
    std::vector<int> drawn;
    for (int k : sizes) {
      if (k < n_in) drawn.push_back(k);
    }
    for (int k : drawn) columns.push_back(absl::StrCat("in, ", k, " tasks"));
    for (int k : drawn) columns.push_back(absl::StrCat("held-out, ", k));
    std::vector<std::vector<std::string>> spread_rows;
    for (const MergeRow& row : rows) {
      std::vector<std::string> r = {row.label};
      for (const char* split : {"in", "out"}) {
        for (int k : drawn) {
          r.push_back(rec.Cell(absl::StrCat("merge/", row.id, "/", split, "/", k, "/subset_std")));
        }
      }
      spread_rows.push_back(std::move(r));
    }
    std::vector<std::string> r = {"sparse 5% minus best LoRA/full merge"};
    for (int k : drawn) r.push_back(rec.Cell(absl::StrCat("merge/sparse5_advantage/", k, "/subset_std")));
    for (size_t k = 0; k < drawn.size(); ++k) r.push_back("");
    spread_rows.push_back(std::move(r));
    results.AddTable(absl::StrCat("Spread over task subsets: std over the ", kSubsetsPerSize,
                                  " subsets each seed draws per size (mean ± std over seeds)"),
                     columns, spread_rows);
  }

  std::vector<std::vector<std::string>> mask_rows;
  for (int64_t layer = 0; layer < model.config().num_hidden_layers; ++layer) {
    mask_rows.push_back({absl::StrCat("layer ", layer, " Jaccard (mean over task pairs)"),
                         rec.Cell(absl::StrCat("mask/jaccard/layer", layer))});
  }
  for (int k = 1; k <= n_in; ++k) {
    mask_rows.push_back({absl::StrCat(k, " experts: shared / union, union / entries"),
                         absl::StrCat(rec.Cell(absl::StrCat("mask/shared_fraction/", k)), ", ",
                                      rec.Cell(absl::StrCat("mask/union_fraction/", k)))});
  }
  results.AddTable("Sparse 5% masks: overlap between experts", {"statistic", "value"}, mask_rows);

  std::vector<std::vector<std::string>> timing_rows;
  timing_rows.push_back({"base model", lab->base_from_cache() ? "reused" : "pretrained",
                         absl::StrFormat("%.1f s", lab->base_seconds())});
  timing_rows.push_back({"base evaluation", "", absl::StrFormat("%.1f s", base_eval_seconds)});
  timing_rows.push_back({"expert training (cache misses)",
                         absl::StrFormat("%lld experts, %lld steps each",
                                         static_cast<long long>(trained),
                                         static_cast<long long>(config.expert_steps)),
                         absl::StrFormat("%.1f s", train_seconds)});
  if (workers.workers > 0) {
    timing_rows.push_back({absl::StrCat("expert training in ", workers.workers, " worker processes"),
                           absl::StrFormat("%d experts, %lld steps each", workers.trained,
                                           static_cast<long long>(config.expert_steps)),
                           absl::StrFormat("%.1f s (wall)", workers.seconds)});
  }
  if (selection_workers.workers > 0) {
    timing_rows.push_back({absl::StrCat("learning-rate selection in ", selection_workers.workers,
                                        " worker processes"),
                           absl::StrFormat("%d experts", selection_workers.trained),
                           absl::StrFormat("%.1f s (wall)", selection_workers.seconds)});
  }
  timing_rows.push_back({"merging (core registry)", "", absl::StrFormat("%.1f s", merge_seconds)});
  timing_rows.push_back({"evaluation of experts and merges", "", absl::StrFormat("%.1f s", eval_seconds)});
  results.AddTable("Timings (this run)", {"stage", "detail", "time"}, timing_rows);

  results.SetSetup(absl::StrFormat(
      "Base: %s. Tasks: %d "
      "held-in (%s) and %zu held-out (%s)%s. Experts on %s of every layer, %lld steps, "
      "batch %lld, lr per kind chosen on validation data (from %g up in factors of 3; the "
      "table), %d "
      "training examples per task: sparse adapters keeping 5%% "
      "and 1%% of entries per module (connection-sensitivity masks |grad * (W0 + dW)|, recomputed "
      "every 4 steps during the first epoch, then frozen) and 5%% in 16x16 blocks; LoRA rank %lld "
      "(alpha %.0f), the rank nearest sparse 5%%'s entry count; full fine-tuning of the same "
      "modules. Merges through the core registry: sparse_overlap (sum over covering experts / "
      "cover count) for sparse, uniform mean of deltas for LoRA and full, TIES (density 0.2) for "
      "full. Task subsets of 2, 5, 10 and all held-in tasks drawn per seed (%d per size below "
      "all, averaged), the same for every method. Scores: teacher-forced token accuracy on %d test examples per task.",
      lab->DescribeBase(), n_in,
      TaskNames(held_in), held_out.size(), TaskNames(held_out),
      ctx.quick() ? absl::StrCat(" (quick scale: the first ", kQuickHeldInPerFamily,
                                 " held-in tasks of each family)") : std::string(),
      absl::StrJoin(config.targets, ", "), static_cast<long long>(config.expert_steps),
      static_cast<long long>(config.expert_batch), config.expert_lr / 3,
      config.train_per_task,
      static_cast<long long>(config.rank), config.alpha, kSubsetsPerSize, config.test_per_task));

  for (const TrainedKind& kind : kinds) {
    results.DescribeMetric(absl::StrCat("single/", kind.id),
                           absl::StrCat(kind.label, " experts on their own task (mean over held-in tasks)"));
    results.DescribeMetric(absl::StrCat("lr/", kind.id),
                           absl::StrCat(kind.label, ": learning rate chosen on validation data"));
  }
  const std::string all = absl::StrCat(n_in);
  results.DescribeMetric(absl::StrCat("merge/sparse5_advantage/", all),
                         "in-distribution accuracy of the sparse 5% merge minus the best LoRA or full merge, all tasks");
  results.DescribeMetric("merge/sparse5_advantage/2",
                         "the same advantage when 2 tasks are merged");

  // Measured at quick scale, seeds 1-3 (README.md), on the testbed's base
  // (12000 steps, own format 0.92; every kind on q, k, v, o, at the rate its
  // validation score, own task and merged, chose): after a real attempt
  // these do not hold.
  const std::string after_selection =
      "100-step experts on 20 held-in tasks, each kind at the rate its validation score (own task "
      "and merged) chose (sparse 5% 0.027, LoRA 0.009, full 0.009): sparse 5% matches LoRA and "
      "full fine-tuning on single tasks (0.912 vs 0.920 and 0.900); merged over all 20 tasks it "
      "keeps 0.340, under LoRA's 0.375 and full fine-tuning's 0.399";
  const std::map<std::string, KnownFailure> known = {
      {"merge_keeps_most",
       {after_selection, "20 tasks: sparse 5% 0.340 +- 0.019 vs full 0.399, LoRA 0.375, TIES full "
                         "0.286; advantage -0.059 +- 0.040"}},
      {"advantage_grows",
       {after_selection, "advantage -0.010 +- 0.015 (2 tasks, mean of 3 subsets per seed) vs "
                         "-0.059 +- 0.040 (20 tasks): inconclusive"}},
      {"held_out_weak_sparse5",
       {"the held-out tasks share answer formats with held-in tasks of their family (testbed design), so any merge lifts them",
        "held-out 0.246 +- 0.028 vs base 0.155"}},
      {"held_out_weak_lora",
       {"as held_out_weak_sparse5", "held-out 0.259 +- 0.002 vs base 0.155"}},
      {"held_out_weak_full",
       {"as held_out_weak_sparse5", "held-out 0.274 +- 0.010 vs base 0.155"}},
      {"held_out_weak_full_ties",
       {"as held_out_weak_sparse5", "held-out 0.260 +- 0.011 vs base 0.155"}},
  };
  auto claim = [&](const std::string& id, const std::string& statement, Quantity a, Quantity b,
                   Direction d, double margin) {
    Claim c{id, statement, std::move(a), std::move(b), d, margin};
    if (ctx.quick() && known.count(id)) {
      c.known_failure = true;
      c.failure = known.at(id);
    }
    results.AddClaim(std::move(c));
  };
  // Margins fixed before measuring: 0.02 token accuracy is "matches".
  claim("single_vs_lora",
        "Sparse adapters (5%) match or beat LoRA on single tasks (within 0.02 token accuracy).",
        Quantity::Metric("single/sparse5"), Quantity::Metric("single/lora"), Direction::kAtLeast,
        0.02);
  claim("single_vs_full",
        "Sparse adapters (5%) match or beat full fine-tuning on single tasks (within 0.02).",
        Quantity::Metric("single/sparse5"), Quantity::Metric("single/full"), Direction::kAtLeast,
        0.02);
  claim("merge_keeps_most",
        absl::StrCat("Merging all ", n_in,
                     " held-in tasks, sparse 5% keeps the most in-distribution performance "
                     "(above the best LoRA or full merge)."),
        Quantity::Metric(absl::StrCat("merge/sparse5_advantage/", all)), Quantity::Constant(0.0),
        Direction::kGreater, 0.0);
  claim("advantage_grows",
        absl::StrCat("The sparse advantage grows with the number of merged tasks (all ", n_in,
                     " vs 2)."),
        Quantity::Metric(absl::StrCat("merge/sparse5_advantage/", all)),
        Quantity::Metric("merge/sparse5_advantage/2"), Direction::kGreater, 0.0);
  for (const MergeRow& row : rows) {
    if (row.id != "sparse5" && row.id != "lora" && row.id != "full" && row.id != "full_ties") continue;
    claim(absl::StrCat("held_out_weak_", row.id),
          absl::StrCat("Held-out performance stays weak (", row.label, ", all tasks merged: at "
                       "most base + 0.05)."),
          Quantity::Metric(absl::StrCat("merge/", row.id, "/out/", all)),
          Quantity::Metric("base/held_out"), Direction::kAtMost, 0.05);
  }

  // Plots.
  nlohmann::json xs = nlohmann::json::array();
  for (int k : sizes) xs.push_back(k);
  for (const char* split : {"in", "out"}) {
    nlohmann::json series = nlohmann::json::array();
    for (const MergeRow& row : rows) {
      nlohmann::json metrics = nlohmann::json::array(), band = nlohmann::json::array();
      for (int k : sizes) {
        const std::string metric = absl::StrCat("merge/", row.id, "/", split, "/", k);
        metrics.push_back(metric);
        band.push_back(k < n_in ? nlohmann::json(absl::StrCat(metric, "/subset_std")) : nlohmann::json());
      }
      series.push_back({{"label", row.label}, {"metrics", metrics}, {"band", band}});
    }
    const bool in = std::string(split) == "in";
    const std::string spreads = "(bars: std over seeds; band: std over task subsets)";
    results.AddPlot({{"id", in ? "merge_in_distribution" : "merge_held_out"},
                     {"kind", "line"},
                     {"title", absl::StrCat(in ? "In-distribution" : "Held-out",
                                            " token accuracy vs merged tasks\n", spreads)},
                     {"x", xs},
                     {"xlabel", "number of merged tasks"},
                     {"ylabel", "token accuracy"},
                     {"series", series}});
  }
  {
    nlohmann::json metrics = nlohmann::json::array();
    std::vector<std::string> cats;
    for (const TrainedKind& kind : kinds) {
      cats.push_back(kind.label);
      metrics.push_back(absl::StrCat("single/", kind.id));
    }
    results.AddPlot({{"id", "single_task"},
                     {"kind", "bar"},
                     {"title", "Single-task token accuracy (mean ± std over seeds)"},
                     {"ylabel", "token accuracy"},
                     {"categories", cats},
                     {"xrotation", 20},
                     {"series", {{{"label", "own task"}, {"metrics", metrics}}}}});
  }
  nlohmann::json growth_x = nlohmann::json::array();
  nlohmann::json shared = nlohmann::json::array(), uni = nlohmann::json::array();
  for (int k = 1; k <= n_in; ++k) {
    growth_x.push_back(k);
    shared.push_back(absl::StrCat("mask/shared_fraction/", k));
    uni.push_back(absl::StrCat("mask/union_fraction/", k));
  }
  results.AddPlot({{"id", "mask_overlap_growth"},
                   {"kind", "line"},
                   {"title", "Sparse 5% masks as experts are merged"},
                   {"x", growth_x},
                   {"xlabel", "number of merged experts"},
                   {"ylabel", "fraction"},
                   {"series",
                    {{{"label", "entries shared by 2+ masks / union"}, {"metrics", shared}},
                     {{"label", "union / all entries"}, {"metrics", uni}}}}});
  return absl::OkStatus();
}

}  // namespace
}  // namespace libra::papers::sparse_adapters

int main(int argc, char** argv) {
  return libra::papers::ReproduceMain(
      argc, argv,
      {"sparse_adapters", "Sparse adapters for scalable merging (paper (b), testbed)",
       &libra::papers::sparse_adapters::RunSparseAdapters});
}
