#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "papers/lab/testbed_lab.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "papers/common/artifact_cache.h"
#include "papers/common/config_override.h"
#include "papers/lab/suite_cache.h"
#include "src/core/io/atomic_file.h"
#include "src/core/status_macros.h"
#include "src/data/flan_jsonl_reader.h"
#include "src/data/synthetic/suite.h"
#include "src/data/synthetic/tasks.h"
#include "src/data/task_folder.h"
#include "src/core/text/byte_tokenizer.h"
#include "src/core/text/model_tokenizer.h"
#include "src/nn/adapters.h"
#include "src/nn/checkpoint.h"
#include "src/nn/config.h"
#include "src/nn/eval.h"
#include "src/nn/runtime.h"
#include "src/nn/trainer.h"

namespace libra::papers {
namespace {

absl::StatusOr<std::vector<nn::TokenizedExample>> Tokenize(
    const text::Tokenizer& tokenizer, const std::vector<data::FlanExample>& examples,
    int64_t max_length) {
  std::vector<nn::TokenizedExample> out;
  out.reserve(examples.size());
  for (const data::FlanExample& e : examples) {
    LIBRA_ASSIGN_OR_RETURN(nn::TokenizedExample t,
                           nn::EncodeExample(tokenizer, e.source, e.target, max_length));
    out.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": not JSON"));
  return doc;
}

}  // namespace

nlohmann::json LabConfig::ToJson() const { return *this; }

nlohmann::json LabConfig::BaseKey() const {
  return {{"hidden", hidden},
          {"layers", layers},
          {"heads", heads},
          {"intermediate", intermediate},
          {"max_length", max_length},
          {"pretrain_examples", pretrain_examples},
          {"pretrain_composition_fraction", pretrain_composition_fraction},
          {"pretrain_framed_fraction", pretrain_framed_fraction},
          {"pretrain_steps", pretrain_steps},
          {"pretrain_batch", pretrain_batch},
          {"pretrain_lr", pretrain_lr},
          {"pretrain_embedding_std", pretrain_embedding_std}};
}

nlohmann::json LabConfig::ExpertKey() const {
  return {{"rank", rank},
          {"alpha", alpha},
          {"targets", targets},
          {"train_per_task", train_per_task},
          {"expert_steps", expert_steps},
          {"expert_batch", expert_batch},
          {"expert_lr", expert_lr},
          {"lora_a_weight_decay", lora_a_weight_decay}};
}

absl::Status LabConfig::Override(const nlohmann::json& o) {
  return OverrideConfig(*this, o, "lab config");
}

absl::StatusOr<LabConfig> LabConfigFromContext(const RunContext& ctx) {
  LabConfig config;
  // Quick scale: two families; standard and full: all of them.
  if (ctx.quick()) config.families = {"letters", "digits"};
  const char* env = std::getenv("LIBRA_LAB_CONFIG");
  if (env != nullptr && *env != '\0') {
    nlohmann::json o = nlohmann::json::parse(env, nullptr, /*allow_exceptions=*/false);
    absl::Status status = config.Override(o);
    if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat("LIBRA_LAB_CONFIG: ", status.message()));
  }
  return config;
}

absl::StatusOr<uint64_t> ExpertSeed(ExpertRole role, int seed, int64_t index) {
  struct Stride {
    const char* name;
    int64_t offset, size;
  };
  static constexpr Stride kStrides[] = {{"task", 0, 500}, {"cluster", 500, 400}, {"shared", 900, 100}};
  const Stride& stride = kStrides[static_cast<int>(role)];
  if (seed < 0 || index < 0 || index >= stride.size) {
    return absl::OutOfRangeError(absl::StrCat("expert seed: ", stride.name, " index ", index,
                                              " of seed ", seed, " is outside 0..",
                                              stride.size - 1));
  }
  return static_cast<uint64_t>(seed) * 1000 + static_cast<uint64_t>(stride.offset + index);
}

absl::StatusOr<uint64_t> TaskExpertSeed(int seed, const LabTask& task) {
  return ExpertSeed(ExpertRole::kTask, seed, task.index);
}

PaperSpec LabPaper(std::string id, std::string title,
                   std::function<absl::Status(const RunContext&, Results&)> run) {
  PaperSpec spec{std::move(id), std::move(title), std::move(run)};
  spec.configure_runtime = [](int threads) { return ConfigureRuntime(threads); };
  return spec;
}

