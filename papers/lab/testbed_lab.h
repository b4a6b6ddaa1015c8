// The testbed laboratory every paper experiment runs in: the synthetic suite
// (or Flan-style JSONL at full scale), a small pretrained base model, and the
// operations the papers compose: train a LoRA on some tasks, score a task
// with whatever adapters are attached (merges: MergeExperts, lab_experts.h).
//
//   LIBRA_ASSIGN_OR_RETURN(LabConfig config, LabConfigFromContext(ctx));
//   LIBRA_ASSIGN_OR_RETURN(std::unique_ptr<Lab> lab, Lab::Open(ctx, config));
//   for (const LabTask& task : lab->tasks()) {
//     LIBRA_ASSIGN_OR_RETURN(Expert expert, lab->CachedLora({&task}, seed));
//     LIBRA_RETURN_IF_ERROR(nn::ApplyExpert(lab->model(), expert, false));  // or a MergeExperts result
//     LIBRA_ASSIGN_OR_RETURN(TaskScore score, lab->Score(task));
//     nn::DetachAdapters(lab->model());
//   }
//
// Tasks come from the data folder (--data, else the synthetic suite from the
// artifact cache), read by src/data/task_folder.h: the same code at both
// scales, nothing specific to the synthetic suite.
// The base model comes from --base_model, else from the artifact cache
// (pretrained on first use, keyed by BaseDefinition). A base folder written
// by PretrainBase carries base_key.json; Open refuses a base whose
// definition differs from the configuration's, so a stale build output is
// never taken for the configured model.
#ifndef LIBRA_PAPERS_LAB_TESTBED_LAB_H_
#define LIBRA_PAPERS_LAB_TESTBED_LAB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "papers/common/artifact_cache.h"
#include "papers/common/reproduce.h"
#include "src/core/text/tokenizer.h"
#include "src/data/flan_example.h"
#include "src/data/synthetic/suite.h"
#include "src/nn/eval.h"
#include "src/nn/examples.h"
#include "src/nn/expert.h"
#include "src/nn/model.h"

namespace libra::papers {

// Bump when a change alters the pretrained base model.
inline constexpr char kBaseProducerVersion[] = "testbed-base-v5";
// Bump when a change alters trained experts.
inline constexpr char kExpertProducerVersion[] = "testbed-lora-v3";

struct LabConfig {
  // Base model (Llama-family, byte-level vocabulary).
  int64_t hidden = 128;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t intermediate = 384;
  int64_t max_length = 96;
  // One pass over the corpus in pretrain_steps x pretrain_batch lines
  // (papers/testbed/README.md compares this with two passes over half).
  int pretrain_examples = 384000;
  // The corpus mix (src/data/synthetic/pretrain_corpus.h).
  double pretrain_composition_fraction = 0.3;
  double pretrain_framed_fraction = 0.5;
  // Long enough that the base is competent in its own format (the README's
  // base table gives the measured accuracy per step count).
  int64_t pretrain_steps = 12000;
  int64_t pretrain_batch = 32;
  double pretrain_lr = 3e-3;
  // > 0: the (tied) token embedding starts ~ N(0, this), about
  // 1/sqrt(hidden); 0: LibTorch's N(0, 1), whose tied logits start with a
  // spread of about sqrt(hidden) and which stalled position-based retrieval
  // (papers/testbed/README.md).
  double pretrain_embedding_std = 0.1;
  // LoRA experts.
  int64_t rank = 4;
  double alpha = 8.0;
  // The attention projections, as in the reference expert library
  // (paper (a)'s: q, k, v and the output projection).
  std::vector<std::string> targets = {"q_proj", "k_proj", "v_proj", "o_proj"};
  int train_per_task = 256;
  int64_t expert_steps = 200;
  int64_t expert_batch = 16;
  double expert_lr = 3e-3;
  // Decoupled weight decay on LoRA A only: pulls A's random initial rows
  // out of the prototypes (see papers/testbed/README.md).
  double lora_a_weight_decay = 0.0;
  // Evaluation.
  int test_per_task = 64;
  // Families used (empty: all); the quick scale may subsample.
  std::vector<std::string> families;

