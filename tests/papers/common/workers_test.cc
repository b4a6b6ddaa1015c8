// BuildInWorkers end to end: worker processes of the fixture paper build
// every job once, in rounds, and exit cleanly; the parent builds nothing and
// writes the results; a failing job fails the run naming the worker.
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "papers/common/reproduce.h"
#include "papers/common/subprocess.h"
#include "src/core/io/atomic_file.h"

namespace libra::papers {
namespace {

std::string Fixture() { return RunfilePath("tests/papers/common/workers_fixture"); }

TEST(BuildInWorkers, WorkersBuildEveryJobOnceInRoundsAndExitCleanly) {
  const std::string tmp = std::string(std::getenv("TEST_TMPDIR")) + "/workers_ok";
  absl::StatusOr<int> code = RunProgram({Fixture(), "--threads", "2", "--no_plots", "--out",
                                         tmp + "/out", "--cache_dir", tmp + "/cache"});
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(*code, 0);
  absl::StatusOr<std::string> text = ReadFile(tmp + "/out/results.json");
  ASSERT_TRUE(text.ok()) << text.status();
  const nlohmann::json doc = nlohmann::json::parse(*text);
  const auto value = [&](const char* m) { return doc["metrics"][m]["values"]["1"].get<double>(); };
  EXPECT_EQ(value("workers/round1"), 2);
  EXPECT_EQ(value("built/round1"), 5);
  EXPECT_EQ(value("workers/round2"), 2);
  EXPECT_EQ(value("built/round2"), 5);
  EXPECT_EQ(value("built_in_parent"), 0);
  std::set<std::string> builders;
  for (int round : {1, 2}) {
    for (int j = 0; j < 5; ++j) {
      absl::StatusOr<std::string> pid =
          ReadFile(tmp + "/cache/round" + std::to_string(round) + "_job" + std::to_string(j));
      ASSERT_TRUE(pid.ok()) << pid.status();
      builders.insert(*pid);
      EXPECT_NE(std::stod(*pid), value("parent_pid")) << "the parent built a job";
    }
  }
  EXPECT_EQ(builders.size(), 4u);  // two workers per round
  // A second run finds every artifact: no worker is started.
  code = RunProgram({Fixture(), "--threads", "2", "--no_plots", "--out", tmp + "/out2",
                     "--cache_dir", tmp + "/cache"});
  ASSERT_TRUE(code.ok() && *code == 0);
  const nlohmann::json again = nlohmann::json::parse(*ReadFile(tmp + "/out2/results.json"));
  EXPECT_EQ(again["metrics"]["workers/round1"]["values"]["1"].get<double>(), 0);
}

TEST(BuildInWorkers, OneThreadBuildsInTheParent) {
  const std::string tmp = std::string(std::getenv("TEST_TMPDIR")) + "/workers_one";
  absl::StatusOr<int> code = RunProgram({Fixture(), "--threads", "1", "--no_plots", "--out",
                                         tmp + "/out", "--cache_dir", tmp + "/cache"});
  ASSERT_TRUE(code.ok() && *code == 0);
  const nlohmann::json doc = nlohmann::json::parse(*ReadFile(tmp + "/out/results.json"));
  EXPECT_EQ(doc["metrics"]["workers/round1"]["values"]["1"].get<double>(), 0);
  EXPECT_EQ(doc["metrics"]["built_in_parent"]["values"]["1"].get<double>(), 10);
}

TEST(BuildInWorkers, AFailingJobFailsTheRunNamingTheWorker) {
  const std::string tmp = std::string(std::getenv("TEST_TMPDIR")) + "/workers_fail";
  setenv("WORKERS_FIXTURE_FAIL", "1", 1);
  setenv("LOG", (std::string(std::getenv("TEST_TMPDIR")) + "/workers_fail.log").c_str(), 1);
  // The output (both processes' stderr) goes to a log file through sh.
  absl::StatusOr<int> code = RunProgram(
      {"/bin/sh", "-c", "exec \"$0\" \"$@\" > \"$LOG\" 2>&1", Fixture(), "--threads", "2",
       "--no_plots", "--out", tmp + "/out", "--cache_dir", tmp + "/cache"});
  unsetenv("WORKERS_FIXTURE_FAIL");
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1);
  absl::StatusOr<std::string> log = ReadFile(std::string(std::getenv("LOG")));
  ASSERT_TRUE(log.ok());
  EXPECT_THAT(*log, testing::HasSubstr("job 3 failed on purpose"));
  EXPECT_THAT(*log, testing::HasSubstr("round 1: worker 2/2 exited with status 1"));
  EXPECT_FALSE(std::filesystem::exists(tmp + "/out/results.json"));
}

}  // namespace
}  // namespace libra::papers