data::synthetic::SuiteOptions LabSuiteOptions(const LabConfig& config) {
  data::synthetic::SuiteOptions suite;
  suite.seed = 1;
  suite.train_per_task = config.train_per_task;
  suite.validation_per_task = 16;
  suite.test_per_task = config.test_per_task;
  // Generation is prefix-stable and the split drops a validation share, so
  // generate enough that pretraining and the 1000 measuring lines both fit.
  suite.pretrain.examples = static_cast<int>(
      (config.pretrain_examples + 1000) / (1.0 - suite.pretrain.validation_fraction) * 1.01 + 100);
  suite.pretrain.composition_fraction = config.pretrain_composition_fraction;
  suite.pretrain.framed_fraction = config.pretrain_framed_fraction;
  return suite;
}

namespace {

absl::Status PretrainBaseOnThreads(const LabConfig& config, const std::string& corpus_path,
                                   const nlohmann::json& definition, const std::string& dir) {
  text::ByteTokenizer tokenizer;
  LIBRA_ASSIGN_OR_RETURN(std::vector<data::FlanExample> corpus,
                         data::ReadFlanJsonl(corpus_path, {}, std::string(data::kTrainSplit)));
  if (static_cast<int>(corpus.size()) <= config.pretrain_examples) {
    return absl::InvalidArgumentError(
        absl::StrCat(corpus_path, ": ", corpus.size(), " lines; pretraining needs more than ",
                     config.pretrain_examples, " (the rest measure the base in its own format)"));
  }
  std::vector<data::FlanExample> held(corpus.begin() + config.pretrain_examples, corpus.end());
  corpus.resize(config.pretrain_examples);
  if (held.size() > 1000) held.resize(1000);
  LIBRA_ASSIGN_OR_RETURN(std::vector<nn::TokenizedExample> data,
                         Tokenize(tokenizer, corpus, config.max_length));
  LIBRA_ASSIGN_OR_RETURN(std::vector<nn::TokenizedExample> held_tokens,
                         Tokenize(tokenizer, held, config.max_length));
  nn::ModelConfig mc;
  mc.vocab_size = tokenizer.vocab_size();
  mc.hidden_size = config.hidden;
  mc.intermediate_size = config.intermediate;
  mc.num_hidden_layers = config.layers;
  mc.num_attention_heads = config.heads;
  mc.num_key_value_heads = config.heads;
  mc.max_position_embeddings = config.max_length;
  mc.tie_word_embeddings = true;
  torch::manual_seed(1234);
  nn::CausalLM model(mc);
  if (config.pretrain_embedding_std > 0) {
    torch::NoGradGuard no_grad;
    model->model->embed_tokens->weight.normal_(0.0, config.pretrain_embedding_std);
  }
  nn::TrainOptions options;
  options.learning_rate = config.pretrain_lr;
  options.weight_decay = 0.01;
  options.warmup_steps = config.pretrain_steps / 20;
  options.batch_size = config.pretrain_batch;
  options.max_steps = config.pretrain_steps;
  options.seed = 1234;
  options.log_every = 100;
  // Every layer at every row: the base's bits stay those that the papers'
  // learning rates and expectations were measured on (README.md, "One
  // base").
  options.last_layer_at_targets = false;
  const auto start = std::chrono::steady_clock::now();
  LIBRA_ASSIGN_OR_RETURN(nn::TrainStats stats, nn::Train(*model, data, options));
  const double seconds = SecondsSince(start);
  const double own_format = TokenAccuracy(*model, held_tokens);
  // By family and by one operation or a composition ("pretrain/<family>/<codes>").
  std::map<std::string, std::vector<nn::TokenizedExample>> groups;
  for (size_t i = 0; i < held.size(); ++i) {
    std::vector<std::string> parts = absl::StrSplit(held[i].task_name, '/');
    const std::string family = parts.size() > 1 ? parts[1] : "other";
    const bool composed = parts.size() > 2 && absl::StrContains(parts[2], '.');
    groups[absl::StrCat(family, composed ? "/composed" : "/single")].push_back(held_tokens[i]);
  }
  nlohmann::json by_group = nlohmann::json::object();
  for (const auto& [group, tokens] : groups) {
    by_group[group] = {{"lines", tokens.size()}, {"token_accuracy", TokenAccuracy(*model, tokens)}};
  }
  // Single operations by name, to see which primitives the base has not learned.
  // A code names the same primitive in every family.
  std::map<std::string, std::string> name_of_code;
  for (const data::synthetic::Operation& op : data::synthetic::Operations()) {
    name_of_code[op.code] = op.name;
  }
  std::map<std::string, std::vector<nn::TokenizedExample>> singles;
  for (size_t i = 0; i < held.size(); ++i) {
    std::vector<std::string> parts = absl::StrSplit(held[i].task_name, '/');
    if (parts.size() != 3 || absl::StrContains(parts[2], '.')) continue;
    auto it = name_of_code.find(parts[2]);
    if (it != name_of_code.end()) {
      singles[absl::StrCat(parts[1], "/", it->second)].push_back(held_tokens[i]);
    }
  }
  nlohmann::json by_operation = nlohmann::json::object();
  for (const auto& [name, tokens] : singles) {
    by_operation[name] = {{"lines", tokens.size()},
                          {"token_accuracy", TokenAccuracy(*model, tokens)}};
  }
  std::fprintf(stderr,
               "[lab] pretrained base: %lld steps in %.1f s, last loss %.3f, own-format token "
               "accuracy %.3f\n",
               static_cast<long long>(stats.steps), seconds, stats.last_loss, own_format);
  LIBRA_RETURN_IF_ERROR(nn::SaveCheckpoint(*model, dir));
  nlohmann::json report = {{"steps", stats.steps},
                           {"seconds", seconds},
                           {"last_loss", stats.last_loss},
                           {"tokens_per_second", stats.tokens_per_second},
                           {"own_format_token_accuracy", own_format},
                           {"own_format_lines", held.size()},
                           {"own_format_by_group", by_group},
                           {"own_format_by_operation", by_operation}};
  LIBRA_RETURN_IF_ERROR(WriteFileAtomically(dir + "/pretrain.json", report.dump(2) + "\n"));
  return WriteFileAtomically(dir + "/base_key.json", definition.dump(2) + "\n");
}

}  // namespace

