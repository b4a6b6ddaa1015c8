// Paper (b), "Exploring Sparse Adapters for Scalable Merging of Parameter
// Efficient Experts" (2025), on the testbed lab (papers/common/testbed_lab.h):
//
//   base:    the lab's small Llama-family byte-level model (one artifact)
//   experts: per held-in task and seed, a sparse adapter (src/nn/
//            sparse_adapter.h: keep 5% and 1% single entries, 5% in 16x16
//            blocks; SNIP mask recomputed every 4 steps in the first epoch),
//            a LoRA (the lab's, rank 4; similar trainable count to sparse
//            5%), and full fine-tuning of the same projections (q, v)
//   merges:  of 2, 5, 10 and all held-in tasks (a random subset per seed):
//            sparse_overlap for sparse experts, the uniform mean of deltas
//            for LoRA and full fine-tuning (core merge registry)
//   score:   teacher-forced token accuracy on each task's test split
//   masks:   Jaccard overlap of the sparse experts' masks per layer and the
//            overlap growth with the number of merged experts
//
// Claims (directions of the paper): sparse matches LoRA and full on single
// tasks; after merging all tasks sparse keeps the most in-distribution
// accuracy and its advantage over LoRA grows with the number of tasks;
// held-out accuracy stays weak for every method.
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
#include "papers/common/progress.h"
#include "papers/common/reproduce.h"
#include "papers/common/testbed_lab.h"
#include "src/core/merge/mask_overlap.h"
#include "src/core/merge/merge.h"
#include "src/core/merge/registry.h"
#include "src/core/status_macros.h"
#include "src/nn/adapters.h"
#include "src/nn/expert.h"
#include "src/nn/model.h"
#include "src/nn/runtime.h"
#include "src/nn/sparse_adapter.h"
#include "src/nn/trainer.h"

