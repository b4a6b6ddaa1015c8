#include "papers/common/results.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/core/status_macros.h"
#include "src/core/text/utf8.h"

namespace libra::papers {

using nlohmann::json;

Results::Results(std::string paper, std::string title)
    : paper_(std::move(paper)), title_(std::move(title)) {}

void Results::AddValue(const std::string& metric, int seed, double value) {
  if (!metrics_.count(metric)) metric_order_.push_back(metric);
  metrics_[metric][seed] = value;
}

void Results::DescribeMetric(const std::string& metric, std::string description) {
  descriptions_[metric] = std::move(description);
}

const SeedValues& Results::Values(const std::string& metric) const {
  static const SeedValues* const kEmpty = new SeedValues();
  auto it = metrics_.find(metric);
  return it == metrics_.end() ? *kEmpty : it->second;
}

void Results::AddTable(std::string title, std::vector<std::string> columns,
                       std::vector<std::vector<std::string>> rows) {
  tables_.push_back(json{{"title", std::move(title)}, {"columns", std::move(columns)},
                         {"rows", std::move(rows)}});
}

void Results::AddStageTime(const std::string& stage, double seconds) {
  for (auto& [name, total] : stage_times_) {
    if (name == stage) {
      total += seconds;
      return;
    }
  }
  stage_times_.emplace_back(stage, seconds);
}

double Results::StageSeconds() const {
  double sum = 0;
  for (const auto& [name, seconds] : stage_times_) sum += seconds;
  return sum;
}

absl::StatusOr<std::vector<ClaimResult>> Results::JudgeClaims() const {
  std::vector<ClaimResult> out;
  for (const Claim& c : claims_) {
    for (const Quantity* q : {&c.a, &c.b}) {
      if (!q->is_constant() && !metrics_.count(q->metric)) {
        return absl::NotFoundError(absl::StrCat("claim \"", c.id, "\": unknown metric \"",
                                                q->metric, "\" in paper ", paper_));
      }
    }
    LIBRA_ASSIGN_OR_RETURN(ClaimResult r, JudgeClaim(c, Values(c.a.metric), Values(c.b.metric)));
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

json SummaryJson(const Summary& s) { return json{{"n", s.n}, {"mean", s.mean}, {"std", s.std}}; }

json QuantityJson(const Quantity& q) {
  if (q.is_constant()) return json{{"constant", q.constant}};
  return json{{"metric", q.metric}};
}

Quantity QuantityFromJson(const json& j) {
  if (j.contains("metric")) return Quantity::Metric(j.at("metric").get<std::string>());
  return Quantity::Constant(j.value("constant", 0.0));
}

Summary SummaryFromJson(const json& j) {
  return Summary{j.value("n", 0), j.value("mean", 0.0), j.value("std", 0.0)};
}

}  // namespace

json ClaimResultToJson(const ClaimResult& r) {
  const Claim& c = r.claim;
  json j{{"id", c.id},
         {"statement", c.statement},
         {"verdict", VerdictName(r.verdict)},
         {"known_failure", false},  // set from the expectations (expectations.h)
         {"a", QuantityJson(c.a)},
         {"b", QuantityJson(c.b)},
         {"direction", DirectionName(c.direction)},
         {"margin", c.margin},
         {"seeds", r.seeds},
         {"paired", r.paired},
         {"a_summary", SummaryJson(r.a)},
         {"b_summary", SummaryJson(r.b)},
         {"diff_mean", r.diff_mean},
         {"diff_se", r.diff_se},
         {"spread_factor", kSpreadFactor},
         {"spread", r.spread},
         {"excess", r.excess}};
  if (!r.note.empty()) j["note"] = r.note;
  return j;
}

absl::StatusOr<ClaimResult> ClaimResultFromJson(const json& j) {
  if (!j.is_object() || !j.contains("id") || !j.contains("verdict")) {
    return absl::InvalidArgumentError("claim: expected an object with \"id\" and \"verdict\"");
  }
  try {
    ClaimResult r;
    r.claim.id = j.at("id").get<std::string>();
    r.claim.statement = j.value("statement", "");
    LIBRA_ASSIGN_OR_RETURN(r.verdict, ParseVerdict(j.at("verdict").get<std::string>()));
    LIBRA_ASSIGN_OR_RETURN(r.claim.direction,
                           ParseDirection(j.value("direction", std::string("greater"))));
    r.claim.margin = j.value("margin", 0.0);
    if (j.contains("a")) r.claim.a = QuantityFromJson(j.at("a"));
    if (j.contains("b")) r.claim.b = QuantityFromJson(j.at("b"));
    if (j.contains("seeds")) r.seeds = j.at("seeds").get<std::vector<int>>();
    r.paired = j.value("paired", false);
    if (j.contains("a_summary")) r.a = SummaryFromJson(j.at("a_summary"));
    if (j.contains("b_summary")) r.b = SummaryFromJson(j.at("b_summary"));
    r.diff_mean = j.value("diff_mean", 0.0);
    r.diff_se = j.value("diff_se", 0.0);
    r.spread = j.value("spread", 0.0);
    r.excess = j.value("excess", 0.0);
    r.note = j.value("note", "");
    return r;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("claim: ", e.what()));
  }
}

absl::StatusOr<json> Results::ToJson() const {
  LIBRA_ASSIGN_OR_RETURN(std::vector<ClaimResult> judged, JudgeClaims());
  json metrics = json::object();
  json order = json::array();
  for (const std::string& name : metric_order_) {
    const SeedValues& v = metrics_.at(name);
    json values = json::object();
    for (const auto& [seed, value] : v) values[std::to_string(seed)] = value;
    Summary s = Summarize(v);
    json m{{"values", values}, {"n", s.n}, {"mean", s.mean}, {"std", s.std}};
    auto d = descriptions_.find(name);
    if (d != descriptions_.end()) m["description"] = d->second;
    metrics[name] = m;
    order.push_back(name);
  }
  for (const json& p : plots_) {
    if (!p.contains("id") || !p.contains("kind")) {
      return absl::InvalidArgumentError(
          absl::StrCat("paper ", paper_, ": a plot spec needs \"id\" and \"kind\": ", p.dump()));
    }
  }
  json claims = json::array();
  for (const ClaimResult& r : judged) claims.push_back(ClaimResultToJson(r));
  json stages = json::array();
  for (const auto& [name, seconds] : stage_times_) {
    stages.push_back(json{{"stage", name}, {"seconds", seconds}});
  }
  json figures = json::array();
  for (const PaperFigure& f : figures_) {
    figures.push_back(json{{"what", f.what}, {"paper", f.paper}, {"ours", f.ours}});
  }
  return json{{"paper", paper_},
              {"title", title_},
              {"scale", run_.scale},
              {"seeds", run_.seeds},
              {"code_version", run_.code_version},
              {"started_utc", run_.started_utc},
              {"wall_time_s", run_.wall_time_s},
              {"stage_times", stages},
              {"threads", run_.threads},
              {"device", run_.device},
              {"base_model", run_.base_model},
              {"data", run_.data},
              {"kernels", run_.kernels},
              {"config", config_},
              {"setup", setup_},
              {"notes", notes_},
              {"metric_order", order},
              {"metrics", metrics},
              {"tables", tables_},
              {"plots", plots_},
              {"paper_figures", figures},
              {"claims", claims}};
}

void Results::AddNote(const std::string& markdown) {
  notes_.push_back(text::ReplaceInvalidUtf8(markdown));
}

}  // namespace libra::papers
