#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "papers/lab/lab_experts.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/core/merge/merge.h"
#include "src/core/merge/registry.h"
#include "src/core/status_macros.h"
#include "src/nn/expert.h"
#include "src/nn/sparse_adapter.h"
#include "src/nn/trainer.h"

namespace libra::papers {
namespace {

const char* KindName(nn::AdapterKind kind) {
  switch (kind) {
    case nn::AdapterKind::kLora: return "lora";
    case nn::AdapterKind::kFull: return "full";
    case nn::AdapterKind::kSparse: return "sparse";
  }
  return "unknown";
}

ExpertRecipe BaseRecipe(const LabConfig& config) {
  ExpertRecipe recipe;
  recipe.adapter.targets.names = config.targets;
  recipe.learning_rate = config.expert_lr;
  recipe.steps = config.expert_steps;
  recipe.batch = config.expert_batch;
  return recipe;
}

}  // namespace

nlohmann::json ExpertRecipe::ToJson() const {
  nlohmann::json j = {{"kind", KindName(adapter.kind)},
                      {"targets", adapter.targets.names},
                      {"targets_regex", adapter.targets.regex},
                      {"learning_rate", learning_rate},
                      {"steps", steps},
                      {"batch", batch}};
  if (adapter.kind == nn::AdapterKind::kLora) {
    j["rank"] = adapter.lora.rank;
    j["alpha"] = adapter.lora.alpha;
    j["rslora"] = adapter.lora.use_rslora;
  } else if (adapter.kind == nn::AdapterKind::kSparse) {
    j["keep_ratio"] = adapter.sparse.keep_ratio;
    j["scope"] = adapter.sparse.scope == nn::MaskScope::kLayer ? "layer" : "global";
    j["block_size"] = adapter.sparse.block_size;
    j["update_every"] = adapter.sparse.update_every;
    j["calibration_batches"] = adapter.sparse.calibration_batches;
  }
  return j;
}

ExpertRecipe LoraRecipe(const LabConfig& config) {
  ExpertRecipe recipe = BaseRecipe(config);
  recipe.adapter.kind = nn::AdapterKind::kLora;
  recipe.adapter.lora.rank = config.rank;
  recipe.adapter.lora.alpha = config.alpha;
  return recipe;
}

ExpertRecipe FullRecipe(const LabConfig& config) {
  ExpertRecipe recipe = BaseRecipe(config);
  recipe.adapter.kind = nn::AdapterKind::kFull;
  return recipe;
}

ExpertRecipe SparseRecipe(const LabConfig& config, double keep_ratio, int64_t block_size,
                          int64_t update_every) {
  ExpertRecipe recipe = BaseRecipe(config);
  recipe.adapter.kind = nn::AdapterKind::kSparse;
  recipe.adapter.sparse.keep_ratio = keep_ratio;
  recipe.adapter.sparse.block_size = block_size;
  recipe.adapter.sparse.update_every = update_every;
  return recipe;
}

namespace {

absl::Status CheckTrainingRequest(const std::vector<nn::TokenizedExample>& data,
                                  const ExpertRecipe& recipe) {
  if (data.empty()) return absl::InvalidArgumentError("TrainExpert: no training examples");
  if (recipe.steps <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("TrainExpert: steps must be >= 1, got ", recipe.steps));
  }
  return absl::OkStatus();
}

absl::Status TrainAttached(nn::CausalLMImpl& model, const std::vector<nn::TokenizedExample>& data,
                           const ExpertRecipe& recipe, uint64_t seed) {
  nn::TrainOptions options;
  options.learning_rate = recipe.learning_rate;
  options.device = model.parameters().front().device();
  options.batch_size = recipe.batch;
  options.max_steps = recipe.steps;
  options.warmup_steps = recipe.steps / 10;
  options.seed = seed;
  options.progress = false;
  if (recipe.adapter.kind == nn::AdapterKind::kSparse) {
    options.before_step = nn::SparseMaskSchedule(model, recipe.adapter.sparse);
  }
  return nn::Train(model, data, options).status();
}

}  // namespace

absl::StatusOr<Expert> TrainExpertOn(nn::CausalLMImpl& model,
                                     const std::vector<nn::TokenizedExample>& data,
                                     const ExpertRecipe& recipe, uint64_t seed) {
  LIBRA_RETURN_IF_ERROR(CheckTrainingRequest(data, recipe));
  LIBRA_RETURN_IF_ERROR(nn::AttachAdapters(model, recipe.adapter, seed).status());
  const absl::Status trained = TrainAttached(model, data, recipe, seed);
  Expert expert = nn::ExtractExpert(model);
  nn::DetachAdapters(model);
  if (!trained.ok()) return trained;
  return expert;
}

