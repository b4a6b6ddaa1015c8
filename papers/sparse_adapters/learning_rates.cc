#include "papers/sparse_adapters/learning_rates.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/core/io/atomic_file.h"
#include "src/core/status_macros.h"

namespace libra::papers::sparse_adapters {

using nlohmann::json;

const KindRates* RateRecord::Find(const std::string& id) const {
  for (const KindRates& k : kinds) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

json RateRecordToJson(const RateRecord& record) {
  json kinds = json::array();
  for (const KindRates& k : record.kinds) {
    json scores = json::array();
    for (const RateScore& s : k.scores) {
      scores.push_back({{"learning_rate", s.learning_rate},
                        {"objective", s.objective},
                        {"single", s.single},
                        {"merged", s.merged}});
    }
    kinds.push_back({{"id", k.id}, {"chosen", k.chosen}, {"scores", scores}});
  }
  return {{"definition", record.definition}, {"kinds", kinds}};
}

namespace {

absl::StatusOr<double> Number(const json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_number()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": \"", key, "\" must be a number"));
  }
  const double v = j.at(key).get<double>();
  if (!std::isfinite(v)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": \"", key, "\" is not finite"));
  }
  return v;
}

}  // namespace

absl::StatusOr<RateRecord> RateRecordFromJson(const json& j, const std::string& source) {
  if (!j.is_object() || !j.contains("definition") || !j.contains("kinds") ||
      !j.at("kinds").is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected {\"definition\": ..., \"kinds\": [...]}"));
  }
  RateRecord record;
  record.definition = j.at("definition");
  for (const json& k : j.at("kinds")) {
    if (!k.is_object() || !k.contains("id") || !k.at("id").is_string() || !k.contains("scores") ||
        !k.at("scores").is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": a kind needs \"id\" (string) and \"scores\" (list)"));
    }
    KindRates kind;
    kind.id = k.at("id").get<std::string>();
    const std::string where = absl::StrCat(source, ": kind \"", kind.id, "\"");
    LIBRA_ASSIGN_OR_RETURN(kind.chosen, Number(k, "chosen", where));
    for (const json& s : k.at("scores")) {
      RateScore score;
      LIBRA_ASSIGN_OR_RETURN(score.learning_rate, Number(s, "learning_rate", where));
      LIBRA_ASSIGN_OR_RETURN(score.objective, Number(s, "objective", where));
      LIBRA_ASSIGN_OR_RETURN(score.single, Number(s, "single", where));
      LIBRA_ASSIGN_OR_RETURN(score.merged, Number(s, "merged", where));
      kind.scores.push_back(score);
    }
    if (kind.scores.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": no scores"));
    record.kinds.push_back(std::move(kind));
  }
  return record;
}

absl::StatusOr<RateRecord> ReadRateRecord(const std::string& path) {
  LIBRA_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": not JSON"));
  return RateRecordFromJson(j, path);
}

}  // namespace libra::papers::sparse_adapters
