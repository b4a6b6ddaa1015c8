// End to end: //papers:all runs the listed papers and writes the combined
// report; a paper that fails is reported and does not stop the others.
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
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

// Reads the "kernels" object of a paper run's results.json.
std::map<std::string, std::string> KernelsOf(const std::string& results_json) {
  auto text = libra::ReadFile(results_json);
  EXPECT_TRUE(text.ok()) << text.status();
  if (!text.ok()) return {};
  return nlohmann::json::parse(*text).at("kernels").get<std::map<std::string, std::string>>();
}

// A paper run started without the recorded kernel sets (OpenBLAS's, ATen's
// and oneDNN's) runs itself again with them (the numbers depend on the kernels);
// an explicit other choice is kept, with a warning, and the others are
// still set.
TEST(PapersAll, PaperRunsUseTheRecordedKernels) {
  const std::string tmp = std::string(std::getenv("TEST_TMPDIR"));
  const std::string fixture = libra::papers::RunfilePath("tests/papers/linear_paper_fixture");
  std::vector<std::string> unset_all = {"/usr/bin/env"};
  std::map<std::string, std::string> recorded;
  for (const auto& pin : libra::papers::kRecordedKernels) {
    unset_all.insert(unset_all.end(), {"-u", pin.variable});
    recorded[pin.variable] = pin.value;
  }
  ASSERT_EQ(recorded.count("OPENBLAS_CORETYPE"), 1u);
  ASSERT_EQ(recorded.count("ATEN_CPU_CAPABILITY"), 1u);
  ASSERT_EQ(recorded.count("ONEDNN_MAX_CPU_ISA"), 1u);
  std::vector<std::string> run = unset_all;
  run.insert(run.end(), {fixture, "--out", tmp + "/unset", "--seeds", "1", "--no_plots",
                         "--cache_dir", tmp + "/cache"});
  auto unset = libra::papers::RunProgram(run);
  ASSERT_TRUE(unset.ok()) << unset.status();
  ASSERT_EQ(*unset, 0);
  EXPECT_EQ(KernelsOf(tmp + "/unset/results.json"), recorded);

  run = unset_all;
  run.insert(run.end(), {"OPENBLAS_CORETYPE=Sandybridge", fixture, "--out", tmp + "/other",
                         "--seeds", "1", "--no_plots", "--cache_dir", tmp + "/cache"});
  auto other = libra::papers::RunProgram(run);
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_EQ(*other, 0);
  std::map<std::string, std::string> expected = recorded;
  expected["OPENBLAS_CORETYPE"] = "Sandybridge";
  EXPECT_EQ(KernelsOf(tmp + "/other/results.json"), expected);
}

// tools/env.sh (./run, ./test, a developer's shell), .bazelrc (every test)
// and the training build actions (papers/common/defs.bzl: the base genrules)
// pin the same kernel sets as the paper runs.
TEST(PapersAll, EnvironmentFilesPinTheRecordedKernels) {
  auto env_sh = libra::ReadFile(libra::papers::RunfilePath("tools/env.sh"));
  ASSERT_TRUE(env_sh.ok()) << env_sh.status();
  auto bazelrc = libra::ReadFile(libra::papers::RunfilePath(".bazelrc"));
  ASSERT_TRUE(bazelrc.ok()) << bazelrc.status();
  auto defs = libra::ReadFile(libra::papers::RunfilePath("papers/common/defs.bzl"));
  ASSERT_TRUE(defs.ok()) << defs.status();
  const size_t start = defs->find("TRAINING_ACTION_ENV = (");
  ASSERT_NE(start, std::string::npos);
  const std::string training_env = defs->substr(start, defs->find(")", start) - start);
  for (const auto& pin : libra::papers::kRecordedKernels) {
    const std::string assignment = std::string(pin.variable) + "=" + pin.value;
    EXPECT_THAT(*env_sh, HasSubstr("export " + assignment + "\n"));
    EXPECT_THAT(*bazelrc, HasSubstr("test --test_env=" + assignment + "\n"));
    EXPECT_THAT(training_env, HasSubstr(assignment + " "));
  }
}

}  // namespace
