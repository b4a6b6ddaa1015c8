#include "papers/common/claims_check.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "papers/common/results.h"

namespace libra::papers {

using nlohmann::json;

std::vector<std::string> CheckClaims(const json& doc, const std::string& report_md,
                                     const Expectations& expectations) {
  if (!doc.is_object() || !doc.contains("claims") || !doc["claims"].is_array()) {
    return {"results.json has no \"claims\" list"};
  }
  std::vector<std::string> problems;
  if (doc["claims"].empty()) problems.push_back("results.json lists no claims");
  for (const json& j : doc["claims"]) {
    absl::StatusOr<ClaimResult> r = ClaimResultFromJson(j);
    if (!r.ok()) problems.push_back(std::string(r.status().message()));
  }
  for (std::string& p : CheckExpectations(doc, expectations)) problems.push_back(std::move(p));
  // The report's claims row: "| `id` | ... | **verdict** ... |", marked as a
  // known failure when the expectations say so.
  std::vector<std::string> lines = absl::StrSplit(report_md, '\n');
  for (const json& j : doc["claims"]) {
    const std::string id = j.value("id", "?");
    const std::string verdict = j.value("verdict", "?");
    const ClaimExpectation* x = expectations.Find(id);
    const bool known = x != nullptr && x->known_failure();
    bool shown = false;
    for (const std::string& line : lines) {
      if (absl::StartsWith(line, absl::StrCat("| `", id, "` |")) &&
          absl::StrContains(line, absl::StrCat("**", verdict, "**")) &&
          (!known || absl::StrContains(line, "known failure"))) {
        shown = true;
      }
    }
    if (!shown) {
      problems.push_back(absl::StrCat("REPORT.md does not show claim \"", id, "\" as ", verdict,
                                      known ? " (known failure)" : ""));
    }
  }
  return problems;
}

}  // namespace libra::papers
