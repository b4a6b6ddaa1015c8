#include "papers/common/report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace libra::papers {

using nlohmann::json;

namespace {

// Keeps a cell on one row of a Markdown table.
std::string Cell(const std::string& s) {
  return absl::StrReplaceAll(s, {{"|", "\\|"}, {"\n", " "}});
}

std::string Num(double v) { return absl::StrFormat("%.4g", v); }

std::string Row(const std::vector<std::string>& cells) {
  std::vector<std::string> escaped;
  for (const auto& c : cells) escaped.push_back(Cell(c));
  return absl::StrCat("| ", absl::StrJoin(escaped, " | "), " |\n");
}

std::string Header(const std::vector<std::string>& cells) {
  std::string out = Row(cells);
  std::vector<std::string> rule(cells.size(), "---");
  return absl::StrCat(out, "|", absl::StrJoin(rule, "|"), "|\n");
}

std::string SideLabel(const json& side) {
  if (side.contains("metric")) return absl::StrCat("`", side.at("metric").get<std::string>(), "`");
  return Num(side.value("constant", 0.0));
}

std::string SideValue(const json& side, const json& summary) {
  if (side.contains("constant")) return Num(side.value("constant", 0.0));
  return FormatMeanStd(summary.value("mean", 0.0), summary.value("std", 0.0));
}

std::string VerdictCell(const json& c) {
  std::string v = c.value("verdict", "?");
  std::string mark = v == "reproduced" ? "✅ " : v == "not reproduced" ? "❌ " : "❔ ";
  std::string out = absl::StrCat(mark, "**", v, "**");
  if (c.value("known_failure", false)) absl::StrAppend(&out, " (known failure)");
  return out;
}

}  // namespace

std::string FormatMeanStd(double mean, double std) {
  return absl::StrFormat("%.3f ± %.3f", mean, std);
}

std::string RenderClaimsTable(const json& claims) {
  if (!claims.is_array() || claims.empty()) return "No claims.\n";
  std::string out = Header({"claim", "statement", "compared", "A", "B", "A − B (± spread)",
                            "verdict"});
  static const std::map<std::string, std::string> kSymbol = {
      {"greater", ">"}, {"less", "<"}, {"at_least", "≥"}, {"at_most", "≤"},
      {"approx_equal", "≈"}};
  for (const json& c : claims) {
    std::string dir = c.value("direction", "greater");
    auto sym = kSymbol.count(dir) ? kSymbol.at(dir) : dir;
    std::string compared = absl::StrCat(SideLabel(c.value("a", json::object())), " ", sym, " ",
                                        SideLabel(c.value("b", json::object())),
                                        " (margin ", Num(c.value("margin", 0.0)), ")");
    std::string diff = absl::StrFormat("%+.3f (± %.3f)", c.value("diff_mean", 0.0),
                                       c.value("spread", 0.0));
    out += Row({absl::StrCat("`", c.value("id", "?"), "`"), c.value("statement", ""), compared,
                SideValue(c.value("a", json::object()), c.value("a_summary", json::object())),
                SideValue(c.value("b", json::object()), c.value("b_summary", json::object())),
                diff, VerdictCell(c)});
  }
  bool any_expected = false;
  for (const json& c : claims) any_expected |= c.contains("expected");
  if (any_expected) {
    // Rendered from the recorded fields (expectations.h), never from text.
    out += "\nWhat the claims test expects (recorded verdict and A − B, and how far a run may "
           "move it):\n\n";
    out += Header({"claim", "recorded", "recorded A − B", "tolerance", "this run A − B", "moved"});
    for (const json& c : claims) {
      if (!c.contains("expected")) continue;
      const json& x = c.at("expected");
      const double moved = c.value("diff_mean", 0.0) - x.value("diff", 0.0);
      out += Row({absl::StrCat("`", c.value("id", "?"), "`"),
                  absl::StrCat(x.value("verdict", "?"), " (", x.value("recorded_from", "?"), ")"),
                  absl::StrFormat("%+.3f", x.value("diff", 0.0)),
                  absl::StrFormat("%.3f", x.value("tolerance", 0.0)),
                  absl::StrFormat("%+.3f", c.value("diff_mean", 0.0)),
                  absl::StrCat(absl::StrFormat("%+.3f", moved),
                               std::fabs(moved) > x.value("tolerance", 0.0) ? " **beyond**" : "")});
    }
  }
  bool any_known = false;
  for (const json& c : claims) any_known |= c.value("known_failure", false);
  if (any_known) {
    out += "\nKnown failures (why they do not reproduce):\n\n";
    for (const json& c : claims) {
      if (!c.value("known_failure", false)) continue;
      const json x = c.value("expected", json::object());
      absl::StrAppend(&out, "- `", c.value("id", "?"), "`: ", x.value("reason", ""),
                      absl::StrFormat(" Recorded A − B %+.3f (tolerance %.3f); this run %+.3f.",
                                      x.value("diff", 0.0), x.value("tolerance", 0.0),
                                      c.value("diff_mean", 0.0)),
                      "\n");
    }
  }
  return out;
}