  // Every field by its name (results.json's "config"); the one mapping
  // between LabConfig and JSON, both ways (nlohmann's macro below).
  nlohmann::json ToJson() const;
  nlohmann::json BaseKey() const;    // what the base model depends on
  nlohmann::json ExpertKey() const;  // what an expert depends on besides its tasks and seed
  // Overrides the fields present in `o`. An unknown field, or a value not of
  // the field's type (an integer field given 3.5, a list given a string), is
  // an error naming the field; nothing is converted silently.
  absl::Status Override(const nlohmann::json& o);

  NLOHMANN_DEFINE_TYPE_INTRUSIVE_WITH_DEFAULT(
      LabConfig, hidden, layers, heads, intermediate, max_length, pretrain_examples,
      pretrain_composition_fraction, pretrain_framed_fraction, pretrain_steps, pretrain_batch,
      pretrain_lr, pretrain_embedding_std, rank, alpha, targets, train_per_task, expert_steps,
      expert_batch, expert_lr, lora_a_weight_decay, test_per_task, families)
};

// The defaults, the quick scale's subsample (families letters and digits),
// then $LIBRA_LAB_CONFIG (a JSON object) for exploration; results.json
// records the configuration actually used.
absl::StatusOr<LabConfig> LabConfigFromContext(const RunContext& ctx);

struct LabTask {
  int index = 0;  // in Lab::tasks()
  std::string name;
  std::string family;
  bool held_out = false;
  std::vector<std::string> related;
  // validation: at most test_per_task examples; empty when the folder has
  // none (it is for choices such as a learning rate, never for results).
  std::vector<data::FlanExample> train, validation, test;
  std::vector<nn::TokenizedExample> train_tokens, validation_tokens, test_tokens;
};

struct TaskScore {
  double token_accuracy = 0;  // teacher-forced, over the test targets' tokens
  double first_token_accuracy = 0, end_token_accuracy = 0;  // TargetAccuracy's parts
  double exact_match = 0;     // greedy decoding; only when asked for
};

using Expert = std::vector<nn::ExpertModule>;

// The seed of an expert (its initialisation and data order): one per role,
// run seed and index, seed * 1000 + the role's offset + index. Each role owns
// its own stride of indices (tasks 0-499, clusters 500-899, shared experts
// 900-999), so two experts of different roles, tasks or seeds never share a
// seed; an index outside its role's stride is an error. Seed 0 belongs to
// no experiment's run (seeds start at 1): selection steps use it.
enum class ExpertRole { kTask, kCluster, kShared };
absl::StatusOr<uint64_t> ExpertSeed(ExpertRole role, int seed, int64_t index);
// ExpertSeed(kTask, seed, task.index).
absl::StatusOr<uint64_t> TaskExpertSeed(int seed, const LabTask& task);

// A lab paper's spec: the framework's PaperSpec with LibTorch's runtime
// set-up (src/nn/runtime.h: OpenBLAS at one thread, no malloc trimming,
// torch's thread count).
PaperSpec LabPaper(std::string id, std::string title,
                   std::function<absl::Status(const RunContext&, Results&)> run);

// The suite the lab trains and scores on (seed 1), sized by `config`.
data::synthetic::SuiteOptions LabSuiteOptions(const LabConfig& config);

// What defines the base model, all of it, the same in every paper: the
// model and pretraining fields of `config` (BaseKey), the pretraining
// corpus's definition (the synthetic suite's seed, generator version and
// split, or the fingerprint of a data folder's corpus), the pretraining
// thread count (kBasePretrainThreads: the bits depend on it) and
// kBaseProducerVersion. base_key.json in a base folder holds it, and the
// artifact cache keys the base on it, so two papers whose configurations
// agree on these share one pretraining per machine.
inline constexpr int kBasePretrainThreads = 2;
nlohmann::json BaseDefinition(const LabConfig& config, const nlohmann::json& corpus);
// The synthetic suite's pretraining corpus for `config` (LabSuiteOptions).
nlohmann::json SyntheticCorpusDefinition(const LabConfig& config);
ArtifactKey BaseArtifactKey(const nlohmann::json& definition);

// Pretrains the base on the first config.pretrain_examples lines of `corpus`
// (a Flan JSONL without instructions), with kBasePretrainThreads threads,
// and saves it with base_key.json (`definition`) and pretrain.json (steps,
// loss, and token accuracy in its own format on the corpus lines it did not
// train on) into `dir`.
absl::Status PretrainBase(const LabConfig& config, const std::string& corpus,
                          const nlohmann::json& definition, const std::string& dir);

// The base of `config` on the synthetic suite from `cache`: pretrained on
// first use (the suite written into the cache too), else the folder the
// cache holds. `hit` (if set) says which.
absl::StatusOr<std::string> CachedSyntheticBase(const ArtifactCache& cache,
                                                const LabConfig& config, bool* hit = nullptr);

class Lab {
 public:
  static absl::StatusOr<std::unique_ptr<Lab>> Open(const RunContext& ctx, const LabConfig& config);

