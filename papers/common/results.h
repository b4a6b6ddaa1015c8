// Everything one paper run measured, and its results.json.
//
// A paper records per-seed values of named metrics, its config, extra tables,
// plot specs (data for plot.py), the paper's own figures and its claims.
// ToJson() judges every claim and returns the document written to
// results.json; report.h renders REPORT.md from that document alone.
//
//   Results results("testbed", "Testbed facts");
//   results.AddValue("base/held_in", /*seed=*/1, 0.21);
//   results.AddClaim(claim);
//   LIBRA_ASSIGN_OR_RETURN(nlohmann::json doc, results.ToJson());
#ifndef LIBRA_PAPERS_COMMON_RESULTS_H_
#define LIBRA_PAPERS_COMMON_RESULTS_H_

#include <chrono>
#include <map>
#include <utility>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "papers/common/claim.h"

namespace libra::papers {

// Wall seconds since `start`, for the stage times papers record.
inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// How the run was made: filled by the reproduce driver (reproduce.h).
struct RunInfo {
  std::string scale = "quick";
  std::vector<int> seeds;
  std::string code_version;
  std::string started_utc;
  double wall_time_s = 0.0;
  int threads = 0;
  std::string device = "cpu";
  // Full scale: the model and data folders given.
  std::string base_model, data;
  // Each kernel-choice variable (OPENBLAS_CORETYPE, ATEN_CPU_CAPABILITY) and
  // its value during the run ("": the CPU's own choice).
  std::map<std::string, std::string> kernels;
};

// One of the paper's own published figures, shown next to ours.
struct PaperFigure {
  std::string what;    // e.g. "held-out Rouge-L, Arrow k=4 (Table 2)"
  std::string paper;   // the published number, as text
  std::string ours;    // a metric name whose mean is shown, or empty
};

class Results {
 public:
  Results(std::string paper, std::string title);

  const std::string& paper() const { return paper_; }

  void SetRun(RunInfo run) { run_ = std::move(run); }
  void SetConfig(nlohmann::json config) { config_ = std::move(config); }
  // Markdown paragraphs for the report's "Setup" section.
  void SetSetup(std::string markdown) { setup_ = std::move(markdown); }
  void AddNote(std::string markdown) { notes_.push_back(std::move(markdown)); }
  bool HasMetric(const std::string& metric) const { return metrics_.count(metric) > 0; }

  void AddValue(const std::string& metric, int seed, double value);
  void DescribeMetric(const std::string& metric, std::string description);
  // Values of a metric by seed; empty when never recorded.
  const SeedValues& Values(const std::string& metric) const;

  void AddClaim(Claim claim) { claims_.push_back(std::move(claim)); }
  // A plot spec for plot.py (README.md, "Plots"); must have "id" and "kind".
  void AddPlot(nlohmann::json spec) { plots_.push_back(std::move(spec)); }
  void AddTable(std::string title, std::vector<std::string> columns,
                std::vector<std::vector<std::string>> rows);
  void AddPaperFigure(PaperFigure figure) { figures_.push_back(std::move(figure)); }
  // Where the run's time went, by stage ("base model (pretrained)",
  // "expert training", ...; repeated stages add up), for the newcomer's
  // summary that `./run` prints. The driver adds the rest of the wall time
  // as "evaluation and the rest".
  void AddStageTime(const std::string& stage, double seconds);
  double StageSeconds() const;  // the sum so far

  // Judges every claim (fails on a claim naming an unknown metric).
  absl::StatusOr<std::vector<ClaimResult>> JudgeClaims() const;
  // The results.json document.
  absl::StatusOr<nlohmann::json> ToJson() const;

 private:
  std::string paper_;
  std::string title_;
  RunInfo run_;
  nlohmann::json config_ = nlohmann::json::object();
  std::string setup_;
  std::vector<std::string> notes_;
  std::map<std::string, SeedValues> metrics_;
  std::map<std::string, std::string> descriptions_;
  std::vector<std::string> metric_order_;  // first-recorded order
  std::vector<Claim> claims_;
  std::vector<nlohmann::json> plots_;
  nlohmann::json tables_ = nlohmann::json::array();
  std::vector<PaperFigure> figures_;
  std::vector<std::pair<std::string, double>> stage_times_;
};

// A judged claim as a results.json object, and back (the verdict and numbers
// are read as written; nothing is re-judged).
nlohmann::json ClaimResultToJson(const ClaimResult& r);
absl::StatusOr<ClaimResult> ClaimResultFromJson(const nlohmann::json& j);

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_RESULTS_H_