absl::Status TrainAttachedOn(nn::CausalLMImpl& model,
                             const std::vector<nn::TokenizedExample>& data,
                             const ExpertRecipe& recipe, uint64_t seed) {
  LIBRA_RETURN_IF_ERROR(CheckTrainingRequest(data, recipe));
  return TrainAttached(model, data, recipe, seed);
}

absl::StatusOr<Expert> TrainExpert(Lab& lab, const ExpertRecipe& recipe,
                                   const std::vector<const LabTask*>& tasks, uint64_t seed) {
  if (tasks.empty()) return absl::InvalidArgumentError("TrainExpert: no tasks");
  std::vector<nn::TokenizedExample> data;
  for (const LabTask* t : tasks) data.insert(data.end(), t->train_tokens.begin(), t->train_tokens.end());
  return TrainExpertOn(lab.model(), data, recipe, seed);
}

namespace {

std::vector<std::string> TaskNames(const std::vector<const LabTask*>& tasks) {
  std::vector<std::string> names;
  for (const LabTask* t : tasks) names.push_back(t->name);
  return names;
}

ArtifactKey RecipeExpertKey(const Lab& lab, const ExpertRecipe& recipe,
                            const std::vector<const LabTask*>& tasks, uint64_t seed) {
  nlohmann::json key_config = recipe.ToJson();
  key_config["base"] = lab.base_fingerprint();
  key_config["data"] = lab.data_fingerprint();
  key_config["train_per_task"] = lab.config().train_per_task;
  key_config["tasks"] = TaskNames(tasks);
  key_config["seed"] = seed;
  return ArtifactKey{"recipe_expert", key_config, kRecipeExpertProducerVersion};
}

}  // namespace

bool ExpertIsCached(const ArtifactCache& cache, const Lab& lab, const ExpertRecipe& recipe,
                    const std::vector<const LabTask*>& tasks, uint64_t seed) {
  return cache.Contains(RecipeExpertKey(lab, recipe, tasks, seed));
}

absl::StatusOr<Expert> CachedExpert(const ArtifactCache& cache, Lab& lab,
                                    const ExpertRecipe& recipe,
                                    const std::vector<const LabTask*>& tasks, uint64_t seed,
                                    bool* hit, double* seconds) {
  const std::vector<std::string> names = TaskNames(tasks);
  const ArtifactKey key = RecipeExpertKey(lab, recipe, tasks, seed);
  LIBRA_ASSIGN_OR_RETURN(
      std::string dir,
      cache.GetOrBuild(
          key,
          [&](const std::string& tmp) -> absl::Status {
            const auto start = std::chrono::steady_clock::now();
            absl::StatusOr<Expert> expert = TrainExpert(lab, recipe, tasks, seed);
            if (seconds != nullptr) {
              *seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            }
            if (!expert.ok()) return expert.status();
            return nn::SaveExpert(tmp + "/expert.safetensors", *expert,
                                  {{"tasks", absl::StrJoin(names, ",")}, {"recipe", recipe.ToJson().dump()}});
          },
          hit));
  return nn::LoadExpert(dir + "/expert.safetensors");
}

ArtifactJob RecipeExpertJob(const ArtifactCache& cache, Lab& lab, const ExpertRecipe& recipe,
                          std::vector<const LabTask*> tasks, uint64_t seed) {
  return {[&cache, &lab, recipe, tasks, seed] { return ExpertIsCached(cache, lab, recipe, tasks, seed); },
          [&cache, &lab, recipe, tasks, seed] {
            return CachedExpert(cache, lab, recipe, tasks, seed).status();
          }};
}

ArtifactJob LabLoraJob(Lab& lab, std::vector<const LabTask*> tasks, uint64_t seed, int64_t steps) {
  return {[&lab, tasks, seed, steps] { return lab.LoraIsCached(tasks, seed, steps); },
          [&lab, tasks, seed, steps] { return lab.CachedLora(tasks, seed, steps).status(); }};
}

double LearningRateScore::objective() const {
  if (!merged_validation_accuracy.has_value()) return validation_accuracy;
  return 0.5 * (validation_accuracy + *merged_validation_accuracy);
}

