// The committed standard-scale results (papers/<paper>/results/standard/
// results.json, passed as arguments): each parses, is of scale "standard",
// names the code version it ran, and its claims, judged again by the current
// judging code (JudgeClaim) from the file's own per-seed metrics, get the
// verdicts and differences the file records. A change to the judging code or
// to a claim's definition that would change a committed verdict fails here.
#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "papers/common/claim.h"
#include "papers/common/results.h"
#include "src/core/io/atomic_file.h"

namespace libra::papers {
namespace {

std::vector<std::string> g_paths;

SeedValues ValuesOf(const nlohmann::json& doc, const Quantity& q) {
  SeedValues values;
  if (q.is_constant()) return values;
  for (const auto& [seed, value] : doc.at("metrics").at(q.metric).at("values").items()) {
    values[std::stoi(seed)] = value.get<double>();
  }
  return values;
}

TEST(StandardResults, EveryCommittedVerdictFollowsFromItsMetrics) {
  ASSERT_FALSE(g_paths.empty()) << "pass the results.json files as arguments";
  for (const std::string& path : g_paths) {
    SCOPED_TRACE(path);
    absl::StatusOr<std::string> text = ReadFile(path);
    ASSERT_TRUE(text.ok()) << text.status();
    const nlohmann::json doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(doc.is_discarded()) << "not JSON";
    EXPECT_EQ(doc.value("scale", ""), "standard");
    const std::string version = doc.value("code_version", "");
    EXPECT_FALSE(version.empty());
    EXPECT_EQ(version.find("dirty"), std::string::npos) << "ran on uncommitted code: " << version;
    ASSERT_TRUE(doc.contains("claims") && !doc["claims"].empty());
    for (const nlohmann::json& c : doc["claims"]) {
      SCOPED_TRACE(c.value("id", "?"));
      absl::StatusOr<ClaimResult> recorded = ClaimResultFromJson(c);
      ASSERT_TRUE(recorded.ok()) << recorded.status();
      const Claim& claim = recorded->claim;
      absl::StatusOr<ClaimResult> judged =
          JudgeClaim(claim, ValuesOf(doc, claim.a), ValuesOf(doc, claim.b));
      ASSERT_TRUE(judged.ok()) << judged.status();
      EXPECT_EQ(VerdictName(judged->verdict), c.at("verdict").get<std::string>());
      EXPECT_NEAR(judged->diff_mean, c.at("diff_mean").get<double>(), 1e-12);
      EXPECT_FALSE(c.value("known_failure", false)) << "known failures are marked at quick scale only";
    }
  }
}

}  // namespace
}  // namespace libra::papers

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) libra::papers::g_paths.push_back(argv[i]);
  return RUN_ALL_TESTS();
}