std::string RenderPaperReport(const json& doc) {
  std::string out = absl::StrCat("# ", doc.value("title", doc.value("paper", "?")), "\n\n");
  std::vector<int> seeds = doc.value("seeds", std::vector<int>{});
  absl::StrAppend(&out, "Scale `", doc.value("scale", "?"), "`, seeds ",
                  absl::StrJoin(seeds, ", "), ", code `", doc.value("code_version", "?"),
                  "`, started ", doc.value("started_utc", "?"), ", wall time ",
                  absl::StrFormat("%.1f s", doc.value("wall_time_s", 0.0)), ", ",
                  doc.value("threads", 0), " threads, device ", doc.value("device", "cpu"), ".\n\n");
  if (!doc.value("base_model", "").empty() || !doc.value("data", "").empty()) {
    absl::StrAppend(&out, "Base model `", doc.value("base_model", ""), "`, data `",
                    doc.value("data", ""), "`.\n\n");
  }
  absl::StrAppend(&out, "## Setup\n\n", doc.value("setup", ""), "\n\n");
  absl::StrAppend(&out, "Configuration:\n\n```json\n",
                  doc.value("config", json::object()).dump(2), "\n```\n\n");

  const json claims = doc.value("claims", json::array());
  absl::StrAppend(&out, "## Claims\n\n");
  absl::StrAppend(&out, "A claim is `reproduced` when its excess over the margin exceeds ",
                  "the spread (", Num(claims.empty() ? 2.0 : claims[0].value("spread_factor", 2.0)),
                  " × the standard error of the mean paired difference over seeds), ",
                  "`not reproduced` when it falls short by more than the spread, and ",
                  "`inconclusive` in between (papers/common/README.md).\n\n");
  absl::StrAppend(&out, RenderClaimsTable(claims), "\n");

  absl::StrAppend(&out, "## Results\n\n");
  out += Header({"metric", "mean ± std", "n", "per seed", "what"});
  const json& metrics = doc.value("metrics", json::object());
  for (const json& name : doc.value("metric_order", json::array())) {
    const std::string n = name.get<std::string>();
    if (!metrics.contains(n)) continue;
    const json& m = metrics.at(n);
    std::vector<std::string> per_seed;
    for (const auto& [seed, value] : m.at("values").items()) {
      per_seed.push_back(absl::StrCat(seed, ": ", Num(value.get<double>())));
    }
    out += Row({absl::StrCat("`", n, "`"), FormatMeanStd(m.value("mean", 0.0), m.value("std", 0.0)),
                absl::StrCat(m.value("n", 0)), absl::StrJoin(per_seed, ", "),
                m.value("description", "")});
  }
  out += "\n";
  for (const json& t : doc.value("tables", json::array())) {
    absl::StrAppend(&out, "### ", t.value("title", ""), "\n\n");
    out += Header(t.value("columns", std::vector<std::string>{}));
    for (const json& r : t.value("rows", json::array())) {
      out += Row(r.get<std::vector<std::string>>());
    }
    out += "\n";
  }

  const json& plots = doc.value("plots", json::array());
  if (!plots.empty()) {
    absl::StrAppend(&out, "## Plots\n\n");
    for (const json& p : plots) {
      std::string id = p.value("id", "plot");
      absl::StrAppend(&out, "![", p.value("title", id), "](plots/", id, ".png) ([SVG](plots/", id,
                      ".svg))\n\n");
    }
  }

  const json& figures = doc.value("paper_figures", json::array());
  if (!figures.empty()) {
    absl::StrAppend(&out, "## The paper's own figures, for comparison\n\n");
    out += Header({"what", "paper", "ours (this run)"});
    for (const json& f : figures) {
      std::string ours = f.value("ours", "");
      std::string ours_cell = "—";
      if (!ours.empty() && metrics.contains(ours)) {
        ours_cell = absl::StrCat(FormatMeanStd(metrics[ours].value("mean", 0.0),
                                               metrics[ours].value("std", 0.0)),
                                 " (`", ours, "`)");
      }
      out += Row({f.value("what", ""), f.value("paper", ""), ours_cell});
    }
    out += "\n";
  }
  const json& notes = doc.value("notes", json::array());
  if (!notes.empty()) {
    absl::StrAppend(&out, "## Notes\n\n");
    for (const json& n : notes) absl::StrAppend(&out, "- ", n.get<std::string>(), "\n");
    out += "\n";
  }
  return out;
}

