// End to end: //papers:all runs the listed papers and writes the combined
// report; a paper that fails is reported and does not stop the others.
#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "papers/common/reproduce.h"
#include "papers/common/subprocess.h"
#include "src/core/io/atomic_file.h"

namespace {

using ::testing::HasSubstr;

TEST(PapersAll, RunsEachPaperAndCombinesTheReports) {
  const std::string results = std::string(std::getenv("TEST_TMPDIR")) + "/results";
  auto code = libra::papers::RunProgram(
      {libra::papers::RunfilePath("papers/all"), "--paper",
       "linear=" + libra::papers::RunfilePath("tests/papers/linear_paper_fixture"), "--paper",
       "missing=/nonexistent/reproduce", "--results", results, "--", "--seeds", "2",
       "--no_plots"});
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1);  // one paper failed
  auto report = libra::ReadFile(results + "/REPORT.md");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(*report, HasSubstr("[REPORT.md](linear/REPORT.md)"));
  EXPECT_THAT(*report, HasSubstr("| quick | 1,2 |"));
  EXPECT_THAT(*report, HasSubstr("| `related_help` |"));
  EXPECT_THAT(*report, HasSubstr("## missing"));
  EXPECT_THAT(*report, HasSubstr("run failed"));
  EXPECT_TRUE(libra::ReadFile(results + "/linear/results.json").ok());
  EXPECT_TRUE(libra::ReadFile(results + "/linear/REPORT.md").ok());
}

// Without --results, another scale writes under results/<scale>/ of the
// workspace, beside the quick results.
TEST(PapersAll, StandardScaleWritesUnderResultsStandard) {
  const std::string workspace = std::string(std::getenv("TEST_TMPDIR")) + "/workspace";
  auto code = libra::papers::RunProgram(
      {"/usr/bin/env", "BUILD_WORKSPACE_DIRECTORY=" + workspace, libra::papers::RunfilePath("papers/all"),
       "--paper", "linear=" + libra::papers::RunfilePath("tests/papers/linear_paper_fixture"), "--",
       "--scale", "standard", "--seeds", "2", "--no_plots"});
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  auto results = libra::ReadFile(workspace + "/results/standard/linear/results.json");
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_THAT(*results, HasSubstr("\"scale\": \"standard\""));
  EXPECT_TRUE(libra::ReadFile(workspace + "/results/standard/REPORT.md").ok());
  EXPECT_FALSE(libra::ReadFile(workspace + "/results/REPORT.md").ok());
}

}  // namespace
