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

// A paper run started without the recorded OpenBLAS kernel set runs itself
// again with it (the numbers depend on the kernels); an explicit other
// choice is kept, with a warning. And tools/env.sh, which sets it for
// everything else, names the same set.
TEST(PapersAll, PaperRunsUseTheRecordedBlasKernels) {
  const std::string tmp = std::string(std::getenv("TEST_TMPDIR"));
  const std::string fixture = libra::papers::RunfilePath("tests/papers/linear_paper_fixture");
  auto unset = libra::papers::RunProgram({"/usr/bin/env", "-u", libra::papers::kBlasCoreVariable,
                                          fixture, "--out", tmp + "/blas_unset", "--seeds", "1",
                                          "--no_plots", "--cache_dir", tmp + "/blas_cache"});
  ASSERT_TRUE(unset.ok()) << unset.status();
  ASSERT_EQ(*unset, 0);
  auto doc = libra::ReadFile(tmp + "/blas_unset/results.json");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_THAT(*doc, HasSubstr(std::string("\"blas_kernels\": \"") + libra::papers::kBlasCore + "\""));
  auto other = libra::papers::RunProgram(
      {"/usr/bin/env", std::string(libra::papers::kBlasCoreVariable) + "=Sandybridge", fixture,
       "--out", tmp + "/blas_other", "--seeds", "1", "--no_plots", "--cache_dir",
       tmp + "/blas_cache"});
  ASSERT_TRUE(other.ok()) << other.status();
  auto other_doc = libra::ReadFile(tmp + "/blas_other/results.json");
  ASSERT_TRUE(other_doc.ok()) << other_doc.status();
  EXPECT_THAT(*other_doc, HasSubstr("\"blas_kernels\": \"Sandybridge\""));
  auto env_sh = libra::ReadFile(libra::papers::RunfilePath("tools/env.sh"));
  ASSERT_TRUE(env_sh.ok()) << env_sh.status();
  EXPECT_THAT(*env_sh, HasSubstr(std::string("export ") + libra::papers::kBlasCoreVariable + "=" +
                                 libra::papers::kBlasCore + "\n"));
}

}  // namespace