std::string RenderTimeSummary(const std::vector<PaperEntry>& papers) {
  // The stages every lab paper has get a column each; a paper's own stages
  // share one cell, so the table keeps its width as papers are added.
  const std::vector<std::string> common = {"base model (pretrained)", "base model (reused)",
                                           "expert training", "evaluation and the rest"};
  std::vector<std::string> columns = {"paper"};
  columns.insert(columns.end(), common.begin(), common.end());
  columns.insert(columns.end(), {"other stages", "wall time"});
  std::string out = Header(columns);
  std::vector<double> totals(common.size() + 2, 0.0);  // common, other, wall
  for (const PaperEntry& p : papers) {
    std::vector<std::string> row = {p.paper};
    if (p.doc.is_null()) {
      row.resize(columns.size(), "—");
      out += Row(row);
      continue;
    }
    std::vector<double> seconds(common.size(), -1);
    std::vector<std::string> other;
    double other_seconds = 0;
    for (const json& st : p.doc.value("stage_times", json::array())) {
      const std::string name = st.value("stage", "?");
      const double s = st.value("seconds", 0.0);
      const auto it = std::find(common.begin(), common.end(), name);
      if (it != common.end()) {
        seconds[it - common.begin()] = std::max(0.0, seconds[it - common.begin()]) + s;
      } else {
        other.push_back(absl::StrFormat("%s %.0f s", name, s));
        other_seconds += s;
      }
    }
    for (size_t i = 0; i < common.size(); ++i) {
      row.push_back(seconds[i] < 0 ? "" : absl::StrFormat("%.0f s", seconds[i]));
      totals[i] += std::max(0.0, seconds[i]);
    }
    row.push_back(absl::StrJoin(other, ", "));
    totals[common.size()] += other_seconds;
    const double wall = p.doc.value("wall_time_s", 0.0);
    totals.back() += wall;
    row.push_back(absl::StrFormat("%.0f s", wall));
    out += Row(row);
  }
  std::vector<std::string> total_row = {"**all papers**"};
  for (double t : totals) total_row.push_back(absl::StrFormat("**%.0f s**", t));
  out += Row(total_row);
  return out;
}

std::string RenderCombinedReport(const std::vector<PaperEntry>& papers) {
  std::string out = "# libra: paper reproductions\n\n";
  out += Header({"paper", "scale", "seeds", "reproduced", "not reproduced", "inconclusive",
                 "known failures", "wall time", "report"});
  for (const PaperEntry& p : papers) {
    if (p.doc.is_null()) {
      out += Row({p.paper, "—", "—", "—", "—", "—", "—", "—",
                  absl::StrCat("run failed: ", p.error)});
      continue;
    }
    int counts[3] = {0, 0, 0};
    int known = 0;
    for (const json& c : p.doc.value("claims", json::array())) {
      std::string v = c.value("verdict", "");
      counts[v == "reproduced" ? 0 : v == "not reproduced" ? 1 : 2]++;
      known += c.value("known_failure", false) ? 1 : 0;
    }
    out += Row({p.doc.value("title", p.paper), p.doc.value("scale", "?"),
                absl::StrJoin(p.doc.value("seeds", std::vector<int>{}), ","),
                absl::StrCat(counts[0]), absl::StrCat(counts[1]), absl::StrCat(counts[2]),
                absl::StrCat(known),
                absl::StrFormat("%.0f s", p.doc.value("wall_time_s", 0.0)),
                absl::StrCat("[REPORT.md](", p.report_link, ")")});
  }
  out += "\n## Where the time went\n\n" + RenderTimeSummary(papers) + "\n";
  for (const PaperEntry& p : papers) {
    absl::StrAppend(&out, "## ", p.paper, "\n\n");
    if (p.doc.is_null()) {
      absl::StrAppend(&out, "The run failed: ", p.error, "\n\n");
      continue;
    }
    absl::StrAppend(&out, p.doc.value("title", p.paper), " — [full report](", p.report_link,
                    ")\n\n", RenderClaimsTable(p.doc.value("claims", json::array())), "\n");
  }
  return out;
}

}  // namespace libra::papers
