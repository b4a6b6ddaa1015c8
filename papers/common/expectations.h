// What a paper's claims test expects of each claim, recorded from a run.
//
// A paper keeps `papers/<paper>/expectations.json`:
//
//   {"paper": "testbed", "scale": "quick", "seeds": [1, 2, 3],
//    "config": {...the run's configuration...}, "recorded_from": "08ec06c",
//    "claims": [
//      {"id": "expert_good", "verdict": "reproduced", "diff": 0.017, "tolerance": 0.005},
//      {"id": "unrelated_no_help", "verdict": "not reproduced", "diff": 0.036,
//       "tolerance": 0.008, "reason": "the base is not an instruction follower ..."}]}
//
// `diff` is the claim's mean paired difference A - B when recorded and
// `tolerance` how far a fresh run may move it: the recorded spread (2 x the
// standard error over seeds), at least kMinTolerance, so a claim whose sides
// do not vary over seeds (a shared base model) is not held to bit-identity.
// A claim recorded as not reproduced (or inconclusive) is a known failure and
// carries the diagnosis (`reason`).
//
// A fresh run at the recorded scale, seeds and configuration must then keep
// every verdict (in either direction: a known failure that starts to
// reproduce asks for its mark to be removed) and every difference within its
// tolerance, so a claim that loses most of its margin, or a known failure
// that gets much worse, fails the claims test instead of staying green.
// Re-recording is an explicit step whose diff shows the change:
//
//   bazel run //papers/common:record_expectations --
//       papers/testbed/expectations.json results/testbed/results.json
#ifndef LIBRA_PAPERS_COMMON_EXPECTATIONS_H_
#define LIBRA_PAPERS_COMMON_EXPECTATIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "papers/common/claim.h"

namespace libra::papers {

// The smallest tolerance, in the claim's units (accuracy points at every
// paper so far): half a point.
inline constexpr double kMinTolerance = 0.005;

struct ClaimExpectation {
  std::string id;
  Verdict verdict = Verdict::kReproduced;
  double diff = 0.0;       // mean paired difference A - B when recorded
  double tolerance = 0.0;  // how far a fresh diff may move
  std::string reason;      // why it does not reproduce (known failures only)
  bool known_failure() const { return verdict != Verdict::kReproduced; }
};

struct Expectations {
  std::string paper;
  std::string scale;
  std::vector<int> seeds;
  nlohmann::json config;       // the recorded run's "config"
  std::string recorded_from;   // its code_version
  std::vector<ClaimExpectation> claims;
  const ClaimExpectation* Find(const std::string& id) const;
};

// Strict: every field present and of its type, verdicts known, tolerances
// positive, ids unique. Errors name `source` (the file).
absl::StatusOr<Expectations> ExpectationsFromJson(const nlohmann::json& j,
                                                  const std::string& source);
absl::StatusOr<Expectations> ReadExpectations(const std::string& path);
nlohmann::json ExpectationsToJson(const Expectations& e);

// The tolerance a judged claim gets: max(spread, kMinTolerance).
double ToleranceFor(double spread);

// Fresh expectations from a results.json document; reasons of claims that
// `previous` (may be null) already knew are kept.
absl::StatusOr<Expectations> RecordExpectations(const nlohmann::json& results,
                                                const Expectations* previous);

// Whether `e` was recorded for this run: same paper, scale, seeds and config.
// When not, `why` says what differs.
bool ExpectationsApply(const Expectations& e, const nlohmann::json& results, std::string* why);

// Marks the claims of a results.json document with what `e` expects of them
// ("expected": {verdict, diff, tolerance, reason}, "known_failure") when `e`
// applies; otherwise adds a note saying the claims are judged afresh.
void AttachExpectations(const Expectations& e, nlohmann::json& results);

// One line per way the run departs from `e`; empty when it keeps every
// verdict and difference. Also fails when `e` does not apply to the run.
std::vector<std::string> CheckExpectations(const nlohmann::json& results, const Expectations& e);

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_EXPECTATIONS_H_
