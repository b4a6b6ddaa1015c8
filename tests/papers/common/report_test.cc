#include "papers/common/report.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "papers/common/expectations.h"
#include "papers/common/results.h"

namespace libra::papers {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using nlohmann::json;

json Doc() {
  Results r("demo", "Demo paper");
  RunInfo run;
  run.seeds = {1, 2, 3};
  run.code_version = "v1";
  r.SetRun(run);
  r.SetSetup("We train | things.");
  for (int s = 1; s <= 3; ++s) {
    r.AddValue("expert", s, 0.9 + 0.01 * s);
    r.AddValue("base", s, 0.2);
  }
  Claim c;
  c.id = "expert_beats_base";
  c.statement = "experts | help";
  c.a = Quantity::Metric("expert");
  c.b = Quantity::Metric("base");
  c.margin = 0.1;
  r.AddClaim(c);
  Claim k = c;
  k.id = "base_wins";
  k.a = Quantity::Metric("base");
  k.b = Quantity::Metric("expert");
  r.AddClaim(k);
  r.AddPlot(json{{"id", "facts"}, {"kind", "bar"}, {"title", "Facts"}});
  r.AddPaperFigure({"Table 1, expert", "0.95", "expert"});
  json doc = *r.ToJson();
  // What the claims test expects: base_wins is a known failure.
  Expectations e;
  e.paper = "demo";
  e.scale = "quick";
  e.seeds = {1, 2, 3};
  e.config = json::object();
  e.recorded_from = "v0";
  e.claims = {{"expert_beats_base", Verdict::kReproduced, 0.72, 0.01, ""},
              {"base_wins", Verdict::kNotReproduced, -0.72, 0.01, "capacity"}};
  AttachExpectations(e, doc);
  return doc;
}

TEST(Report, PaperReportHasSetupClaimsResultsPlotsAndFigures) {
  std::string md = RenderPaperReport(Doc());
  EXPECT_THAT(md, HasSubstr("# Demo paper"));
  EXPECT_THAT(md, HasSubstr("seeds 1, 2, 3, code `v1`"));
  EXPECT_THAT(md, HasSubstr("We train | things."));  // prose is not a table cell
  // Claims: escaped pipes keep the row intact; verdicts shown.
  EXPECT_THAT(md, HasSubstr("| `expert_beats_base` | experts \\| help | `expert` > `base` (margin 0.1)"));
  EXPECT_THAT(md, HasSubstr("**reproduced**"));
  EXPECT_THAT(md, HasSubstr("**not reproduced** (known failure)"));
  // Recorded and fresh numbers come from the fields, not from prose.
  EXPECT_THAT(md, HasSubstr("- `base_wins`: capacity Recorded A − B -0.720 (tolerance 0.010); "
                            "this run -0.720."));
  EXPECT_THAT(md, HasSubstr("| `expert_beats_base` | reproduced (v0) | +0.720 | 0.010 | +0.720 | +0.000 |"));
  // Results: mean ± std of 0.91, 0.92, 0.93.
  EXPECT_THAT(md, HasSubstr("| `expert` | 0.920 ± 0.010 | 3 |"));
  EXPECT_THAT(md, HasSubstr("![Facts](plots/facts.png) ([SVG](plots/facts.svg))"));
  EXPECT_THAT(md, HasSubstr("| Table 1, expert | 0.95 | 0.920 ± 0.010 (`expert`) |"));
}

TEST(Report, CombinedReportLinksEachPaperAndShowsFailures) {
  std::vector<PaperEntry> papers = {{"demo", "demo/REPORT.md", Doc(), ""},
                                    {"broken", "broken/REPORT.md", nullptr, "exit status 1"}};
  std::string md = RenderCombinedReport(papers);
  // One reproduced, one not (known failure), none inconclusive.
  EXPECT_THAT(md, HasSubstr("| Demo paper | quick | 1,2,3 | 1 | 1 | 0 | 1 |"));
  EXPECT_THAT(md, HasSubstr("[REPORT.md](demo/REPORT.md)"));
  EXPECT_THAT(md, HasSubstr("run failed: exit status 1"));
  EXPECT_THAT(md, HasSubstr("## demo"));
  EXPECT_THAT(md, HasSubstr("| `expert_beats_base` |"));
}

TEST(Report, TimeSummaryShowsEachPapersStagesAndTotals) {
  Results a("a", "A");
  a.AddStageTime("base model (pretrained)", 300);
  a.AddStageTime("expert training", 100);
  a.AddStageTime("expert training", 20);  // a second round adds up
  a.AddStageTime("probe", 30);            // a paper's own stage
  a.AddStageTime("encode", 4.4);
  RunInfo run;
  run.wall_time_s = 500;
  a.SetRun(run);
  Results b("b", "B");
  b.AddStageTime("base model (reused)", 1);
  run.wall_time_s = 50;
  b.SetRun(run);
  std::vector<PaperEntry> papers = {{"a", "a/REPORT.md", *a.ToJson(), ""},
                                    {"b", "b/REPORT.md", *b.ToJson(), ""},
                                    {"c", "c/REPORT.md", nullptr, "exit status 1"}};
  const std::string md = RenderTimeSummary(papers);
  // The common stages have fixed columns, present or not; a paper's own
  // stages share one cell.
  EXPECT_THAT(md, HasSubstr("| paper | base model (pretrained) | base model (reused) | "
                            "expert training | evaluation and the rest | other stages | "
                            "wall time |"));
  EXPECT_THAT(md, HasSubstr("| a | 300 s |  | 120 s |  | probe 30 s, encode 4 s | 500 s |"));
  EXPECT_THAT(md, HasSubstr("| b |  | 1 s |  |  |  | 50 s |"));
  EXPECT_THAT(md, HasSubstr("| c | — | — | — | — | — | — |"));
  EXPECT_THAT(md, HasSubstr("| **all papers** | **300 s** | **1 s** | **120 s** | **0 s** | "
                            "**34 s** | **550 s** |"));
  EXPECT_THAT(RenderCombinedReport(papers), HasSubstr("## Where the time went"));
}

TEST(Report, EmptyClaims) {
  EXPECT_EQ(RenderClaimsTable(json::array()), "No claims.\n");
  EXPECT_THAT(FormatMeanStd(0.5, 0.0), Not(HasSubstr("nan")));
}

}  // namespace
}  // namespace libra::papers
