// REPORT.md from a results.json document, and the combined report of all
// papers. Rendering reads the document alone, so a report can be rebuilt from
// results.json without re-running anything.
//
//   std::string md = RenderPaperReport(doc);
//   std::string all = RenderCombinedReport({{"testbed", "testbed/REPORT.md", doc}});
#ifndef LIBRA_PAPERS_COMMON_REPORT_H_
#define LIBRA_PAPERS_COMMON_REPORT_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace libra::papers {

// "0.912 ± 0.013" (mean ± sample standard deviation).
std::string FormatMeanStd(double mean, double std);

// The claims table: id, statement, comparison, A, B, difference, verdict.
// A known failure's verdict reads "not reproduced (known failure)".
std::string RenderClaimsTable(const nlohmann::json& claims);

// The whole REPORT.md of one paper.
std::string RenderPaperReport(const nlohmann::json& doc);

struct PaperEntry {
  std::string paper;        // e.g. "testbed"
  std::string report_link;  // relative link to its REPORT.md
  nlohmann::json doc;       // its results.json; null when the run failed
  std::string error;        // why there is no document
};

// results/REPORT.md: a summary row per paper, then each paper's claims table.
std::string RenderCombinedReport(const std::vector<PaperEntry>& papers);
// Where each paper's time went (results.json "stage_times"), one row per
// paper and a total: the common stages (base model pretrained or reused,
// expert training, evaluation and the rest) in a column each, the paper's
// own stages in one cell. What `./run` prints at its end.
std::string RenderTimeSummary(const std::vector<PaperEntry>& papers);

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_REPORT_H_