namespace libra::papers::sparse_adapters {
namespace {

struct Method {
  std::string id;
  std::string label;
  nn::AdapterKind kind;
  double keep_ratio = 0;
  int64_t block = 1;
  std::string merge;  // core merge method
};

const std::vector<Method>& Methods() {
  static const auto* methods = new std::vector<Method>{
      {"sparse5", "sparse 5%", nn::AdapterKind::kSparse, 0.05, 1, "sparse_overlap"},
      {"sparse5_block", "sparse 5%, 16x16 blocks", nn::AdapterKind::kSparse, 0.05, 16,
       "sparse_overlap"},
      {"sparse1", "sparse 1%", nn::AdapterKind::kSparse, 0.01, 1, "sparse_overlap"},
      {"lora", "LoRA", nn::AdapterKind::kLora, 0, 1, "uniform"},
      {"full", "full fine-tuning (q, v)", nn::AdapterKind::kFull, 0, 1, "uniform"},
  };
  return *methods;
}

constexpr int64_t kMaskUpdateEvery = 4;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// A sparse or full-fine-tuning expert on one task (LoRA comes from the lab's
// cache). The model is left without adapters.
absl::StatusOr<Expert> TrainExpert(Lab& lab, const Method& method, const LabTask& task,
                                   uint64_t seed) {
  if (method.kind == nn::AdapterKind::kLora) return lab.CachedLora({&task}, seed);
  nn::CausalLMImpl& model = lab.model();
  const LabConfig& config = lab.config();
  nn::DetachAdapters(model);
  nn::AdapterConfig adapter;
  adapter.kind = method.kind;
  adapter.sparse.keep_ratio = method.keep_ratio;
  adapter.sparse.block_size = method.block;
  adapter.sparse.update_every = kMaskUpdateEvery;
  adapter.targets.names = config.targets;
  LIBRA_RETURN_IF_ERROR(nn::AttachAdapters(model, adapter, seed).status());
  nn::TrainOptions options;
  options.learning_rate = config.expert_lr;
  options.batch_size = config.expert_batch;
  options.max_steps = config.expert_steps;
  options.seed = seed;
  options.progress = false;
  if (method.kind == nn::AdapterKind::kSparse) {
    options.before_step = nn::SparseMaskSchedule(model, adapter.sparse);
  }
  absl::StatusOr<nn::TrainStats> stats = nn::Train(model, task.train_tokens, options);
  Expert expert = nn::ExtractExpert(model);
  nn::DetachAdapters(model);
  if (!stats.ok()) return stats.status();
  return expert;
}

// Module by module through the core registry: sparse_overlap keeps sparse
// experts sparse; uniform averages deltas (LoRA products, dense deltas).
absl::StatusOr<Expert> MergeExperts(const std::vector<const Expert*>& experts,
                                    const std::string& method_name) {
  LIBRA_ASSIGN_OR_RETURN(const merge::MethodSpec* method, merge::FindMethod(method_name));
  LIBRA_ASSIGN_OR_RETURN(merge::MergeParams params,
                         merge::BindParams(*method, {}, static_cast<int>(experts.size())));
  Expert merged;
  for (const nn::ExpertModule& first : *experts[0]) {
    std::vector<merge::ModuleDelta> deltas;
    for (const Expert* expert : experts) {
      auto it = std::find_if(expert->begin(), expert->end(), [&](const nn::ExpertModule& m) {
        return m.module == first.module;
      });
      if (it == expert->end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("experts do not share module \"", first.module, "\""));
      }
      deltas.push_back(nn::ToCoreDelta(*it));
    }
    LIBRA_ASSIGN_OR_RETURN(merge::ModuleDelta delta,
                           merge::MergeModule(*method, params, merge::MergeOptions{},
                                              first.module, deltas));
    LIBRA_ASSIGN_OR_RETURN(nn::ExpertModule module, nn::FromCoreDelta(first.module, delta));
    merged.push_back(std::move(module));
  }
  return merged;
}

merge::ExpertMasks MasksOf(const Expert& expert) {
  merge::ExpertMasks masks;
  for (const nn::ExpertModule& m : expert) {
    if (m.kind == nn::ExpertModule::Kind::kSparse) masks[m.module] = nn::ToCoreDelta(m).sparse;
  }
  return masks;
}

absl::StatusOr<double> MeanScore(Lab& lab, const std::vector<const LabTask*>& tasks) {
  double sum = 0;
  for (const LabTask* task : tasks) {
    LIBRA_ASSIGN_OR_RETURN(TaskScore score, lab.Score(*task));
    sum += score.token_accuracy;
  }
  return tasks.empty() ? 0.0 : sum / static_cast<double>(tasks.size());
}

absl::Status RunSparseAdapters(const RunContext& ctx, Results& results) {
  ConfigureRuntime(ctx.threads);
  LIBRA_ASSIGN_OR_RETURN(const LabConfig config, LabConfigFromContext(ctx));
  nlohmann::json config_json = config.ToJson();
  config_json["mask_update_every"] = kMaskUpdateEvery;
  results.SetConfig(config_json);
  LIBRA_ASSIGN_OR_RETURN(std::unique_ptr<Lab> lab, Lab::Open(ctx, config));
  nn::CausalLMImpl& model = lab->model();
  std::vector<const LabTask*> held_in, held_out;
  for (const LabTask& t : lab->tasks()) (t.held_out ? held_out : held_in).push_back(&t);
  if (held_in.size() < 2) return absl::FailedPreconditionError("need at least 2 held-in tasks");
  std::vector<int64_t> merge_sizes;
  for (int64_t n : {2, 5, 10}) {
    if (n < static_cast<int64_t>(held_in.size())) merge_sizes.push_back(n);
  }
  merge_sizes.push_back(static_cast<int64_t>(held_in.size()));

  nn::DetachAdapters(model);
  LIBRA_ASSIGN_OR_RETURN(const double base_held_out, MeanScore(*lab, held_out));
  LIBRA_ASSIGN_OR_RETURN(const double base_held_in, MeanScore(*lab, held_in));
  const auto& methods = Methods();
  Progress progress("sparse_adapters",
                    static_cast<int>(ctx.seeds.size() * methods.size() * held_in.size()));
  double train_seconds = 0, eval_seconds = 0;
  for (int seed : ctx.seeds) {
    results.AddValue("base/held_in", seed, base_held_in);
    results.AddValue("base/held_out", seed, base_held_out);
    // Experts per method, in held_in order.
    std::map<std::string, std::vector<Expert>> experts;
    for (const Method& method : methods) {
      double single = 0;
      for (size_t i = 0; i < held_in.size(); ++i) {
        auto start = std::chrono::steady_clock::now();
        LIBRA_ASSIGN_OR_RETURN(
            Expert expert,
            TrainExpert(*lab, method, *held_in[i], static_cast<uint64_t>(seed) * 1000 + held_in[i]->index));
        train_seconds += Seconds(start);
        start = std::chrono::steady_clock::now();
        LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(model, expert, /*trainable=*/false));
        LIBRA_ASSIGN_OR_RETURN(TaskScore score, lab->Score(*held_in[i]));
        nn::DetachAdapters(model);
        eval_seconds += Seconds(start);
        single += score.token_accuracy;
        experts[method.id].push_back(std::move(expert));
        progress.Advance();
      }
      results.AddValue(absl::StrCat("single/", method.id), seed, single / held_in.size());
    }
    // Merges of n tasks: a random subset per seed (the same for every method).
    std::mt19937_64 rng(static_cast<uint64_t>(seed) * 7919);
    for (int64_t n : merge_sizes) {
      std::vector<size_t> order(held_in.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), rng);
      order.resize(n);
      std::vector<const LabTask*> subset;
      for (size_t i : order) subset.push_back(held_in[i]);
      const std::string size_label = n == static_cast<int64_t>(held_in.size()) ? "all" : absl::StrCat(n);
      std::map<std::string, double> in_dist;
      for (const Method& method : methods) {
        std::vector<const Expert*> chosen;
        for (size_t i : order) chosen.push_back(&experts[method.id][i]);
        LIBRA_ASSIGN_OR_RETURN(Expert merged, MergeExperts(chosen, method.merge));
        auto start = std::chrono::steady_clock::now();
        LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(model, merged, /*trainable=*/false));
        LIBRA_ASSIGN_OR_RETURN(in_dist[method.id], MeanScore(*lab, subset));
        LIBRA_ASSIGN_OR_RETURN(const double out, MeanScore(*lab, held_out));
        nn::DetachAdapters(model);
        eval_seconds += Seconds(start);
        results.AddValue(absl::StrCat("merged/", method.id, "/", n), seed, in_dist[method.id]);
        results.AddValue(absl::StrCat("held_out/", method.id, "/", n), seed, out);
        if (size_label == "all") {
          results.AddValue(absl::StrCat("merged/", method.id, "/all"), seed, in_dist[method.id]);
          results.AddValue(absl::StrCat("held_out/", method.id, "/all"), seed, out);
        }
      }
      const double gap = in_dist["sparse5"] - in_dist["lora"];
      results.AddValue(absl::StrCat("gap/sparse5_minus_lora/", n), seed, gap);
      if (size_label == "all") results.AddValue("gap/sparse5_minus_lora/all", seed, gap);
    }
    // Mask statistics of the sparse 5% experts.
    std::vector<merge::ExpertMasks> masks;
    for (const Expert& e : experts["sparse5"]) masks.push_back(MasksOf(e));
    std::map<int64_t, merge::MaskOverlap> layer_sum;
    for (size_t a = 0; a < masks.size(); ++a) {
      for (size_t b = a + 1; b < masks.size(); ++b) {
        LIBRA_ASSIGN_OR_RETURN(std::vector<merge::ModuleOverlap> modules,
                               merge::MaskOverlapByModule(masks[a], masks[b]));
        for (const merge::LayerOverlap& layer : merge::OverlapByLayer(modules)) {
          layer_sum[layer.layer].intersection += layer.overlap.intersection;
          layer_sum[layer.layer].union_size += layer.overlap.union_size;
        }
      }
    }
    for (const auto& [layer, overlap] : layer_sum) {
      results.AddValue(absl::StrCat("mask/jaccard/layer_", layer), seed, overlap.jaccard());
    }
    LIBRA_ASSIGN_OR_RETURN(std::vector<merge::OverlapGrowthPoint> curve, merge::OverlapGrowth(masks));
    for (const merge::OverlapGrowthPoint& p : curve) {
      results.AddValue(absl::StrCat("mask/shared_fraction/", p.experts), seed, p.shared_fraction());
      results.AddValue(absl::StrCat("mask/union_fraction/", p.experts), seed, p.union_fraction());
    }
  }
  progress.Finish();

  results.SetSetup(absl::StrFormat(
      "Testbed lab base model (hidden %d, %d layers); %d held-in and %d held-out tasks. Per held-in "
      "task and seed: sparse adapters on %s (keep 5%% and 1%% single entries, 5%% in 16x16 blocks; "
      "SNIP mask |grad * (W0 + dW)| on one training batch, recomputed every %d steps in the first "
      "epoch, then frozen), the lab's LoRA (rank %d) and full fine-tuning of the same projections; "
      "all %d steps at lr %g, batch %d. Merges of %s tasks (a random subset per seed): "
      "sparse_overlap for sparse experts, the uniform mean of deltas for LoRA and full. Score: "
      "teacher-forced token accuracy on each task's test split.",
      config.hidden, config.layers, held_in.size(), held_out.size(), absl::StrJoin(config.targets, ", "),
      kMaskUpdateEvery, config.rank, config.expert_steps, config.expert_lr, config.expert_batch,
      absl::StrJoin(merge_sizes, ", ")));
  results.AddNote(absl::StrFormat("Training took %.0f s, evaluation %.0f s.", train_seconds, eval_seconds));
  results.DescribeMetric("base/held_in", "base model, mean token accuracy over held-in tasks");
  results.DescribeMetric("base/held_out", "base model, mean token accuracy over held-out tasks");
  for (const Method& m : methods) {
    results.DescribeMetric(absl::StrCat("single/", m.id),
                           absl::StrCat(m.label, ": own-task token accuracy, mean over held-in tasks"));
    results.DescribeMetric(absl::StrCat("merged/", m.id, "/all"),
                           absl::StrCat(m.label, ": merge of all held-in tasks, mean over them"));
    results.DescribeMetric(absl::StrCat("held_out/", m.id, "/all"),
                           absl::StrCat(m.label, ": merge of all held-in tasks, mean over held-out tasks"));
  }

  auto add = [&](const std::string& id, const std::string& statement, Quantity a, Quantity b,
                 Direction d, double margin) {
    return Claim{id, statement, std::move(a), std::move(b), d, margin};
  };
  results.AddClaim(add("sparse_single_vs_lora",
                       "Sparse adapters (5%) match or beat LoRA on single tasks (within 0.02 token "
                       "accuracy).",
                       Quantity::Metric("single/sparse5"), Quantity::Metric("single/lora"),
                       Direction::kAtLeast, 0.02));
  results.AddClaim(add("sparse_single_vs_full",
                       "Sparse adapters (5%) match or beat full fine-tuning on single tasks (within "
                       "0.02 token accuracy).",
                       Quantity::Metric("single/sparse5"), Quantity::Metric("single/full"),
                       Direction::kAtLeast, 0.02));
  results.AddClaim(add("sparse_merge_beats_lora",
                       "After merging all tasks, sparse adapters keep more in-distribution accuracy "
                       "than LoRA.",
                       Quantity::Metric("merged/sparse5/all"), Quantity::Metric("merged/lora/all"),
                       Direction::kGreater, 0.0));
  results.AddClaim(add("sparse_merge_beats_full",
                       "After merging all tasks, sparse adapters keep more in-distribution accuracy "
                       "than full fine-tuning.",
                       Quantity::Metric("merged/sparse5/all"), Quantity::Metric("merged/full/all"),
                       Direction::kGreater, 0.0));
  results.AddClaim(add("gap_grows",
                       "The advantage of sparse over LoRA grows with the number of merged tasks "
                       "(all tasks vs 2).",
                       Quantity::Metric("gap/sparse5_minus_lora/all"),
                       Quantity::Metric("gap/sparse5_minus_lora/2"), Direction::kGreater, 0.0));
  for (const char* id : {"sparse5", "lora", "full"}) {
    results.AddClaim(add(absl::StrCat("held_out_weak_", id),
                         absl::StrCat("Held-out accuracy stays weak after merging (", id,
                                      ": at most the base's + 0.05)."),
                         Quantity::Metric(absl::StrCat("held_out/", id, "/all")),
                         Quantity::Metric("base/held_out"), Direction::kAtMost, 0.05));
  }

  nlohmann::json series = nlohmann::json::array();
  for (const Method& m : methods) {
    nlohmann::json metrics = nlohmann::json::array();
    for (int64_t n : merge_sizes) metrics.push_back(absl::StrCat("merged/", m.id, "/", n));
    series.push_back({{"label", m.label}, {"metrics", metrics}});
  }
  results.AddPlot({{"id", "merged_in_distribution"},
                   {"kind", "line"},
                   {"title", "In-distribution accuracy after merging, mean ± std over seeds"},
                   {"xlabel", "merged tasks"},
                   {"ylabel", "token accuracy (mean over merged tasks)"},
                   {"x", merge_sizes},
                   {"series", series}});
  nlohmann::json out_series = nlohmann::json::array();
  for (const Method& m : methods) {
    nlohmann::json metrics = nlohmann::json::array();
    for (int64_t n : merge_sizes) metrics.push_back(absl::StrCat("held_out/", m.id, "/", n));
    out_series.push_back({{"label", m.label}, {"metrics", metrics}});
  }
  results.AddPlot({{"id", "merged_held_out"},
                   {"kind", "line"},
                   {"title", "Held-out accuracy after merging"},
                   {"xlabel", "merged tasks"},
                   {"ylabel", "token accuracy (mean over held-out tasks)"},
                   {"x", merge_sizes},
                   {"series", out_series}});
  std::vector<int64_t> growth_x;
  nlohmann::json shared = nlohmann::json::array(), uni = nlohmann::json::array();
  for (size_t n = 1; n <= held_in.size(); ++n) {
    growth_x.push_back(static_cast<int64_t>(n));
    shared.push_back(absl::StrCat("mask/shared_fraction/", n));
    uni.push_back(absl::StrCat("mask/union_fraction/", n));
  }
  results.AddPlot({{"id", "mask_overlap_growth"},
                   {"kind", "line"},
                   {"title", "Sparse 5% masks: overlap as experts are merged"},
                   {"xlabel", "merged experts"},
                   {"ylabel", "fraction"},
                   {"x", growth_x},
                   {"series", {{{"label", "union / all entries"}, {"metrics", uni}},
                               {{"label", "covered by >= 2 / union"}, {"metrics", shared}}}}});
  return absl::OkStatus();
}

}  // namespace
}  // namespace libra::papers::sparse_adapters

int main(int argc, char** argv) {
  return libra::papers::ReproduceMain(
      argc, argv,
      {"sparse_adapters", "Sparse adapters and merging them at scale (testbed lab)",
       &libra::papers::sparse_adapters::RunSparseAdapters});
}