  const LabConfig& config() const { return config_; }
  nn::CausalLMImpl& model() { return *model_; }
  // DIR/tokenizer.json of the base when it has one, else byte-level.
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }
  torch::Device device() const { return device_; }
  const std::vector<LabTask>& tasks() const { return tasks_; }
  const LabTask* FindTask(const std::string& name) const;
  const std::string& data_dir() const { return data_dir_; }
  const std::string& base_dir() const { return base_dir_; }
  // FolderFingerprint of the base and data folders: what experts are keyed
  // on, so a base rebuilt under the same path never serves stale experts.
  const std::string& base_fingerprint() const { return base_fingerprint_; }
  const std::string& data_fingerprint() const { return data_fingerprint_; }
  bool base_from_cache() const { return base_hit_; }
  double base_seconds() const { return base_seconds_; }
  // One sentence for a report's setup: the checkpoint's architecture and
  // tokenizer, and how it was pretrained when the lab made it.
  std::string DescribeBase() const;
  // pretrain.json of the base when it has one (else null).
  const nlohmann::json& base_report() const { return base_report_; }

  // The model as it is (with any attached adapters) on a task's test split.
  absl::StatusOr<TaskScore> Score(const LabTask& task, bool exact_match = false);

  // Trains a fresh LoRA (config rank/alpha/targets) on the union of `tasks`'
  // training examples for `steps` (0: config.expert_steps) and returns it;
  // the model is left without adapters.
  absl::StatusOr<Expert> TrainLora(const std::vector<const LabTask*>& tasks, uint64_t seed,
                                   int64_t steps = 0);
  // TrainLora through the artifact cache (keyed by base, expert config,
  // tasks, steps and seed).
  absl::StatusOr<Expert> CachedLora(const std::vector<const LabTask*>& tasks, uint64_t seed,
                                    int64_t steps = 0, bool* hit = nullptr);
  // Whether CachedLora would find this expert without training.
  bool LoraIsCached(const std::vector<const LabTask*>& tasks, uint64_t seed, int64_t steps = 0) const;

  double train_seconds() const { return train_seconds_; }
  int64_t train_steps() const { return train_steps_; }

 private:
  Lab() = default;
  ArtifactKey LoraKey(const std::vector<const LabTask*>& tasks, uint64_t seed, int64_t steps) const;

  LabConfig config_;
  const ArtifactCache* cache_ = nullptr;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  bool tokenizer_json_ = false;
  torch::Device device_ = torch::kCPU;
  std::string data_dir_, base_dir_;
  std::string data_fingerprint_, base_fingerprint_;
  bool base_hit_ = true;
  double base_seconds_ = 0;
  nlohmann::json base_report_;
  nn::CausalLM model_{nullptr};
  std::vector<LabTask> tasks_;
  double train_seconds_ = 0;
  int64_t train_steps_ = 0;
};

// nn::TargetTokenAccuracy in evaluation mode; the model is left in training
// mode afterwards, as the lab's scoring always has (exact match, measured
// next, runs in that mode, and the recorded results depend on it).
using nn::TargetAccuracy;
inline TargetAccuracy LabTargetAccuracy(nn::CausalLMImpl& model,
                                        const std::vector<nn::TokenizedExample>& examples,
                                        int64_t batch = 32) {
  model.eval();
  const TargetAccuracy accuracy = nn::TargetTokenAccuracy(model, examples, batch);
  model.train();
  return accuracy;
}
inline double TokenAccuracy(nn::CausalLMImpl& model,
                            const std::vector<nn::TokenizedExample>& examples, int64_t batch = 32) {
  return LabTargetAccuracy(model, examples, batch).all;
}

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_LAB_TESTBED_LAB_H_
