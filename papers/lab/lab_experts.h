// Experts of any adapter kind in the testbed lab (testbed_lab.h): a recipe
// (LoRA, full fine-tuning or sparse adapter on the lab's target modules, its
// learning rate and steps) trained on some tasks, and merges of experts
// through the core merge registry (src/core/merge: ToCoreDelta -> method ->
// FromCoreDelta), so papers compare adapter kinds and merge methods with the
// same code the `libra merge` command runs.
//
//   ExpertRecipe sparse = SparseRecipe(lab->config(), /*keep_ratio=*/0.05, /*block_size=*/1);
//   LIBRA_ASSIGN_OR_RETURN(Expert e, CachedExpert(*ctx.cache, *lab, sparse, {&task}, seed));
//   LIBRA_ASSIGN_OR_RETURN(Expert merged, MergeExperts({&e, &f}, "sparse_overlap"));
//   LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(lab->model(), merged, /*trainable=*/false));
//
// Kept apart from testbed_lab so the shared base model's build output (whose
// pretraining binary links testbed_lab) does not rebuild when this changes.
#ifndef LIBRA_PAPERS_LAB_LAB_EXPERTS_H_
#define LIBRA_PAPERS_LAB_LAB_EXPERTS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "papers/common/artifact_cache.h"
#include "papers/common/workers.h"
#include "papers/lab/testbed_lab.h"
#include "src/core/merge/method.h"
#include "src/nn/adapters.h"
#include "src/nn/examples.h"
#include "src/nn/model.h"

namespace libra::papers {

// Bump when a change alters experts trained from a recipe.
inline constexpr char kRecipeExpertProducerVersion[] = "lab-recipe-expert-v1";

struct ExpertRecipe {
  nn::AdapterConfig adapter;  // kind, LoRA or sparse options, target modules
  double learning_rate = 3e-3;
  int64_t steps = 200;
  int64_t batch = 16;
  nlohmann::json ToJson() const;  // everything training depends on
};

// The lab's LoRA (rank, alpha, targets, steps, batch, lr of `config`).
ExpertRecipe LoraRecipe(const LabConfig& config);
// A dense trainable delta on the same modules, otherwise as LoraRecipe.
ExpertRecipe FullRecipe(const LabConfig& config);
// A sparse adapter on the same modules: keep_ratio per layer, single entries
// (block_size 1) or 16 x 16 blocks, mask recomputed every `update_every`
// steps of the first epoch.
ExpertRecipe SparseRecipe(const LabConfig& config, double keep_ratio, int64_t block_size,
                          int64_t update_every = 4);

// Trains a fresh adapter of `recipe` on `data` (seed: initialisation, data
// order, calibration batches) and returns it; the model is left without
// adapters.
absl::StatusOr<Expert> TrainExpertOn(nn::CausalLMImpl& model,
                                     const std::vector<nn::TokenizedExample>& data,
                                     const ExpertRecipe& recipe, uint64_t seed);

// Trains the adapters already attached to `model` (of `recipe`'s kind, e.g.
// by an earlier call) on `data` for recipe.steps, with a fresh optimizer and
// schedule (seed: data order); the adapters stay attached. A learner
// fine-tuned task after task is this, called once per task.
absl::Status TrainAttachedOn(nn::CausalLMImpl& model,
                             const std::vector<nn::TokenizedExample>& data,
                             const ExpertRecipe& recipe, uint64_t seed);

// TrainExpertOn the union of `tasks`' training examples in the lab's model.
absl::StatusOr<Expert> TrainExpert(Lab& lab, const ExpertRecipe& recipe,
                                   const std::vector<const LabTask*>& tasks, uint64_t seed);

// Whether CachedExpert would find this expert without training.
bool ExpertIsCached(const ArtifactCache& cache, const Lab& lab, const ExpertRecipe& recipe,
                    const std::vector<const LabTask*>& tasks, uint64_t seed);

// CachedExpert(cache, lab, recipe, tasks, seed) as a job for BuildInWorkers
// (papers/common/workers.h).
ArtifactJob RecipeExpertJob(const ArtifactCache& cache, Lab& lab, const ExpertRecipe& recipe,
                            std::vector<const LabTask*> tasks, uint64_t seed);
// lab.CachedLora(tasks, seed, steps) as a job.
ArtifactJob LabLoraJob(Lab& lab, std::vector<const LabTask*> tasks, uint64_t seed,
                       int64_t steps = 0);

// TrainExpert through the artifact cache (keyed by base, data, recipe, tasks
// and seed). `seconds` (if set) accumulates training time of cache misses.
absl::StatusOr<Expert> CachedExpert(const ArtifactCache& cache, Lab& lab,
                                    const ExpertRecipe& recipe,
                                    const std::vector<const LabTask*>& tasks, uint64_t seed,
                                    bool* hit = nullptr, double* seconds = nullptr);

// Choosing a recipe's learning rate on validation data: for each rate of
// `grid`, the recipe at that rate gives one expert per task (from `source`,
// e.g. CachedExpert with a seed no experiment uses), which is attached to
// `model` and scored by teacher-forced token accuracy on the task's
// validation split; a rate's score is the mean over `tasks`. With `merge`,
// the rate's experts are also merged (MergeExperts below) and the merge is
// scored on every task's validation split, so that a rate which trains good
// single experts that merge badly loses to one that serves both uses. The
// model is left without adapters. A task without validation examples is an
// error naming it.
//
//   LIBRA_ASSIGN_OR_RETURN(auto scores, ScoreLearningRates(model, recipe, {1e-3, 3e-3}, tasks, source,
//                                                          LearningRateMerge{"uniform"}));
//   recipe.learning_rate = BestLearningRate(scores);
struct LearningRateScore {
  double learning_rate = 0;
  double validation_accuracy = 0;  // each task's own expert (mean over tasks)
  // The merge of every task's expert (mean over tasks); unset without a merge.
  std::optional<double> merged_validation_accuracy;
  // What BestLearningRate compares: the mean of the single and merged
  // accuracies when merged, else the single accuracy.
  double objective() const;
};
struct LearningRateMerge {
  std::string method;  // a merge registry name, e.g. "uniform", "sparse_overlap"
  merge::MergeArguments args;
};
using ExpertSource = std::function<absl::StatusOr<Expert>(const ExpertRecipe&, const LabTask&)>;
absl::StatusOr<std::vector<LearningRateScore>> ScoreLearningRates(
    nn::CausalLMImpl& model, const ExpertRecipe& recipe, const std::vector<double>& grid,
    const std::vector<const LabTask*>& tasks, const ExpertSource& source,
    const std::optional<LearningRateMerge>& merge = std::nullopt);
// The rate with the best objective(); ties go to the earlier one. `scores`
// must not be empty.
double BestLearningRate(const std::vector<LearningRateScore>& scores);

// Stored entries of an expert: r (in + out) per LoRA module, out * in per
// dense module, nnz per sparse module.
int64_t ExpertParameters(const Expert& expert);

// Merges the experts module by module with the registry's `method` (mode
// delta): e.g. "uniform" (LoRA and dense deltas), "ties" (args density),
// "sparse_overlap" (sparse experts stay sparse). Every expert must have the
// same modules. Errors name the method or the module.
absl::StatusOr<Expert> MergeExperts(const std::vector<const Expert*>& experts,
                                    const std::string& method,
                                    const merge::MergeArguments& args = {});

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_LAB_LAB_EXPERTS_H_
