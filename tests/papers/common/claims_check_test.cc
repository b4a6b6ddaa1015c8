#include "papers/common/claims_check.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "papers/common/report.h"
#include "papers/common/results.h"

namespace libra::papers {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using nlohmann::json;

// A run where "good" beats "bad" clearly on three seeds.
Results DemoRun() {
  Results r("demo", "Demo");
  for (int s = 1; s <= 3; ++s) {
    r.AddValue("good", s, 0.9 + 0.01 * s);
    r.AddValue("bad", s, 0.1 + 0.01 * s);
  }
  return r;
}

Claim GoodBeatsBad(bool known_failure) {
  Claim c;
  c.id = "good_beats_bad";
  c.a = Quantity::Metric("good");
  c.b = Quantity::Metric("bad");
  c.margin = 0.1;
  c.known_failure = known_failure;
  return c;
}

Claim BadBeatsGood(bool known_failure) {
  Claim c = GoodBeatsBad(known_failure);
  c.id = "bad_beats_good";
  c.a = Quantity::Metric("bad");
  c.b = Quantity::Metric("good");
  return c;
}

std::vector<std::string> Check(Results r) {
  json doc = *r.ToJson();
  return CheckClaims(doc, RenderPaperReport(doc));
}

TEST(CheckClaims, PassesWhenEveryClaimReproduces) {
  Results r = DemoRun();
  r.AddClaim(GoodBeatsBad(false));
  EXPECT_THAT(Check(r), IsEmpty());
}

TEST(CheckClaims, FailsOnAClaimThatDoesNotReproduce) {
  Results r = DemoRun();
  r.AddClaim(BadBeatsGood(false));
  auto problems = Check(r);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("claim \"bad_beats_good\": not reproduced"));
}

TEST(CheckClaims, KnownFailureThatStillFailsPasses) {
  Results r = DemoRun();
  r.AddClaim(BadBeatsGood(true));
  EXPECT_THAT(Check(r), IsEmpty());
}

TEST(CheckClaims, KnownFailureThatNowReproducesAsksToRemoveTheMark) {
  Results r = DemoRun();
  r.AddClaim(GoodBeatsBad(true));
  EXPECT_THAT(Check(r), ElementsAre(HasSubstr("now reproduces")));
}

TEST(CheckClaims, ReportMustShowTheVerdict) {
  Results r = DemoRun();
  r.AddClaim(GoodBeatsBad(false));
  json doc = *r.ToJson();
  EXPECT_THAT(CheckClaims(doc, "# a report without claims\n"),
              ElementsAre(HasSubstr("REPORT.md does not show claim \"good_beats_bad\"")));
}

TEST(CheckClaims, NoClaimsIsAProblem) {
  EXPECT_THAT(CheckClaims(json{{"claims", json::array()}}, ""),
              ElementsAre(HasSubstr("lists no claims")));
  EXPECT_THAT(CheckClaims(json::object(), ""), ElementsAre(HasSubstr("no \"claims\"")));
}

}  // namespace
}  // namespace libra::papers
