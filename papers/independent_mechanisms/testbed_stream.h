// Experiment 2 of paper (f): a library of modules against one monolithic
// adapter, on the testbed's task families learned one after another.
//
//   1. OpenStream: the testbed lab on the shared base, every family of the
//      data, a seeded family order per seed.
//   2. LearnSequentially: one LoRA fine-tuned on each new family in turn (no
//      replay), scored on every family after each.
//   3. GrowLibrary: one LoRA expert per family added to a library, earlier
//      experts frozen; after each family the library is reused by Arrow
//      routing (src/nn/arrow_router.h) and scored on every family; each
//      family's own expert alone is the oracle.
//   4. Per learner: the accuracy matrix by stream position (cl::AccuracyMatrix:
//      forgetting, forward transfer against the base, final accuracy), the
//      fraction of adapter parameters changed per new family, and held-out
//      tasks (compositions of earlier families' tasks) after the last family.
#ifndef LIBRA_PAPERS_INDEPENDENT_MECHANISMS_TESTBED_STREAM_H_
#define LIBRA_PAPERS_INDEPENDENT_MECHANISMS_TESTBED_STREAM_H_

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "papers/common/reproduce.h"
#include "papers/common/results.h"

namespace libra::papers::independent_mechanisms {

// Runs the experiment into `results` (metrics stream/..., its plots and the
// report's setup) and returns its configuration.
absl::StatusOr<nlohmann::json> RunTestbedStream(const RunContext& ctx, Results& results);

// F4 (testbed half) and F5, margins fixed before the first run.
void JudgeTestbedClaims(Results& results);

}  // namespace libra::papers::independent_mechanisms

#endif  // LIBRA_PAPERS_INDEPENDENT_MECHANISMS_TESTBED_STREAM_H_
