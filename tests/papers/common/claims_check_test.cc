#include "papers/common/claims_check.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "papers/common/expectations.h"
#include "papers/common/report.h"
#include "papers/common/results.h"

namespace libra::papers {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using nlohmann::json;

// "good" is `good` + 0.01 s over "bad" on seeds 1-3; one claim each way:
// good_beats_bad reproduces, bad_beats_good does not (a known failure).
json DemoRun(double good, double bad = 0.1) {
  Results r("demo", "Demo");
  RunInfo info;
  info.seeds = {1, 2, 3};
  info.code_version = "fresh";
  r.SetRun(info);
  r.SetConfig({{"steps", 100}});
  for (int s = 1; s <= 3; ++s) {
    r.AddValue("good", s, good + 0.01 * s * s);
    r.AddValue("bad", s, bad);
  }
  for (bool forward : {true, false}) {
    Claim c;
    c.id = forward ? "good_beats_bad" : "bad_beats_good";
    c.a = Quantity::Metric(forward ? "good" : "bad");
    c.b = Quantity::Metric(forward ? "bad" : "good");
    c.margin = 0.1;
    r.AddClaim(c);
  }
  return *r.ToJson();
}

// Expectations recorded from DemoRun(0.6), with the known failure's reason.
Expectations Recorded() {
  Expectations e = *RecordExpectations(DemoRun(0.6), nullptr);
  for (ClaimExpectation& c : e.claims) {
    if (c.known_failure()) c.reason = "bad is bad";
  }
  return e;
}

std::vector<std::string> Check(json doc, const Expectations& e) {
  AttachExpectations(e, doc);
  return CheckClaims(doc, RenderPaperReport(doc), e);
}

TEST(CheckClaims, AnUnchangedRunPasses) {
  const Expectations e = Recorded();
  ASSERT_EQ(e.claims.size(), 2u);
  EXPECT_EQ(e.claims[0].verdict, Verdict::kReproduced);
  EXPECT_EQ(e.claims[1].verdict, Verdict::kNotReproduced);
  // The tolerance is the recorded spread: 2 x the standard error of the
  // paired differences 0.51, 0.54, 0.59 (sample std 0.0404).
  EXPECT_NEAR(e.claims[0].tolerance, 2 * 0.040415 / std::sqrt(3.0), 1e-5);
  EXPECT_THAT(Check(DemoRun(0.6), e), IsEmpty());
}

TEST(CheckClaims, ADifferenceThatWorsensByThreeTolerancesFails) {
  const Expectations e = Recorded();
  const double tolerance = e.claims[0].tolerance;
  // Still reproduced (well above the 0.1 margin), but most of its lead gone.
  std::vector<std::string> problems = Check(DemoRun(0.6 - 3 * tolerance), e);
  EXPECT_THAT(problems, ElementsAre(HasSubstr("claim \"good_beats_bad\": A − B moved by -0.140"),
                                    HasSubstr("claim \"bad_beats_good\": A − B moved by +0.140")));
  EXPECT_THAT(problems[0], HasSubstr("beyond its tolerance"));
  // Within the tolerance passes.
  EXPECT_THAT(Check(DemoRun(0.6 - 0.5 * tolerance), e), IsEmpty());
}

TEST(CheckClaims, AKnownFailureThatGetsMuchWorseFails) {
  Expectations e = Recorded();
  // bad_beats_good recorded at -0.55; a run where it falls to -0.85 keeps
  // its verdict but not its numbers.
  EXPECT_THAT(Check(DemoRun(0.9), e),
              testing::Contains(HasSubstr("claim \"bad_beats_good\": A − B moved by -0.300")));
}

TEST(CheckClaims, AKnownFailureThatNowReproducesAsksToRemoveTheMark) {
  // good_beats_bad recorded as a known failure...
  Expectations e = *RecordExpectations(DemoRun(0.6, 0.1), nullptr);
  e.claims[0].verdict = Verdict::kNotReproduced;  // good_beats_bad marked as failing
  e.claims[0].reason = "was bad";
  e.claims[1].reason = "bad is bad";
  std::vector<std::string> problems = Check(DemoRun(0.6), e);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("\"good_beats_bad\" is a known failure (not reproduced) "
                                     "but now reproduces"));
  EXPECT_THAT(problems[0], HasSubstr("remove the known-failure mark"));
}

