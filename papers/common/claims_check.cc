#include "papers/common/claims_check.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "papers/common/results.h"

namespace libra::papers {

using nlohmann::json;

std::vector<std::string> CheckClaims(const json& doc, const std::string& report_md) {
  std::vector<std::string> problems;
  if (!doc.is_object() || !doc.contains("claims") || !doc["claims"].is_array()) {
    return {"results.json has no \"claims\" list"};
  }
  if (doc["claims"].empty()) problems.push_back("results.json lists no claims");
  std::vector<std::string> lines = absl::StrSplit(report_md, '\n');
  for (const json& j : doc["claims"]) {
    absl::StatusOr<ClaimResult> r = ClaimResultFromJson(j);
    if (!r.ok()) {
      problems.push_back(std::string(r.status().message()));
      continue;
    }
    const std::string& id = r->claim.id;
    const std::string verdict = VerdictName(r->verdict);
    std::string numbers = absl::StrCat("A ", r->a.mean, " ± ", r->a.std, ", B ", r->b.mean, " ± ",
                                       r->b.std, ", A − B ", r->diff_mean, " ± spread ", r->spread,
                                       ", margin ", r->claim.margin);
    if (r->claim.known_failure) {
      if (r->verdict == Verdict::kReproduced) {
        problems.push_back(absl::StrCat("claim \"", id, "\" is marked known_failure but now ",
                                        "reproduces (", numbers, "): remove the mark"));
      }
    } else if (r->verdict != Verdict::kReproduced) {
      problems.push_back(absl::StrCat("claim \"", id, "\": ", verdict, " (", numbers, ")"));
    }
    // The report's claims row: "| `id` | ... | **verdict** ... |".
    bool shown = false;
    for (const std::string& line : lines) {
      if (absl::StartsWith(line, absl::StrCat("| `", id, "` |")) &&
          absl::StrContains(line, absl::StrCat("**", verdict, "**")) &&
          (!r->claim.known_failure || absl::StrContains(line, "known failure"))) {
        shown = true;
      }
    }
    if (!shown) {
      problems.push_back(absl::StrCat("REPORT.md does not show claim \"", id, "\" as ", verdict,
                                      r->claim.known_failure ? " (known failure)" : ""));
    }
  }
  return problems;
}

}  // namespace libra::papers