nlohmann::json BaseDefinition(const LabConfig& config, const nlohmann::json& corpus) {
  return {{"config", config.BaseKey()},
          {"corpus", corpus},
          {"threads", kBasePretrainThreads},
          {"producer", kBaseProducerVersion}};
}

nlohmann::json SyntheticCorpusDefinition(const LabConfig& config) {
  const data::synthetic::SuiteOptions suite = LabSuiteOptions(config);
  return {{"synthetic_suite_seed", suite.seed},
          {"examples", suite.pretrain.examples},
          {"validation_fraction", suite.pretrain.validation_fraction},
          {"producer", kSuiteProducerVersion}};
}

ArtifactKey BaseArtifactKey(const nlohmann::json& definition) {
  return ArtifactKey{"base_model", definition, kBaseProducerVersion};
}

absl::StatusOr<std::string> CachedSyntheticBase(const ArtifactCache& cache,
                                                const LabConfig& config, bool* hit) {
  const nlohmann::json definition = BaseDefinition(config, SyntheticCorpusDefinition(config));
  return cache.GetOrBuild(
      BaseArtifactKey(definition),
      [&](const std::string& dir) -> absl::Status {
        LIBRA_ASSIGN_OR_RETURN(std::string suite, CachedSuite(cache, LabSuiteOptions(config)));
        return PretrainBase(config, suite + "/pretrain.jsonl", definition, dir);
      },
      hit);
}

absl::Status PretrainBase(const LabConfig& config, const std::string& corpus_path,
                          const nlohmann::json& definition, const std::string& dir) {
  // The base's bits depend on the thread count: one count on every machine.
  const int threads = at::get_num_threads();
  at::set_num_threads(kBasePretrainThreads);
  absl::Status status = PretrainBaseOnThreads(config, corpus_path, definition, dir);
  at::set_num_threads(threads);
  return status;
}