TEST(CheckClaims, AVerdictThatTurnsFailsEitherWay) {
  const Expectations e = Recorded();
  // good only 0.03 above bad: good_beats_bad no longer clears its margin.
  EXPECT_THAT(Check(DemoRun(0.1), e), testing::Contains(HasSubstr(
                                      "claim \"good_beats_bad\": not reproduced, recorded reproduced")));
}

TEST(CheckClaims, ExpectationsMustCoverTheRunExactly) {
  Expectations e = Recorded();
  e.claims.push_back({"gone", Verdict::kReproduced, 0.1, 0.01, ""});
  EXPECT_THAT(Check(DemoRun(0.6), e), ElementsAre(HasSubstr("expected claim \"gone\" is not in the run")));
  e = Recorded();
  e.claims.pop_back();
  EXPECT_THAT(Check(DemoRun(0.6), e),
              testing::Contains(HasSubstr("\"bad_beats_good\" has no recorded expectation")));
  e = Recorded();
  e.claims[1].reason.clear();
  EXPECT_THAT(Check(DemoRun(0.6), e), ElementsAre(HasSubstr("known failure without a reason")));
}

TEST(CheckClaims, ExpectationsOfAnotherConfigurationFailAndAreNotAttached) {
  Expectations e = Recorded();
  e.config = {{"steps", 200}};
  json doc = DemoRun(0.6);
  AttachExpectations(e, doc);
  EXPECT_FALSE(doc["claims"][1].contains("expected"));
  EXPECT_THAT(doc["notes"].back().get<std::string>(), HasSubstr("judged afresh"));
  EXPECT_THAT(CheckClaims(doc, RenderPaperReport(doc), e),
              testing::Contains(HasSubstr("recorded for another run (config differ)")));
}

TEST(CheckClaims, ReportMustShowTheVerdict) {
  const Expectations e = Recorded();
  json doc = DemoRun(0.6);
  AttachExpectations(e, doc);
  EXPECT_THAT(CheckClaims(doc, "# a report without claims\n", e),
              ElementsAre(HasSubstr("REPORT.md does not show claim \"good_beats_bad\""),
                          HasSubstr("does not show claim \"bad_beats_good\" as not reproduced "
                                    "(known failure)")));
}

TEST(CheckClaims, NoClaimsIsAProblem) {
  Expectations e;
  EXPECT_THAT(CheckClaims(json::object(), "", e), ElementsAre(HasSubstr("no \"claims\"")));
}

TEST(Expectations, FileRoundTripAndStrictParsing) {
  const Expectations e = Recorded();
  absl::StatusOr<Expectations> back = ExpectationsFromJson(ExpectationsToJson(e), "e.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(ExpectationsToJson(*back), ExpectationsToJson(e));
  EXPECT_EQ(back->claims[1].reason, "bad is bad");
  // Re-recording keeps the reasons.
  absl::StatusOr<Expectations> again = RecordExpectations(DemoRun(0.6), &e);
  EXPECT_EQ(again->claims[1].reason, "bad is bad");
  EXPECT_EQ(again->recorded_from, "fresh");

  json j = ExpectationsToJson(e);
  j["claims"][0]["tolerance"] = "0.1";
  absl::StatusOr<Expectations> bad = ExpectationsFromJson(j, "e.json");
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("e.json: claim \"good_beats_bad\": \"tolerance\" is string"));
  j = ExpectationsToJson(e);
  j["claims"][0]["tolerance"] = 0;
  EXPECT_FALSE(ExpectationsFromJson(j, "e.json").ok());
  j = ExpectationsToJson(e);
  j["claims"][1]["verdict"] = "sort of";
  EXPECT_FALSE(ExpectationsFromJson(j, "e.json").ok());
  j = ExpectationsToJson(e);
  j["claims"].push_back(j["claims"][0]);
  EXPECT_THAT(std::string(ExpectationsFromJson(j, "e.json").status().message()),
              HasSubstr("listed twice"));
  j = ExpectationsToJson(e);
  j.erase("seeds");
  EXPECT_THAT(std::string(ExpectationsFromJson(j, "e.json").status().message()),
              HasSubstr("missing \"seeds\""));
}

TEST(Expectations, ToleranceHasAFloorForClaimsWithoutSpread) {
  EXPECT_EQ(ToleranceFor(0.0), kMinTolerance);
  EXPECT_EQ(ToleranceFor(0.03), 0.03);
}

}  // namespace
}  // namespace libra::papers
