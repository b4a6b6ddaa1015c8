// The body of every paper's claims_test (defs.bzl, paper_claims_test): runs
// the paper's reproduce binary at quick scale into the test's outputs
// (bazel-testlogs/<paper>/claims_test/test.outputs, so a CI run's
// results.json can be re-recorded without running again), then asserts
// CheckClaims on what it wrote against the paper's expectations file.
//
//   claims_test --reproduce papers/testbed/reproduce
//       --expectations papers/testbed/expectations.json [extra flags]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "papers/common/claims_check.h"
#include "papers/common/expectations.h"
#include "papers/common/subprocess.h"
#include "src/core/io/atomic_file.h"

namespace {

std::string g_reproduce;
std::string g_expectations;
std::vector<std::string> g_extra;

TEST(ClaimsTest, QuickRunReproducesEveryClaimNotMarkedKnownFailure) {
  ASSERT_FALSE(g_reproduce.empty()) << "pass --reproduce PATH";
  ASSERT_FALSE(g_expectations.empty()) << "pass --expectations PATH";
  absl::StatusOr<libra::papers::Expectations> expectations =
      libra::papers::ReadExpectations(g_expectations);
  ASSERT_TRUE(expectations.ok()) << expectations.status();
  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  if (outputs == nullptr) outputs = std::getenv("TEST_TMPDIR");
  const std::string out = absl::StrCat(outputs ? outputs : "/tmp", "/claims_test_out");
  std::vector<std::string> argv = {g_reproduce, "--scale", "quick", "--out", out};
  // Always a cold artifact cache of this run's own: Bazel gives tests no
  // $HOME, and the default root would then be a folder in the runfiles that
  // outlives the run, so a later run would reuse experts and neither measure
  // the cold budget nor catch a regression in how they are trained.
  const char* tmp = std::getenv("TEST_TMPDIR");
  if (std::find(g_extra.begin(), g_extra.end(), "--cache_dir") == g_extra.end()) {
    argv.insert(argv.end(), {"--cache_dir", absl::StrCat(tmp ? tmp : "/tmp", "/artifact_cache")});
  }
  argv.insert(argv.end(), g_extra.begin(), g_extra.end());
  std::fprintf(stderr, "running: %s\n", absl::StrJoin(argv, " ").c_str());
  absl::StatusOr<int> code = libra::papers::RunProgram(argv);
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(*code, 0) << "the reproduce run failed";

  absl::StatusOr<std::string> results = libra::ReadFile(out + "/results.json");
  ASSERT_TRUE(results.ok()) << results.status();
  absl::StatusOr<std::string> report = libra::ReadFile(out + "/REPORT.md");
  ASSERT_TRUE(report.ok()) << report.status();
  nlohmann::json doc = nlohmann::json::parse(*results, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded()) << "results.json is not JSON";
  EXPECT_EQ(doc.value("scale", ""), "quick");
  for (const std::string& problem : libra::papers::CheckClaims(doc, *report, *expectations)) {
    ADD_FAILURE() << problem;
  }
  if (testing::Test::HasFailure()) {
    std::fprintf(stderr, "to re-record after a deliberate change: bazel run "
                         "//papers/common:record_expectations -- %s %s/results.json\n",
                 g_expectations.c_str(), out.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--reproduce" && i + 1 < argc) {
      g_reproduce = argv[++i];
    } else if (a == "--expectations" && i + 1 < argc) {
      g_expectations = argv[++i];
    } else {
      g_extra.push_back(a);
    }
  }
  return RUN_ALL_TESTS();
}
