// The launcher starts /bin/sh workers here (fast, no LibTorch); the
// RelaunchSelf test re-runs this test binary, whose other tests skip inside
// a worker.
#include "src/nn/launcher.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace libra::nn {
namespace {

using ::testing::HasSubstr;

#define SKIP_IN_WORKER() \
  if (IsLaunchedWorker()) GTEST_SKIP() << "runs only in the launching process"

std::string FreshDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/launcher_" + name + "_" + std::to_string(getpid());
  mkdir(dir.c_str(), 0755);
  return dir;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

LaunchOptions Bounded() {
  LaunchOptions options;
  options.timeout = std::chrono::seconds(60);
  options.grace = std::chrono::milliseconds(500);
  return options;
}

absl::Status RunShell(const std::string& script, int nproc, const LaunchOptions& options) {
  return LaunchWorkers("/bin/sh", {"sh", "-c", script}, nproc, options);
}

TEST(LaunchWorkers, EachWorkerGetsItsRankAndTheSharedRendezvous) {
  SKIP_IN_WORKER();
  const std::string dir = FreshDir("env");
  LaunchOptions options = Bounded();
  options.env = {{"OUT_DIR", dir}, {"EXTRA", "kept"}};
  ASSERT_TRUE(RunShell("printf '%s %s %s %s %s %s' \"$RANK\" \"$LOCAL_RANK\" \"$WORLD_SIZE\" "
                       "\"$MASTER_ADDR\" \"$MASTER_PORT\" \"$EXTRA\" > \"$OUT_DIR/$RANK\"",
                       3, options)
                  .ok());
  std::set<std::string> ports;
  for (int rank = 0; rank < 3; ++rank) {
    std::istringstream fields(ReadAll(dir + "/" + std::to_string(rank)));
    std::string got_rank, local_rank, world, addr, port, extra;
    fields >> got_rank >> local_rank >> world >> addr >> port >> extra;
    EXPECT_EQ(got_rank, std::to_string(rank));
    EXPECT_EQ(local_rank, std::to_string(rank));
    EXPECT_EQ(world, "3");
    EXPECT_EQ(addr, "127.0.0.1");
    EXPECT_GT(std::stoi(port), 0);
    EXPECT_EQ(extra, "kept");
    ports.insert(port);
  }
  EXPECT_EQ(ports.size(), 1u) << "all ranks must meet at one port";
}

TEST(LaunchWorkers, InheritedRankVariablesAreReplaced) {
  SKIP_IN_WORKER();
  const std::string dir = FreshDir("replace");
  LaunchOptions options = Bounded();
  options.env = {{"OUT_DIR", dir}};
  options.master_port = 29999;  // given: used as is, no port search
  ASSERT_EQ(setenv("MASTER_PORT", "1", 1), 0);
  const absl::Status status =
      RunShell("printf '%s' \"$MASTER_PORT\" > \"$OUT_DIR/$RANK\"", 1, options);
  unsetenv("MASTER_PORT");
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(ReadAll(dir + "/0"), "29999");
}

TEST(LaunchWorkers, AFailingWorkerFailsTheLaunchAndStopsTheOthers) {
  SKIP_IN_WORKER();
  const std::string dir = FreshDir("fail");
  LaunchOptions options = Bounded();
  options.env = {{"OUT_DIR", dir}};
  // Rank 0 records its pid and then would wait far longer than the test.
  const absl::Status status = RunShell(
      "if [ \"$RANK\" = 1 ]; then exit 3; fi; echo $$ > \"$OUT_DIR/pid.tmp\"; "
      "mv \"$OUT_DIR/pid.tmp\" \"$OUT_DIR/pid\"; exec sleep 300",
      2, options);
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(status.message(), HasSubstr("rank 1 exited with status 3"));
  const std::string pid_text = ReadAll(dir + "/pid");
  if (!pid_text.empty()) {  // rank 0 may have been stopped before writing
    const pid_t pid = std::stoi(pid_text);
    EXPECT_EQ(kill(pid, 0), -1) << "rank 0 (pid " << pid << ") is still running";
    EXPECT_EQ(errno, ESRCH);
  }
}

TEST(LaunchWorkers, AWorkerKilledBySignalIsReported) {
  SKIP_IN_WORKER();
  const absl::Status status = RunShell("kill -9 $$", 1, Bounded());
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(status.message(), HasSubstr("rank 0 was killed by signal 9"));
}

TEST(LaunchWorkers, TimeoutStopsWorkers) {
  SKIP_IN_WORKER();
  LaunchOptions options = Bounded();
  options.timeout = std::chrono::milliseconds(300);
  options.grace = std::chrono::milliseconds(100);
  const absl::Status status = RunShell("exec sleep 300", 2, options);
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("still running after 300 ms"));
}

TEST(LaunchWorkers, RejectsBadArguments) {
  SKIP_IN_WORKER();
  absl::Status status = RunShell("true", 0, Bounded());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("--nproc must be at least 1, got 0"));

  status = LaunchWorkers("/nonexistent/libra", {"libra"}, 2, Bounded());
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("cannot start rank 0 (/nonexistent/libra)"));

  LaunchOptions options = Bounded();
  options.master_addr = "not-an-address";
  status = RunShell("true", 1, options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("\"not-an-address\" is not an IPv4 address"));
}

TEST(LaunchWorkers, FreePortIsBindable) {
  SKIP_IN_WORKER();
  const absl::StatusOr<int> port = FindFreePort("127.0.0.1");
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_GT(*port, 0);
  EXPECT_LT(*port, 65536);
}

// Inside a worker started by RelaunchSelf: leave a file named after the rank.
TEST(RelaunchSelf, WorkerBody) {
  if (!IsLaunchedWorker()) GTEST_SKIP() << "runs inside RelaunchSelf's workers";
  const char* dir = std::getenv("RELAUNCH_OUT_DIR");
  ASSERT_NE(dir, nullptr);
  std::ofstream(std::string(dir) + "/rank" + std::getenv("RANK")) << std::getenv("WORLD_SIZE");
}

TEST(RelaunchSelf, RerunsThisBinaryWithItsArguments) {
  SKIP_IN_WORKER();
  EXPECT_FALSE(IsLaunchedWorker());
  const std::string dir = FreshDir("self");
  LaunchOptions options = Bounded();
  // Workers rerun gtest: keep their XML report off the parent's.
  options.env = {{"RELAUNCH_OUT_DIR", dir},
                 {"XML_OUTPUT_FILE", dir + "/worker.xml"},
                 {"TEST_PREMATURE_EXIT_FILE", ""}};
  const absl::Status status = RelaunchSelf(2, options);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(ReadAll(dir + "/rank0"), "2");
  EXPECT_EQ(ReadAll(dir + "/rank1"), "2");
}

}  // namespace
}  // namespace libra::nn
