#include "papers/common/results.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace libra::papers {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

Claim GreaterClaim(const std::string& id, const std::string& a, const std::string& b) {
  Claim c;
  c.id = id;
  c.statement = "A beats B";
  c.a = Quantity::Metric(a);
  c.b = Quantity::Metric(b);
  c.direction = Direction::kGreater;
  c.margin = 0.1;
  return c;
}

TEST(Results, ToJsonHoldsEveryNumberAndTheJudgedClaims) {
  Results r("demo", "Demo paper");
  RunInfo run;
  run.scale = "quick";
  run.seeds = {1, 2};
  run.code_version = "v-test";
  run.wall_time_s = 1.5;
  r.SetRun(run);
  r.SetConfig(json{{"rank", 4}});
  r.AddValue("expert", 1, 0.9);
  r.AddValue("expert", 2, 0.8);
  r.AddValue("base", 1, 0.2);
  r.AddValue("base", 2, 0.3);
  r.DescribeMetric("expert", "own task");
  r.AddClaim(GreaterClaim("expert_beats_base", "expert", "base"));
  r.AddClaim(GreaterClaim("base_beats_expert", "base", "expert"));
  r.AddPlot(json{{"id", "p"}, {"kind", "bar"}});
  r.AddTable("t", {"x", "y"}, {{"1", "2"}});

  auto doc = r.ToJson();
  ASSERT_TRUE(doc.ok()) << doc.status();
  const json& d = *doc;
  EXPECT_EQ(d["paper"], "demo");
  EXPECT_EQ(d["seeds"], json::array({1, 2}));
  EXPECT_EQ(d["code_version"], "v-test");
  EXPECT_EQ(d["config"]["rank"], 4);
  EXPECT_DOUBLE_EQ(d["metrics"]["expert"]["values"]["1"].get<double>(), 0.9);
  EXPECT_NEAR(d["metrics"]["expert"]["mean"].get<double>(), 0.85, 1e-12);
  EXPECT_NEAR(d["metrics"]["expert"]["std"].get<double>(), std::sqrt(0.005), 1e-12);
  EXPECT_EQ(d["metrics"]["expert"]["description"], "own task");
  EXPECT_EQ(d["metric_order"], json::array({"expert", "base"}));
  ASSERT_EQ(d["claims"].size(), 2u);
  EXPECT_EQ(d["claims"][0]["id"], "expert_beats_base");
  EXPECT_EQ(d["claims"][0]["verdict"], "reproduced");  // differences .7 and .5
  EXPECT_EQ(d["claims"][0]["known_failure"], false);
  EXPECT_NEAR(d["claims"][0]["diff_mean"].get<double>(), 0.6, 1e-12);
  EXPECT_EQ(d["claims"][1]["verdict"], "not reproduced");
  // Known failures come from the expectations file (expectations_test.cc).
  EXPECT_EQ(d["claims"][1]["known_failure"], false);
  EXPECT_EQ(d["tables"][0]["rows"][0][1], "2");
}

TEST(Results, UnknownMetricInAClaimFails) {
  Results r("demo", "Demo");
  r.AddValue("base", 1, 0.2);
  r.AddClaim(GreaterClaim("c", "exprt", "base"));
  auto doc = r.ToJson();
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(doc.status().message(), HasSubstr("unknown metric \"exprt\""));
}

TEST(Results, PlotWithoutIdFails) {
  Results r("demo", "Demo");
  r.AddPlot(json{{"kind", "bar"}});
  EXPECT_THAT(r.ToJson().status().message(), HasSubstr("needs \"id\" and \"kind\""));
}

TEST(Results, ClaimResultRoundTripsThroughJson) {
  auto judged = JudgeClaim(GreaterClaim("c", "a", "b"), {{1, 0.9}, {2, 0.7}}, {{1, 0.1}, {2, 0.2}});
  ASSERT_TRUE(judged.ok());
  auto back = ClaimResultFromJson(ClaimResultToJson(*judged));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->claim.id, "c");
  EXPECT_EQ(back->verdict, judged->verdict);
  EXPECT_EQ(back->claim.a.metric, "a");
  EXPECT_EQ(back->seeds, judged->seeds);
  EXPECT_DOUBLE_EQ(back->diff_mean, judged->diff_mean);
  EXPECT_DOUBLE_EQ(back->spread, judged->spread);
  EXPECT_THAT(ClaimResultFromJson(json{{"id", "x"}, {"verdict", "maybe"}}).status().message(),
              HasSubstr("verdict \"maybe\""));
}

}  // namespace
}  // namespace libra::papers