absl::StatusOr<std::vector<LearningRateScore>> ScoreLearningRates(
    nn::CausalLMImpl& model, const ExpertRecipe& recipe, const std::vector<double>& grid,
    const std::vector<const LabTask*>& tasks, const ExpertSource& source,
    const std::optional<LearningRateMerge>& merge) {
  if (grid.empty() || tasks.empty()) {
    return absl::InvalidArgumentError("learning rate selection needs at least one rate and one task");
  }
  for (const LabTask* task : tasks) {
    if (task->validation_tokens.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("task ", task->name, " has no validation examples to choose a learning rate on"));
    }
  }
  const double n = static_cast<double>(tasks.size());
  std::vector<LearningRateScore> scores;
  for (double rate : grid) {
    ExpertRecipe at_rate = recipe;
    at_rate.learning_rate = rate;
    double single_sum = 0;
    std::vector<Expert> experts;
    for (const LabTask* task : tasks) {
      LIBRA_ASSIGN_OR_RETURN(Expert expert, source(at_rate, *task));
      LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(model, expert, /*trainable=*/false));
      single_sum += TokenAccuracy(model, task->validation_tokens);
      nn::DetachAdapters(model);
      if (merge.has_value()) experts.push_back(std::move(expert));
    }
    LearningRateScore score{rate, single_sum / n, std::nullopt};
    if (merge.has_value()) {
      std::vector<const Expert*> all;
      for (const Expert& e : experts) all.push_back(&e);
      LIBRA_ASSIGN_OR_RETURN(Expert merged, MergeExperts(all, merge->method, merge->args));
      LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(model, merged, /*trainable=*/false));
      double sum = 0;
      for (const LabTask* task : tasks) sum += TokenAccuracy(model, task->validation_tokens);
      nn::DetachAdapters(model);
      score.merged_validation_accuracy = sum / n;
    }
    scores.push_back(score);
  }
  return scores;
}

double BestLearningRate(const std::vector<LearningRateScore>& scores) {
  const LearningRateScore* best = &scores.front();
  for (const LearningRateScore& s : scores) {
    if (s.objective() > best->objective()) best = &s;
  }
  return best->learning_rate;
}

int64_t ExpertParameters(const Expert& expert) {
  int64_t n = 0;
  for (const nn::ExpertModule& m : expert) {
    switch (m.kind) {
      case nn::ExpertModule::Kind::kLora: n += m.lora_a.numel() + m.lora_b.numel(); break;
      case nn::ExpertModule::Kind::kDense: n += m.delta.numel(); break;
      case nn::ExpertModule::Kind::kSparse: n += m.sparse_indices.numel(); break;
    }
  }
  return n;
}

absl::StatusOr<Expert> MergeExperts(const std::vector<const Expert*>& experts,
                                    const std::string& method_name,
                                    const merge::MergeArguments& args) {
  if (experts.empty()) return absl::InvalidArgumentError("MergeExperts: no experts");
  LIBRA_ASSIGN_OR_RETURN(const merge::MethodSpec* method, merge::FindMethod(method_name));
  const int n = static_cast<int>(experts.size());
  LIBRA_ASSIGN_OR_RETURN(merge::MergeParams params, merge::BindParams(*method, args, n));
  merge::MergeOptions options;  // mode delta
  LIBRA_RETURN_IF_ERROR(merge::CheckMode(*method, options));
  std::map<std::string, std::vector<merge::ModuleDelta>> by_module;
  for (int e = 0; e < n; ++e) {
    if (experts[e]->size() != experts[0]->size()) {
      return absl::InvalidArgumentError(absl::StrCat("MergeExperts: expert ", e, " has ",
                                                     experts[e]->size(), " modules, expert 0 has ",
                                                     experts[0]->size()));
    }
    for (const nn::ExpertModule& m : *experts[e]) by_module[m.module].push_back(nn::ToCoreDelta(m));
  }
  Expert merged;
  for (const auto& [module, deltas] : by_module) {
    if (static_cast<int>(deltas.size()) != n) {
      return absl::InvalidArgumentError(absl::StrCat("MergeExperts: module \"", module, "\" is in ",
                                                     deltas.size(), " of ", n, " experts"));
    }
    LIBRA_ASSIGN_OR_RETURN(merge::ModuleDelta delta,
                           merge::MergeModule(*method, params, options, module, deltas));
    LIBRA_ASSIGN_OR_RETURN(nn::ExpertModule m, nn::FromCoreDelta(module, delta));
    merged.push_back(std::move(m));
  }
  return merged;
}

}  // namespace libra::papers