absl::StatusOr<std::unique_ptr<Lab>> Lab::Open(const RunContext& ctx, const LabConfig& config) {
  std::unique_ptr<Lab> lab(new Lab());
  lab->config_ = config;
  lab->cache_ = ctx.cache;

  lab->data_dir_ = ctx.options.data;
  if (lab->data_dir_.empty()) {
    LIBRA_ASSIGN_OR_RETURN(lab->data_dir_, CachedSuite(*ctx.cache, LabSuiteOptions(config)));
  }

  const auto start = std::chrono::steady_clock::now();
  lab->base_dir_ = ctx.options.base_model;
  nlohmann::json definition = BaseDefinition(config, SyntheticCorpusDefinition(config));
  if (!ctx.options.data.empty()) {
    LIBRA_ASSIGN_OR_RETURN(std::string folder, FolderFingerprint(lab->data_dir_));
    definition = BaseDefinition(config, {{"folder_fingerprint", folder}});
  }
  if (lab->base_dir_.empty() && ctx.options.data.empty()) {
    LIBRA_ASSIGN_OR_RETURN(lab->base_dir_, CachedSyntheticBase(*ctx.cache, config, &lab->base_hit_));
  } else if (lab->base_dir_.empty()) {
    const std::string corpus = lab->data_dir_ + "/pretrain.jsonl";
    LIBRA_ASSIGN_OR_RETURN(
        lab->base_dir_,
        ctx.cache->GetOrBuild(
            BaseArtifactKey(definition),
            [&](const std::string& dir) { return PretrainBase(config, corpus, definition, dir); },
            &lab->base_hit_));
  }
  lab->base_seconds_ = SecondsSince(start);
  if (absl::StatusOr<nlohmann::json> key = ReadJsonFile(lab->base_dir_ + "/base_key.json");
      key.ok() && *key != definition) {
    return absl::FailedPreconditionError(absl::StrCat(
        lab->base_dir_, "/base_key.json: the base was built for ", key->dump(),
        ", the configuration asks for ", definition.dump()));
  }
  if (absl::StatusOr<nlohmann::json> report = ReadJsonFile(lab->base_dir_ + "/pretrain.json");
      report.ok()) {
    lab->base_report_ = *report;
  }
  LIBRA_ASSIGN_OR_RETURN(lab->base_fingerprint_, FolderFingerprint(lab->base_dir_));
  LIBRA_ASSIGN_OR_RETURN(lab->data_fingerprint_, FolderFingerprint(lab->data_dir_));
  LIBRA_ASSIGN_OR_RETURN(lab->device_, nn::ParseDevice(ctx.options.device));
  LIBRA_ASSIGN_OR_RETURN(lab->model_, nn::LoadCheckpoint(lab->base_dir_, lab->device_));
  nn::FreezeBase(*lab->model_);
  LIBRA_ASSIGN_OR_RETURN(lab->tokenizer_, text::LoadModelTokenizer(lab->base_dir_));
  lab->tokenizer_json_ = dynamic_cast<const text::ByteTokenizer*>(lab->tokenizer_.get()) == nullptr;
  LIBRA_RETURN_IF_ERROR(text::CheckTokenizerFitsModel(
      *lab->tokenizer_, lab->model_->config().vocab_size, lab->base_dir_));

  data::TaskFolderOptions folder;
  folder.families = config.families;
  folder.max_train = config.train_per_task;
  folder.max_validation = config.test_per_task;
  folder.max_test = config.test_per_task;
  LIBRA_ASSIGN_OR_RETURN(std::vector<data::FolderTask> folder_tasks,
                         data::ReadTaskFolder(lab->data_dir_, folder));
  for (data::FolderTask& t : folder_tasks) {
    LabTask task;
    task.index = static_cast<int>(lab->tasks_.size());
    task.name = std::move(t.name);
    task.family = std::move(t.family);
    task.held_out = t.held_out;
    task.related = std::move(t.related);
    task.train = std::move(t.train);
    task.validation = std::move(t.validation);
    task.test = std::move(t.test);
    LIBRA_ASSIGN_OR_RETURN(task.train_tokens,
                           Tokenize(*lab->tokenizer_, task.train, config.max_length));
    LIBRA_ASSIGN_OR_RETURN(task.validation_tokens,
                           Tokenize(*lab->tokenizer_, task.validation, config.max_length));
    LIBRA_ASSIGN_OR_RETURN(task.test_tokens, Tokenize(*lab->tokenizer_, task.test, config.max_length));
    for (auto* split : {&task.train_tokens, &task.validation_tokens, &task.test_tokens}) {
      for (nn::TokenizedExample& e : *split) e.task = task.index;
    }
    lab->tasks_.push_back(std::move(task));
  }
  if (lab->tasks_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no tasks in families [", absl::StrJoin(config.families, ", "), "]"));
  }
  return lab;
}

std::string Lab::DescribeBase() const {
  const nn::ModelConfig& c = model_->config();
  std::string out = absl::StrFormat(
      "%s model (d_model %lld, %lld layers, %lld heads, vocab %lld, %s tokenizer)", c.model_type,
      static_cast<long long>(c.hidden_size), static_cast<long long>(c.num_hidden_layers),
      static_cast<long long>(c.num_attention_heads), static_cast<long long>(c.vocab_size),
      tokenizer_json_ ? "its tokenizer.json" : "byte-level");
  if (base_report_.is_object() && base_report_.contains("steps")) {
    absl::StrAppend(&out, absl::StrFormat(
        ", pretrained here for %lld steps (batch %lld) on %d lines of the instruction-free corpus",
        static_cast<long long>(config_.pretrain_steps), static_cast<long long>(config_.pretrain_batch),
        config_.pretrain_examples));
  } else {
    absl::StrAppend(&out, " from ", base_dir_);
  }
  return out;
}

