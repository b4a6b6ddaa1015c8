#include "src/data/synthetic/suite.h"

#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/core/io/atomic_file.h"
#include "src/core/status_macros.h"
#include "src/data/flan_jsonl_writer.h"
#include "src/data/stable_hash.h"

namespace libra::data::synthetic {
namespace {

// Draws in a row that may repeat earlier inputs before a task's input space
// is declared too small for the requested counts.
constexpr int kMaxConsecutiveRepeats = 20000;

uint64_t PretrainSeed(uint64_t suite_seed) { return StableHash("pretrain-corpus", suite_seed); }

}  // namespace

absl::StatusOr<std::vector<FlanExample>> GenerateTaskExamples(const Task& task,
                                                              const SuiteOptions& options) {
  const int counts[] = {options.train_per_task, options.validation_per_task, options.test_per_task};
  const absl::string_view splits[] = {kTrainSplit, kValidationSplit, kTestSplit};
  int total = 0;
  for (int count : counts) {
    if (count < 0) {
      return absl::InvalidArgumentError(absl::StrCat("task ", task.spec.name, ": negative count"));
    }
    total += count;
  }
  Rng rng(StableHash(task.spec.name, options.seed));
  std::set<std::string> seen;
  std::vector<FlanExample> examples;
  examples.reserve(total);
  int split_index = 0;
  int in_split = 0;
  for (int repeats = 0; static_cast<int>(examples.size()) < total;) {
    if (repeats >= kMaxConsecutiveRepeats) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "task ", task.spec.name, ": found only ", examples.size(), " distinct inputs of ",
          total, " requested; lower the example counts"));
    }
    const Items input = task.sample(rng);
    const TaskExample rendered = RenderExample(task, input, rng);
    if (!seen.insert(rendered.input).second) {
      ++repeats;
      continue;
    }
    repeats = 0;
    while (in_split == counts[split_index]) ++split_index, in_split = 0;
    examples.push_back({rendered.source, rendered.target, task.spec.name,
                        std::string(splits[split_index])});
    ++in_split;
  }
  return examples;
}

std::string SuiteManifest(const SuiteOptions& options) {
  using Json = nlohmann::json;
  Json manifest;
  manifest["format"] = "libra-synthetic-suite";
  manifest["version"] = 1;
  manifest["seed"] = options.seed;
  manifest["examples_per_task"] = {{"train", options.train_per_task},
                                   {"validation", options.validation_per_task},
                                   {"test", options.test_per_task}};
  Json families = Json::array();
  const std::vector<Task> tasks = AllTasks();
  for (const Family& family : Families()) {
    Json held_in = Json::array();
    Json held_out = Json::array();
    for (const Task& task : tasks) {
      if (task.spec.family != family.name) continue;
      (task.spec.held_out ? held_out : held_in).push_back(task.spec.name);
    }
    families.push_back({{"name", family.name},
                        {"domain", family.domain},
                        {"held_in", held_in},
                        {"held_out", held_out}});
  }
  manifest["families"] = families;
  Json task_list = Json::array();
  for (const Task& task : tasks) {
    task_list.push_back({{"name", task.spec.name},
                         {"family", task.spec.family},
                         {"held_out", task.spec.held_out},
                         {"operations", task.spec.operations},
                         {"related", task.spec.related},
                         {"templates", task.spec.templates},
                         {"file", absl::StrCat("tasks/", task.spec.name, ".jsonl")}});
  }
  manifest["tasks"] = task_list;
  Json codes = Json::object();
  for (const Operation& operation : Operations()) codes[operation.name] = operation.code;
  manifest["pretrain"] = {{"file", "pretrain.jsonl"},
                          {"examples", options.pretrain.examples},
                          {"seed", PretrainSeed(options.seed)},
                          {"composition_fraction", options.pretrain.composition_fraction},
                          {"framed_fraction", options.pretrain.framed_fraction},
                          {"format", "source \"<code>[.<code>]|<input>=\", target \"<output>\""},
                          {"operation_codes", codes}};
  return manifest.dump(2) + "\n";
}

absl::Status WriteSuite(const std::string& dir, const SuiteOptions& options) {
  // Generate everything first: a bad option fails before any file is written.
  std::vector<std::pair<std::string, std::vector<FlanExample>>> files;
  for (const Task& task : AllTasks()) {
    LIBRA_ASSIGN_OR_RETURN(std::vector<FlanExample> examples, GenerateTaskExamples(task, options));
    files.emplace_back(absl::StrCat(dir, "/tasks/", task.spec.name, ".jsonl"), std::move(examples));
  }
  PretrainOptions pretrain = options.pretrain;
  pretrain.seed = PretrainSeed(options.seed);
  files.emplace_back(absl::StrCat(dir, "/pretrain.jsonl"), GeneratePretrainCorpus(pretrain));
  std::error_code error;
  std::filesystem::create_directories(absl::StrCat(dir, "/tasks"), error);
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", dir, "/tasks: ", error.message()));
  }
  for (const auto& [path, examples] : files) LIBRA_RETURN_IF_ERROR(WriteFlanJsonl(path, examples));
  // The manifest goes last: a folder with suite.json is complete.
  return WriteFileAtomically(absl::StrCat(dir, "/suite.json"), SuiteManifest(options));
}

}  // namespace libra::data::synthetic
