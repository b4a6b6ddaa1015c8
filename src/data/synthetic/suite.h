// Generates the synthetic suite (tasks.h) as Flan-style examples and writes
// it to a folder:
//   DIR/tasks/<task>.jsonl   every split of one task (train, validation, test)
//   DIR/pretrain.jsonl       the instruction-free pretraining corpus
//   DIR/suite.json           manifest: families, tasks, held-in/held-out,
//                            relations, operations, templates, counts, seed
// Inputs within a task are distinct across all its splits, so no test input
// is seen in training. Everything is a function of the seed.
//
//   SuiteOptions options;
//   options.seed = 1;
//   LIBRA_RETURN_IF_ERROR(WriteSuite("/tmp/suite", options));
#ifndef LIBRA_DATA_SYNTHETIC_SUITE_H_
#define LIBRA_DATA_SYNTHETIC_SUITE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/data/flan_example.h"
#include "src/data/synthetic/pretrain_corpus.h"
#include "src/data/synthetic/tasks.h"

namespace libra::data::synthetic {

struct SuiteOptions {
  uint64_t seed = 0;
  int train_per_task = 1000;
  int validation_per_task = 64;
  int test_per_task = 128;
  PretrainOptions pretrain;  // its seed is derived from `seed`
};

// One task's examples: train, then validation, then test. Fails when the
// task's input space is too small for the requested counts.
absl::StatusOr<std::vector<FlanExample>> GenerateTaskExamples(const Task& task,
                                                              const SuiteOptions& options);

// The manifest (suite.json) as a JSON string.
std::string SuiteManifest(const SuiteOptions& options);

absl::Status WriteSuite(const std::string& dir, const SuiteOptions& options);

}  // namespace libra::data::synthetic

#endif  // LIBRA_DATA_SYNTHETIC_SUITE_H_