const LabTask* Lab::FindTask(const std::string& name) const {
  for (const LabTask& t : tasks_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<TaskScore> Lab::Score(const LabTask& task, bool exact_match) {
  TaskScore score;
  const TargetAccuracy accuracy = LabTargetAccuracy(*model_, task.test_tokens);
  score.token_accuracy = accuracy.all;
  score.first_token_accuracy = accuracy.first;
  score.end_token_accuracy = accuracy.end;
  if (exact_match) {
    std::vector<nn::EvalExample> examples;
    for (const data::FlanExample& e : task.test) examples.push_back({e.source, e.target, {}});
    nn::GenerateOptions options;
    options.max_new_tokens = 24;
    options.max_length = config_.max_length;
    options.device = device_;
    LIBRA_ASSIGN_OR_RETURN(nn::EvalResult r, nn::Evaluate(*model_, *tokenizer_, examples, options));
    score.exact_match = r.exact_match;
  }
  return score;
}

absl::StatusOr<Expert> Lab::TrainLora(const std::vector<const LabTask*>& tasks, uint64_t seed,
                                      int64_t steps) {
  if (tasks.empty()) return absl::InvalidArgumentError("TrainLora: no tasks");
  if (steps <= 0) steps = config_.expert_steps;
  std::vector<nn::TokenizedExample> data;
  for (const LabTask* t : tasks) {
    data.insert(data.end(), t->train_tokens.begin(), t->train_tokens.end());
  }
  nn::AdapterConfig adapter;
  adapter.lora.rank = config_.rank;
  adapter.lora.alpha = config_.alpha;
  adapter.targets.names = config_.targets;
  LIBRA_RETURN_IF_ERROR(nn::AttachAdapters(*model_, adapter, seed).status());
  nn::TrainOptions options;
  options.learning_rate = config_.expert_lr;
  options.device = device_;
  options.lora_a_weight_decay = config_.lora_a_weight_decay;
  options.batch_size = config_.expert_batch;
  options.max_steps = steps;
  options.warmup_steps = steps / 10;
  options.seed = seed;
  options.progress = false;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<nn::TrainStats> stats = nn::Train(*model_, data, options);
  train_seconds_ += SecondsSince(start);
  train_steps_ += steps;
  Expert expert = nn::ExtractExpert(*model_);
  nn::DetachAdapters(*model_);
  if (!stats.ok()) return stats.status();
  return expert;
}

ArtifactKey Lab::LoraKey(const std::vector<const LabTask*>& tasks, uint64_t seed,
                         int64_t steps) const {
  if (steps <= 0) steps = config_.expert_steps;
  std::vector<std::string> names;
  for (const LabTask* t : tasks) names.push_back(t->name);
  nlohmann::json key_config = config_.ExpertKey();
  key_config["base"] = base_fingerprint_;
  key_config["data"] = data_fingerprint_;
  key_config["tasks"] = names;
  key_config["steps"] = steps;
  key_config["seed"] = seed;
  return ArtifactKey{"lora_expert", key_config, kExpertProducerVersion};
}

bool Lab::LoraIsCached(const std::vector<const LabTask*>& tasks, uint64_t seed,
                       int64_t steps) const {
  return cache_->Contains(LoraKey(tasks, seed, steps));
}

absl::StatusOr<Expert> Lab::CachedLora(const std::vector<const LabTask*>& tasks, uint64_t seed,
                                       int64_t steps, bool* hit) {
  if (steps <= 0) steps = config_.expert_steps;
  std::vector<std::string> names;
  for (const LabTask* t : tasks) names.push_back(t->name);
  const ArtifactKey key = LoraKey(tasks, seed, steps);
  LIBRA_ASSIGN_OR_RETURN(
      std::string dir,
      cache_->GetOrBuild(
          key,
          [&](const std::string& tmp) -> absl::Status {
            LIBRA_ASSIGN_OR_RETURN(Expert expert, TrainLora(tasks, seed, steps));
            return nn::SaveExpert(tmp + "/expert.safetensors", expert,
                                  {{"tasks", absl::StrJoin(names, ",")}});
          },
          hit));
  return nn::LoadExpert(dir + "/expert.safetensors");
}

}  // namespace libra::papers
