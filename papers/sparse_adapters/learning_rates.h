// Each adapter kind's learning rate, chosen on validation data once and
// recorded, so the claims test reads the choice instead of re-training the
// selection's experts every time (sparse_adapters.cc, ChooseLearningRates).
//
// papers/sparse_adapters/learning_rates.json holds, per kind, every rate
// tried with its validation scores and the rate chosen, and the selection's
// definition: what the choice depends on (the base model's bytes, the suite,
// the kinds' recipes, the grid, the selection tasks and merges). A run reads
// the record only when its definition is the run's; otherwise, or with
// --reselect, it selects afresh and writes OUT/learning_rates.json, which
// replaces the recorded file when copied over it:
//
//   bazel run //papers/sparse_adapters:reproduce -- --reselect --out /tmp/sa
//   cp /tmp/sa/learning_rates.json papers/sparse_adapters/learning_rates.json
#ifndef LIBRA_PAPERS_SPARSE_ADAPTERS_LEARNING_RATES_H_
#define LIBRA_PAPERS_SPARSE_ADAPTERS_LEARNING_RATES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace libra::papers::sparse_adapters {

struct RateScore {
  double learning_rate = 0;
  double objective = 0;  // what the choice compares (LearningRateScore::objective)
  double single = 0;     // own-task validation accuracy, mean over the selection tasks
  double merged = 0;     // their merge's validation accuracy
};

struct KindRates {
  std::string id;  // TrainedKind::id
  double chosen = 0;
  std::vector<RateScore> scores;  // in the order they were tried
};

struct RateRecord {
  nlohmann::json definition;
  std::vector<KindRates> kinds;
  const KindRates* Find(const std::string& id) const;
};

nlohmann::json RateRecordToJson(const RateRecord& record);
// Strict: every field present and of its type; errors name `source`.
absl::StatusOr<RateRecord> RateRecordFromJson(const nlohmann::json& j, const std::string& source);
absl::StatusOr<RateRecord> ReadRateRecord(const std::string& path);

}  // namespace libra::papers::sparse_adapters

#endif  // LIBRA_PAPERS_SPARSE_ADAPTERS_LEARNING_RATES_H_
